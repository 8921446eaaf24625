"""The intake pages, the cover sheet, and every refusal from the side of the refused user."""
from __future__ import annotations

import io

import pytest
import scans

from portal.extensions import db
from portal.intake.models import FILED, QUEUED, WAITING, IntakeItem
from portal.register import actions


def _pdf(text="一页文字"):
    return scans.text_pdf([[scans.FILLER + text]])


def _post_files(client, files, **form):
    data = {"files": [(io.BytesIO(d), name) for d, name in files], **form}
    return client.post("/intake", data=data, content_type="multipart/form-data")


def test_sending_a_batch_answers_at_once_and_the_list_follows_it(login, run_jobs, filed, item_of):
    archive = filed()
    client = login("staff_sales")
    page = client.get("/intake")
    assert page.status_code == 200 and "扫描收件" in page.get_data(as_text=True)
    response = _post_files(client, [(_pdf("第一份"), "一.pdf"), (_pdf("第二份"), "二.pdf")],
                           archive=archive.number, doc_type="合同")
    assert response.status_code == 303
    items = db.session.query(IntakeItem).order_by(IntakeItem.id).all()
    assert [(i.filename, i.state) for i in items] == [("一.pdf", QUEUED), ("二.pdf", QUEUED)]
    # the list polls itself while something is being processed …
    fragment = client.get("/intake", headers={"HX-Request": "true", "HX-Target": "intake-items"})
    html = fragment.get_data(as_text=True)
    assert 'id="intake-items"' in html and 'hx-trigger="every 2s"' in html and "<h1" not in html
    run_jobs()
    # … and stops once everything is filed; nothing is left "in progress"
    html = client.get("/intake?view=done", headers={"HX-Request": "true", "HX-Target": "intake-items"}).get_data(as_text=True)
    assert "every 2s" not in html and "已归档" in html and "一.pdf" in html
    html = client.get("/intake").get_data(as_text=True)
    assert "当前没有正在处理的文件" in html


def test_one_bad_file_does_not_stop_the_others(login):
    client = login("staff_sales")
    response = _post_files(client, [(_pdf(), "好.pdf"), (b"", "空.pdf"), (b"MZ" + b"\0" * 100, "程序.pdf")])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "好.pdf" in html and "空.pdf" in html and "程序.pdf" in html
    assert db.session.query(IntakeItem).count() == 1


def test_an_unknown_archive_number_is_reported_and_nothing_is_received(login):
    client = login("staff_sales")
    response = _post_files(client, [(_pdf(), "a.pdf")], archive="海外-2099-电商-999", doc_type="合同")
    assert response.status_code == 422
    assert "海外-2099-电商-999" in response.get_data(as_text=True)
    assert db.session.query(IntakeItem).count() == 0


def test_a_forged_post_without_csrf_token_is_refused(csrf_app, login):
    client = login("staff_sales")
    response = _post_files(client, [(_pdf(), "a.pdf")])
    assert response.status_code == 400
    assert db.session.query(IntakeItem).count() == 0


@pytest.mark.parametrize("who", ["supervisor", "manager", "admin"])
def test_roles_that_do_not_file_material_are_refused(login, send, who, register_entries):
    item = send("staff_sales", _pdf(), "a.pdf")
    client = login(who)
    assert client.get("/intake").status_code == 403
    assert client.get(f"/intake/{item.id}").status_code == 403
    assert _post_files(client, [(_pdf("x"), "x.pdf")]).status_code == 403
    assert register_entries(action=actions.ACCESS_DENIED)
    assert "扫描收件" not in client.get("/notifications").get_data(as_text=True)  # no menu entry


def test_someone_elses_item_is_not_shown_nor_decided(login, send, run_jobs, filed, register_entries):
    item = send("staff_sales", _pdf("销售部的扫描件"), "sales.pdf")
    run_jobs()
    other = login("staff_marketing")
    assert other.get(f"/intake/{item.id}").status_code == 403
    assert other.get(f"/intake/{item.id}/original").status_code == 403
    assert other.post(f"/intake/{item.id}/reject", data={"reason": "不是我的"}).status_code == 403
    assert other.post(f"/intake/{item.id}/assign", data={"archive": filed().number, "doc_type": "合同"}).status_code == 403
    html = other.get("/intake?view=all").get_data(as_text=True)
    assert "sales.pdf" not in html
    assert len(register_entries(action=actions.ACCESS_DENIED)) >= 4
    db.session.expire_all()
    assert db.session.get(IntakeItem, item.id).state == WAITING


