"""The termination review list 终止合作复核 and the archivist's decisions."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from portal import printing
from portal.extensions import db
from portal.retention import services as retention
from portal.retention.models import RetentionReview
from portal.retention.services import add_months


def _reviews(archive_id):
    db.session.commit()
    return retention.reviews_of(archive_id)


@pytest.fixture
def archives(terminated, make_archive, today):
    return {
        "overdue": terminated(months_ago=7, name="逾期复核客户"),
        "soon": terminated(on=add_months(today, -6) + timedelta(days=12), name="即将复核客户"),
        "recent": terminated(months_ago=1, name="刚终止客户"),
        "old": terminated(months_ago=12 * 3 + 2, name="终止三年客户"),
        "active": make_archive(status="filed", stage="active", name="合作中客户"),
        "marketing": terminated(months_ago=8, by="staff_marketing", name="市场部终止客户", sensitivity=3),
    }


def test_the_list_shows_due_and_overdue_reviews_in_due_order(login, archives):
    page = login("archivist").get("/retention/reviews").get_data(as_text=True)
    for key in ("overdue", "soon", "old", "marketing"):
        assert archives[key].number in page, key
    for key in ("recent", "active"):
        assert archives[key].number not in page, key
    # earliest due first: the three-year-old termination, then 8 and 7 months, then the coming one
    order = [page.index(archives[k].number) for k in ("old", "marketing", "overdue", "soon")]
    assert order == sorted(order)
    assert "row-overdue" in page and "已逾期" in page
    latest_first = login("archivist").get("/retention/reviews?sort=-due").get_data(as_text=True)
    assert latest_first.index(archives["soon"].number) < latest_first.index(archives["old"].number)
    # filter by department
    sales = archives["overdue"].department_id
    filtered = login("archivist").get(f"/retention/reviews?department={sales}").get_data(as_text=True)
    assert archives["overdue"].number in filtered and archives["marketing"].number not in filtered
    # a longer horizon brings the recent termination in
    everything = login("archivist").get("/retention/reviews?within=all").get_data(as_text=True)
    assert archives["recent"].number in everything
    assert [i.archive.id for i in retention.reviews_due()] == [archives[k].id for k in
                                                             ("old", "marketing", "overdue", "soon")]


def test_supervisor_and_management_read_the_list_others_are_refused(login, archives, register_entries):
    for username in ("supervisor", "manager"):
        response = login(username).get("/retention/reviews")
        assert response.status_code == 200
        assert archives["overdue"].number in response.get_data(as_text=True)
        assert "/retention/reviews/" + str(archives["overdue"].id) not in response.get_data(as_text=True)
    for username in ("staff_sales", "head_sales", "admin"):
        before = len(register_entries(action="access_denied", username=username))
        assert login(username).get("/retention/reviews").status_code == 403
        assert login(username).get("/retention/reviews/print?format=pdf").status_code == 403
        assert len(register_entries(action="access_denied", username=username)) == before + 2


def test_retain_with_reason_and_next_review_date(login, archives, register_entries, today):
    archive = archives["overdue"]
    client = login("archivist")
    form = client.get(f"/retention/reviews/{archive.id}").get_data(as_text=True)
    assert add_months(today, 12).isoformat() in form  # the default next review date
    # the reason is required, the next review must lie in the future; nothing is lost
    missing = client.post(f"/retention/reviews/{archive.id}/retain",
                          data={"reason": " ", "next_review_on": add_months(today, 12).isoformat(), "last_review": "0"})
    assert missing.status_code == 422 and "请填写理由" in missing.get_data(as_text=True)
    past = client.post(f"/retention/reviews/{archive.id}/retain",
                       data={"reason": "客户或恢复合作", "next_review_on": (today - timedelta(days=1)).isoformat(),
                             "last_review": "0"})
    assert past.status_code == 422
    assert "下次复核日期必须在今天之后" in past.get_data(as_text=True) and "客户或恢复合作" in past.get_data(as_text=True)
    assert _reviews(archive.id) == []

    next_review = add_months(today, 12)
    done = client.post(f"/retention/reviews/{archive.id}/retain",
                       data={"reason": "客户或恢复合作", "next_review_on": next_review.isoformat(), "last_review": "0"})
    assert done.status_code == 303
    [review] = _reviews(archive.id)
    assert (review.decision, review.reason, review.next_review_on) == ("retain", "客户或恢复合作", next_review)
    assert review.event_date == archive.terminated_on
    entry = register_entries(action="retention_review")[-1]
    assert entry.archive_id == archive.id and entry.username == "archivist" and "客户或恢复合作" in entry.detail
    assert "已留存为终止合作客户档案" in client.get("/retention/reviews").get_data(as_text=True)  # the flash
    page = login("archivist").get("/retention/reviews").get_data(as_text=True)
    assert archive.number not in page  # back on the list on the next review date
    assert archive.id in [i.archive.id for i in retention.reviews_due(today=next_review)]
    shown = client.get(f"/archives/{archive.id}").get_data(as_text=True)
    assert "已留存为终止合作客户档案" in shown and next_review.isoformat() in shown


def test_a_stale_form_is_refused(login, archives, today):
    archive = archives["overdue"]
    first, second = login("archivist"), login("archivist")
    data = {"reason": "留存", "next_review_on": add_months(today, 6).isoformat(), "last_review": "0"}
    assert first.post(f"/retention/reviews/{archive.id}/retain", data=data).status_code == 303
    stale = second.post(f"/retention/reviews/{archive.id}/retain", data=data)
    assert stale.status_code == 409
    assert "有人已在您打开表单后作出了复核决定" in stale.get_data(as_text=True)
    assert len(_reviews(archive.id)) == 1


def test_propose_destruction_is_refused_before_the_archive_is_eligible(login, archives, register_entries):
    archive = archives["overdue"]
    eligible_on = retention.eligible_on(archive)
    response = login("archivist").post(f"/retention/reviews/{archive.id}/propose",
                                       data={"reason": "无留存必要", "last_review": "0"})
    assert response.status_code == 409
    assert eligible_on.isoformat() in response.get_data(as_text=True)
    assert _reviews(archive.id) == []
    entry = register_entries(action="retention_review")[-1]
    assert entry.result == "failed" and eligible_on.isoformat() in entry.detail


def test_propose_destruction_of_an_eligible_archive_leads_to_the_application(login, archives, register_entries):
    archive = archives["old"]
    client = login("archivist")
    assert client.post(f"/retention/reviews/{archive.id}/propose",
                       data={"reason": " ", "last_review": "0"}).status_code == 422
    response = client.post(f"/retention/reviews/{archive.id}/propose",
                           data={"reason": "终止合作满三年，无后续合作可能", "last_review": "0"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/destruction/new?archive={archive.id}")
    [review] = _reviews(archive.id)
    assert review.decision == "propose" and review.eligible_on == retention.eligible_on(archive)
    assert register_entries(action="retention_review")[-1].detail.startswith("propose destruction")
    assert archive.number not in login("supervisor").get("/retention/reviews").get_data(as_text=True)


def test_a_held_archive_cannot_be_proposed(login, archives, as_actor):
    archive = archives["old"]
    retention.place_hold(as_actor("manager"), archive, "监管问询")
    response = login("archivist").post(f"/retention/reviews/{archive.id}/propose",
                                       data={"reason": "到期", "last_review": "0"})
    assert response.status_code == 409 and "冻结" in response.get_data(as_text=True)
    assert _reviews(archive.id) == []


def test_decisions_are_refused_to_others(login, archives, register_entries, today):
    archive = archives["old"]
    for username in ("supervisor", "manager", "head_sales", "staff_sales", "admin"):
        client = login(username)
        before = len(register_entries(action="access_denied", username=username))
        assert client.post(f"/retention/reviews/{archive.id}/retain", data={
            "reason": "x", "next_review_on": add_months(today, 12).isoformat()}).status_code == 403
        assert client.post(f"/retention/reviews/{archive.id}/propose", data={"reason": "x"}).status_code == 403
        assert len(register_entries(action="access_denied", username=username)) == before + 2
    assert _reviews(archive.id) == []


def test_an_active_archive_has_nothing_to_review(login, archives, today):
    response = login("archivist").post(f"/retention/reviews/{archives['active'].id}/retain", data={
        "reason": "x", "next_review_on": add_months(today, 12).isoformat(), "last_review": "0"})
    assert response.status_code == 409
    assert db.session.query(RetentionReview).count() == 0


def test_the_archivist_s_inbox_lists_reviews_due(login, archives):
    page = login("archivist").get("/inbox/").get_data(as_text=True)
    assert "终止合作复核" in page
    assert archives["overdue"].number in page and archives["recent"].number not in page
    assert archives["overdue"].number not in login("staff_sales").get("/inbox/").get_data(as_text=True)


needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")


@needs_pdf
def test_the_review_list_prints_to_pdf_with_chinese_text(login, archives, register_entries, tmp_path):
    response = login("supervisor").get("/retention/reviews/print?format=pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "终止合作" in text
    assert archives["overdue"].number in text.replace("\n", "")
    assert "第 1 页" in text
    assert register_entries(action="ledger_print")[-1].detail.startswith("termination review list (pdf)")
    if shutil.which("pdftoppm"):
        (tmp_path / "r.pdf").write_bytes(response.data)
        subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "p")], check=True)
        assert list(tmp_path.glob("p*.png"))


def test_the_review_list_prints_and_exports_to_excel(login, archives):
    client = login("archivist")
    page = client.get("/retention/reviews/print").get_data(as_text=True)
    assert "终止合作客户档案复核清单" in page and "format=pdf" in page and "format=xlsx" in page
    response = client.get("/retention/reviews/print?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["A1"].value == "终止合作客户档案复核清单"
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert archives["overdue"].number in values and "档案编号" in values
