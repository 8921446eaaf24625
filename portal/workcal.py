"""The working-day calendar 工作日: every deadline of the workflows counts on it.

A day is a working day by, in this order of precedence:

1. an administrator's entry for that date (``CalendarDay``: a holiday or a make-up working day
   调休 — for years the State Council announced after the library was released, or corrections);
2. the ``chinesecalendar`` library's official data (weekends, statutory holidays, make-up days);
3. for years the library has no data for: Monday to Friday.

Nothing here raises for any date: a deadline never breaks a page.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import sqlalchemy as sa
from flask import g, has_app_context
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.auth.models import User
from portal.extensions import db
from portal.models_base import utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")

HOLIDAY = "holiday"  # 放假: a day off even if it is a weekday
WORKDAY = "workday"  # 调休上班: a working day even if it is a weekend day
KINDS = (HOLIDAY, WORKDAY)

# year_status() values
OFFICIAL = "official"  # the library has the State Council's schedule for the year
ADMINISTRATOR = "administrator"  # no official data, but administrator entries
WEEKDAYS_ONLY = "weekdays"  # neither: Monday to Friday are working days

_MAX_SCAN = 3660  # never look further than ten years for the n-th working day


class CalendarDay(db.Model):
    """An administrator's entry: this date is a holiday or a (make-up) working day."""

    __tablename__ = "calendar_day"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # holiday | workday
    name: Mapped[str] = mapped_column(sa.String(60), default="")  # e.g. 国庆节, 春节调休
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()


# --- the library's data ------------------------------------------------------------------------

def official_years() -> list[int]:
    """Years for which ``chinesecalendar`` holds the official holiday schedule."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return sorted(years)


def _official(d: date) -> bool | None:
    """The library's answer for ``d``, or None when it has no data for that year."""
    if d.year not in _official_year_set():
        return None
    # ``chinese_calendar.is_workday`` itself, without its per-call range check (a max() and a min()
    # over all its dates: 20 µs a call, seconds for a KPI page counting working days of thousands
    # of archives): a make-up working day, else Monday–Friday unless a holiday.
    if d in chinese_calendar.workdays:
        return True
    return d.weekday() < 5 and d not in chinese_calendar.holidays


_OFFICIAL_CACHE: set[int] = set()


def _official_year_set() -> set[int]:
    if not _OFFICIAL_CACHE:
        _OFFICIAL_CACHE.update(official_years())
    return _OFFICIAL_CACHE


def official_days(year: int) -> list[tuple[date, str, str]]:
    """The library's holidays on weekdays and make-up working days of ``year``:
    ``(date, kind, name)`` sorted by date (weekend holidays are listed too when named)."""
    out = []
    for d, name in chinese_calendar.holidays.items():
        if d.year == year:
            out.append((d, HOLIDAY, _holiday_name(name)))
    for d, name in chinese_calendar.workdays.items():
        if d.year == year:
            out.append((d, WORKDAY, _holiday_name(name)))
    return sorted(out)


# English names of the library → the Chinese names used on the admin page.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def _holiday_name(value) -> str:
    text = getattr(value, "value", value)
    if isinstance(text, tuple):
        text = text[0]
    return HOLIDAY_NAMES.get(str(text), str(text))


# --- administrator entries ---------------------------------------------------------------------

def _overrides(year: int) -> dict[date, str]:
    """Administrator entries of ``year`` (cached for the request / app context)."""
    if not has_app_context():
        return {}
    cache = g.setdefault("_workcal_overrides", {})
    if year not in cache:
        rows = db.session.execute(sa.select(CalendarDay.day, CalendarDay.kind).where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))).all()
        cache[year] = {d: kind for d, kind in rows}
    return cache[year]


def forget_cache() -> None:
    """Drop cached administrator entries (after a change, or when another process may have changed them)."""
    if has_app_context():
        g.pop("_workcal_overrides", None)


def entries(year: int) -> list[CalendarDay]:
    return list(db.session.scalars(sa.select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        .order_by(CalendarDay.day)))


def year_status(year: int) -> str:
    """``official`` / ``administrator`` (administrator entries, no official data) / ``weekdays``."""
    if year in _official_year_set():
        return OFFICIAL
    if _overrides(year):
        return ADMINISTRATOR
    return WEEKDAYS_ONLY


# --- the API the workflows use -------------------------------------------------------------------

