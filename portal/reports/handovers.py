"""Handovers 移交 (policy 004 §19, SPEC §3): when staff leave or customers move, the archives a
person is responsible for pass to someone else, and the handover is recorded and printed for
signatures (移交人 / 接收人 / 监交人).

Flow: the archivist or the giving department's head chooses the giving person (their archives as
responsible are listed), the receiving person, the reason, the date and, per archive, whether
paper files change hands. ``hand_over`` changes every archive's ``responsible_id`` (and its
department when the customer moved) through the ORM — so the search index and the permission
clauses follow — keeps a :class:`Handover` with its items, registers HANDOVER per archive and
notifies the receiver and the giver. The receiver confirms receipt from the inbox
(``confirm_receipt``); the record shows pending / confirmed.

Concurrency: the form carries each archive's version (``Archive.version``, the ORM's optimistic
lock). An archive changed since the form was loaded (or no longer the giver's) is reported and
left alone; when nothing is left the handover is refused (409) and nothing is written.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import notifications, printing, workcal
from portal.actor import Actor
from portal.archives.models import DESTROYED, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import Department, User
from portal.dbsetup import begin_write
from portal.errors import Conflict, InvalidState, NotFound, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record
from portal.reports import rules
from portal.reports.models import (
    CONFIRMED,
    OTHER,
    PENDING,
    REASON_LABELS,
    REASONS,
    STATUS_LABELS,
    Handover,
    HandoverItem,
)
from portal.workflows import inbox
from portal.workflows.requests import in_language_of

MAX_PAPER_COUNT = 999
PER_PAGE = 50
PRINT_CAP = 2000
EXPORT_CAP = 20000
SHANGHAI = timedelta(hours=8)
OUTPUTS = {"print": "print", "pdf": "PDF", "xlsx": "Excel"}


def handover_url(handover_id: int) -> str:
    if has_request_context():
        return url_for("reports.handover", handover_id=handover_id)
    return f"/ledgers/handovers/{handover_id}"


def require_hand_over(actor: Actor, what: str = "handover") -> None:
    if not rules.can_hand_over(actor.user):
        raise deny(actor, _l("Archives are handed over by the archivist or by the head of the giving "
                             "department."), None, what)


# --- the form's choices --------------------------------------------------------------------------

@dataclass
class Giver:
    user: User
    count: int


def givers(user: User) -> list[Giver]:
    """People holding archives (as responsible) that ``user`` may hand over, with how many;
    people who left (deactivated) included — they are the usual case."""
    q = (sa.select(User, sa.func.count(Archive.id)).join(Archive, Archive.responsible_id == User.id)
         .where(rules.own_archive_clause(user)).group_by(User.id).order_by(User.display_name, User.id))
    if user.role == roles.DEPT_HEAD:
        q = q.where(User.department_id == user.department_id)
    return [Giver(u, n) for u, n in db.session.execute(q)]


def archives_of(user: User, giver: User, text: str = "") -> list[Archive]:
    """The giver's archives (as responsible) that ``user`` may hand over, filtered by ``text``."""
    q = sa.select(Archive).where(Archive.responsible_id == giver.id, rules.own_archive_clause(user))
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(Archive.number.like(like), Archive.name.like(like), Archive.name_en.ilike(like)))
    return list(db.session.scalars(q.order_by(Archive.number, Archive.id)).unique())


def hidden_count(user: User, giver: User) -> int:
    """The giver's archives ``user`` may not hand over (another department, above clearance)."""
    q = sa.select(sa.func.count(Archive.id)).where(Archive.responsible_id == giver.id,
                                                    Archive.status != DESTROYED,
                                                    sa.not_(rules.own_archive_clause(user)))
    return db.session.scalar(q) or 0


def receivers(user: User) -> list[User]:
    q = sa.select(User).where(User.active.is_(True), User.role.in_((roles.STAFF, roles.DEPT_HEAD)))
    if user.role == roles.DEPT_HEAD:
        q = q.where(User.department_id == user.department_id)
    return list(db.session.scalars(q.order_by(User.department_id, User.display_name, User.id)))


