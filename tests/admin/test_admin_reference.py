"""Departments and customer types: validation messages, deactivation rules, the register trail."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db


def _department(code):
    from portal.auth.models import Department

    db.session.expire_all()
    return db.session.scalar(sa.select(Department).where(Department.code == code))


def _ctype(code):
    from portal.admin.models import CustomerType

    db.session.expire_all()
    return db.session.scalar(sa.select(CustomerType).where(CustomerType.code == code))


def test_department_create_rename_and_unique(login, register_entries):
    admin = login("admin")
    response = admin.post("/admin/departments/new", data={"name": "执行二部", "code": "EXE2"})
    assert response.status_code == 303
    assert "执行二部" in admin.get("/admin/departments").get_data(as_text=True)
    response = admin.post("/admin/departments/new", data={"name": "销售部", "code": "NEW"})
    assert response.status_code == 422 and "已有名为销售部的部门" in response.get_data(as_text=True)
    response = admin.post("/admin/departments/new", data={"name": "新部门", "code": "sal"})
    assert response.status_code == 422 and "部门代码sal已被使用" in response.get_data(as_text=True)
    dept = _department("EXE2")
    response = admin.post(f"/admin/departments/{dept.id}", data={"name": "执行三部", "code": "EXE3"})
    assert response.status_code == 303
    assert _department("EXE3").name == "执行三部"
    details = [e.detail for e in register_entries(action="department_save")]
    assert details[-2:] == ["created 执行二部 (EXE2)", "执行二部: name 执行二部 → 执行三部; code EXE2 → EXE3"]


def test_department_with_active_users_cannot_be_deactivated(login, user):
    admin = login("admin")
    sales = _department("SAL")
    response = admin.post(f"/admin/departments/{sales.id}/active", data={"active": "0"},
                          follow_redirects=True)
    assert "销售部仍有2名在职用户" in response.get_data(as_text=True)
    assert _department("SAL").active
    # Once its people are gone, it can be deactivated — here through htmx, which gets the table back.
    planning = _department("PLN")
    response = admin.post(f"/admin/departments/{planning.id}/active", data={"active": "0"},
                          headers={"HX-Request": "true", "HX-Target": "dept-list"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and "策划部" in body and "已停用" in body
    assert not _department("PLN").active
    # A deactivated department is no longer offered for new users.
    assert "策划部" not in admin.get("/admin/users/new").get_data(as_text=True)


def test_customer_type_validation(login, register_entries):
    admin = login("admin")
    base = {"name": "跨境物流", "code": "物流", "sort_order": "7", "active": "y"}
    assert admin.post("/admin/customer-types/new", data=base).status_code == 303
    response = admin.post("/admin/customer-types/new", data=dict(base, code="物流2"))
    assert response.status_code == 422 and "已有名为跨境物流的客户类型" in response.get_data(as_text=True)
    response = admin.post("/admin/customer-types/new", data=dict(base, name="跨境电商二"))
    assert response.status_code == 422 and "代码物流已被其他客户类型使用" in response.get_data(as_text=True)
    response = admin.post("/admin/customer-types/new", data=dict(base, name="坏代码", code="a{b}"))
    assert response.status_code == 422
    ctype = _ctype("物流")
    page = admin.get(f"/admin/customer-types/{ctype.id}").get_data(as_text=True)
    assert "只影响此后发放的编号" in page
    response = admin.post(f"/admin/customer-types/{ctype.id}",
                          data={"name": "跨境物流", "code": "WL", "sort_order": "2"})
    assert response.status_code == 303
    ctype = _ctype("WL")
    assert ctype.sort_order == 2 and not ctype.active
    assert register_entries(action="customer_type_save")[-1].detail == (
        "跨境物流: code 物流 → WL; order 7 → 2; active yes → no")


def test_customer_type_toggle_with_and_without_javascript(login):
    admin = login("admin")
    ctype = _ctype("协会")
    response = admin.post(f"/admin/customer-types/{ctype.id}/active", data={"active": "0"})
    assert response.status_code == 303 and not _ctype("协会").active
    response = admin.post(f"/admin/customer-types/{ctype.id}/active", data={"active": "1"},
                          headers={"HX-Request": "true", "HX-Target": "type-list"})
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert _ctype("协会").active
