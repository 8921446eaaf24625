"""Reminders 提醒 for the responsible staff: in the inbox 待办 and, through ``portal remind``, as
notifications (e-mailed when SMTP is configured), each at most once per item and occasion.

What is reminded, and to whom (the archive's responsible staff member only):

- **birthdays** of individual customers (``Archive.birth_date``) and **anniversaries**
  (``Anniversary`` sub-records, recurring every year on the date's month and day) in the next
  :data:`AHEAD_DAYS` days;
- **follow-ups** (``Communication.follow_up_on`` 下次跟进日期): the follow-up date of an archive's
  latest communication, from :data:`FOLLOW_UP_AHEAD` working days before it until a newer
  communication is logged; overdue once the date has passed;
- **monthly checks** 月度检查 not yet confirmed, in the last 5 working days of the month and overdue
  after its last working day (``portal.oversight.checks``);
- ``portal remind`` also e-mails the archivist the **retention reviews** due
  (``portal.retention.services.reviews_due``; their inbox item comes from retention itself), and
  sends **overdue inspection rectifications** 整改逾期 to their assignee and to the archivist who
  tracks them, once per deadline (a rectification sent back gets a new deadline, so a new reminder;
  the inbox item comes from ``portal.inspection``).

Archives of customers whose cooperation ended (stage terminated) get no birthday, anniversary or
follow-up reminders.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from portal import notifications, workcal
from portal.actor import Actor
from portal.archives import models as archive_models
from portal.archives.models import INDIVIDUAL, TERMINATED, Anniversary, Archive, Communication
from portal.auth import roles
from portal.auth.models import User
from portal.dbsetup import begin_write
from portal.extensions import db
from portal.oversight import checks
from portal.oversight.kpi import month_key, month_start
from portal.oversight.models import ReminderSent
from portal.register.models import RegisterHead
from portal.workflows import inbox

AHEAD_DAYS = 7  # birthdays and anniversaries: the next 7 days
FOLLOW_UP_AHEAD = 2  # follow-ups: from 2 working days before the date

BIRTHDAY, ANNIVERSARY, FOLLOW_UP, MONTHLY_CHECK, RETENTION, RECTIFICATION = (
    "birthday", "anniversary", "follow_up", "monthly_check", "retention_review", "rectification")


@dataclass(frozen=True)
class Reminder:
    kind: str
    key: str  # item and occasion: notified at most once per user and key
    user_id: int
    title: str
    action: str
    url: str
    on: date  # the day it is about (birthday, follow-up date, due date)
    late: bool = False
    source: str = ""  # the archive's number (or what the reminder is about)
    archive_id: int | None = None

    def notice(self) -> str:
        return f"{self.title}: {self.action}"


def _url_for(endpoint: str, **values) -> str:
    """A path in the portal, also outside a request (``portal remind``)."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


def _archive_url(archive_id: int) -> str:
    return _url_for("archives.show", archive_id=archive_id)


def _checks_url() -> str:
    return _url_for("oversight.checks_page")


def next_occurrence(d: date, today: date) -> date:
    """The next day (today included) falling on ``d``'s month and day; a date still ahead is
    itself. 29 February falls on 28 February in other years."""
    if d >= today:
        return d
    for year in (today.year, today.year + 1):
        try:
            candidate = d.replace(year=year)
        except ValueError:
            candidate = date(year, 2, 28)
        if candidate >= today:
            return candidate
    return date(today.year + 1, d.month, min(d.day, 28))


def _in_days(on: date, today: date) -> str:
    days = (on - today).days
    if days == 0:
        return _("today")
    if days == 1:
        return _("tomorrow")
    return _("in %(n)s days", n=days)


DESTROYED = getattr(archive_models, "DESTROYED", "destroyed")  # a tombstone (portal.destruction)


def _live(q):
    """Archives that still exist as customer archives (not destroyed) and not terminated."""
    return q.where(Archive.status != DESTROYED, Archive.stage != TERMINATED)