def departments() -> list[Department]:
    return list(db.session.scalars(sa.select(Department).where(Department.active.is_(True))
                                   .order_by(Department.id)))


def reason_choices() -> list[tuple[str, str]]:
    return [(code, str(REASON_LABELS[code])) for code in REASONS]


# --- the form ------------------------------------------------------------------------------------

@dataclass
class HandoverForm:
    giver_id: int | None = None
    receiver_id: int | None = None
    new_department_id: int | None = None
    reason: str = ""
    reason_text: str = ""
    handover_date: date | None = None
    raw_date: str = ""
    selected: list[int] = field(default_factory=list)
    versions: dict[int, int] = field(default_factory=dict)
    paper: dict[int, bool] = field(default_factory=dict)
    paper_count: dict[int, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls) -> HandoverForm:
        today = workcal.today()
        return cls(handover_date=today, raw_date=today.isoformat())

    @classmethod
    def from_mapping(cls, form) -> HandoverForm:
        """Read a posted form (a werkzeug MultiDict). Malformed numbers become input errors."""
        f = cls()

        def number(name: str) -> int | None:
            raw = (form.get(name) or "").strip()
            if not raw:
                return None
            if not raw.isdigit():
                f.errors[name] = _("Choose from the list.")
                return None
            return int(raw)

        f.giver_id = number("giver")
        f.receiver_id = number("receiver")
        f.new_department_id = number("new_department")
        f.reason = (form.get("reason") or "").strip()
        f.reason_text = (form.get("reason_text") or "").strip()[:1000]
        f.raw_date = (form.get("handover_date") or "").strip()[:20]
        if f.raw_date:
            try:
                f.handover_date = date.fromisoformat(f.raw_date)
            except ValueError:
                f.errors["handover_date"] = _("Enter the date as YYYY-MM-DD.")
        seen = set()
        for raw in form.getlist("archive"):
            if raw.isdigit() and int(raw) not in seen:
                seen.add(int(raw))
                f.selected.append(int(raw))
        for key in form:
            if key.startswith("v_") and key[2:].isdigit() and (form.get(key) or "").isdigit():
                f.versions[int(key[2:])] = int(form.get(key))
            elif key.startswith("paper_") and key[6:].isdigit():
                f.paper[int(key[6:])] = form.get(key) == "1"
            elif key.startswith("count_") and key[6:].isdigit():
                f.paper_count[int(key[6:])] = (form.get(key) or "").strip()[:6]
        return f

    def count_of(self, archive_id: int) -> int:
        raw = self.paper_count.get(archive_id, "")
        return int(raw) if raw.isdigit() else 0


def _validate(user: User, f: HandoverForm) -> tuple[User | None, User | None, Department | None]:
    """Input errors go into ``f.errors`` (422); choices outside what the user may pick are
    permission matters, answered by the caller with 403."""
    giver = db.session.get(User, f.giver_id) if f.giver_id else None
    receiver = db.session.get(User, f.receiver_id) if f.receiver_id else None
    dept = db.session.get(Department, f.new_department_id) if f.new_department_id else None
    if giver is None:
        f.errors.setdefault("giver", _("Choose the person handing over."))
    if receiver is None:
        f.errors.setdefault("receiver", _("Choose the person receiving the archives."))
    elif giver is not None and receiver.id == giver.id:
        f.errors["receiver"] = _("The receiving person must be someone else than the giving person.")
    elif not receiver.active:
        f.errors["receiver"] = _("%(name)s's account is deactivated; choose an active user.",
                                 name=receiver.display_name)
    if f.new_department_id and dept is None:
        f.errors["new_department"] = _("Unknown department.")
    if dept is not None and receiver is not None and receiver.department_id != dept.id:
        f.errors["receiver"] = _("When the archives move to %(department)s, the receiving person must "
                                 "belong to that department.", department=dept.name)
    if f.reason not in REASONS:
        f.errors["reason"] = _("Choose the reason for the handover.")
    elif f.reason == OTHER and not f.reason_text:
        f.errors["reason_text"] = _("Describe the reason.")
    if f.handover_date is None:
        f.errors.setdefault("handover_date", _("Enter the date of the handover."))
    elif f.handover_date > workcal.today():
        f.errors["handover_date"] = _("The handover date cannot be in the future.")
    elif f.handover_date < workcal.today() - timedelta(days=366):
        f.errors["handover_date"] = _("The handover date is more than a year ago; check it.")
    if not f.selected:
        f.errors["archives"] = _("Select at least one archive to hand over.")
    for archive_id in f.selected:
        raw = f.paper_count.get(archive_id, "")
        if f.paper.get(archive_id):
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAPER_COUNT:
                f.errors["paper"] = _("Give the number of paper files handed over (1 to %(max)s) for "
                                      "each archive marked with paper files.", max=MAX_PAPER_COUNT)
        if archive_id not in f.versions:
            f.errors["archives"] = _("The form is incomplete; load it again.")
    return giver, receiver, dept


