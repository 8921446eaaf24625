"""The access register pages as the archivist, the supervisor and the refused meet them."""
from __future__ import annotations

import re
from datetime import datetime

import pytest

from portal.actor import Actor
from portal.archives import services
from portal.dbsetup import begin_write
from portal.errors import PermissionDenied
from portal.extensions import db
from portal.register import reading
from portal.register import services as register_services

READERS = ("archivist", "supervisor")
REFUSED = ("staff_sales", "head_sales", "manager", "admin")


def rows(html: str) -> list[list[str]]:
    """The register table's rows as lists of cell texts."""
    out = []
    for row in re.findall(r'<tr class="reg-row[^"]*">(.*?)</tr>', html, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        out.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return out


def record_at(monkeypatch, when: datetime, actor: Actor, action: str, **kwargs) -> None:
    """Append an entry as if it had happened at ``when`` (UTC): the clock is set, not the entry."""
    monkeypatch.setattr(register_services, "utcnow", lambda: when)
    begin_write()
    register_services.record(actor, action, **kwargs)
    db.session.commit()
    monkeypatch.undo()


@pytest.mark.parametrize("username", REFUSED)
def test_register_is_refused_to_other_roles(login, register_entries, username):
    client = login(username)
    response = client.get("/register/")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "档案管理员和质量监督专员" in page  # the reason, in Chinese
    denied = register_entries(action="access_denied", username=username)
    assert len(denied) == 1 and denied[0].result == "denied" and "register" in denied[0].detail
    assert not register_entries(action="register_view", username=username)


def test_every_register_route_refuses_staff(login, register_entries):
    client = login("staff_sales")
    assert client.get("/register/print").status_code == 403
    assert client.get("/register/export.csv").status_code == 403
    assert client.post("/register/verify").status_code == 403
    details = [e.detail for e in register_entries(action="access_denied", username="staff_sales")]
    assert [d.split(":")[0] for d in details] == ["register print", "register export", "register verify"]
    for action in ("register_print", "register_export", "register_verify"):
        assert not register_entries(action=action)


def test_no_route_changes_or_deletes_entries(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/register"):
            methods = rule.methods - {"HEAD", "OPTIONS"}
            assert methods == {"GET"} or (rule.endpoint == "register.verify" and methods == {"POST"}), rule


@pytest.mark.parametrize("username", READERS)
def test_readers_browse_newest_first_and_viewing_is_registered(login, register_entries, username):
    login("staff_sales")
    client = login(username)
    response = client.get("/register/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>查阅登记</h1>" in page
    table = rows(page)
    seqs = [int(r[0]) for r in table]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 2
    newest = table[0]
    assert newest[2] == username and newest[5] == "登录" and newest[-1] == "成功"
    assert "质量监督专员" in page or "档案管理员" in page  # role labels
    views = register_entries(action="register_view", username=username)
    assert len(views) == 1 and views[0].detail == "all page=1"


def test_filter_by_user_and_action(login, register_entries):
    for name in ("staff_sales", "head_sales", "staff_sales"):
        login(name)
    client = login("archivist")
    response = client.get("/register/?user=staff_sales&action=login")
    table = rows(response.get_data(as_text=True))
    assert len(table) == 2
    assert all(r[2] == "staff_sales" and r[5] == "登录" for r in table)
    assert "2 条记录" in response.get_data(as_text=True)
    view = register_entries(action="register_view")[-1]
    assert view.detail == "user=staff_sales action=login page=1"


def test_filter_by_result_and_archive(login, make_archive, user):
    archive = make_archive(status="filed")
    with pytest.raises(PermissionDenied):  # another department's archive
        services.open_archive(Actor(user("staff_marketing"), "10.1.1.1"), archive.id)
    client = login("supervisor")
    table = rows(client.get("/register/?result=denied").get_data(as_text=True))
    assert table and all(r[-1] == "拒绝" for r in table)
    # before filing the register names the archive by its id, afterwards by its number
    table = rows(client.get(f"/register/?archive={archive.number}").get_data(as_text=True))
    assert [r[5] for r in table] == ["拒绝访问", "归档"] and {r[6] for r in table} == {archive.number}
    table = rows(client.get(f"/register/?archive=%23{archive.id}").get_data(as_text=True))
    assert [r[5] for r in table] == ["审核通过", "提交审核", "新建档案"]


def test_date_range_is_in_beijing_days(login, monkeypatch, user):
    actor = Actor(user("staff_sales"), "10.0.0.9")
    # 2025-03-01 23:30 and 2025-03-02 00:30 in Beijing (UTC+8)
    record_at(monkeypatch, datetime(2025, 3, 1, 15, 30), actor, "archive_view", detail="late evening")
    record_at(monkeypatch, datetime(2025, 3, 1, 16, 30), actor, "archive_view", detail="after midnight")
    client = login("archivist")
    day2 = rows(client.get("/register/?from=2025-03-02&to=2025-03-02").get_data(as_text=True))
    assert [r[7] for r in day2] == ["after midnight"]
    assert day2[0][1] == "2025-03-02 00:30:00"
    day1 = rows(client.get("/register/?to=2025-03-01").get_data(as_text=True))
    assert [r[7] for r in day1] == ["late evening"]
    both = rows(client.get("/register/?from=2025-03-01&to=2025-03-02").get_data(as_text=True))
    assert [r[7] for r in both] == ["after midnight", "late evening"]


def test_bad_filter_value_is_ignored_with_a_message(login):
    client = login("archivist")
    response = client.get("/register/?from=yesterday&action=nonsense")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "YYYY-MM-DD" in page and "未知的操作" in page
    assert rows(page)  # shown unfiltered


def test_htmx_filter_returns_only_the_results(login):
    client = login("archivist")
    plain = client.get("/register/?user=archivist").get_data(as_text=True)
    assert '<form class="card filters reg-filters" method="get"' in plain  # works without JavaScript
    assert 'hx-target="#register-results"' in plain and 'hx-push-url="true"' in plain
    response = client.get("/register/?user=archivist",
                          headers={"HX-Request": "true", "HX-Target": "register-results"})
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="register-results"')
    assert "<html" not in fragment and "<form" not in fragment
    assert rows(fragment) and all(r[2] == "archivist" for r in rows(fragment))
    assert "HX-Target" in response.headers.get("Vary", "")


def test_pagination_shows_total_and_pages(login, user):
    actor = Actor(user("staff_sales"), "10.0.0.9")
    begin_write()
    for i in range(55):
        register_services.record(actor, "archive_view", detail=f"view {i}")
    db.session.commit()
    client = login("archivist")
    first = client.get("/register/?user=staff_sales&action=archive_view").get_data(as_text=True)
    assert "共 55 条记录" in first or "55 条记录" in first
    assert len(rows(first)) == 50 and rows(first)[0][7] == "view 54"
    second = client.get("/register/?user=staff_sales&action=archive_view&page=2").get_data(as_text=True)
    assert [r[7] for r in rows(second)] == [f"view {i}" for i in range(4, -1, -1)]
    assert 'href="/register/?page=1&amp;user=staff_sales&amp;action=archive_view"' in second


def test_print_page_is_an_a4_ledger_and_is_registered(login, register_entries):
    login("staff_sales")
    client = login("supervisor")
    response = client.get("/register/print?user=staff_sales")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>客户档案查阅登记簿</h1>" in page
    assert "<thead>" in page and page.index("<thead>") < page.index("<tbody>")
    assert "用户 staff_sales" in page and "周质检" in page  # the filter and the printing user
    signatures = re.search(r'<div class="signatures">(.*?)</div>\s*</article>', page, re.S).group(1)
    assert "档案管理员" in signatures and "质量监督专员" in signatures and "日期" in signatures
    assert "data-print" in page and 'class="pagination"' not in page
    assert "register-print" in page  # body class for the landscape page rule
    assert {r[2] for r in rows(page)} == {"staff_sales"}
    printed = register_entries(action="register_print")
    assert len(printed) == 1 and printed[0].username == "supervisor"
    assert printed[0].detail == f"user=staff_sales rows={len(rows(page))}"


def test_print_is_capped_with_a_note(login, monkeypatch, user):
    monkeypatch.setattr(reading, "PRINT_CAP", 2)
    begin_write()
    for name in ("staff_sales", "head_sales", "manager"):
        register_services.record(Actor(user(name), "10.0.0.3"), "login")
    db.session.commit()
    page = login("archivist").get("/register/print?action=login").get_data(as_text=True)
    assert len(rows(page)) == 2 and [r[2] for r in rows(page)] == ["staff_sales", "head_sales"]
    assert 'class="ledger-capped"' in page and "4" in re.search(
        r'class="ledger-capped"[^>]*>(.*?)</p>', page, re.S).group(1)


def test_csv_export_has_bom_and_is_registered(login, register_entries):
    login("staff_sales")
    response = login("archivist").get("/register/export.csv?action=login")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.data.decode("utf-8")
    assert body.startswith("\ufeff")
    lines = body.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("序号,") and len(lines) == 3  # header, staff_sales, archivist
    assert "staff_sales" in lines[1] and ",登录," in lines[1]
    exports = register_entries(action="register_export")
    assert len(exports) == 1 and exports[0].detail == "action=login rows=2"


def test_english_interface(login):
    client = login("archivist")
    client.post("/language", data={"lang": "en", "next": "/register/"})
    page = client.get("/register/print").get_data(as_text=True)
    assert "Customer archive access register" in page and "Quality supervisor" in page
