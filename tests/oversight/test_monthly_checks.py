"""Monthly checks 月度检查: the responsible staff member confirms each archive per month; refusals,
double confirmations, bad input, "confirm all visible", the KPI rate and the archive page panel."""
from __future__ import annotations

from datetime import date

import lxml.html
import pytest
from oversight_helpers import beijing, filed, set_today

from portal.extensions import db
from portal.oversight import checks
from portal.oversight.models import MonthlyCheck

DAY = date(2026, 10, 27)  # Tuesday; October's last working day is Friday 30 October


@pytest.fixture
def archives(app, make_archive, monkeypatch):
    set_today(monkeypatch, DAY)
    return {
        "a": filed(make_archive, "staff_sales", name="检查甲公司", contract=None, filed_at=beijing(date(2026, 9, 10))),
        "b": filed(make_archive, "staff_sales", name="检查乙公司", contract=None, filed_at=beijing(date(2026, 9, 11))),
        "c": filed(make_archive, "staff_marketing", name="检查丙公司", contract=None, filed_at=beijing(date(2026, 9, 12)),
                   sensitivity=3),
        # filed this month: listed, but not counted before November
        "d": filed(make_archive, "staff_sales", name="检查丁公司", contract=None, filed_at=beijing(date(2026, 10, 9))),
    }


def rows_of(page: str) -> dict[str, str]:
    doc = lxml.html.fromstring(page)
    return {tr.get("id"): tr.text_content() for tr in doc.xpath("//tr[starts-with(@id, 'check-')]")}


def test_due_date_is_the_last_working_day():
    assert checks.due_date(date(2026, 10, 1)) == date(2026, 10, 30)  # 31 Oct is a Saturday
    assert checks.window_start(date(2026, 10, 1)) == date(2026, 10, 26)
    assert checks.due_date(date(2026, 2, 1)) == date(2026, 2, 28)  # a Saturday, but a make-up working day
    assert checks.due_date(date(2026, 5, 1)) == date(2026, 5, 29)  # 30/31 May: weekend