@dataclass
class Outcome:
    handover: Handover
    skipped: list[str]  # labels of archives changed by someone else, left alone


def hand_over(actor: Actor, f: HandoverForm) -> Outcome:
    """Carry out the handover described by the form (see the module doc).

    Raises PermissionDenied (403, registered) for a user who may not hand over, a giver,
    receiver, department or archive outside what they may choose; ValidationFailed (422, with
    ``detail["errors"]``) for bad input; Conflict (409) when every selected archive changed.
    """
    require_hand_over(actor)
    begin_write()
    user = actor.user
    giver, receiver, dept = _validate(user, f)
    if giver is not None and not rules.may_give(user, giver):
        raise deny(actor, _l("You hand over the archives of people of your own department only."),
                   None, f"handover from {giver.username}")
    if receiver is not None and receiver.active and not rules.may_receive(user, receiver):
        raise deny(actor, _l("A department head hands archives over to someone of their own department "
                             "only; ask the archivist for a handover to another department."),
                   None, f"handover to {receiver.username}")
    if f.new_department_id and not rules.may_move_department(user):
        raise deny(actor, _l("Only the archivist moves archives to another department."), None,
                   "handover with department move")
    if f.errors:
        raise ValidationFailed(_l("Correct the marked fields."), errors=dict(f.errors))
    archives = list(db.session.scalars(sa.select(Archive).where(Archive.id.in_(f.selected))
                                       .order_by(Archive.number, Archive.id)).unique())
    if len(archives) != len(f.selected):
        raise NotFound(_l("No such archive."))
    for archive in archives:
        if not rules.may_hand_over_archive(user, archive):
            raise deny(actor, _l("You may hand over archives of your own department within your "
                                 "clearance only."), archive, "handover")
    begin_write(*archives)  # PostgreSQL: lock the rows and reload; SQLite: the write lock is held
    moving, skipped = [], []
    for archive in archives:
        if archive.version != f.versions.get(archive.id) or archive.responsible_id != giver.id:
            skipped.append(archive.label)
        else:
            moving.append(archive)
    if not moving:
        db.session.rollback()
        raise Conflict(_l("Someone else changed these archives after you opened the form (or they were "
                          "handed over already); nothing was handed over. Check them and try again."),
                       skipped=skipped)
    handover = Handover(
        handover_date=f.handover_date, giver_id=giver.id, receiver_id=receiver.id,
        giver_department_id=giver.department_id, receiver_department_id=receiver.department_id,
        new_department_id=dept.id if dept else None, reason=f.reason, reason_text=f.reason_text,
        created_by_id=user.id, status=PENDING)
    db.session.add(handover)
    for archive in moving:
        paper = bool(f.paper.get(archive.id))
        handover.items.append(HandoverItem(
            archive_id=archive.id, archive_number=archive.label, archive_name=archive.name,
            from_department_id=archive.department_id,
            to_department_id=dept.id if dept else archive.department_id,
            paper=paper, paper_count=f.count_of(archive.id) if paper else 0))
        archive.responsible_id = receiver.id
        if dept is not None:
            archive.department_id = dept.id
    db.session.flush()  # the number needs the id; a concurrent change would fail here (version)
    for archive, item in zip(moving, handover.items, strict=True):
        moved = f"; department {item.from_department_id} → {item.to_department_id}" if dept else ""
        paper = f"; paper files {item.paper_count}" if item.paper else "; no paper files"
        record(actor, actions.HANDOVER, archive=archive,
               detail=f"{handover.number}: {giver.username} → {receiver.username}; reason {f.reason}"
                      f"{moved}{paper}")
    _tell(receiver, handover, lambda: _(
        "%(name)s handed %(count)s archive(s) over to you (%(number)s). Check the list and confirm "
        "the receipt.", name=giver.display_name, count=len(moving), number=handover.number))
    if giver.id != user.id:
        _tell(giver, handover, lambda: _(
            "Your %(count)s archive(s) were handed over to %(name)s (%(number)s).",
            count=len(moving), name=receiver.display_name, number=handover.number))
    db.session.commit()
    return Outcome(handover, skipped)


