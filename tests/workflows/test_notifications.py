"""Notifications: saved with the caller's transaction, the page (own messages only, marked
read), and e-mail copies through a real SMTP server on loopback — sent after the commit only,
and a broken mail server never breaks the request."""
from __future__ import annotations

import logging
import socket

import pytest
import sqlalchemy as sa
from smtp_sink import SmtpSink

from portal import notifications as notes
from portal.extensions import db


@pytest.fixture
def smtp(app):
    sink = SmtpSink()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_FROM="portal@example.com",
                      SMTP_DOMAIN="example.com", PUBLIC_URL="https://portal.example.com")
    yield sink
    sink.close()


def _count(user) -> int:
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.count(notes.Notification.id))
                             .where(notes.Notification.user_id == user.id))


def test_notify_belongs_to_the_callers_transaction(app, user):
    staff = user("staff_sales")
    notes.notify(staff, "会被撤销的通知", "/borrowings/1")
    db.session.rollback()
    assert _count(staff) == 0
    notes.notify(staff, "保留的通知", "/borrowings/1")
    db.session.commit()
    assert _count(staff) == 1
    assert notes.unread_count(staff) == 1
    assert notes.unread_count(user("head_sales")) == 0


def test_page_lists_only_own_notifications_and_marks_them_read(app, user, login):
    staff, head = user("staff_sales"), user("head_sales")
    mine = notes.notify(staff, "借阅单 #7 已批准", "/borrowings/7")
    theirs = notes.notify(head, "部门负责人的通知", None)
    db.session.commit()
    client = login("staff_sales")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "借阅单 #7 已批准" in page and "部门负责人的通知" not in page
    assert "通知" in page and 'class="nav-count"' in page  # the header count
    # marking someone else's notification read changes nothing
    assert client.post(f"/notifications/{theirs.id}/read").status_code == 303
    assert notes.unread_count(head) == 1
    # following the link marks it read and leads to the loan
    response = client.get(f"/notifications/{mine.id}/open")
    assert response.status_code == 303 and response.headers["Location"].endswith("/borrowings/7")
    db.session.commit()
    assert notes.unread_count(staff) == 0
    assert client.get(f"/notifications/{theirs.id}/open").status_code == 404
    # mark all read
    notes.notify(staff, "另一条", None)
    db.session.commit()
    client.post("/notifications/read-all")
    assert notes.unread_count(staff) == 0


def test_mark_read_with_htmx_swaps_the_list(app, user, login):
    note = notes.notify(user("staff_sales"), "htmx 通知", None)
    db.session.commit()
    response = login("staff_sales").post(f"/notifications/{note.id}/read",
                                         headers={"HX-Request": "true", "HX-Target": "notification-list"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="notification-list">') and "<html" not in html


def test_mail_copy_is_sent_after_the_commit(app, user, smtp):
    staff = user("staff_sales")
    notes.notify(staff, "您的借阅单 #3 已批准", "/borrowings/3")
    assert smtp.messages == []  # nothing leaves before the commit
    db.session.commit()
    assert len(smtp.messages) == 1
    sender, rcpts, message = smtp.messages[0]
    assert rcpts == ["staff_sales@example.com"]  # no own address: <username>@SMTP_DOMAIN
    assert "借阅单 #3 已批准" in message["Subject"]
    assert "https://portal.example.com/borrowings/3" in message.get_content()


def test_no_mail_when_the_transaction_is_rolled_back(app, user, smtp):
    notes.notify(user("staff_sales"), "不会发送", None)
    db.session.rollback()
    db.session.commit()
    assert smtp.messages == []


def test_own_address_is_used_and_validated(app, user, login, smtp):
    client = login("staff_sales")
    response = client.post("/notifications/address", data={"email": "不是邮箱"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请输入有效的电子邮箱" in page and 'value="不是邮箱"' in page  # the input is kept
    assert client.post("/notifications/address", data={"email": "zhang@corp.example"}).status_code == 303
    notes.notify(user("staff_sales"), "发到个人邮箱", None)
    db.session.commit()
    assert smtp.messages[-1][1] == ["zhang@corp.example"]


def test_unreachable_mail_server_does_not_break_the_request(app, user, caplog, monkeypatch):
    # a port nobody listens on
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=dead_port, SMTP_DOMAIN="example.com", SMTP_TIMEOUT=2)
    staff = user("staff_sales")
    # Alembic's fileConfig (migrations/env.py) disables loggers that existed when the test
    # database was migrated in this process; the portal's own processes do not migrate.
    monkeypatch.setattr(logging.getLogger("portal.notifications"), "disabled", False)
    with caplog.at_level(logging.ERROR, logger="portal.notifications"):
        notes.notify(staff, "邮件服务器不可用", None)
        db.session.commit()  # does not raise
    assert _count(staff) == 1  # the in-app notification is kept
    assert any("notification mail not sent" in r.getMessage() for r in caplog.records)
