"""Findings → rectification: assign, inbox, report done, send back, verify and close; overdue."""
from __future__ import annotations

from datetime import date

import inspection_helpers as ih
import pytest
import sqlalchemy as sa

from portal import workcal
from portal.extensions import db
from portal.inspection.models import Rectification
from portal.notifications import Notification


@pytest.fixture
def finding(make_archive, user, login, monkeypatch):
    """An inspection of one 销售部 archive (responsible: staff_sales) with one finding."""
    ih.set_today(monkeypatch, date(2026, 9, 28))  # Monday before the National Day week
    archive = ih.filed(make_archive, 1, prefix="整改")[0]
    inspection = ih.draw(user, sample="1", quarter="2026-Q3")
    sample = ih.sample_of(inspection, archive)
    login("archivist").post(f"/inspections/samples/{sample.id}/check", data=ih.form_for(
        sample, {"paper": ("nonconform", "纸质档案缺少第3页")}, paper_count="4"))
    check = next(c for c in ih.sample_of(inspection, archive).checks if c.key == "paper")
    return {"archive": archive, "inspection": inspection, "check": check}


def _rect() -> Rectification:
    db.session.expire_all()
    return db.session.scalars(sa.select(Rectification)).one()


def _inbox(client) -> str:
    return ih.text(client.get("/inbox/"))


def test_the_full_rectification_flow(finding, login, user, register_entries):
    inspection, check, archive = finding["inspection"], finding["check"], finding["archive"]
    archivist = login("archivist")
    page = ih.text(archivist.get(f"/inspections/{inspection.id}"))
    # the responsible staff member is proposed as assignee, 5 working days as deadline
    staff = user("staff_sales")
    assert f'<option value="{staff.id}" selected>' in page and 'name="days" type="number" min="1" max="60" value="5"' in page
    response = archivist.post(f"/inspections/findings/{check.id}/assign",
                              data={"assignee": str(staff.id), "days": "5", "instruction": "补齐第3页并登记"})
    assert response.status_code == 303
    rect = _rect()
    # 5 working days from Mon 28 Sep 2026 across the National Day holiday (1–7 Oct), the make-up
    # Saturday 10 Oct counting as a working day
    assert rect.deadline == workcal.add_working_days(date(2026, 9, 28), 5) == date(2026, 10, 10)
    entry = register_entries(action="rectification_assign")[-1]
    assert entry.archive_id == archive.id and "staff_sales" in entry.detail and "2026-10-10" in entry.detail
    note = db.session.scalars(sa.select(Notification).where(Notification.user_id == staff.id)).all()[-1]
    assert "纸质与电子档案一致" in note.text and "2026-10-10" in note.text

    staff_client = login("staff_sales")
    inbox = _inbox(staff_client)
    assert "整改中" in inbox and archive.number in inbox
    page = ih.text(staff_client.get(f"/inspections/rectifications/{rect.id}"))
    assert "补齐第3页并登记" in page and "报告整改完成" in page
    # an empty report is refused with the form kept
    assert staff_client.post(f"/inspections/rectifications/{rect.id}/done", data={"note": ""}).status_code == 422
    assert staff_client.post(f"/inspections/rectifications/{rect.id}/done",
                             data={"note": "已补齐", "version": str(rect.version)}).status_code == 303
    assert _rect().status == "reported"
    assert register_entries(action="rectification_report")[-1].username == "staff_sales"
    assert archive.number not in _inbox(staff_client)
    assert "已报告完成，待复查" in _inbox(archivist)

    # the archivist sends it back with a reason and a new deadline
    assert archivist.post(f"/inspections/rectifications/{rect.id}/return", data={"reason": ""}).status_code == 422
    assert archivist.post(f"/inspections/rectifications/{rect.id}/return",
                          data={"reason": "第3页仍缺少签章", "days": "3"}).status_code == 303
    rect = _rect()
    assert rect.status == "open" and rect.returned_count == 1
    assert register_entries(action="rectification_return")[-1].detail.endswith("第3页仍缺少签章")
    assert "已退回，重新整改中" in _inbox(staff_client)

    staff_client.post(f"/inspections/rectifications/{rect.id}/done", data={"note": "已补签章"})
    assert archivist.post(f"/inspections/rectifications/{rect.id}/close", data={"note": "复查无误"}).status_code == 303
    rect = _rect()
    assert rect.status == "closed" and rect.closed_by_id == user("archivist").id
    assert register_entries(action="rectification_close")[-1].archive_id == archive.id
    page = ih.text(archivist.get(f"/inspections/rectifications/{rect.id}"))
    for step in ("已指派", "报告完成", "已退回", "已复查关闭"):
        assert step in page