def _tell(user: User, handover: Handover, message) -> None:
    with in_language_of(user):
        text = message()
    notifications.notify(user, text, handover_url(handover.id))


# --- reading, confirming -------------------------------------------------------------------------

def get(handover_id: int) -> Handover:
    handover = db.session.get(Handover, handover_id)
    if handover is None:
        raise NotFound(_l("No such handover."))
    return handover


def require_visible(actor: Actor, handover_id: int, what: str = "view") -> Handover:
    handover = get(handover_id)
    if not rules.can_view_handover(actor.user, handover):
        raise deny(actor, _l("This handover record is read by those who took part, the heads of the "
                             "departments concerned, the archivist, the quality supervisor and "
                             "management."), None, f"handover {handover.number} {what}")
    return handover


def confirm_receipt(actor: Actor, handover_id: int, note: str = "") -> Handover:
    """The receiver confirms that the archives (and paper files) arrived; 409 when already done."""
    handover = get(handover_id)
    if not rules.can_confirm_receipt(actor.user, handover):
        raise deny(actor, _l("Only the receiving person confirms the receipt of a handover."), None,
                   f"confirm handover {handover.number}")
    begin_write(handover)
    if handover.status != PENDING:
        db.session.rollback()
        raise InvalidState(_l("The receipt of this handover was confirmed already."))
    handover.status = CONFIRMED
    handover.confirmed_at = utcnow()
    handover.confirm_note = note.strip()[:300]
    record(actor, actions.HANDOVER,
           detail=f"{handover.number}: receipt confirmed by {actor.user.username}"
                  f" ({len(handover.items)} archives)")
    receiver = handover.receiver
    for person in {handover.giver, handover.created_by} - {receiver}:
        _tell(person, handover, lambda: _(
            "%(name)s confirmed the receipt of handover %(number)s.",
            name=receiver.display_name, number=handover.number))
    db.session.commit()
    return handover


def print_record(actor: Actor, handover_id: int, output: str) -> Handover:
    """A handover record for printing or PDF; registered (LEDGER_PRINT)."""
    handover = require_visible(actor, handover_id, output)
    begin_write()
    handover = get(handover_id)
    record(actor, actions.LEDGER_PRINT, detail=f"handover record {handover.number} {OUTPUTS[output]}")
    db.session.commit()
    return get(handover_id)


def of_archive(archive: Archive, limit: int = 5) -> list[Handover]:
    """The last handovers of an archive (for the archive page's panel)."""
    q = (sa.select(Handover).join(HandoverItem, HandoverItem.handover_id == Handover.id)
         .where(HandoverItem.archive_id == archive.id)
         .order_by(Handover.created_at.desc(), Handover.id.desc()).limit(limit))
    return list(db.session.scalars(q).unique())


def forget_archive(archive_id: int) -> None:
    """For destruction 销毁: keep the handover items of a destroyed archive but blank the customer's
    name (the number stays, as on the tombstone). Runs in the destroying transaction."""
    for item in db.session.scalars(sa.select(HandoverItem).where(HandoverItem.archive_id == archive_id)):
        item.archive_name = ""


