"""Reminders 提醒: birthdays, anniversaries, follow-ups and monthly checks in the responsible
staff member's inbox only; ``portal remind`` notifies (and e-mails) each once."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from oversight_helpers import beijing, filed, set_today

from portal.actor import Actor
from portal.archives import services
from portal.archives.models import Anniversary
from portal.archives.subrecords import BY_KEY
from portal.extensions import db
from portal.notifications import Notification

DAY = date(2026, 10, 27)  # Tuesday, inside October's last 5 working days (26–30 Oct)


def inbox(client) -> str:
    return client.get("/inbox/").get_data(as_text=True)


@pytest.fixture
def customers(app, make_archive, user, monkeypatch):
    set_today(monkeypatch, date(2026, 10, 20))
    person = filed(make_archive, "staff_sales", kind="individual", name="王寿星", birth_date=date(1980, 10, 30),
                   contract=None, filed_at=beijing(date(2026, 9, 1)))
    later = filed(make_archive, "staff_sales", kind="individual", name="李远期", birth_date=date(1975, 11, 20),
                  contract=None, filed_at=beijing(date(2026, 9, 1)))
    company = filed(make_archive, "staff_marketing", name="纪念日公司", contract=None,
                    filed_at=beijing(date(2026, 9, 1)), sensitivity=3)
    db.session.add(Anniversary(archive_id=company.id, occasion="合作周年", falls_on=date(2021, 11, 2),
                               note="寄贺卡"))
    db.session.commit()
    set_today(monkeypatch, DAY)
    return {"person": person, "later": later, "company": company}


def test_birthdays_and_anniversaries_reach_the_responsible_staff_only(customers, login, make_archive):
    gone = filed(make_archive, "staff_sales", kind="individual", name="已销毁客户", birth_date=date(1970, 10, 29),
                 contract=None, filed_at=beijing(date(2026, 9, 1)))
    gone.status = "destroyed"  # a tombstone of the destruction: nobody is reminded of it
    db.session.commit()
    sales = inbox(login("staff_sales"))
    assert "已销毁客户" not in sales
    assert "王寿星" in sales and "生日 10-30（3 天后）" in sales
    assert "李远期" not in sales  # more than 7 days ahead
    assert "纪念日公司" not in sales
    marketing = inbox(login("staff_marketing"))
    assert "纪念日公司" in marketing and "合作周年 11-02（6 天后） · 寄贺卡" in marketing
    assert "王寿星" not in marketing
    for other in ("head_sales", "archivist", "manager"):
        page = inbox(login(other))
        assert "王寿星" not in page and "纪念日公司" not in page


def test_follow_up_date_is_entered_with_a_communication_and_reminded(customers, login, user, monkeypatch):
    person = customers["person"]
    client = login("staff_sales")
    # the communication form of a filed archive has 下次跟进日期
    form = client.get(f"/archives/{person.id}/r/communications/new").get_data(as_text=True)
    assert "下次跟进日期" in form and 'name="follow_up_on"' in form
    response = client.post(f"/archives/{person.id}/r/communications/new", data={
        "occurred_on": "2026-10-26", "channel": "", "topic": "报价确认", "follow_up_on": "2026-10-28"})
    assert response.status_code == 303
    page = inbox(client)
    assert "跟进 王寿星" in page and "请于 2026-10-28 前跟进" in page and "报价确认" in page
    assert "跟进 王寿星" not in inbox(login("staff_marketing"))
    assert "跟进 王寿星" not in inbox(login("head_sales"))

    set_today(monkeypatch, date(2026, 10, 29))
    assert "跟进日期 2026-10-28 已过" in inbox(client)  # overdue, shown as late
    # logging the next communication closes the follow-up
    services.add_record(Actor(user("staff_sales")), person, BY_KEY["communications"],
                        {"occurred_on": date(2026, 10, 29), "topic": "电话回访"})
    assert "跟进 王寿星" not in inbox(client)


def test_monthly_check_reminder_in_the_last_working_days(customers, login, monkeypatch):
    set_today(monkeypatch, date(2026, 10, 20))
    assert "月度检查" not in inbox(login("staff_sales")).split("<main", 1)[1].split("我的未完成申请")[0]
    set_today(monkeypatch, DAY)
    page = inbox(login("staff_sales"))
    assert "2026-10 月度检查" in page and "2 份档案须在 2026-10-30 前确认" in page
    login("staff_sales").post("/oversight/checks/confirm-all",
                              data={"archive_id": [customers["person"].id, customers["later"].id]})
    assert "2026-10 月度检查" not in inbox(login("staff_sales"))
    # 市场部's archive is still open; after the due date it is late
    set_today(monkeypatch, date(2026, 10, 31))
    page = inbox(login("staff_marketing"))
    assert "1 份档案未确认；检查截止日期为 2026-10-30" in page


def notes_of(username: str) -> list[str]:
    from portal.auth.models import User
    uid = db.session.scalar(sa.select(User.id).where(User.username == username))
    return list(db.session.scalars(sa.select(Notification.text).where(Notification.user_id == uid)))


def test_portal_remind_twice_notifies_once(customers, app, monkeypatch):
    mails = []
    monkeypatch.setattr("portal.notifications.send_mail", lambda batch: mails.extend(batch) or len(batch))
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_DOMAIN="example.com")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["remind"])
    assert first.exit_code == 0, first.output
    sales = notes_of("staff_sales")
    assert any("王寿星" in n and "生日" in n for n in sales)
    assert any("月度检查" in n for n in sales)
    assert any("纪念日公司" in n for n in notes_of("staff_marketing"))
    assert not any("王寿星" in n for n in notes_of("staff_marketing"))
    assert {m.to for m in mails} >= {"staff_sales@example.com", "staff_marketing@example.com"}
    sent_first = len(mails)

    second = runner.invoke(args=["remind"])
    assert second.exit_code == 0 and "0 reminder(s) sent now" in second.output
    assert notes_of("staff_sales") == sales  # nothing repeated
    assert len(mails) == sent_first

    # a new occasion (the check becomes overdue) is a new reminder, once
    set_today(monkeypatch, date(2026, 10, 31))
    runner.invoke(args=["remind"])
    runner.invoke(args=["remind"])
    overdue = [n for n in notes_of("staff_sales") if "未确认" in n]
    assert len(overdue) == 1


def test_retention_reviews_due_are_mailed_to_the_archivist(app, make_archive, monkeypatch):
    from portal.retention import services as retention
    set_today(monkeypatch, date(2026, 10, 20))
    archive = filed(make_archive, "staff_sales", name="终止复核公司", contract=None, filed_at=beijing(date(2025, 1, 6)))
    archive.stage, archive.terminated_on = "terminated", date(2026, 4, 1)
    db.session.commit()
    if not retention.reviews_due(None):
        pytest.skip("retention reviews not due under the current retention rules")
    runner = app.test_cli_runner()
    runner.invoke(args=["remind"])
    runner.invoke(args=["remind"])
    texts = [n for n in notes_of("archivist") if "终止复核公司" in n]
    assert len(texts) == 1 and "复核" in texts[0]


def test_a_birthday_recorded_also_as_an_anniversary_is_reminded_once(customers, user):
    from portal.oversight.reminders import reminders_for
    person = customers["person"]
    db.session.add(Anniversary(archive_id=person.id, occasion="生日", falls_on=date(1980, 10, 30)))
    db.session.add(Anniversary(archive_id=person.id, occasion="首次合作纪念日", falls_on=date(2019, 10, 30)))
    db.session.commit()
    about_him = [r for r in reminders_for(user("staff_sales"), DAY) if r.archive_id == person.id
                 and r.kind in ("birthday", "anniversary")]
    assert len(about_him) == 2  # the birthday once, and the other anniversary on the same day
    assert sum("首次合作纪念日" in r.title for r in about_him) == 1
