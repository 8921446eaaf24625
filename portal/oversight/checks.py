"""Monthly checks 月度检查 (policy 004 §12: 业务对接人员需每月核查所负责客户的档案信息; SPEC §6).

Every month the responsible staff member confirms, per archive, that it is current — the profile,
the paper file's location and the documents — with a note. Which archives:

- filed archives whose responsible staff member is the user, filed before the month began (an
  archive filed during the month was just checked by its filing) and not ended before it
  (``terminated_on``);
- due by the **last working day of the month** (``portal.workcal``); a confirmation after it
  counts as late, none at all as missed (KPI "monthly check rate" by department);
- only the current month can be confirmed: a missed month stays missed.

Department heads see their department's progress; the responsible staff member (a staff member or
a head responsible for archives) confirms. Confirmations are registered (``MONTHLY_CHECK``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal import workcal
from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import FILED, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import User
from portal.dbsetup import begin_write
from portal.errors import Conflict, InvalidState, NotFound, ValidationFailed
from portal.extensions import db
from portal.oversight.kpi import Breakdown, Period, Scope, add_months, month_end, month_key, month_start
from portal.oversight.models import MonthlyCheck
from portal.register import actions
from portal.register.services import record

NOTE_LIMIT = 2000
WINDOW_DAYS = 5  # reminders in the last 5 working days of the month
CHECKERS = frozenset({roles.STAFF, roles.DEPT_HEAD})


def due_date(month: date) -> date:
    """The last working day of ``month``."""
    d = month_end(month)
    for _ in range(31):
        if workcal.is_working_day(d):
            return d
        d -= timedelta(days=1)
    return month_end(month)  # a month without a working day: its last day


def window_start(month: date) -> date:
    """The first of the last :data:`WINDOW_DAYS` working days of ``month`` (reminders begin)."""
    d = due_date(month)
    counted = 1
    while counted < WINDOW_DAYS and d > month_start(month):
        d -= timedelta(days=1)
        if workcal.is_working_day(d):
            counted += 1
    return d


def _utc_start(d: date) -> datetime:
    from portal.oversight.kpi import _utc_bounds

    return _utc_bounds(d, d)[0]


def due_clause(month: date):
    """SQL: the archives whose check is due in ``month`` (whoever is responsible)."""
    return sa.and_(Archive.status == FILED, Archive.filed_at < _utc_start(month_start(month)),
                   sa.or_(Archive.terminated_on.is_(None), Archive.terminated_on >= month_start(month)))


def can_check(user: User | None) -> bool:
    """Staff and department heads (the responsible staff of archives) use the checks page."""
    return bool(user and user.is_authenticated and user.role in CHECKERS)


def may_confirm(user: User | None, archive: Archive) -> bool:
    return (can_check(user) and archive.status == FILED and archive.responsible_id == user.id
            and perm._own_access(user, archive))


# --- lists ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckRow:
    archive: Archive
    check: MonthlyCheck | None
    due: bool  # counted this month (filed before the month began)

    @property
    def done(self) -> bool:
        return self.check is not None


def checks_of(month: date, archive_ids) -> dict[int, MonthlyCheck]:
    ids = list(archive_ids)
    if not ids:
        return {}
    return {c.archive_id: c for c in db.session.scalars(sa.select(MonthlyCheck).where(
        MonthlyCheck.month == month, MonthlyCheck.archive_id.in_(ids)))}


def my_rows(user: User, month: date, q: str = "", state: str = "") -> list[CheckRow]:
    """The user's archives (responsible for, filed) with the month's check, filtered by a text
    (number or name) and a state (``open`` / ``done``)."""
    query = sa.select(Archive).where(Archive.status == FILED, Archive.responsible_id == user.id,
                                     sa.or_(Archive.terminated_on.is_(None),
                                            Archive.terminated_on >= month_start(month)))
    q = (q or "").strip()
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(Archive.number.ilike(like), Archive.name.ilike(like)))
    archives = [a for a in db.session.scalars(query.order_by(Archive.number, Archive.id))
                if perm._own_access(user, a)]
    done = checks_of(month, (a.id for a in archives))
    start = _utc_start(month_start(month))
    rows = [CheckRow(a, done.get(a.id), a.filed_at is not None and a.filed_at < start) for a in archives]
    if state == "open":
        rows = [r for r in rows if not r.done]
    elif state == "done":
        rows = [r for r in rows if r.done]
    return rows


def open_count(user: User, month: date) -> int:
    """How many of the user's archives due this month have no check yet (for reminders)."""
    return db.session.scalar(sa.select(sa.func.count(Archive.id)).where(
        due_clause(month), Archive.responsible_id == user.id,
        ~sa.exists().where(MonthlyCheck.archive_id == Archive.id, MonthlyCheck.month == month))) or 0


@dataclass
class StaffProgress:
    user: User | None
    due: int = 0
    done: int = 0

    @property
    def open(self) -> int:
        return self.due - self.done


def department_progress(head: User, month: date) -> list[StaffProgress]:
    """A department head's view: per responsible staff member, archives due and confirmed."""
    rows: dict[int | None, StaffProgress] = {}
    result = db.session.execute(
        sa.select(Archive.responsible_id, sa.func.count(Archive.id), sa.func.count(MonthlyCheck.id))
        .outerjoin(MonthlyCheck, sa.and_(MonthlyCheck.archive_id == Archive.id, MonthlyCheck.month == month))
        .where(due_clause(month), Archive.department_id == head.department_id)
        .group_by(Archive.responsible_id)).all()
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(
        User.id.in_([r[0] for r in result if r[0] is not None])))}
    for responsible_id, due, done in result:
        rows[responsible_id] = StaffProgress(users.get(responsible_id), due, done)
    return sorted(rows.values(), key=lambda p: (p.user is None, p.user.display_name if p.user else ""))