def is_working_day(d: date) -> bool:
    """Whether ``d`` is a working day (administrator entry > official data > Monday–Friday)."""
    if isinstance(d, datetime):
        d = local_date(d)
    kind = _overrides(d.year).get(d)
    if kind is not None:
        return kind == WORKDAY
    official = _official(d)
    if official is not None:
        return official
    return d.weekday() < 5


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after ``start`` (``start`` itself not counted); ``n == 0`` → ``start``."""
    if isinstance(start, datetime):
        start = local_date(start)
    n = max(int(n), 0)
    d = start
    counted = 0
    for _ in range(_MAX_SCAN):
        if counted >= n:
            return d
        d += timedelta(days=1)
        if is_working_day(d):
            counted += 1
    return d  # only reached with an absurd calendar (ten years without a working day)


def working_days_between(a: date, b: date) -> int:
    """Working days in (a, b]; negative when ``b`` is before ``a``."""
    if isinstance(a, datetime):
        a = local_date(a)
    if isinstance(b, datetime):
        b = local_date(b)
    if b < a:
        return -working_days_between(b, a)
    count = 0
    d = a
    while d < b:
        d += timedelta(days=1)
        if is_working_day(d):
            count += 1
    return count


def deadline(start: datetime | date, n: int) -> date:
    """The due date ``n`` working days after ``start`` (a stored UTC datetime counts by its
    Beijing date)."""
    if isinstance(start, datetime):
        start = local_date(start)
    return add_working_days(start, n)


# --- clock ------------------------------------------------------------------------------------

def local_date(value: datetime) -> date:
    """A stored naive-UTC (or aware) datetime → its date in Beijing."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).date()


def today() -> date:
    """Today in Beijing (tests replace this to move the clock)."""
    return datetime.now(SHANGHAI).date()


# --- administration 工作日历 ---------------------------------------------------------------------

def coming_year() -> int:
    return today().year + 1


def needs_warning(year: int) -> bool:
    """True while ``year`` has neither official data nor administrator entries."""
    return year_status(year) == WEEKDAYS_ONLY


def days_in_force(year: int) -> list[dict]:
    """The year's holidays and make-up working days as they count now: official ones, replaced
    or added to by administrator entries. Each: date, kind, name, source, entry (or None)."""
    rows: dict[date, dict] = {}
    for d, kind, name in official_days(year):
        rows[d] = {"date": d, "kind": kind, "name": name, "source": OFFICIAL, "entry": None,
                   "official_kind": kind}
    for entry in entries(year):
        official = rows.get(entry.day)
        rows[entry.day] = {"date": entry.day, "kind": entry.kind, "name": entry.name,
                           "source": ADMINISTRATOR, "entry": entry,
                           "official_kind": official["kind"] if official else None}
    return [rows[d] for d in sorted(rows)]


def add_entry(actor, day, kind: str, name: str) -> CalendarDay:
    """An administrator enters a holiday or a make-up working day (registered)."""
    from flask_babel import lazy_gettext as _l

    from portal.admin.services import check_admin
    from portal.dbsetup import begin_write
    from portal.errors import ValidationFailed
    from portal.register import actions
    from portal.register.services import record

    check_admin(actor, "change working-day calendar")
    begin_write()
    if not isinstance(day, date):
        try:
            day = date.fromisoformat(str(day or "").strip())
        except ValueError:
            raise ValidationFailed(_l("Enter the date as YYYY-MM-DD."), field="day") from None
    if not 2000 <= day.year <= 2100:
        raise ValidationFailed(_l("Enter a date between 2000 and 2100."), field="day")
    if kind not in KINDS:
        raise ValidationFailed(_l("Choose holiday or make-up working day."), field="kind")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_l("Name the day, e.g. 春节 or 国庆节调休."), field="name")
    if len(name) > 60:
        raise ValidationFailed(_l("At most 60 characters."), field="name")
    existing = db.session.scalar(sa.select(CalendarDay).where(CalendarDay.day == day))
    if existing is not None:
        raise ValidationFailed(_l("%(date)s already has an entry (%(name)s); remove it first.",
                                  date=day.isoformat(), name=existing.name), field="day")
    before = is_working_day(day)
    entry = CalendarDay(day=day, kind=kind, name=name, created_by_id=actor.user.id if actor.user else None)
    db.session.add(entry)
    record(actor, actions.CALENDAR_CHANGE,
           detail=f"add {day.isoformat()} {kind} {name} (was {'workday' if before else 'day off'})")
    db.session.commit()
    forget_cache()
    return entry


def remove_entry(actor, entry_id: int) -> CalendarDay | None:
    """Remove an administrator entry (the official data or Monday–Friday count again)."""
    from portal.admin.services import check_admin
    from portal.dbsetup import begin_write
    from portal.register import actions
    from portal.register.services import record

    check_admin(actor, "change working-day calendar")
    begin_write()
    entry = db.session.get(CalendarDay, entry_id)
    if entry is None:
        db.session.rollback()
        return None
    record(actor, actions.CALENDAR_CHANGE,
           detail=f"remove {entry.day.isoformat()} {entry.kind} {entry.name}")
    db.session.delete(entry)
    db.session.commit()
    forget_cache()
    return entry