def birthdays(user: User, today: date) -> list[Reminder]:
    horizon = today + timedelta(days=AHEAD_DAYS)
    out = []
    rows = db.session.execute(_live(sa.select(Archive.id, Archive.number, Archive.name, Archive.birth_date)
                                    .where(Archive.responsible_id == user.id, Archive.kind == INDIVIDUAL,
                                           Archive.birth_date.is_not(None)))).all()
    for archive_id, number, name, born in rows:
        on = next_occurrence(born, today)
        if born >= today or on > horizon:  # a date of birth is in the past
            continue
        label = number or f"#{archive_id}"
        out.append(Reminder(
            BIRTHDAY, f"birthday:{archive_id}:{on.isoformat()}", user.id,
            _("Birthday of %(name)s (%(number)s)", name=name, number=label),
            _("Birthday on %(date)s (%(when)s)", date=on.strftime("%m-%d"), when=_in_days(on, today)),
            _archive_url(archive_id), on, source=label, archive_id=archive_id))
    return out


def anniversaries(user: User, today: date) -> list[Reminder]:
    horizon = today + timedelta(days=AHEAD_DAYS)
    out = []
    rows = db.session.execute(_live(
        sa.select(Anniversary.id, Anniversary.occasion, Anniversary.falls_on, Anniversary.note,
                  Archive.id, Archive.number, Archive.name)
        .join(Archive, Archive.id == Anniversary.archive_id)
        .where(Archive.responsible_id == user.id))).all()
    for anniv_id, occasion, falls_on, note, archive_id, number, name in rows:
        on = next_occurrence(falls_on, today)
        if on > horizon:
            continue
        label = number or f"#{archive_id}"
        action = _("%(occasion)s on %(date)s (%(when)s)", occasion=occasion, date=on.strftime("%m-%d"),
                   when=_in_days(on, today))
        if note:
            action += f" · {note}"
        out.append(Reminder(
            ANNIVERSARY, f"anniversary:{anniv_id}:{on.isoformat()}", user.id,
            _("%(occasion)s of %(name)s (%(number)s)", occasion=occasion, name=name, number=label),
            action, _archive_url(archive_id), on, source=label, archive_id=archive_id))
    return out


def follow_ups(user: User, today: date) -> list[Reminder]:
    """Open follow-ups: the follow-up date of the archive's latest communication (a communication
    logged after it — a later date, or the same date entered later — closes it)."""
    horizon = workcal.add_working_days(today, FOLLOW_UP_AHEAD)
    later = aliased(Communication)
    newer = sa.exists().where(later.archive_id == Communication.archive_id, sa.or_(
        later.occurred_on > Communication.occurred_on,
        sa.and_(later.occurred_on == Communication.occurred_on, later.id > Communication.id)))
    rows = db.session.execute(_live(
        sa.select(Communication.id, Communication.topic, Communication.occurred_on,
                  Communication.follow_up_on, Archive.id, Archive.number, Archive.name)
        .join(Archive, Archive.id == Communication.archive_id)
        .where(Archive.responsible_id == user.id, Communication.follow_up_on.is_not(None),
               Communication.follow_up_on <= horizon, ~newer))).all()
    out = []
    for comm_id, topic, occurred, follow_up, archive_id, number, name in rows:
        late = follow_up < today
        label = number or f"#{archive_id}"
        if late:
            action = _("Follow-up was due on %(date)s (communication of %(then)s: %(topic)s)",
                       date=follow_up.isoformat(), then=occurred.isoformat(), topic=topic)
        else:
            action = _("Follow up by %(date)s (%(when)s; communication of %(then)s: %(topic)s)",
                       date=follow_up.isoformat(), when=_in_days(follow_up, today),
                       then=occurred.isoformat(), topic=topic)
        occasion = "overdue" if late else "due"
        out.append(Reminder(
            FOLLOW_UP, f"follow_up:{comm_id}:{follow_up.isoformat()}:{occasion}", user.id,
            _("Follow up with %(name)s (%(number)s)", name=name, number=label), action,
            _archive_url(archive_id), follow_up, late=late, source=label, archive_id=archive_id))
    return out