def test_the_sender_cannot_assign_to_an_archive_they_cannot_add_to(login, send, run_jobs, make_archive, item_of):
    marketing = make_archive("staff_marketing", status="filed", sensitivity=3)
    item = send("staff_sales", _pdf("待分派"), "wait.pdf")
    run_jobs()
    client = login("staff_sales")
    response = client.post(f"/intake/{item.id}/assign", data={"archive": marketing.number, "doc_type": "合同"})
    assert response.status_code == 403
    assert item_of(item.id).state == WAITING


def test_the_archivist_assigns_from_the_item_page(login, send, run_jobs, filed, item_of, register_entries):
    archive = filed()
    item = send("staff_sales", _pdf("归档员分派"), "assign.pdf")
    run_jobs()
    client = login("archivist")
    queue = client.get("/intake?view=queue").get_data(as_text=True)
    assert "assign.pdf" in queue
    page = client.get(f"/intake/{item.id}").get_data(as_text=True)
    assert "归档员分派" in page and "分派并归档" in page  # the page's text and the assign form
    response = client.post(f"/intake/{item.id}/assign", data={"archive": archive.number, "doc_type": "合同"})
    assert response.status_code == 303
    run_jobs()
    assert item_of(item.id).state == FILED
    assert register_entries(action=actions.INTAKE_ASSIGN)
    # a second decision on the same item is refused, not applied twice
    again = client.post(f"/intake/{item.id}/reject", data={"reason": "晚了"})
    assert again.status_code == 409
    assert item_of(item.id).state == FILED


def test_reject_needs_a_reason(login, send, run_jobs, item_of):
    item = send("staff_sales", _pdf(), "r.pdf")
    run_jobs()
    client = login("archivist")
    response = client.post(f"/intake/{item.id}/reject", data={"reason": "  "})
    assert response.status_code == 422
    assert item_of(item.id).state == WAITING


def test_the_original_can_be_downloaded_while_kept_and_that_is_registered(login, send, run_jobs, register_entries):
    data = _pdf("原件")
    item = send("staff_sales", data, "原件.pdf")
    run_jobs()
    response = login("archivist").get(f"/intake/{item.id}/original")
    assert response.status_code == 200 and response.data == data
    assert register_entries(action=actions.INTAKE_DOWNLOAD)


def test_opening_an_item_shows_its_page_texts_and_is_registered_but_its_polling_is_not(
        login, send, run_jobs, filed, register_entries):
    archive = filed()
    item = send("staff_sales", _pdf("收件页面的文字"), "看.pdf", archive=archive.number, doc_type="合同")
    client = login("staff_sales")
    # the page polls its state while the item is queued: those requests show no page text
    for _ in range(3):
        poll = client.get(f"/intake/{item.id}?was=queued", headers={"HX-Request": "true", "HX-Target": "item-state"})
        assert poll.status_code == 200 and "<h1" not in poll.get_data(as_text=True)
    assert register_entries(action=actions.INTAKE_VIEW) == []
    run_jobs()
    html = client.get(f"/intake/{item.id}").get_data(as_text=True)
    assert "收件页面的文字" in html
    # a hand-made URL with the poll's parameter still shows the whole page, so it is registered too
    client.get(f"/intake/{item.id}?was=queued")
    views = register_entries(action=actions.INTAKE_VIEW)
    assert [(v.username, v.archive_id) for v in views] == [("staff_sales", archive.id)] * 2
    assert f"#{item.id} 看.pdf" in views[0].detail


def test_the_cover_sheet_page_carries_the_code_and_is_registered(login, filed, register_entries):
    from portal.intake import covers

    archive = filed(name="封面测试客户")
    client = login("staff_sales")
    chooser = client.get(f"/archives/{archive.id}/cover-sheet")
    assert chooser.status_code == 200 and "合同" in chooser.get_data(as_text=True)
    sheet = client.get(f"/archives/{archive.id}/cover-sheet?doc_type=合同")
    html = sheet.get_data(as_text=True)
    assert sheet.status_code == 200
    assert "<svg" in html and archive.number in html and "封面测试客户" in html
    assert covers.payload(archive.number, "合同") in html
    assert register_entries(action=actions.COVER_SHEET_PRINT)[0].archive_id == archive.id
    # the archive page links to it
    assert f"/archives/{archive.id}/cover-sheet" in client.get(f"/archives/{archive.id}").get_data(as_text=True)


def test_cover_sheets_are_refused_to_those_who_cannot_add_to_the_archive(login, filed, register_entries):
    archive = filed()
    response = login("staff_marketing").get(f"/archives/{archive.id}/cover-sheet?doc_type=合同")
    assert response.status_code in (403, 404)
    assert not register_entries(action=actions.COVER_SHEET_PRINT)


def test_english_interface(login):
    client = login("staff_sales")
    client.post("/language", data={"lang": "en", "next": "/intake"})
    html = client.get("/intake").get_data(as_text=True)
    assert "Scan intake" in html and "Send to intake" in html
