"""The archive page: profile by kind, masking 脱敏, refusals with reasons, the register entries."""
from __future__ import annotations

import re

import pytest
from archive_helpers import main_text, text

from portal.extensions import db

PERSON = {"kind": "individual", "type_code": "个人", "name": "李四", "phone": "13812341234",
          "id_number": "110101199001011234", "email": "lisi@example.cn", "address": "北京市朝阳区建国路1号"}


def test_page_shows_profile_of_its_kind_and_registers_the_view(as_user, make_archive, register_entries):
    org = make_archive(name="环球贸易有限公司", legal_representative="王五", region="德国")
    person = make_archive(**PERSON)
    client = as_user("staff_sales")

    page = main_text(client.get(f"/archives/{org.id}"))
    assert "环球贸易有限公司" in page and "法定代表人 王五" in page and "德国" in page
    assert "身份证号" not in page  # individual-only field
    assert f"草稿 #{org.id}" in page and "草稿" in page and "二级" in page
    for heading in ("基础信息", "关键联系人", "沟通记录", "纸质档案存放位置", "建档流程"):
        assert heading in page, heading
    assert "暂无记录" in page

    person_page = main_text(client.get(f"/archives/{person.id}"))
    assert "出生日期" in person_page and "法定代表人" not in person_page

    views = register_entries(action="archive_view", archive_id=org.id)
    assert len(views) == 1 and views[0].username == "staff_sales" and views[0].result == "ok"


@pytest.mark.parametrize("username, reason", [
    ("staff_marketing", "此档案属于其他部门"),
    ("head_marketing", "此档案属于其他部门"),
    ("admin", "不能查阅档案（职责分离）"),
])
def test_refused_viewer_gets_a_page_that_explains_why(as_user, make_archive, register_entries, username, reason):
    archive = make_archive(name="销售部客户", sensitivity=3)
    response = as_user(username).get(f"/archives/{archive.id}")
    assert response.status_code == 403
    page = main_text(response)
    assert reason in page and "销售部客户" not in page
    denied = register_entries(action="access_denied", archive_id=archive.id)
    assert len(denied) == 1 and denied[0].username == username and denied[0].result == "denied"
    assert not register_entries(action="archive_view", archive_id=archive.id)


def test_clearance_below_the_archive_level_is_refused(as_user, make_archive, register_entries):
    archive = make_archive("head_marketing", name="市场二级客户", sensitivity=2)
    response = as_user("staff_marketing").get(f"/archives/{archive.id}")  # own department, clearance 3
    assert response.status_code == 403
    assert "此档案密级为二级" in main_text(response)
    assert len(register_entries(action="access_denied", archive_id=archive.id)) == 1


def test_personal_fields_are_masked_by_clearance(as_user, make_archive, app):
    archive = make_archive(**PERSON)
    staff = main_text(as_user("staff_sales").get(f"/archives/{archive.id}"))  # clearance 2
    assert "110***********1234" in staff and "110101199001011234" not in staff  # ID needs clearance 1
    assert "13812341234" in staff  # phones need clearance 2 (FIELD_CLEARANCE)
    archivist = main_text(as_user("archivist").get(f"/archives/{archive.id}"))  # clearance 1
    assert "110101199001011234" in archivist and "13812341234" in archivist
    assert "lisi@example.cn" in archivist and "北京市朝阳区建国路1号" in archivist

    # Where the installation sets phones to clearance 1, staff see 138****1234 (styled as masked).
    app.config["FIELD_CLEARANCE"] = {**app.config["FIELD_CLEARANCE"], "phone": 1}
    html = text(as_user("staff_sales").get(f"/archives/{archive.id}"))
    assert re.search(r'<span class="masked"[^>]*>138\*\*\*\*1234</span>', html)
    assert "13812341234" not in html


def test_rejection_reason_is_shown_prominently(as_user, make_archive):
    archive = make_archive(status="rejected")  # the head's reason: 资料不全
    html = text(as_user("staff_sales").get(f"/archives/{archive.id}"))
    notice = re.search(r'<div class="notice notice-rejected" role="alert">(.*?)</div>', html, re.S).group(1)
    assert "资料不全" in notice and "李销售经理" in notice


def test_filed_archive_by_number(as_user, make_archive, register_entries):
    archive = make_archive(status="filed")
    client = as_user("head_sales")
    response = client.get(f"/archives/n/{archive.number}")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/archives/{archive.id}")
    page = main_text(client.get(response.headers["Location"]))
    assert archive.number in page and "已归档" in page and "陈档案" in page  # filed by the archivist

    refused = as_user("head_marketing").get(f"/archives/n/{archive.number}")
    assert refused.status_code == 403
    assert register_entries(action="access_denied", archive_id=archive.id)[-1].username == "head_marketing"
    assert as_user("head_sales").get("/archives/n/海外-1999-电商-999").status_code == 404


def test_missing_archive_is_404(as_user):
    assert as_user("staff_sales").get("/archives/99999").status_code == 404


def test_every_post_form_on_the_page_carries_a_csrf_token(csrf_app, as_user, make_archive):
    archive = make_archive(status="draft")
    db.session.commit()
    client = as_user("staff_sales")
    html = text(client.get(f"/archives/{archive.id}"))
    forms = re.findall(r'<form method="post".*?</form>', html, re.S)
    assert len(forms) >= 2  # submit, delete draft (and the page's log-out form)
    for form in forms:
        assert 'name="csrf_token"' in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post(f"/archives/{archive.id}/submit").status_code == 400  # no token: refused
    assert client.post(f"/archives/{archive.id}/submit", data={"csrf_token": token}).status_code == 303
