"""The retention status of an archive: the clock starts at the termination date, never at upload."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.retention import services as retention
from portal.retention.services import add_months, add_years


def test_an_archive_uploaded_long_ago_but_terminated_recently_is_not_eligible(terminated, add_document, today):
    from portal.documents.models import Document

    archive = terminated(months_ago=1, name="老客户新近终止")
    doc = add_document(archive, "往来函件")
    long_ago = datetime.now() - timedelta(days=365 * 8)
    archive.created_at = archive.filed_at = long_ago
    db.session.execute(sa.update(Document).where(Document.id == doc.id).values(created_at=long_ago))
    archive.contract_signed_on = (long_ago - timedelta(days=30)).date()
    db.session.commit()

    st = retention.status(archive)
    assert st.state == "pending_review"
    assert st.event_date == archive.terminated_on
    assert st.eligible_on == add_years(archive.terminated_on, 3)
    assert st.review_due == add_months(archive.terminated_on, 6)
    assert not retention.is_eligible(archive)
    assert retention.is_eligible(archive, today=add_years(archive.terminated_on, 3))
    assert not retention.is_eligible(archive, today=add_years(archive.terminated_on, 3) - timedelta(days=1))


def test_an_active_customer_s_clock_has_not_started(make_archive, login):
    archive = make_archive(status="filed", stage="active")
    st = retention.status(archive)
    assert st.state == "not_terminated" and st.eligible_on is None and not st.clock_started
    assert retention.eligible_on(archive) is None and not retention.is_eligible(archive)
    page = login("staff_sales").get(f"/archives/{archive.id}").get_data(as_text=True)
    assert "在保管期内（未终止合作，保管期限尚未起算）" in page


def test_terminated_without_a_date_is_a_warning_not_an_error(make_archive, login):
    archive = make_archive(status="filed", stage="terminated")
    st = retention.status(archive)
    assert st.state == "date_missing" and st.warning
    assert retention.eligible_on(archive) is None
    page = login("archivist").get(f"/archives/{archive.id}")
    assert page.status_code == 200
    assert "缺少终止合作日期" in page.get_data(as_text=True)
    reviews = login("archivist").get("/retention/reviews").get_data(as_text=True)
    assert "已终止合作但缺少终止日期" in reviews and archive.number in reviews


def test_states_follow_the_review_and_the_retention_period(terminated, as_actor, today):
    overdue = terminated(months_ago=7)
    assert retention.status(overdue).state == "review_overdue"
    assert retention.status(overdue).overdue
    due = terminated(on=add_months(today, -6) + timedelta(days=10))
    assert retention.status(due).state == "review_due"
    eligible = terminated(months_ago=12 * 3 + 1)
    assert retention.status(eligible).state == "eligible"
    retention.retain(as_actor("archivist"), overdue, "客户可能恢复合作", add_months(today, 12))
    st = retention.status(overdue)
    assert st.state == "retained" and st.review_due == add_months(today, 12)
    assert st.last_review.reason == "客户可能恢复合作"
    retention.place_hold(as_actor("manager"), eligible, "诉讼保全")
    st = retention.status(eligible)
    assert st.state == "held" and st.held and st.hold.reason == "诉讼保全"
    assert st.eligible_on is not None  # the dates stay known while held
    eligible.status = "destroyed"
    assert retention.status(eligible).state == "destroyed"
    db.session.rollback()


def test_the_archive_page_shows_status_dates_and_rule_to_its_viewers(terminated, login):
    archive = terminated(months_ago=7)
    for username in ("staff_sales", "head_sales", "archivist", "supervisor", "manager"):
        page = login(username).get(f"/archives/{archive.id}").get_data(as_text=True)
        assert "终止合作复核已逾期" in page, username
        assert add_years(archive.terminated_on, 3).isoformat() in page
        assert add_months(archive.terminated_on, 6).isoformat() in page
    assert login("staff_marketing").get(f"/archives/{archive.id}").status_code == 403


def test_status_costs_a_fixed_number_of_queries(app, terminated, add_document):
    from sqlalchemy import event

    archive = terminated(months_ago=7)
    for doc_type in ("合同", "往来函件", "发票"):
        add_document(archive, doc_type)
    db.session.commit()
    archive.name  # noqa: B018  (loaded, as on the archive page)
    statements = []

    def listener(conn, cursor, statement, *args):
        if statement.startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with app.test_request_context():
            retention.status(archive)
            first = len(statements)
            retention.status(archive)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    # rules (once per request), document types, hold + last review
    assert first <= 3 and len(statements) - first <= 2, statements