def test_overdue_rectifications_show_as_late(finding, login, user, monkeypatch):
    check, inspection = finding["check"], finding["inspection"]
    archivist = login("archivist")
    archivist.post(f"/inspections/findings/{check.id}/assign",
                   data={"assignee": str(user("staff_sales").id), "days": "2"})
    rect = _rect()
    ih.set_today(monkeypatch, rect.deadline)
    assert "逾期整改" not in ih.text(archivist.get("/inspections/"))
    ih.set_today(monkeypatch, date(2026, 10, 20))
    staff_inbox = _inbox(login("staff_sales"))
    assert 'class="late-row"' in staff_inbox and "已逾期" in staff_inbox
    listing = ih.text(archivist.get("/inspections/"))
    assert "逾期整改" in listing and finding["archive"].number in listing
    page = ih.text(archivist.get(f"/inspections/{inspection.id}"))
    assert "insp-rect-late" in page and "已逾期" in page
    head = ih.text(login("head_sales").get("/inspections/"))
    assert "逾期整改" in head
    # reported after the deadline: marked so on the rectification
    login("staff_sales").post(f"/inspections/rectifications/{rect.id}/done", data={"note": "迟到的整改"})
    assert "逾期后报告完成" in ih.text(archivist.get(f"/inspections/rectifications/{rect.id}"))


def test_who_may_do_what_with_a_rectification(finding, login, user, register_entries):
    check = finding["check"]
    archivist = login("archivist")
    # only the archivist assigns; only a real finding; only once
    assert login("supervisor").post(f"/inspections/findings/{check.id}/assign",
                                    data={"assignee": str(user("staff_sales").id)}).status_code == 403
    response = archivist.post(f"/inspections/findings/{check.id}/assign", data={"assignee": "", "days": "99"})
    assert response.status_code == 422 and "请选择整改负责人" in ih.text(response)
    archivist.post(f"/inspections/findings/{check.id}/assign", data={"assignee": str(user("staff_sales").id),
                                                                     "days": "5"})
    assert archivist.post(f"/inspections/findings/{check.id}/assign",
                          data={"assignee": str(user("staff_sales").id), "days": "5"}).status_code == 409
    rect = _rect()
    # another staff member can neither read it nor report it
    other = login("staff_marketing")
    assert other.get(f"/inspections/rectifications/{rect.id}").status_code == 403
    assert other.post(f"/inspections/rectifications/{rect.id}/done", data={"note": "x"}).status_code == 403
    assert len(register_entries(action="access_denied", username="staff_marketing")) == 2
    # the archivist does not report on the assignee's behalf; the assignee does not close it
    assert archivist.post(f"/inspections/rectifications/{rect.id}/done", data={"note": "x"}).status_code == 403
    staff = login("staff_sales")
    assert staff.post(f"/inspections/rectifications/{rect.id}/close", data={}).status_code == 403
    # closing before it is reported done: a state error, not a permission one
    assert archivist.post(f"/inspections/rectifications/{rect.id}/close", data={}).status_code == 409
    # a stale report (version changed meanwhile) is refused
    assert staff.post(f"/inspections/rectifications/{rect.id}/done",
                      data={"note": "x", "version": "999"}).status_code == 409
    # the finding stays "does not conform" while a rectification exists
    sample = ih.sample_of(finding["inspection"], finding["archive"])
    response = archivist.post(f"/inspections/samples/{sample.id}/check",
                              data=ih.form_for(sample, {"paper": ("conform", "")}))
    assert response.status_code == 422
    # the department head reads it (their department), another head does not
    assert login("head_sales").get(f"/inspections/rectifications/{rect.id}").status_code == 200
    assert login("head_marketing").get(f"/inspections/rectifications/{rect.id}").status_code == 403


