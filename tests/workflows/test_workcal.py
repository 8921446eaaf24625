"""The working-day calendar: official data, the 2026 National Day week, years without data
(weekday fallback), administrator entries taking precedence, and the administration page."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from portal import workcal
from portal.actor import Actor
from portal.errors import PermissionDenied, ValidationFailed


def test_national_day_week_2026_and_its_make_up_days(app):
    # 2026-10-01 … 10-07 off (National Day; Mid-autumn falls on 09-25 … 09-27)
    for day in range(1, 8):
        assert not workcal.is_working_day(date(2026, 10, day))
    assert not workcal.is_working_day(date(2026, 9, 25))  # Friday, Mid-autumn festival
    assert not workcal.is_working_day(date(2026, 9, 27))  # Sunday, part of the Mid-autumn break
    # make-up working days (调休) per the library: Sunday 09-20 and Saturday 10-10
    assert workcal.is_working_day(date(2026, 9, 20))
    assert workcal.is_working_day(date(2026, 10, 10))
    assert not workcal.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    # a deadline over the holiday: 1 WD after 09-30 is 10-08; 3 WD is the make-up Saturday
    assert workcal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert workcal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert workcal.add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 12)
    assert workcal.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert workcal.working_days_between(date(2026, 10, 10), date(2026, 9, 30)) == -3
    assert workcal.year_status(2026) == workcal.OFFICIAL


def test_api_edges(app):
    assert workcal.add_working_days(date(2026, 11, 23), 0) == date(2026, 11, 23)
    assert workcal.add_working_days(date(2026, 11, 21), 1) == date(2026, 11, 23)  # Saturday → Monday
    assert workcal.working_days_between(date(2026, 11, 23), date(2026, 11, 23)) == 0
    # a stored UTC time counts by its Beijing date: 2026-11-22 20:00 UTC is Monday 04:00 in Beijing
    assert workcal.deadline(datetime(2026, 11, 22, 20, 0), 1) == date(2026, 11, 24)
    assert workcal.deadline(date(2026, 11, 23), 2) == date(2026, 11, 25)


@pytest.mark.parametrize("day", [date(1999, 2, 16), date(2027, 1, 1), date(2031, 5, 1), date(2099, 12, 31)])
def test_never_raises_for_years_without_data(app, day):
    workcal.is_working_day(day)
    assert workcal.add_working_days(day, 10) > day
    assert workcal.working_days_between(day, workcal.add_working_days(day, 10)) == 10


def test_loan_from_2026_12_28_runs_into_2027_on_weekdays(app):
    # the library has no 2027 data: 2027 counts Monday to Friday (1 January included)
    assert workcal.year_status(2027) == workcal.WEEKDAYS_ONLY
    assert workcal.is_working_day(date(2027, 1, 1))
    # 12-29, 12-30, 12-31, 01-01, 01-04, 01-05, 01-06
    assert workcal.add_working_days(date(2026, 12, 28), 7) == date(2027, 1, 6)


def test_administrator_entered_2027_holiday_changes_the_due_date(app, user, register_entries):
    admin = Actor(user("admin"), "127.0.0.1")
    assert workcal.add_working_days(date(2026, 12, 28), 7) == date(2027, 1, 6)
    workcal.add_entry(admin, "2027-01-01", workcal.HOLIDAY, "元旦")
    assert not workcal.is_working_day(date(2027, 1, 1))
    assert workcal.add_working_days(date(2026, 12, 28), 7) == date(2027, 1, 7)
    assert workcal.year_status(2027) == workcal.ADMINISTRATOR
    entry = register_entries(action="calendar_change")[-1]
    assert "2027-01-01 holiday 元旦" in entry.detail and entry.username == "admin"
    # a make-up Sunday entered by the administrator counts as a working day
    workcal.add_entry(admin, date(2027, 1, 3), workcal.WORKDAY, "元旦调休")
    assert workcal.is_working_day(date(2027, 1, 3))
    assert workcal.add_working_days(date(2026, 12, 28), 7) == date(2027, 1, 6)
    # removing the entry restores the weekday rule
    first = next(e for e in workcal.entries(2027) if e.day == date(2027, 1, 1))
    workcal.remove_entry(admin, first.id)
    assert workcal.is_working_day(date(2027, 1, 1))


def test_administrator_entry_beats_the_official_data(app, user):
    admin = Actor(user("admin"), "127.0.0.1")
    assert workcal.is_working_day(date(2026, 10, 10))  # official make-up Saturday
    workcal.add_entry(admin, "2026-10-10", workcal.HOLIDAY, "公司调整")
    assert not workcal.is_working_day(date(2026, 10, 10))
    rows = {r["date"]: r for r in workcal.days_in_force(2026)}
    assert rows[date(2026, 10, 10)]["source"] == workcal.ADMINISTRATOR
    assert rows[date(2026, 10, 10)]["official_kind"] == workcal.WORKDAY
    assert rows[date(2026, 10, 1)]["source"] == workcal.OFFICIAL


def test_entries_are_validated_and_only_for_the_administrator(app, user, register_entries):
    admin = Actor(user("admin"), "127.0.0.1")
    with pytest.raises(ValidationFailed) as bad_date:
        workcal.add_entry(admin, "2027-13-01", workcal.HOLIDAY, "x")
    assert bad_date.value.detail["field"] == "day"
    with pytest.raises(ValidationFailed):
        workcal.add_entry(admin, "2027-02-01", "vacation", "x")
    with pytest.raises(ValidationFailed):
        workcal.add_entry(admin, "2027-02-01", workcal.HOLIDAY, "  ")
    workcal.add_entry(admin, "2027-02-01", workcal.HOLIDAY, "春节")
    with pytest.raises(ValidationFailed) as twice:
        workcal.add_entry(admin, "2027-02-01", workcal.WORKDAY, "又一次")
    assert "春节" in str(twice.value.message)
    with pytest.raises(PermissionDenied):
        workcal.add_entry(Actor(user("archivist"), "127.0.0.1"), "2027-02-02", workcal.HOLIDAY, "x")
    assert register_entries(action="access_denied", username="archivist")


def test_admin_page_warns_while_the_coming_year_has_no_data(app, login, monkeypatch):
    monkeypatch.setattr(workcal, "today", lambda: date(2026, 11, 23))
    admin = login("admin")
    page = admin.get("/admin/calendar").get_data(as_text=True)
    assert "2027 年尚无官方节假日安排" in page
    assert "国庆节" in page and "2026-10-10" in page  # the official days in force are listed
    # entering a 2027 day through the form: the banner goes, the entry is listed
    response = admin.post("/admin/calendar/days", data={"day": "2027-01-01", "kind": "holiday", "name": "元旦"})
    assert response.status_code == 303
    page = admin.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "2027 年尚无官方节假日安排" not in page
    assert "元旦" in page and "管理员录入" in page


def test_admin_form_errors_keep_the_input(app, login):
    admin = login("admin")
    response = admin.post("/admin/calendar/days", data={"day": "2027-01-01", "kind": "holiday", "name": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请填写名称" in page or "名称" in page
    assert 'value="2027-01-01"' in page


def test_only_the_administrator_opens_the_calendar(app, login, register_entries):
    response = login("archivist").get("/admin/calendar")
    assert response.status_code == 403
    assert register_entries(action="access_denied", username="archivist")
