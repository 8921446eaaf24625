"""Log-in, throttling, lock-out, session expiry, CSRF and security headers — as a user meets them."""
from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.models_base import utcnow


def _login(client, username, password):
    return client.post("/login", data={"username": username, "password": password})


def test_login_and_logout_are_registered(client, register_entries):
    response = _login(client, "staff_sales", "demo12345")
    assert response.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    response = client.post("/logout")
    assert response.status_code == 303
    assert client.get("/").status_code == 302  # back to the log-in page
    actions = [e.action for e in register_entries(username="staff_sales")]
    assert actions[-2:] == ["login", "logout"]


def test_password_is_stored_as_argon2(user):
    assert user("staff_sales").password_hash.startswith("$argon2id$")


def test_wrong_password_is_refused_and_registered(client, register_entries):
    response = _login(client, "staff_sales", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    entry = register_entries(action="login_failed")[-1]
    assert entry.username == "staff_sales" and entry.result == "failed"


def test_unknown_user_gets_the_same_answer(client):
    response = _login(client, "nobody", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_repeated_failures_slow_down_then_lock(app, client, register_entries):
    from portal.auth.models import LoginThrottle

    slow_after = app.config["LOGIN_SLOWDOWN_AFTER"]
    for _ in range(slow_after):
        assert _login(client, "staff_sales", "bad").status_code == 401
    # The next try comes too fast: refused without even checking the password.
    response = _login(client, "staff_sales", "demo12345")
    assert response.status_code == 429
    assert "秒" in response.get_data(as_text=True)
    # Waiting out each delay (simulated by moving the last failure back) leads to the lock.
    for _ in range(app.config["LOGIN_LOCK_AFTER"] - slow_after):
        throttle = db.session.get(LoginThrottle, "staff_sales")
        throttle.last_failure_at = utcnow().replace(year=2000)
        db.session.commit()
        _login(client, "staff_sales", "bad")
    response = _login(client, "staff_sales", "demo12345")
    assert response.status_code == 429
    assert "锁定" in response.get_data(as_text=True)
    assert register_entries(action="login_locked")[-1].username == "staff_sales"


def test_lock_of_one_account_does_not_affect_another(app, client):
    for _ in range(app.config["LOGIN_SLOWDOWN_AFTER"]):
        _login(client, "staff_sales", "bad")
    assert _login(client, "staff_marketing", "demo12345").status_code == 303


def test_session_expires_after_inactivity(app, login, register_entries):
    client = login("staff_sales")
    with client.session_transaction() as session:
        session["_seen"] = session["_seen"] - app.permanent_session_lifetime.total_seconds() - 5
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302  # really logged out
    assert register_entries(action="session_expired")[-1].username == "staff_sales"


def test_password_change_ends_other_sessions(login, user):
    from portal.auth.services import set_password

    client = login("staff_sales")
    set_password(user("staff_sales"), "another-password-1")
    db.session.commit()
    assert client.get("/").status_code == 302


def test_forms_without_csrf_token_are_refused(csrf_app, user):
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "staff_sales", "password": "demo12345"})
    assert response.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "staff_sales", "password": "demo12345",
                                           "csrf_token": token})
    assert response.status_code == 303


def test_htmx_requests_need_the_csrf_header(csrf_app, login):
    client = login("staff_sales")
    response = client.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 400
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token}).status_code == 303


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.get_data(as_text=True)  # no inline script anywhere


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_login_does_not_redirect_off_site(client, target):
    response = client.post(f"/login?next={target}", data={"username": "staff_sales", "password": "demo12345"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_inactive_user_cannot_log_in(client, user):
    u = user("staff_sales")
    u.active = False
    db.session.commit()
    assert _login(client, "staff_sales", "demo12345").status_code == 401


def test_language_switch_to_english_and_back(login):
    client = login("staff_sales")
    client.post("/language", data={"lang": "en", "next": "/login"})
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
    client.post("/language", data={"lang": "zh_CN"})
    assert 'lang="zh-CN"' in client.get("/").get_data(as_text=True)


def test_healthz_reports_components(client):
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok"
    assert data["components"]["database"]["ok"] is True