def monthly_checks(user: User, today: date) -> list[Reminder]:
    """One reminder for all of the user's archives whose check of this month is still open, in the
    month's last 5 working days and after its due date."""
    if not checks.can_check(user):
        return []
    month = month_start(today)
    if today < checks.window_start(month):
        return []
    count = checks.open_count(user, month)
    if not count:
        return []
    due = checks.due_date(month)
    late = today > due
    occasion = "overdue" if late else "due"
    action = (_("%(n)s archive(s) not confirmed; the checks were due on %(date)s", n=count, date=due.isoformat())
              if late else _("%(n)s archive(s) to confirm by %(date)s", n=count, date=due.isoformat()))
    return [Reminder(MONTHLY_CHECK, f"monthly_check:{month_key(month)}:{occasion}", user.id,
                     _("Monthly check of %(month)s", month=month_key(month)), action, _checks_url(),
                     due, late=late)]


def reminders_for(user, today: date | None = None) -> list[Reminder]:
    """Everything reminded to ``user`` today (their own archives only)."""
    if user is None or not getattr(user, "is_authenticated", False) or user.role not in checks.CHECKERS:
        return []
    today = today or workcal.today()
    born = birthdays(user, today)
    # A 生日 anniversary record on the birth date repeats the birthday reminder: shown once.
    birthday_days = {(r.archive_id, r.on) for r in born}
    others = [r for r in anniversaries(user, today)
              if not ((r.archive_id, r.on) in birthday_days and _is_birthday(r.title))]
    return [*monthly_checks(user, today), *follow_ups(user, today), *born, *others]


def _is_birthday(title: str) -> bool:
    return "生日" in title or "birthday" in title.lower()


# --- the inbox --------------------------------------------------------------------------------------

KIND_LABELS = {
    BIRTHDAY: lambda: _("Birthday"),
    ANNIVERSARY: lambda: _("Anniversary"),
    FOLLOW_UP: lambda: _("Follow-up"),
    MONTHLY_CHECK: lambda: _("Monthly check"),
}


def _since(on: date) -> datetime:
    """Naive UTC of Beijing midnight of ``on`` (the inbox's "since" column)."""
    local = datetime.combine(on, time.min, tzinfo=workcal.SHANGHAI)
    return local.astimezone(UTC).replace(tzinfo=None)


@inbox.source
def reminder_items(user) -> list[inbox.InboxItem]:
    today = workcal.today()
    items = []
    for r in reminders_for(user, today):
        if r.kind in (BIRTHDAY, ANNIVERSARY):
            since = r.on - timedelta(days=AHEAD_DAYS)
        elif r.kind == MONTHLY_CHECK:
            since = checks.window_start(month_start(today))
        else:
            since = min(r.on, today)
        items.append(inbox.InboxItem(
            kind=r.kind, kind_label=KIND_LABELS[r.kind](), title=r.title, url=r.url,
            action_label=r.action, requested_by=r.source or _("Reminder"),
            requested_at=_since(since), deadline=r.on, late=r.late))
    return items


# --- notifications (portal remind) -------------------------------------------------------------

def _retention_reminders(user: User, today: date) -> list[Reminder]:
    """Retention reviews due for the archivist (the e-mail digest; the inbox item is retention's)."""
    try:
        from portal.retention import services as retention
    except ImportError:  # pragma: no cover - retention not installed
        return []
    if not hasattr(retention, "reviews_due") or not retention.can_review(user):
        return []
    out = []
    for item in retention.reviews_due(user):
        archive = item.archive
        late = item.due < today
        out.append(Reminder(
            RETENTION, f"retention:{archive.id}:{item.due.isoformat()}", user.id,
            _("Termination review of %(name)s (%(number)s)", name=archive.name, number=archive.label),
            (_("The review was due on %(date)s", date=item.due.isoformat()) if late
             else _("The review is due by %(date)s", date=item.due.isoformat())),
            _retention_url(archive.id), item.due, late=late, source=archive.label, archive_id=archive.id))
    return out


