"""The browser tests' fixtures ``live_server`` (the app on a loopback server) and ``browser``
(headless Chromium) are in tests/conftest.py, so that browser tests in other folders use them too;
page helpers are in browser_helpers.py."""