def _scrub_on_destruction(actor, archive, keep_name: bool) -> None:
    if not keep_name:
        forget_archive(archive.id)


try:  # the destruction part calls its scrubbers in each archive's destroying transaction
    from portal.destruction.services import scrubber as _scrubber
except ImportError:  # pragma: no cover - an application without destruction
    pass
else:
    _scrubber(_scrub_on_destruction)


# --- the handover register -----------------------------------------------------------------------

@dataclass
class RegisterFilter:
    date_from: date | None = None  # handover date
    date_to: date | None = None
    status: str = ""
    department_id: int | None = None
    q: str = ""  # archive number or name, or a person's name
    errors: dict = field(default_factory=dict)

    def args(self) -> dict:
        out = {"from": self.date_from.isoformat() if self.date_from else "",
               "to": self.date_to.isoformat() if self.date_to else "", "status": self.status,
               "department": str(self.department_id or ""), "q": self.q}
        return {k: v for k, v in out.items() if v}


def parse_register_filter(args: Mapping) -> RegisterFilter:
    f = RegisterFilter()
    for name, attr in (("from", "date_from"), ("to", "date_to")):
        raw = (args.get(name) or "").strip()[:20]
        if raw:
            try:
                setattr(f, attr, date.fromisoformat(raw))
            except ValueError:
                f.errors[name] = _l("Enter the date as YYYY-MM-DD.")
    status = (args.get("status") or "").strip()
    if status and status not in STATUS_LABELS:
        f.errors["status"] = _l("Unknown status.")
    else:
        f.status = status
    dept = (args.get("department") or "").strip()[:12]
    if dept:
        if dept.isdigit():
            f.department_id = int(dept)
        else:
            f.errors["department"] = _l("Unknown department.")
    f.q = (args.get("q") or "").strip()[:80]
    return f


def register_query(user: User, f: RegisterFilter) -> sa.Select:
    q = sa.select(Handover).where(rules.handover_clause(user))
    if f.date_from:
        q = q.where(Handover.handover_date >= f.date_from)
    if f.date_to:
        q = q.where(Handover.handover_date <= f.date_to)
    if f.status:
        q = q.where(Handover.status == f.status)
    if f.department_id:
        dept = f.department_id
        q = q.where(sa.or_(
            Handover.giver_department_id == dept, Handover.receiver_department_id == dept,
            Handover.new_department_id == dept,
            sa.select(HandoverItem.id).where(HandoverItem.handover_id == Handover.id,
                                             HandoverItem.from_department_id == dept).exists()))
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        people = sa.select(User.id).where(sa.or_(User.display_name.like(like), User.username == f.q))
        items = sa.select(HandoverItem.id).where(
            HandoverItem.handover_id == Handover.id,
            sa.or_(HandoverItem.archive_number.like(like), HandoverItem.archive_name.like(like))).exists()
        q = q.where(sa.or_(Handover.giver_id.in_(people), Handover.receiver_id.in_(people), items))
    return q.order_by(Handover.handover_date.desc(), Handover.id.desc())


@dataclass
class RegisterPage:
    handovers: list[Handover]
    total: int
    page: int
    pages: int


def _count(q: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())) or 0


def browse(actor: Actor, f: RegisterFilter, page: int = 1) -> RegisterPage:
    if not rules.can_list_handovers(actor.user):
        raise deny(actor, _l("System administrators do not hand over or receive archives."), None,
                   "handovers")
    q = register_query(actor.user, f)
    total = _count(q)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    return RegisterPage(list(db.session.scalars(q.offset((page - 1) * PER_PAGE).limit(PER_PAGE)).unique()),
                        total, page, pages)


def require_register_reader(actor: Actor, what: str) -> None:
    if not rules.can_read_handover_register(actor.user):
        raise deny(actor, _l("The handover register is printed by the archivist, the quality supervisor, "
                             "management and the department heads (their department's handovers)."),
                   None, f"handover register {what}")


