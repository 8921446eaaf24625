"""The filing workflow 建档 through the pages, with the register read back after every step."""
from __future__ import annotations

import pytest
from archive_helpers import form_values, hx, main_text, text

from portal.extensions import db


def test_full_filing_workflow_through_the_pages(as_user, make_archive, register_since):
    archive = make_archive(name="丝路电商", region="中东")
    staff, head, archivist = as_user("staff_sales"), as_user("head_sales"), as_user("archivist")
    page = f"/archives/{archive.id}"

    def step(client, path, action, data=None, expect_flash=""):
        new = register_since()
        response = client.post(path, data=data or {})
        assert response.status_code == 303, path
        entries = new()
        assert [(e.action, e.result) for e in entries] == [(action, "ok")], path  # exactly one entry
        assert entries[0].archive_id == archive.id
        if expect_flash:
            assert expect_flash in text(client.get(response.headers["Location"]))
        return entries[0]

    step(staff, f"{page}/submit", "archive_submit", expect_flash="已提交")
    assert "撤回提交" in main_text(staff.get(page)) and "审核通过" not in main_text(staff.get(page))

    # The head returns it: without a reason the form says so, with one it goes back to the author.
    html = text(head.get(page))
    assert 'id="review-panel"' in html
    missing = head.post(f"{page}/reject", data={"reason": "  "})
    assert missing.status_code == 422 and "请填写退回原因" in main_text(missing)
    rejected = step(head, f"{page}/reject", "archive_reject", {"reason": "缺少联系人信息"})
    assert rejected.detail == "缺少联系人信息"
    author_view = main_text(staff.get(page))
    assert "已退回修改" in author_view and "缺少联系人信息" in author_view

    data = form_values(text(staff.get(f"{page}/edit")))
    data["name"] = "丝路电商有限公司"
    step(staff, f"{page}/edit", "archive_update", data)
    step(staff, f"{page}/submit", "archive_submit")
    approved = step(head, f"{page}/approve", "archive_approve", {"note": "资料齐全"}, expect_flash="审核通过")
    assert approved.detail == "资料齐全"

    archivist_view = text(archivist.get(page))
    assert "归档并分配编号" in archivist_view and "data-confirm" in archivist_view
    new = register_since()
    filed = archivist.post(f"{page}/file")
    assert filed.status_code == 303
    db.session.refresh(archive)
    assert archive.status == "filed" and archive.number.endswith("-电商-001")
    assert [(e.action, e.detail) for e in new()] == [("archive_file", archive.number)]
    after = text(archivist.get(filed.headers["Location"]))
    assert f"已归档，档案编号为 {archive.number}" in after  # the flashed number
    page_text = main_text(staff.get(page))
    assert archive.number in page_text and "已归档" in page_text
    assert "编辑" not in page_text.split("基础信息")[0]  # no edit button once filed


def test_reject_form_inline_with_htmx(as_user, make_archive):
    archive = make_archive(status="submitted")
    head = as_user("head_sales")
    url = f"/archives/{archive.id}/reject"
    fragment = head.get(url, headers=hx("reject-slot"))
    assert fragment.status_code == 200 and "<html" not in text(fragment) and 'name="reason"' in text(fragment)
    page = head.get(url)  # without JavaScript: a page of its own
    assert "<html" in text(page) and 'id="reject-slot"' in text(page)

    empty = head.post(url, data={"reason": ""}, headers=hx("reject-slot"))
    assert empty.status_code == 422 and "<html" not in text(empty) and "请填写退回原因" in text(empty)
    done = head.post(url, data={"reason": "请补充合同编号"}, headers=hx("reject-slot"))
    assert done.status_code == 204 and done.headers["HX-Location"].endswith(f"/archives/{archive.id}")
    db.session.refresh(archive)
    assert archive.status == "rejected" and archive.review_note == "请补充合同编号"


@pytest.mark.parametrize("username, status, action, reason", [
    ("staff_sales", "submitted", "approve", "只有档案所属部门的负责人可以审核"),
    ("head_marketing", "submitted", "approve", "此档案属于其他部门"),
    ("head_marketing", "submitted", "reject", "此档案属于其他部门"),
    ("archivist", "submitted", "file", "只有档案管理员可以在部门负责人审核通过后归档"),
    ("head_sales", "approved", "file", "只有档案管理员可以在部门负责人审核通过后归档"),
    ("staff_marketing", "draft", "submit", "此档案"),
    ("archivist", "draft", "delete", "只有未归档的草稿"),
])
def test_refused_actions(as_user, make_archive, register_since, username, status, action, reason):
    archive = make_archive(name="受保护的档案", status=status, sensitivity=3)
    new = register_since()
    response = as_user(username).post(f"/archives/{archive.id}/{action}", data={"reason": "x"})
    assert response.status_code == 403
    assert reason in main_text(response)
    entries = new()
    assert [(e.action, e.result, e.username) for e in entries] == [("access_denied", "denied", username)]
    db.session.refresh(archive)
    assert archive.status == status


def test_refused_reject_form_is_registered(as_user, make_archive, register_since):
    archive = make_archive(status="submitted")
    new = register_since()
    assert as_user("staff_sales").get(f"/archives/{archive.id}/reject").status_code == 403
    assert [(e.action, e.result) for e in new()] == [("access_denied", "denied")]


def test_buttons_follow_the_permissions(as_user, make_archive):
    draft = make_archive(status="draft")
    submitted = make_archive(status="submitted")
    approved = make_archive(status="approved")
    staff, head, archivist = as_user("staff_sales"), as_user("head_sales"), as_user("archivist")

    def actions(client, archive):
        html = text(client.get(f"/archives/{archive.id}"))
        return {name for name in ("submit", "withdraw", "approve", "reject", "file", "delete", "edit")
                if f'/archives/{archive.id}/{name}"' in html}

    assert actions(staff, draft) == {"submit", "delete", "edit"}
    assert actions(staff, submitted) == {"withdraw"}
    assert actions(head, submitted) == {"approve", "reject"}
    assert actions(archivist, submitted) == set()
    assert actions(archivist, approved) == {"file"}
    assert actions(as_user("manager"), approved) == set()


def test_withdraw_and_delete_a_draft(as_user, make_archive, register_entries):
    archive = make_archive(name="临时草稿", status="submitted")
    client = as_user("staff_sales")
    assert client.post(f"/archives/{archive.id}/withdraw").status_code == 303
    db.session.refresh(archive)
    assert archive.status == "draft"
    archive_id = archive.id
    response = client.post(f"/archives/{archive_id}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    assert "草稿“临时草稿”已删除" in text(client.get("/"))
    assert client.get(f"/archives/{archive_id}").status_code == 404
    assert [e.action for e in register_entries(archive_id=archive_id)][-2:] == ["archive_withdraw", "archive_delete"]


def test_archivist_classifies_secret_when_filing(make_archive, login, register_entries):
    """A 一级 archive is entered by 二级 staff; the archivist raises it when filing, after which
    the department head who approved it can no longer open it."""
    archive = make_archive(status="approved", name="机密客户有限公司")
    response = login("archivist").post(f"/archives/{archive.id}/file", data={"sensitivity": "1"})
    assert response.status_code in (302, 303)
    entry = register_entries(action="archive_file", archive_id=archive.id)[-1]
    assert "sensitivity 2 → 1" in entry.detail
    assert login("head_sales").get(f"/archives/{archive.id}").status_code == 403
    assert login("manager").get(f"/archives/{archive.id}").status_code == 200