def test_responsible_staff_confirms_with_a_note(archives, login, register_entries):
    client = login("staff_sales")
    page = client.get("/oversight/checks").get_data(as_text=True)
    rows = rows_of(page)
    a, d = archives["a"], archives["d"]
    assert set(rows) == {f"check-{archives[k].id}" for k in ("a", "b", "d")}  # not 市场部's archive
    assert "本月归档：下月起计入检查" in rows[f"check-{d.id}"]
    assert "2026-10-30" in page

    response = client.post(f"/oversight/checks/{a.id}/confirm", data={"note": "联系方式已核对，纸质档案在柜"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已确认" in rows_of(page)[f"check-{a.id}"] and "联系方式已核对" in page
    check = db.session.query(MonthlyCheck).filter_by(archive_id=a.id).one()
    assert (check.month, check.checked_on) == (date(2026, 10, 1), DAY)
    entries = register_entries(action="monthly_check", username="staff_sales")
    assert len(entries) == 1 and entries[0].archive_id == a.id and "2026-10" in entries[0].detail

    # a second confirmation (another tab, a double click) is refused
    again = client.post(f"/oversight/checks/{a.id}/confirm", data={"note": ""})
    assert again.status_code == 409
    assert len(register_entries(action="monthly_check", username="staff_sales")) == 1


@pytest.mark.parametrize("username", ["head_sales", "staff_marketing", "archivist", "manager"])
def test_only_the_responsible_staff_confirms(archives, login, username, register_entries):
    client = login(username)
    a = archives["a"]
    response = client.post(f"/oversight/checks/{a.id}/confirm", data={"note": "x"})
    assert response.status_code == 403
    assert register_entries(action="access_denied", username=username)
    assert not db.session.query(MonthlyCheck).count()


def test_checks_page_refused_to_roles_without_archives(app, login, register_entries):
    for username in ("archivist", "supervisor", "manager", "admin"):
        assert login(username).get("/oversight/checks").status_code == 403
        assert register_entries(action="access_denied", username=username)


def test_a_too_long_note_keeps_the_form(archives, login):
    client = login("staff_sales")
    a = archives["a"]
    response = client.post(f"/oversight/checks/{a.id}/confirm", data={"note": "长" * 2001})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "备注过长" in page and "长" * 2001 in page
    assert not db.session.query(MonthlyCheck).count()


def test_htmx_confirm_replaces_the_row(archives, login):
    client = login("staff_sales")
    a = archives["a"]
    response = client.post(f"/oversight/checks/{a.id}/confirm", data={"note": "已核"},
                           headers={"HX-Request": "true", "HX-Target": f"check-{a.id}"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith("<tr") and "已确认" in page and "<html" not in page
    assert 'id="checks-all" hx-swap-oob="true"' in page


def test_confirm_all_visible(archives, login, register_entries):
    client = login("staff_sales")
    a, b, d = archives["a"], archives["b"], archives["d"]
    page = client.get("/oversight/checks?q=检查").get_data(as_text=True)
    form = lxml.html.fromstring(page).xpath("//form[contains(@action, 'confirm-all')]")[0]
    ids = [i.get("value") for i in form.xpath(".//input[@name='archive_id']")]
    assert sorted(ids) == sorted(str(x.id) for x in (a, b, d))
    response = client.post("/oversight/checks/confirm-all", data={"archive_id": ids, "note": "月底统一核对",
                                                                   "q": "检查"})
    assert response.status_code == 303 and "q=" in response.headers["Location"]
    assert db.session.query(MonthlyCheck).count() == 3
    assert len(register_entries(action="monthly_check", username="staff_sales")) == 3
    # sent again (back button): nothing left, nothing doubled
    response = client.post("/oversight/checks/confirm-all", data={"archive_id": ids, "note": ""},
                           follow_redirects=True)
    assert "没有需要确认的档案" in response.get_data(as_text=True)
    assert db.session.query(MonthlyCheck).count() == 3


def test_confirm_all_refuses_someone_elses_archive(archives, login, register_entries):
    client = login("staff_sales")
    ids = [archives["a"].id, archives["c"].id]  # c belongs to 市场部's staff
    response = client.post("/oversight/checks/confirm-all", data={"archive_id": ids})
    assert response.status_code == 403
    assert not db.session.query(MonthlyCheck).count()  # nothing half done
    assert register_entries(action="access_denied", username="staff_sales")


def test_head_sees_the_departments_progress(archives, login):
    login("staff_sales").post(f"/oversight/checks/{archives['a'].id}/confirm", data={})
    page = login("head_sales").get("/oversight/checks").get_data(as_text=True)
    doc = lxml.html.fromstring(page)
    progress = [[c.text_content().strip() for c in tr]
                for tr in doc.xpath("//section[contains(@class, 'checks-progress')]//tbody/tr")]
    assert len(progress) == 1 and progress[0][1:] == ["2", "1", "1"]  # a and b due, a confirmed


def test_monthly_check_rate_on_the_dashboard(archives, login, monkeypatch):
    login("staff_sales").post(f"/oversight/checks/{archives['a'].id}/confirm", data={})
    set_today(monkeypatch, date(2026, 10, 31))  # Saturday, after the due date: late
    login("staff_sales").post(f"/oversight/checks/{archives['b'].id}/confirm", data={})
    set_today(monkeypatch, date(2026, 11, 3))
    page = login("manager").get("/oversight/").get_data(as_text=True)
    from test_kpi import table
    by_dept = table(page, "各部门月度检查率")
    assert by_dept["销售部"] == ["2", "1", "1", "3", "50%"]  # a on time, b late; November's 3 not yet due
    assert by_dept["市场部"] == ["1", "0", "1", "1", "0%"]  # c missed
    by_month = table(page, "按月份的月度检查率")
    assert by_month["2026-10"] == ["3", "1", "1", "1", "0", "33.3%"]
    assert by_month["2026-11"] == ["4", "0", "0", "0", "4", "—"]  # November: d counts now, not due yet


def test_archive_page_panel(archives, login):
    a = archives["a"]
    page = login("staff_sales").get(f"/archives/{a.id}").get_data(as_text=True)
    assert "月度检查与完整度" in page and "未确认" in page and "确认：信息最新" in page
    response = login("staff_sales").post(f"/oversight/checks/{a.id}/confirm", data={"back": "archive"})
    assert response.headers["Location"].endswith(f"/archives/{a.id}")
    page = login("head_sales").get(f"/archives/{a.id}").get_data(as_text=True)
    assert "已确认" in page and "确认：信息最新" not in page  # the head sees it, does not confirm
