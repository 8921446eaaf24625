"""The portal in headless Chromium: in-place editing, active search, no-JS path, no CSP breakage.

Skipped when Debian's Chromium (/usr/bin/chromium) is not installed.
"""
from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]






def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo12345")
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


def _console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_contact_added_in_place_without_reloading(live_server, browser, make_archive):
    archive = make_archive(status="draft", name="浏览器测试有限公司")
    page = browser.new_page()
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/archives/{archive.id}")
    page.evaluate("window.__notReloaded = true")
    page.click("#records-contacts a.add-record")
    form = page.locator("#rows-contacts form")
    form.locator("input[name=name]").fill("王五")
    form.locator("input[name=phone]").fill("13700001111")
    form.locator("button[type=submit]").click()
    page.locator("#rows-contacts tr", has_text="王五").wait_for()
    assert page.evaluate("window.__notReloaded") is True  # swapped in place, no page load
    assert page.locator("#rows-contacts tr.edit-row").count() == 0  # the inline form is gone
    page.reload()
    assert page.locator("#rows-contacts", has_text="13700001111").count() == 1
    assert not errors, errors  # CSP violations and script errors show up here


def test_active_search_updates_results_and_address(live_server, browser, make_archive):
    make_archive(status="filed", name="甲乙丙贸易有限公司")
    make_archive(status="filed", name="完全不同的名字公司")
    page = browser.new_page()
    errors = _console_errors(page)
    _login(page, live_server, "archivist")
    page.fill("#q", "甲乙丙")
    page.wait_for_url("**q=*")
    results = page.locator("#archive-results")
    results.locator("text=甲乙丙贸易有限公司").wait_for()
    assert results.locator("text=完全不同的名字公司").count() == 0
    assert not errors, errors


def test_contact_added_with_javascript_off(live_server, browser, make_archive):
    archive = make_archive(status="draft", name="无脚本测试公司")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/archives/{archive.id}")
    page.click("#records-contacts a.add-record")
    assert "/r/contacts/new" in page.url  # a page of its own, not an inline form
    page.fill("input[name=name]", "赵六")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"**/archives/{archive.id}*")
    assert page.locator("#rows-contacts", has_text="赵六").count() == 1
    context.close()