def register_for_output(actor: Actor, f: RegisterFilter, output: str) -> tuple[list[Handover], int]:
    require_register_reader(actor, output)
    begin_write()
    q = register_query(actor.user, f)
    total = _count(q)
    rows = list(db.session.scalars(q.limit(EXPORT_CAP if output == "xlsx" else PRINT_CAP)).unique())
    record(actor, actions.LEDGER_PRINT,
           detail=f"handover register {OUTPUTS[output]}: {len(rows)} of {total}; filter "
                  f"{' '.join(f'{k}={v}' for k, v in f.args().items()) or 'none'}")
    db.session.commit()
    return rows, total


def describe(f: RegisterFilter) -> str:
    parts = []
    if f.date_from or f.date_to:
        parts.append(_("Handed over %(start)s to %(end)s", start=f.date_from.isoformat() if f.date_from else "…",
                       end=f.date_to.isoformat() if f.date_to else "…"))
    if f.status:
        parts.append(_("Status: %(status)s", status=STATUS_LABELS[f.status]))
    if f.department_id:
        dept = db.session.get(Department, f.department_id)
        parts.append(_("Department: %(name)s", name=dept.name if dept else f.department_id))
    if f.q:
        parts.append(_("Archive or person “%(text)s”", text=f.q))
    return "; ".join(parts) if parts else _("All handovers")


def person_line(person: User, dept: Department | None) -> str:
    return f"{person.display_name}（{dept.name}）" if dept else person.display_name


REGISTER_COLUMNS = (_l("Number"), _l("Handover date"), _l("Giving person"), _l("Receiving person"),
                    _l("Reason for the handover"), _l("Archives"), _l("Paper files"), _l("Carried out by"),
                    _l("Receipt"))


def register_xlsx(rows: list[Handover], f: RegisterFilter, total: int, printed: str) -> bytes:
    from portal.templating import local_time

    lines = [_("Filter: %(filter)s", filter=describe(f)), printed]
    if total > len(rows):
        lines.append(_("Only the first %(shown)s of %(total)s handovers.", shown=len(rows), total=total))
    data = []
    for h in rows:
        archives = "\n".join(f"{i.archive_number} {i.archive_name}".strip() for i in h.items)
        moved = f"\n{_('Moved to %(department)s', department=h.new_department.name)}" if h.new_department else ""
        receipt = (_("Confirmed %(time)s", time=local_time(h.confirmed_at)) if h.status == CONFIRMED
                   else h.status_label)
        data.append([h.number, h.handover_date.isoformat(), person_line(h.giver, h.giver_department),
                     person_line(h.receiver, h.receiver_department), h.reason_line + moved, archives,
                     h.paper_count, h.created_by.display_name, receipt])
    return printing.workbook(_("Register of archive handovers"), [str(c) for c in REGISTER_COLUMNS], data,
                             lines=lines, widths=(15, 12, 18, 18, 24, 44, 9, 12, 20),
                             sheet=_("Handovers"), signatures=[str(s) for s in printing.DEFAULT_SIGNATURES])


# --- inbox ---------------------------------------------------------------------------------------

@inbox.source
def receipts_to_confirm(user) -> list[inbox.InboxItem]:
    """The receiving person: handovers whose receipt they have not confirmed yet."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    items = []
    for h in db.session.scalars(sa.select(Handover).where(Handover.receiver_id == user.id,
                                                          Handover.status == PENDING)
                                .order_by(Handover.created_at)):
        items.append(inbox.InboxItem(
            kind="handover", kind_label=_("Handover"),
            title=_("Handover %(number)s · %(count)s archive(s) from %(name)s", number=h.number,
                    count=len(h.items), name=h.giver.display_name),
            url=handover_url(h.id), action_label=_("Confirm the receipt"),
            requested_by=h.created_by.display_name, requested_at=h.created_at))
    return items


def pending_for(user: User) -> int:
    return db.session.scalar(sa.select(sa.func.count(Handover.id)).where(
        Handover.receiver_id == user.id, Handover.status == PENDING)) or 0


def local_day(value: datetime | None) -> str:
    return (value + SHANGHAI).date().isoformat() if value else ""
