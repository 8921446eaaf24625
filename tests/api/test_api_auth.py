"""Bearer tokens: no token, a wrong, an expired or a revoked one is answered 401 (and registered)."""
from __future__ import annotations

import sqlalchemy as sa

from portal.auth.models import ApiToken
from portal.extensions import db

PROTECTED = ("/api/v1/archives", "/api/v1/archives/1", "/api/v1/register")


def _is_401(response, invalid: bool, sets_no_cookie: bool = True) -> None:
    assert response.status_code == 401
    assert response.is_json and response.json["status"] == 401 and response.json["error"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and ('error="invalid_token"' in challenge) == invalid
    if sets_no_cookie:
        assert "Set-Cookie" not in response.headers


def test_no_token(client, register_entries):
    before = len(register_entries())
    for path in PROTECTED:
        _is_401(client.get(path), invalid=False)
    _is_401(client.post("/api/v1/archives", json={"name": "x"}), invalid=False)
    _is_401(client.get("/api/v1/archives", headers={"Authorization": "Basic c3RhZmY6eA=="}), invalid=False)
    assert len(register_entries()) == before  # anonymous probing is not a log-in attempt


def test_wrong_token_is_refused_and_registered(client, register_entries):
    response = client.get("/api/v1/archives", headers={"Authorization": "Bearer pat_not-a-real-token"})
    _is_401(response, invalid=True)
    assert "令牌" in response.json["error"]  # Chinese by default
    failed = register_entries(action="login_failed")
    assert len(failed) == 1 and failed[0].result == "failed" and "api token unknown" in failed[0].detail


def test_expired_token(client, token, register_entries):
    expired = token("staff_sales", days=-1)
    _is_401(client.get("/api/v1/archives", headers={"Authorization": f"Bearer {expired}"}), invalid=True)
    failed = register_entries(action="login_failed")
    assert failed[-1].username == "staff_sales" and failed[-1].client_addr


def test_revoked_token(client, token):
    bearer = token("staff_sales")
    headers = {"Authorization": f"Bearer {bearer}"}
    assert client.get("/api/v1/archives", headers=headers).status_code == 200
    for row in db.session.scalars(sa.select(ApiToken)):
        row.revoked = True
    db.session.commit()
    _is_401(client.get("/api/v1/archives", headers=headers), invalid=True)


def test_deactivated_user_token(client, token, user):
    bearer = token("staff_sales")
    user("staff_sales").active = False
    db.session.commit()
    _is_401(client.get("/api/v1/archives", headers={"Authorization": f"Bearer {bearer}"}), invalid=True)


def test_session_cookie_does_not_open_the_api(login):
    client = login("archivist")  # logged in on the web, but no token
    _is_401(client.get("/api/v1/register"), invalid=False, sets_no_cookie=False)


def test_errors_are_json(api):
    staff = api("staff_sales")
    missing = staff.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.is_json and missing.json["status"] == 404
    wrong_method = staff.post("/api/v1/register")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    not_json = staff.post("/api/v1/archives", data="name=x", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 400 and not_json.is_json
    bad_param = staff.get("/api/v1/archives?per_page=500&stage=nope")
    assert bad_param.status_code == 400 and set(bad_param.json["fields"]) == {"per_page", "stage"}
    assert staff.get("/api/v1/archives").headers["Cache-Control"] == "no-store"


def test_oversized_body_is_413_json(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = api("staff_sales").post("/api/v1/archives", json={"kind": "organisation", "notes": "长" * 2000})
    assert response.status_code == 413 and response.is_json and response.json["status"] == 413