def test_archive_page_panel(finding, login, user):
    check, archive = finding["check"], finding["archive"]
    login("archivist").post(f"/inspections/findings/{check.id}/assign",
                            data={"assignee": str(user("staff_sales").id), "days": "5"})
    staff_page = ih.text(login("staff_sales").get(f"/archives/{archive.id}"))
    assert "未完成的整改" in staff_page and "纸质与电子档案一致" in staff_page
    assert "2026年第3季度" not in staff_page  # staff read the rectification, not the inspection
    archivist_page = ih.text(login("archivist").get(f"/archives/{archive.id}"))
    assert "季度抽查" in archivist_page and "2026年第3季度" in archivist_page and "纸质档案缺少第3页" in archivist_page


def _notes(username: str) -> list[str]:
    from portal.auth.models import User
    uid = db.session.scalar(sa.select(User.id).where(User.username == username))
    return list(db.session.scalars(sa.select(Notification.text).where(Notification.user_id == uid)
                                   .order_by(Notification.id)))


def _overdue(username: str) -> list[str]:
    return [n for n in _notes(username) if "整改逾期" in n]


def test_portal_remind_sends_an_overdue_rectification_once_per_deadline(finding, app, login, user, monkeypatch):
    mails = []
    monkeypatch.setattr("portal.notifications.send_mail", lambda batch: mails.extend(batch) or len(batch))
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_DOMAIN="example.com")
    number = finding["archive"].number
    archivist = login("archivist")
    archivist.post(f"/inspections/findings/{finding['check'].id}/assign",
                   data={"assignee": str(user("staff_sales").id), "days": "2"})
    rect = _rect()
    first_deadline = rect.deadline
    runner = app.test_cli_runner()
    ih.set_today(monkeypatch, first_deadline)  # due today: not late yet
    assert runner.invoke(args=["remind"]).exit_code == 0
    assert _overdue("staff_sales") == [] and _overdue("archivist") == []

    ih.set_today(monkeypatch, date(2026, 10, 20))
    runner.invoke(args=["remind"])
    runner.invoke(args=["remind"])  # a second run the same day repeats nothing
    staff = _overdue("staff_sales")
    assert len(staff) == 1 and number in staff[0] and first_deadline.isoformat() in staff[0] and "请整改" in staff[0]
    desk = _overdue("archivist")
    assert len(desk) == 1 and number in desk[0] and user("staff_sales").display_name in desk[0]
    assert _overdue("staff_marketing") == [] and _overdue("head_marketing") == []
    assert {"staff_sales@example.com", "archivist@example.com"} <= {m.to for m in mails}

    # reported, sent back with a new deadline, and late again: a new reminder for the new deadline
    login("staff_sales").post(f"/inspections/rectifications/{rect.id}/done", data={"note": "已补"})
    archivist.post(f"/inspections/rectifications/{rect.id}/return", data={"reason": "仍缺签章", "days": "2"})
    new_deadline = _rect().deadline
    assert new_deadline > first_deadline
    ih.set_today(monkeypatch, date(2026, 10, 30))
    runner.invoke(args=["remind"])
    staff = _overdue("staff_sales")
    assert len(staff) == 2 and new_deadline.isoformat() in staff[-1]

    # closed: no more reminders, whatever the date
    login("staff_sales").post(f"/inspections/rectifications/{rect.id}/done", data={"note": "已补签章"})
    archivist.post(f"/inspections/rectifications/{rect.id}/close", data={"note": "复查无误"})
    ih.set_today(monkeypatch, date(2026, 11, 30))
    runner.invoke(args=["remind"])
    assert len(_overdue("staff_sales")) == 2 and len(_overdue("archivist")) == 2
