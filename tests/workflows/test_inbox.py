"""The inbox 待办: what waits for each user, deadlines and late items, the header count."""
from __future__ import annotations

import re
import time

import pytest
import request_helpers as rh

from portal import workcal
from portal.workflows import change_requests as changes
from portal.workflows import inbox
from portal.workflows import query_requests as queries


@pytest.fixture
def archive(make_archive):
    return make_archive(status="filed", name="待办测试有限公司")


def _badge(html: str) -> int:
    """The number in the header's inbox badge (0 when there is none)."""
    header = re.search(r'<span id="header-inbox".*?</span>\s*</a>\s*</span>', html, re.S)
    assert header, "the header has no inbox link"
    found = re.search(r'class="inbox-badge[^"]*"[^>]*>(\d+)<', header.group(0))
    return int(found.group(1)) if found else 0


def test_each_user_sees_what_waits_for_them(app, login, user, archive):
    evidence = rh.document(archive, user("staff_sales"), level=2)
    q = queries.submit(rh.as_(user("staff_marketing")), purpose="核对", scope="all", period_days=2,
                       archive_ref=archive.number)
    c = changes.propose(rh.as_(user("staff_sales")), archive, {"name": "待办改名公司"}, "更名", evidence.id)

    archivist = inbox.items_for(user("archivist"))
    assert [i.kind for i in archivist] == ["query_request"]
    assert archivist[0].deadline == workcal.deadline(q.created_at, 1)
    assert [i.kind for i in inbox.items_for(user("head_sales"))] == ["change_request"]
    for nobody in ("head_service", "staff_sales", "staff_marketing", "manager", "admin"):
        assert [i for i in inbox.items_for(user(nobody)) if i.kind != "borrowing"] == [], nobody

    page = login("head_sales").get("/inbox/")
    assert page.status_code == 200
    assert "待我处理" in page.text and f"C{c.id}" in page.text and "审核（部门负责人）" in page.text
    assert _badge(page.text) == 1

    mine = login("staff_sales").get("/inbox/")
    assert "我的未完成申请" in mine.text and f"C{c.id}" in mine.text and "暂无待办事项" in mine.text
    assert f"Q{q.id}" in login("staff_marketing").get("/inbox/").text
    assert login("admin").get("/inbox/").status_code == 200


def test_late_items_are_marked_and_come_first(app, login, user, archive, make_archive, monkeypatch):
    other = make_archive(status="filed", name="较晚的公司")
    old = queries.submit(rh.as_(user("staff_marketing")), purpose="早", scope="all", period_days=2,
                         archive_ref=archive.number)
    new = queries.submit(rh.as_(user("head_marketing")), purpose="晚", scope="all", period_days=2,
                         archive_ref=other.number)
    due = workcal.deadline(old.created_at, 1)
    assert not any(i.late for i in inbox.items_for(user("archivist")))
    rh.set_today(monkeypatch, workcal.add_working_days(due, 1))
    items = inbox.items_for(user("archivist"))
    assert all(i.late for i in items) and items[0].title.startswith(f"Q{old.id}")
    page = login("archivist").get("/inbox/")
    assert page.text.count("已超期") >= 2 and "inbox-badge-late" in page.text
    assert f"Q{new.id}" in page.text
    detail = login("archivist").get(f"/requests/query/{old.id}")
    assert "badge-late" in detail.text


def test_header_count_fragment_and_notifications(app, login, user, archive):
    head = login("head_sales")
    assert _badge(head.get("/inbox/").text) == 0
    evidence = rh.document(archive, user("staff_sales"), level=2)
    req = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "北非"}, "迁址", evidence.id)
    fragment = head.get("/inbox/count", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and _badge(fragment.text) == 1
    assert 'hx-trigger="every 60s"' in fragment.text
    assert "<html" not in fragment.text  # a fragment, not a page
    changes.approve(rh.as_(user("head_sales")), req)
    assert _badge(head.get("/inbox/count").text) == 0
    # the proposer was notified; the fragment refreshes the main navigation's unread count
    sales = login("staff_sales")
    note = sales.get("/inbox/count").text
    assert 'hx-swap-oob="outerHTML:.mainnav .nav-notifications"' in note
    assert re.search(r'class="nav-count"[^>]*>1<', note)


def test_polling_does_not_keep_an_idle_session_alive(app, login):
    client = login("staff_sales")
    client.get("/inbox/")
    with client.session_transaction() as session:
        session["_seen"] = time.time() - 600  # ten minutes idle
        idle_since = session["_seen"]
    response = client.get(f"/inbox/count?seen={idle_since:.0f}")
    assert response.status_code == 200
    with client.session_transaction() as session:
        assert abs(session["_seen"] - idle_since) < 2  # the poll did not count as activity
    assert f"seen={idle_since:.0f}" in response.text  # the next poll carries the same moment
    # once the idle time passes the timeout, the poll ends the session like any request
    with client.session_transaction() as session:
        session["_seen"] = time.time() - 3600
        expired = session["_seen"]
    assert client.get(f"/inbox/count?seen={expired:.0f}").status_code == 302
    # a forged future moment is clamped to now
    client = login("staff_sales")
    client.get(f"/inbox/count?seen={time.time() + 10**6:.0f}")
    with client.session_transaction() as session:
        assert session["_seen"] <= time.time()


def test_every_page_shows_the_inbox_link(app, login):
    for name in ("staff_sales", "archivist", "admin"):
        page = login(name).get("/inbox/")
        assert 'id="header-inbox"' in page.text and "待办" in page.text
