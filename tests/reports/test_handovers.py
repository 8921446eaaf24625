"""Handovers 移交 (policy 004 §19): responsibility changes, register, notifications, receipt
confirmation, refusals, concurrent edits, the record and the register printouts."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader

from portal import printing, workcal
from portal.archives.models import Archive
from portal.extensions import db
from portal.notifications import Notification
from portal.reports.models import Handover

needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")


@pytest.fixture
def sales_archives(make_archive):
    """Three filed archives of 销售部 with staff_sales responsible."""
    return [make_archive("staff_sales", status="filed", name=f"移交测试{i}号公司") for i in range(1, 4)]


def form_data(archives, *, giver, receiver, reason="resigned", paper=(), **extra) -> dict:
    data = {"giver": str(giver.id), "receiver": str(receiver.id), "reason": reason,
            "reason_text": extra.pop("reason_text", ""),
            "handover_date": extra.pop("handover_date", workcal.today().isoformat()),
            "archive": [str(a.id) for a in archives]}
    for a in archives:
        data[f"v_{a.id}"] = str(a.version)
    for a, count in paper:
        data[f"paper_{a.id}"] = "1"
        data[f"count_{a.id}"] = str(count)
    data.update(extra)
    return data


def reload(archive) -> Archive:
    db.session.commit()
    return db.session.get(Archive, archive.id)


def notes_of(user) -> list[str]:
    db.session.commit()
    return list(db.session.scalars(sa.select(Notification.text).where(Notification.user_id == user.id)))


def test_form_lists_the_givers_archives_all_selected(login, user, sales_archives):
    client = login("archivist")
    page = client.get("/ledgers/handovers/new").get_data(as_text=True)
    assert "张小销" in page  # staff_sales holds archives
    page = client.get(f"/ledgers/handovers/new?giver={user('staff_sales').id}").get_data(as_text=True)
    for a in sales_archives:
        assert a.number in page
        assert re.search(rf'name="archive" value="{a.id}"[^>]*checked', page)
    filtered = client.get(f"/ledgers/handovers/new?giver={user('staff_sales').id}&q=移交测试2").get_data(as_text=True)
    assert sales_archives[1].number in filtered and sales_archives[0].number not in filtered


def test_archivist_hands_over_and_the_receiver_confirms(login, user, sales_archives, register_entries):
    giver, receiver = user("staff_sales"), user("head_sales")
    client = login("archivist")
    response = client.post("/ledgers/handovers/new", data=form_data(
        sales_archives[:2], giver=giver, receiver=receiver, paper=[(sales_archives[0], 2)]))
    assert response.status_code == 303
    handover = db.session.scalar(sa.select(Handover))
    assert response.headers["Location"].endswith(f"/ledgers/handovers/{handover.id}")
    # responsibility moved for the two selected archives only
    assert reload(sales_archives[0]).responsible_id == receiver.id
    assert reload(sales_archives[1]).responsible_id == receiver.id
    assert reload(sales_archives[2]).responsible_id == giver.id
    assert [(i.archive_number, i.paper, i.paper_count) for i in handover.items] == [
        (sales_archives[0].number, True, 2), (sales_archives[1].number, False, 0)]
    entries = register_entries(action="handover")
    assert {e.archive_id for e in entries} == {sales_archives[0].id, sales_archives[1].id}
    assert all(handover.number in e.detail and e.username == "archivist" for e in entries)
    assert any(handover.number in text for text in notes_of(receiver))
    assert any(handover.number in text for text in notes_of(giver))
    # the receiver finds it in the inbox and on the record page
    receiver_client = login("head_sales")
    inbox = receiver_client.get("/inbox/").get_data(as_text=True)
    assert handover.number in inbox and "确认接收" in inbox
    record = receiver_client.get(f"/ledgers/handovers/{handover.id}").get_data(as_text=True)
    assert "待接收确认" in record and "确认接收" in record
    # nobody else confirms; the receiver does, once
    other = login("archivist").post(f"/ledgers/handovers/{handover.id}/confirm")
    assert other.status_code == 403
    assert register_entries(action="access_denied", username="archivist")
    assert receiver_client.post(f"/ledgers/handovers/{handover.id}/confirm",
                                data={"note": "已核对"}).status_code == 303
    db.session.commit()
    handover = db.session.get(Handover, handover.id)
    assert handover.status == "confirmed" and handover.confirmed_at is not None
    assert handover.confirm_note == "已核对"
    assert receiver_client.post(f"/ledgers/handovers/{handover.id}/confirm").status_code == 409
    assert handover.number not in receiver_client.get("/inbox/").get_data(as_text=True)
    record = receiver_client.get(f"/ledgers/handovers/{handover.id}").get_data(as_text=True)
    assert "已确认接收" in record
    assert any("receipt confirmed" in e.detail for e in register_entries(action="handover"))
    assert any("确认接收" in text for text in notes_of(user("archivist")))


def test_permissions_follow_the_new_responsible_person(login, user, make_archive):
    archive = make_archive("staff_sales", status="filed", name="跨部门移交公司", sensitivity=3)
    marketing = login("staff_marketing")
    assert marketing.get(f"/archives/{archive.id}").status_code == 403
    response = login("archivist").post("/ledgers/handovers/new", data=form_data(
        [archive], giver=user("staff_sales"), receiver=user("staff_marketing"), reason="reassigned"))
    assert response.status_code == 303
    assert marketing.get(f"/archives/{archive.id}").status_code == 200


def test_archivist_moves_archives_to_another_department(login, user, sales_archives):
    marketing = user("staff_marketing").department_id
    client = login("archivist")
    data = form_data(sales_archives[:1], giver=user("staff_sales"), receiver=user("head_sales"),
                     reason="customer_moved", new_department=str(marketing))
    response = client.post("/ledgers/handovers/new", data=data)
    assert response.status_code == 422  # the receiver must belong to the new department
    assert "必须属于该部门" in response.get_data(as_text=True)
    data["receiver"] = str(user("head_marketing").id)
    assert client.post("/ledgers/handovers/new", data=data).status_code == 303
    archive = reload(sales_archives[0])
    assert archive.department_id == marketing and archive.responsible_id == user("head_marketing").id
    page = login("head_marketing").get(f"/archives/{archive.id}").get_data(as_text=True)
    assert "移交记录" in page  # the archive page's panel


def test_department_head_hands_over_within_the_department(login, user, sales_archives, register_entries):
    client = login("head_sales")
    assert client.get("/ledgers/handovers/new").status_code == 200
    response = client.post("/ledgers/handovers/new", data=form_data(
        sales_archives[:1], giver=user("staff_sales"), receiver=user("head_sales"), reason="reassigned"))
    assert response.status_code == 303
    assert reload(sales_archives[0]).responsible_id == user("head_sales").id


@pytest.mark.parametrize("case", ["foreign_giver", "foreign_receiver", "move_department", "foreign_archive"])
def test_department_head_is_refused_outside_the_department(login, user, sales_archives, make_archive,
                                                           register_entries, case):
    client = login("head_marketing")
    if case == "foreign_giver":
        data = form_data(sales_archives[:1], giver=user("staff_sales"), receiver=user("head_marketing"))
    elif case == "foreign_receiver":
        own = make_archive("staff_marketing", status="filed", name="市场部移交公司", sensitivity=3)
        data = form_data([own], giver=user("staff_marketing"), receiver=user("staff_sales"))
    elif case == "move_department":
        own = make_archive("staff_marketing", status="filed", name="市场部移交公司", sensitivity=3)
        data = form_data([own], giver=user("staff_marketing"), receiver=user("head_marketing"),
                         new_department=str(user("staff_sales").department_id))
    else:  # a sales archive slipped into a form about a marketing person
        data = form_data(sales_archives[:1], giver=user("staff_marketing"), receiver=user("head_marketing"))
    before = len(register_entries(action="access_denied", username="head_marketing"))
    response = client.post("/ledgers/handovers/new", data=data)
    assert response.status_code == 403
    assert len(register_entries(action="access_denied", username="head_marketing")) == before + 1
    assert not register_entries(action="handover")
    assert reload(sales_archives[0]).responsible_id == user("staff_sales").id
    assert db.session.scalar(sa.select(sa.func.count(Handover.id))) == 0


@pytest.mark.parametrize("username", ["staff_sales", "supervisor", "manager", "admin"])
def test_only_the_archivist_and_heads_hand_over(login, user, sales_archives, register_entries, username):
    client = login(username)
    before = len(register_entries(action="access_denied", username=username))
    assert client.get("/ledgers/handovers/new").status_code == 403
    response = client.post("/ledgers/handovers/new", data=form_data(
        sales_archives, giver=user("staff_sales"), receiver=user("head_sales")))
    assert response.status_code == 403
    assert len(register_entries(action="access_denied", username=username)) == before + 2
    assert reload(sales_archives[0]).responsible_id == user("staff_sales").id


def test_bad_input_shows_the_form_again_with_the_input_kept(login, user, sales_archives):
    client = login("archivist")
    data = form_data(sales_archives[:2], giver=user("staff_sales"), receiver=user("head_sales"),
                     reason="other", paper=[(sales_archives[0], 0)])
    data["receiver"] = ""
    response = client.post("/ledgers/handovers/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请选择接收人" in page and "请说明原因" in page and "纸质资料件数" in page
    assert re.search(rf'name="archive" value="{sales_archives[0].id}"[^>]*checked', page)
    assert not re.search(rf'name="archive" value="{sales_archives[2].id}"[^>]*checked', page)
    assert re.search(rf'name="paper_{sales_archives[0].id}" value="1"[^>]*checked', page)
    assert db.session.scalar(sa.select(sa.func.count(Handover.id))) == 0
    future = form_data(sales_archives[:1], giver=user("staff_sales"), receiver=user("head_sales"),
                       handover_date="2999-01-01")
    response = client.post("/ledgers/handovers/new", data=future)
    assert response.status_code == 422 and "不能晚于今天" in response.get_data(as_text=True)
    nothing = form_data([], giver=user("staff_sales"), receiver=user("head_sales"))
    assert client.post("/ledgers/handovers/new", data=nothing).status_code == 422


def test_a_concurrently_changed_archive_is_reported_not_overwritten(login, user, sales_archives,
                                                                    register_entries):
    data = form_data(sales_archives, giver=user("staff_sales"), receiver=user("head_sales"))
    # someone changes the second archive after the form was loaded
    changed = db.session.get(Archive, sales_archives[1].id)
    changed.responsible_id = user("head_sales").id
    db.session.commit()
    client = login("archivist")
    response = client.post("/ledgers/handovers/new", data=data, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert sales_archives[1].number in page and "未予移交" in page
    handover = db.session.scalar(sa.select(Handover))
    assert [i.archive_id for i in handover.items] == [sales_archives[0].id, sales_archives[2].id]
    assert {e.archive_id for e in register_entries(action="handover")} == {
        sales_archives[0].id, sales_archives[2].id}
    # the same form sent again: every archive changed since → 409, nothing written
    response = client.post("/ledgers/handovers/new", data=data)
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(Handover.id))) == 1


def test_who_reads_a_handover_record(login, user, sales_archives, register_entries):
    login("archivist").post("/ledgers/handovers/new", data=form_data(
        sales_archives[:1], giver=user("staff_sales"), receiver=user("head_sales")))
    handover = db.session.scalar(sa.select(Handover))
    url = f"/ledgers/handovers/{handover.id}"
    for name in ("staff_sales", "head_sales", "archivist", "supervisor", "manager"):
        assert login(name).get(url).status_code == 200, name
        assert handover.number in login(name).get("/ledgers/handovers").get_data(as_text=True), name
    for name in ("staff_marketing", "head_marketing", "admin"):
        assert login(name).get(url).status_code == 403, name
        assert login(name).get(url + "/print").status_code == 403, name
    assert handover.number not in login("head_marketing").get("/ledgers/handovers").get_data(as_text=True)
    assert handover.number not in login("staff_marketing").get("/ledgers/handovers").get_data(as_text=True)
    assert len(register_entries(action="access_denied", username="head_marketing")) == 2


@needs_pdf
def test_record_prints_to_a4_portrait_pdf_with_signature_lines(login, user, sales_archives, register_entries):
    login("archivist").post("/ledgers/handovers/new", data=form_data(
        sales_archives[:2], giver=user("staff_sales"), receiver=user("head_sales"),
        paper=[(sales_archives[1], 3)]))
    handover = db.session.scalar(sa.select(Handover))
    client = login("staff_sales")
    page = client.get(f"/ledgers/handovers/{handover.id}/print").get_data(as_text=True)
    assert "档案移交记录" in page and "format=pdf" in page
    response = client.get(f"/ledgers/handovers/{handover.id}/print?format=pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    text = "".join(reader.pages[0].extract_text().split())
    for words in ("档案移交记录", "移交人", "接收人", "监交人", handover.number, sales_archives[1].number,
                  "是，3件", "张小销", "李销售经理", "第1页"):
        assert words in text, words
    details = [e.detail for e in register_entries(action="ledger_print", username="staff_sales")]
    assert details == [f"handover record {handover.number} print", f"handover record {handover.number} PDF"]


@needs_pdf
def test_handover_register_prints_and_exports(login, user, sales_archives, register_entries):
    login("archivist").post("/ledgers/handovers/new", data=form_data(
        sales_archives[:2], giver=user("staff_sales"), receiver=user("head_sales")))
    handover = db.session.scalar(sa.select(Handover))
    client = login("supervisor")
    page = client.get("/ledgers/handovers/print").get_data(as_text=True)
    assert "档案移交登记簿" in page and handover.number in page
    pdf = client.get("/ledgers/handovers/print?format=pdf")
    reader = PdfReader(io.BytesIO(pdf.data))
    assert (round(float(reader.pages[0].mediabox.width)), round(float(reader.pages[0].mediabox.height))) == (842, 595)
    text = "".join(reader.pages[0].extract_text().split())
    assert "档案移交登记簿" in text and handover.number in text
    sheet = load_workbook(io.BytesIO(client.get("/ledgers/handovers/print?format=xlsx").data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert sheet["A1"].value == "档案移交登记簿"
    assert any(r[0] == "编号" and "移交人" in r for r in rows)
    assert any(r[0] == handover.number for r in rows)
    assert len(register_entries(action="ledger_print", username="supervisor")) == 3
    # staff read their own handovers, but do not print the register
    staff = login("staff_sales")
    assert handover.number in staff.get("/ledgers/handovers").get_data(as_text=True)
    assert staff.get("/ledgers/handovers/print").status_code == 403


def test_destruction_blanks_the_customer_name_in_handover_records(login, user, sales_archives):
    from portal.actor import Actor
    from portal.destruction.services import SCRUBBERS
    from portal.reports.handovers import _scrub_on_destruction

    assert _scrub_on_destruction in SCRUBBERS
    login("archivist").post("/ledgers/handovers/new", data=form_data(
        sales_archives[:1], giver=user("staff_sales"), receiver=user("head_sales")))
    archive = db.session.get(Archive, sales_archives[0].id)
    _scrub_on_destruction(Actor(user("archivist")), archive, keep_name=True)
    db.session.commit()
    assert db.session.scalar(sa.select(Handover)).items[0].archive_name == "移交测试1号公司"
    _scrub_on_destruction(Actor(user("archivist")), archive, keep_name=False)
    db.session.commit()
    item = db.session.scalar(sa.select(Handover)).items[0]
    assert item.archive_name == "" and item.archive_number == sales_archives[0].number


def test_forged_post_is_refused(csrf_app, login, user, sales_archives):
    client = login("archivist")
    response = client.post("/ledgers/handovers/new", data=form_data(
        sales_archives, giver=user("staff_sales"), receiver=user("head_sales")))
    assert response.status_code == 400
    assert reload(sales_archives[0]).responsible_id == user("staff_sales").id


def test_archives_of_someone_who_left_are_handed_over(login, user, sales_archives):
    leaver = user("staff_sales")
    leaver.active = False
    db.session.commit()
    client = login("archivist")
    page = client.get("/ledgers/handovers/new").get_data(as_text=True)
    assert "张小销" in page and "账号已停用" in page
    # a deactivated account cannot receive archives
    response = client.post("/ledgers/handovers/new", data=form_data(
        sales_archives[:1], giver=user("head_sales"), receiver=leaver))
    assert response.status_code == 422
    response = client.post("/ledgers/handovers/new", data=form_data(
        sales_archives, giver=leaver, receiver=user("head_sales"), reason="resigned"))
    assert response.status_code == 303
    assert all(reload(a).responsible_id == user("head_sales").id for a in sales_archives)