def _rectification_reminders(user: User, today: date) -> list[Reminder]:
    """Rectifications past their deadline: the assignee's own, and all of them for the archivist."""
    try:
        from portal.inspection import checklist
        from portal.inspection import services as inspection
        from portal.inspection.models import R_OPEN, Rectification
    except ImportError:  # pragma: no cover - inspection not installed
        return []
    rects = {r.id: r for r in db.session.scalars(sa.select(Rectification).where(
        Rectification.assignee_id == user.id, Rectification.status == R_OPEN, Rectification.deadline < today))}
    if inspection.can_check(user):
        for rect in inspection.overdue_rectifications(user, today):
            rects.setdefault(rect.id, rect)
    out = []
    for rect in sorted(rects.values(), key=lambda r: (r.deadline, r.id)):
        archive = rect.check.sample.archive
        title = _("Rectification overdue: %(number)s %(name)s · %(item)s", number=archive.label,
                  name=archive.name or "", item=checklist.label(rect.check.key))
        if rect.assignee_id == user.id:
            action = _("It was due on %(date)s: rectify and report it done.", date=rect.deadline.isoformat())
        else:
            action = _("It was due on %(date)s with %(name)s and is not reported done.",
                       date=rect.deadline.isoformat(), name=rect.assignee.display_name)
        out.append(Reminder(RECTIFICATION, f"rectification:{rect.id}:{rect.deadline.isoformat()}", user.id,
                            title, action, inspection.rect_url(rect.id), rect.deadline, late=True,
                            source=archive.label, archive_id=archive.id))
    return out


def _retention_url(archive_id: int) -> str:
    if "retention.review" in current_app.view_functions:
        return _url_for("retention.review", archive_id=archive_id)
    return _archive_url(archive_id)


def _recipients() -> list[User]:
    """Active users who may have reminders: responsible staff, and the archivists."""
    responsible = sa.select(Archive.responsible_id).where(Archive.responsible_id.is_not(None))
    who = [sa.and_(User.role.in_(checks.CHECKERS), User.id.in_(responsible)), User.role == roles.ARCHIVIST]
    try:
        from portal.inspection.models import R_OPEN, Rectification
        who.append(User.id.in_(sa.select(Rectification.assignee_id).where(Rectification.status == R_OPEN)))
    except ImportError:  # pragma: no cover - inspection not installed
        pass
    return list(db.session.scalars(sa.select(User).where(User.active.is_(True), sa.or_(*who)).order_by(User.id)))


def send_reminders(actor: Actor | None = None, today: date | None = None) -> int:
    """Notify every user of their reminders not sent before (``ReminderSent``); commits.

    Safe to run daily (cron, systemd timer) and concurrently: each (user, item, occasion) is
    notified once. Returns how many notifications were sent now.
    """
    today = today or workcal.today()
    begin_write()
    # Serialise concurrent runs: the register head's row lock on PostgreSQL (SQLite's write
    # transaction is exclusive already).
    db.session.execute(sa.select(RegisterHead.id).where(RegisterHead.id == 1).with_for_update())
    count = 0
    try:
        for user in _recipients():
            with force_locale(user.locale or "zh_CN"):
                items = [*reminders_for(user, today), *_retention_reminders(user, today),
                         *_rectification_reminders(user, today)]
            keys = [r.key for r in items]
            sent = set(db.session.scalars(sa.select(ReminderSent.key).where(
                ReminderSent.user_id == user.id, ReminderSent.key.in_(keys)))) if keys else set()
            for r in items:
                if r.key in sent:
                    continue
                notifications.notify(user, r.notice(), r.url)
                db.session.add(ReminderSent(user_id=user.id, key=r.key))
                sent.add(r.key)
                count += 1
        db.session.commit()
    except IntegrityError:  # another run sent the same reminders in the same moment
        db.session.rollback()
        return 0
    return count
