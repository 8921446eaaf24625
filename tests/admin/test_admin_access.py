"""Only the system administrator gets into /admin; everyone else meets a 403 page and the refusal
is on the register. The administrator, in turn, cannot open any archive (separation of duties)."""
from __future__ import annotations

import re

import pytest

from portal.extensions import db

REFUSED_USERS = ["archivist", "manager", "staff_sales"]


def admin_requests(app):
    """(method, url) for every route of the admin blueprint, ids filled in with 1."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            url = re.sub(r"<[^>]+>", "1", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, url


@pytest.mark.parametrize("username", REFUSED_USERS)
def test_every_admin_route_refuses_non_admins(app, login, register_entries, username):
    client = login(username)
    routes = list(admin_requests(app))
    assert len(routes) >= 15  # the walk found the blueprint
    for method, url in routes:
        response = client.open(url, method=method, data={"name": "x", "code": "x", "active": "0"})
        assert response.status_code == 403, (method, url)
        assert "只有系统管理员" in response.get_data(as_text=True), (method, url)
        entry = register_entries(action="access_denied", username=username)[-1]
        assert entry.result == "denied" and url in entry.detail, (method, url)


def test_refused_changes_do_not_happen(app, login, user):
    from portal.admin.models import get_setting

    client = login("manager")
    client.post("/admin/users/new", data={
        "username": "intruder", "display_name": "X", "role": "admin", "clearance": "1",
        "department_id": "0", "password": "longpassword", "password_again": "longpassword"})
    client.post("/admin/numbering", data={"number_template": "{year}-{type_code}-{seq}",
                                          "number_prefix": "X"})
    staff = user("staff_sales")
    client.post(f"/admin/users/{staff.id}", data={"display_name": "X", "role": "admin",
                                                  "clearance": "1", "department_id": "0"})
    db.session.expire_all()
    assert user("intruder") is None
    assert get_setting("number_template") == "{prefix}-{year}-{type_code}-{seq:03}"
    assert user("staff_sales").role == "staff" and user("staff_sales").active


def test_nav_shows_administration_only_to_admin(login):
    assert 'href="/admin/"' in login("admin").get("/admin/users").get_data(as_text=True)
    refused_page = login("staff_sales").get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/"' not in refused_page


def test_admin_sees_every_admin_page(app, login):
    client = login("admin")
    for method, url in admin_requests(app):
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 200, url
            assert "系统管理" in response.get_data(as_text=True) or "用户" in response.get_data(as_text=True)


def test_admin_cannot_open_an_archive(app, login, user, make_archive, register_entries):
    from portal.actor import Actor
    from portal.archives import services as archive_services
    from portal.errors import PermissionDenied

    archive = make_archive(status="filed", sensitivity=3)
    with app.test_request_context(), pytest.raises(PermissionDenied):
        archive_services.open_archive(Actor(user("admin"), "127.0.0.1"), archive.id)
    client = login("admin")
    assert client.get("/admin/users").status_code == 200  # manages everything else …
    if not any(r.rule.startswith("/archives/<") for r in app.url_map.iter_rules()):
        pytest.skip("the archive page is not routed yet")
    response = client.get(f"/archives/{archive.id}")  # … but opens no archive
    assert response.status_code == 403
    assert archive.name not in response.get_data(as_text=True)
    entry = register_entries(action="access_denied", archive_id=archive.id)[-1]
    assert entry.username == "admin" and entry.result == "denied"