def state_of(archive: Archive, today: date | None = None) -> dict:
    """This month's check of one archive (the archive page's panel)."""
    today = today or workcal.today()
    month = month_start(today)
    check = db.session.scalar(sa.select(MonthlyCheck).where(
        MonthlyCheck.archive_id == archive.id, MonthlyCheck.month == month))
    due = due_date(month)
    counted = archive.status == FILED and archive.filed_at is not None and \
        archive.filed_at < _utc_start(month)
    return {"month": month, "check": check, "due_date": due, "counted": counted,
            "late": counted and check is None and today > due}


# --- confirming -------------------------------------------------------------------------------------

def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_LIMIT:
        raise ValidationFailed(_l("The note is too long (at most %(n)s characters).", n=NOTE_LIMIT),
                               field="note")
    return note


def confirm(actor: Actor, archive_id: int, note: str = "", today: date | None = None) -> MonthlyCheck:
    """The responsible staff member confirms this month's check of one archive.

    Refused (403, registered) for anyone else; 409 when this month's check was already confirmed
    (a second click, another tab); 422 for a note that is too long.
    """
    today = today or workcal.today()
    begin_write()
    archive = db.session.get(Archive, archive_id)
    if archive is None:
        db.session.rollback()
        raise NotFound(_l("No such archive."))
    if not may_confirm(actor.user, archive):
        if not can_check(actor.user) or not perm.can_view(actor.user, archive):
            reason = perm.view_refusal(actor.user, archive) or _l(
                "Only the responsible staff member confirms an archive's monthly check.")
        elif archive.status != FILED:
            reason = _l("Only filed archives have monthly checks.")
        else:
            reason = _l("Only the responsible staff member confirms an archive's monthly check.")
        raise deny(actor, reason, archive, "monthly check")
    note = _clean_note(note)
    month = month_start(today)
    existing = db.session.scalar(sa.select(MonthlyCheck).where(
        MonthlyCheck.archive_id == archive.id, MonthlyCheck.month == month))
    if existing is not None:
        db.session.rollback()
        raise Conflict(_l("This month's check of %(archive)s was already confirmed.", archive=archive.label))
    try:
        check = _add(actor, archive, month, note, today)
        db.session.commit()
    except IntegrityError:  # confirmed in the same moment elsewhere
        db.session.rollback()
        raise Conflict(_l("This month's check of %(archive)s was already confirmed.",
                          archive=archive.label)) from None
    return check


def _add(actor: Actor, archive: Archive, month: date, note: str, today: date) -> MonthlyCheck:
    check = MonthlyCheck(archive_id=archive.id, month=month, checked_by_id=actor.user.id, checked_on=today,
                         note=note)
    db.session.add(check)
    db.session.flush()
    late = " (after the due date)" if today > due_date(month) else ""
    record(actor, actions.MONTHLY_CHECK, archive=archive,
           detail=f"{month_key(month)} confirmed{late}" + (f": {note}" if note else ""))
    return check


def confirm_many(actor: Actor, archive_ids, note: str = "", today: date | None = None) -> int:
    """"Confirm all visible": the listed archives the user is responsible for and has not
    confirmed yet, with one note. Returns how many were confirmed now (0 when none was left)."""
    today = today or workcal.today()
    begin_write()
    if not can_check(actor.user):
        raise deny(actor, _l("Only staff and department heads confirm monthly checks."),
                   what="monthly check")
    note = _clean_note(note)
    ids = sorted({int(i) for i in archive_ids if str(i).isdigit()})
    month = month_start(today)
    archives = list(db.session.scalars(sa.select(Archive).where(Archive.id.in_(ids)))) if ids else []
    for archive in archives:
        if not may_confirm(actor.user, archive):
            raise deny(actor, _l("Only the responsible staff member confirms an archive's monthly "
                                 "check."), archive, "monthly check")
    done = checks_of(month, ids)
    count = 0
    try:
        for archive in archives:
            if archive.id in done:
                continue
            _add(actor, archive, month, note, today)
            count += 1
        if not count:
            db.session.rollback()
            return 0
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InvalidState(_l("Some of these checks were confirmed in the same moment elsewhere; "
                              "reload the page.")) from None
    return count


# --- the KPI 月度检查率 -------------------------------------------------------------------------

def check_rate(scope: Scope, period: Period, today: date) -> tuple[Breakdown, dict]:
    """Per month of the period (up to the current one) and department: archives due, confirmed
    by the due date (ok), late or missed (late), still open this month (pending)."""
    result = Breakdown()
    counts: dict[date, dict[str, int]] = defaultdict(lambda: {"due": 0, "ok": 0, "late_done": 0,
                                                               "missed": 0, "open": 0})
    current = month_start(today)
    for month in period.months:
        if month > current:
            break
        due = due_date(month)
        rows = db.session.execute(
            sa.select(Archive.id, Archive.department_id, MonthlyCheck.checked_on)
            .outerjoin(MonthlyCheck, sa.and_(MonthlyCheck.archive_id == Archive.id,
                                             MonthlyCheck.month == month))
            .where(due_clause(month), scope.clause(Archive.department_id))).all()
        for _id, department_id, checked_on in rows:
            c = counts[month]
            c["due"] += 1
            if checked_on is not None and checked_on <= due:
                outcome = "ok"
                c["ok"] += 1
            elif checked_on is not None:
                outcome = "late"
                c["late_done"] += 1
            elif today > due or month < current:
                outcome = "late"
                c["missed"] += 1
            else:
                outcome = "pending"
                c["open"] += 1
            result.add(department_id, month, outcome)
    return result, dict(counts)


def previous_month(today: date) -> date:
    return add_months(month_start(today), -1)
