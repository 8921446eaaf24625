"""User administration as the administrator and the affected users meet it."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models_base import utcnow


def _dept_id(code):
    from portal.auth.models import Department

    return db.session.scalar(sa.select(Department.id).where(Department.code == code))


def _edit_data(u, **changes):
    """The edit form as the browser sends it for user ``u``, with ``changes`` applied."""
    data = {"display_name": u.display_name, "role": u.role, "clearance": str(u.clearance),
            "department_id": str(u.department_id or 0), "active": "y"}
    data.update({k: str(v) for k, v in changes.items()})
    if data["active"] in ("", "False"):
        del data["active"]  # an unticked checkbox is not sent
    return data


def test_created_user_can_log_in(login, user, register_entries):
    admin = login("admin")
    response = admin.post("/admin/users/new", data={
        "username": "wang_new", "display_name": "王新人", "role": "staff", "clearance": "3",
        "department_id": _dept_id("SAL"), "password": "first-pass-123", "password_again": "first-pass-123"})
    assert response.status_code == 303
    new = user("wang_new")
    assert response.headers["Location"].endswith(f"/admin/users/{new.id}")
    assert (new.role, new.clearance, new.department.code) == ("staff", 3, "SAL")
    assert "王新人" in admin.get(response.headers["Location"]).get_data(as_text=True)
    entry = register_entries(action="user_create")[-1]
    assert entry.username == "admin" and "wang_new" in entry.detail
    assert "first-pass-123" not in entry.detail
    login("wang_new", "first-pass-123")  # asserts the log-in succeeds


def test_staff_needs_a_department_and_names_are_unique(login, user):
    admin = login("admin")
    form = {"username": "li_nodept", "display_name": "李", "role": "dept_head", "clearance": "2",
            "department_id": "0", "password": "first-pass-123", "password_again": "first-pass-123"}
    response = admin.post("/admin/users/new", data=form)
    assert response.status_code == 422
    assert "业务人员和部门负责人必须属于某个部门" in response.get_data(as_text=True)
    assert user("li_nodept") is None
    response = admin.post("/admin/users/new", data=dict(form, username="staff_sales",
                                                        department_id=_dept_id("SAL")))
    assert response.status_code == 422
    assert "staff_sales" in response.get_data(as_text=True) and "已被使用" in response.get_data(as_text=True)
    response = admin.post("/admin/users/new", data=dict(form, password_again="different-123"))
    assert response.status_code == 422 and "两次输入的密码不一致" in response.get_data(as_text=True)


def test_deactivation_ends_the_running_session(login, user, register_entries):
    staff = login("staff_sales")
    assert staff.get("/").status_code == 200
    admin = login("admin")
    target = user("staff_sales")
    response = admin.post(f"/admin/users/{target.id}", data=_edit_data(target, active=""))
    assert response.status_code == 303
    after = staff.get("/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    response = staff.post("/login", data={"username": "staff_sales", "password": "demo12345"})
    assert response.status_code == 401  # a deactivated account cannot log in again
    entry = register_entries(action="user_update")[-1]
    assert entry.username == "admin"
    assert "staff_sales" in entry.detail and "active yes → no" in entry.detail


def test_role_change_takes_effect(login, user, register_entries):
    person = login("staff_marketing")
    assert person.get("/admin/").status_code == 403
    admin = login("admin")
    target = user("staff_marketing")
    admin.post(f"/admin/users/{target.id}", data=_edit_data(target, role="admin", clearance=3))
    assert person.get("/admin/").status_code == 302  # the old session has ended
    again = login("staff_marketing")
    assert again.get("/admin/").status_code == 200
    assert "role staff → admin" in register_entries(action="user_update")[-1].detail


def test_admin_cannot_deactivate_or_demote_themselves(login, user):
    admin = login("admin")
    me = user("admin")
    response = admin.post(f"/admin/users/{me.id}", data=_edit_data(me, role="manager"))
    assert response.status_code == 422
    assert "不能取消自己的系统管理员角色" in response.get_data(as_text=True)
    response = admin.post(f"/admin/users/{me.id}", data=_edit_data(me, active=""))
    assert response.status_code == 422
    assert "不能停用自己的账号" in response.get_data(as_text=True)
    db.session.expire_all()
    assert user("admin").role == "admin" and user("admin").active
    # A change that ends sessions does not throw the administrator out of their own session.
    response = admin.post(f"/admin/users/{me.id}", data=_edit_data(me, clearance=2, display_name="管理员甲"))
    assert response.status_code == 303
    assert admin.get("/admin/").status_code == 200
    assert user("admin").display_name == "管理员甲"


def test_password_reset(login, user, register_entries):
    staff = login("staff_sales")
    admin = login("admin")
    target = user("staff_sales")
    response = admin.post(f"/admin/users/{target.id}/password",
                          data={"password": "short", "password_again": "short"})
    assert response.status_code == 422
    response = admin.post(f"/admin/users/{target.id}/password",
                          data={"password": "brand-new-pass", "password_again": "brand-new-pass"})
    assert response.status_code == 303
    assert staff.get("/").status_code == 302  # their session ended
    login("staff_sales", "brand-new-pass")
    entry = register_entries(action="user_update")[-1]
    assert "password reset" in entry.detail and "brand-new-pass" not in entry.detail


def test_locked_account_is_shown_and_unlocked(app, login, user, register_entries):
    from portal.auth.models import LoginThrottle

    db.session.add(LoginThrottle(username="head_sales", failures=6, last_failure_at=utcnow(),
                                 locked_until=utcnow() + timedelta(minutes=15)))
    db.session.commit()
    admin = login("admin")
    assert "head_sales" in admin.get("/admin/").get_data(as_text=True)
    page = admin.get("/admin/users?role=dept_head").get_data(as_text=True)
    assert "已锁定" in page and "staff_sales" not in page
    target = user("head_sales")
    response = admin.post(f"/admin/users/{target.id}/unlock")
    assert response.status_code == 303
    login("head_sales")
    assert register_entries(action="user_unlock")[-1].detail == "head_sales"


def test_user_list_filters(login):
    admin = login("admin")
    page = admin.get(f"/admin/users?department={_dept_id('MKT')}").get_data(as_text=True)
    assert "staff_marketing" in page and "head_marketing" in page and "staff_sales" not in page
    # htmx asks for the rows only
    response = admin.get("/admin/users?role=archivist", headers={"HX-Request": "true", "HX-Target": "user-rows"})
    body = response.get_data(as_text=True)
    assert "archivist" in body and "<html" not in body and "manager" not in body


def test_forms_need_the_csrf_token(csrf_app, login, user):
    admin = login("admin")
    response = admin.post("/admin/users/new", data={
        "username": "no_token", "display_name": "X", "role": "manager", "clearance": "1",
        "department_id": "0", "password": "first-pass-123", "password_again": "first-pass-123"})
    assert response.status_code == 400
    assert user("no_token") is None
