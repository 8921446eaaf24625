"""API fixtures: bearer tokens for the demo users and a small client wrapper."""
from __future__ import annotations

import pytest

from portal.auth import services as auth_services


@pytest.fixture
def token(app, user):
    """``token("staff_sales")`` → a fresh bearer token for that demo user (``days`` optional)."""

    def _token(username: str, days: int | None = None) -> str:
        return auth_services.create_token(None, user(username), name="test", days=days)

    return _token


@pytest.fixture
def api(client, token):
    """``api("staff_sales").get("/api/v1/archives")`` → the client with that user's token."""

    class _Api:
        def __init__(self, bearer: str):
            self.headers = {"Authorization": f"Bearer {bearer}"}

        def get(self, path, **kwargs):
            return client.get(path, headers=self.headers, **kwargs)

        def post(self, path, **kwargs):
            return client.post(path, headers=self.headers, **kwargs)

    def _api(username: str) -> _Api:
        return _Api(token(username))

    return _api
