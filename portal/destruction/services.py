"""Destruction 销毁 (SPEC §3, policy 004 §17, 000 §7.2): apply, approve, execute, certify.

The path of an application (《海外客户档案销毁申请表》):

1. **Apply**: the archivist (grounds: the retention period expired — every archive must be
   eligible under the retention rules) or a manager (also: the customer's lawful deletion request
   under the PIPL 个人信息保护法, with the request recorded; or the business ended) lists filed
   archives with a reason each. A held archive (冻结) is refused, here and at every later step; an
   archive is in at most one open application.
2. **Approve**: the head of 客户服务部 → the heads of every department owning archives of the
   application (each approves their department's part; the step completes when all have) →
   management. Anyone of them may reject with a reason (the application ends, its archives are
   free again). Nobody approves their own application; a step without a head (other than the
   applicant) is decided by management in its place. 2 working days per step.
3. **Execute** (``execute``): the archivist, re-entering her password, with a quality supervisor
   as witness entering theirs on the same form. Then, per archive, irrecoverably: every object
   version in the store, staged intake files, the data key (backups and replicas become
   unreadable), texts, thumbnails, documents and their history, intake pages, the profile's
   personal data and sub-records, change and query request texts, the search index entries
   (``portal.destruction.purge``). What remains is a tombstone: the archive row with its number
   (never reused), the customer's name if the setting ``destruction_keep_name`` allows, the filing
   and termination dates, status ``destroyed``, and the ``DestructionRecord``.
   Execution is resumable: the application is marked ``executing`` and committed first, then the
   store is purged, then one transaction scrubs the database and records everything; calling
   ``execute`` (or ``resume``) again finishes whatever a crash left.
4. **Certify**: the destruction certificate 销毁清册 (PDF, A4) is made at execution, stored with
   its SHA-256 and never changed; the destruction register 销毁登记 lists every application.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal import notifications, workcal
from portal.actor import Actor
from portal.admin.models import get_setting
from portal.archives import permissions as perm
from portal.archives.models import DESTROYED, FILED, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import Department, User
from portal.dbsetup import begin_write
from portal.destruction import retention_link
from portal.destruction.models import (
    BUSINESS,
    CLOSED,
    ELECTRONIC_METHOD,
    GROUND_LABELS,
    GROUNDS,
    LOCKING,
    OPEN,
    PAPER_METHODS,
    PENDING,
    PIPL,
    R_DONE,
    R_EXECUTING,
    R_PENDING,
    RETENTION,
    S_APPROVED,
    S_DEPARTMENTS,
    S_EXECUTED,
    S_EXECUTING,
    S_MANAGEMENT,
    S_REJECTED,
    S_SERVICE,
    S_WITHDRAWN,
    DestructionApplication,
    DestructionDepartmentApproval,
    DestructionRecord,
    DestructionSequence,
)
from portal.errors import Conflict, InvalidState, NotFound, PermissionDenied, PortalError, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record, record_now
from portal.workflows import inbox
from portal.workflows.requests import SERVICE_DEPARTMENT, in_language_of, local_date

log = logging.getLogger(__name__)

STEP_DAYS = 2  # working days per approval step, and for the archivist to execute
TEXT_LIMIT = 4000
MAX_ARCHIVES = 200
KEEP_NAME = "destruction_keep_name"
NO_PAPER = "无纸质档案"
PAPER_CHOICES = (*PAPER_METHODS, NO_PAPER)
PARTICIPANTS = frozenset({roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER, roles.DEPT_HEAD})
REGISTER_READERS = frozenset({roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER})

# Other parts of the portal that keep texts about an archive register a scrubber here:
# ``fn(actor, archive, keep_name: bool)`` runs in the destruction transaction of each archive.
SCRUBBERS: list[Callable] = []


def scrubber(fn: Callable) -> Callable:
    """Decorator: register ``fn(actor, archive, keep_name)`` to scrub texts kept elsewhere."""
    SCRUBBERS.append(fn)
    return fn


def keep_name() -> bool:
    """Whether a tombstone (and the certificate) keep the customer's name (setting, default yes)."""
    return get_setting(KEEP_NAME).strip() not in ("0", "false", "no", "")


def application_url(app_id: int) -> str:
    if has_request_context():
        return url_for("destruction.show", app_id=app_id)
    return f"/destruction/{app_id}"


# --- who ---------------------------------------------------------------------------------------

def _active(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.active)


def can_take_part(user: User | None) -> bool:
    """Roles that see the applications page (header link): archivist, supervisor, management and
    department heads (heads see the applications they decide)."""
    return _active(user) and user.role in PARTICIPANTS


def can_apply(user: User | None, grounds: str | None = None) -> bool:
    if not _active(user):
        return False
    if grounds in (PIPL, BUSINESS):
        return user.role == roles.MANAGER
    return user.role in (roles.ARCHIVIST, roles.MANAGER)


def can_read_register(user: User | None) -> bool:
    return _active(user) and user.role in REGISTER_READERS


def can_view_tombstone(user: User | None) -> bool:
    return can_read_register(user)


def service_department_id() -> int | None:
    return db.session.scalar(sa.select(Department.id).where(Department.name == SERVICE_DEPARTMENT))


def _heads(department_id: int | None, exclude_id: int | None) -> list[User]:
    if department_id is None:
        return []
    return list(db.session.scalars(sa.select(User).where(
        User.role == roles.DEPT_HEAD, User.department_id == department_id, User.active.is_(True),
        User.id != (exclude_id or 0)).order_by(User.id)))


def _managers(exclude_id: int | None) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.role == roles.MANAGER, User.active.is_(True), User.id != (exclude_id or 0)).order_by(User.id)))


def _archivists() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.role == roles.ARCHIVIST, User.active.is_(True)).order_by(User.id)))


def is_service_head(user: User | None) -> bool:
    return (_active(user) and user.role == roles.DEPT_HEAD
            and user.department_id is not None and user.department_id == service_department_id())


def _step_deciders(app: DestructionApplication, department_id: int | None) -> list[User]:
    """Who decides a head's step: the department's heads (not the applicant), else management."""
    heads = _heads(department_id, app.applicant_id)
    return heads or _managers(app.applicant_id)


def pending_parts(app: DestructionApplication) -> list[DestructionDepartmentApproval]:
    return [p for p in app.department_parts if p.approved_at is None]


def parts_for(user: User | None, app: DestructionApplication) -> list[DestructionDepartmentApproval]:
    """The department parts ``user`` may approve now."""
    if not _active(user) or app.status != S_DEPARTMENTS or user.id == app.applicant_id:
        return []
    return [p for p in pending_parts(app) if user in _step_deciders(app, p.department_id)]


def next_deciders(app: DestructionApplication) -> list[User]:
    if app.status == S_SERVICE:
        return _step_deciders(app, service_department_id())
    if app.status == S_DEPARTMENTS:
        seen, out = set(), []
        for part in pending_parts(app):
            for u in _step_deciders(app, part.department_id):
                if u.id not in seen:
                    seen.add(u.id)
                    out.append(u)
        return out
    if app.status == S_MANAGEMENT:
        return _managers(app.applicant_id)
    return []


def may_decide(user: User | None, app: DestructionApplication) -> bool:
    if not _active(user) or app.status not in PENDING or user.id == app.applicant_id:
        return False
    if app.status == S_DEPARTMENTS:
        return bool(parts_for(user, app))
    return any(u.id == user.id for u in next_deciders(app))


def may_withdraw(user: User | None, app: DestructionApplication) -> bool:
    return _active(user) and user.id == app.applicant_id and app.status in OPEN


def may_execute(user: User | None, app: DestructionApplication) -> bool:
    return _active(user) and user.role == roles.ARCHIVIST and app.status in (S_APPROVED, S_EXECUTING)


def involved(user: User | None, app: DestructionApplication) -> bool:
    """Whether ``user`` takes part in the application (applies, decides, decided, executes)."""
    if not _active(user):
        return False
    if user.id in (app.applicant_id, app.service_id, app.manager_id, app.executor_id, app.witness_id):
        return True
    if any(p.approver_id == user.id for p in app.department_parts):
        return True
    if user.role == roles.DEPT_HEAD:
        return is_service_head(user) or any(p.department_id == user.department_id for p in app.department_parts)
    return False


def can_see(user: User | None, app: DestructionApplication) -> bool:
    return _active(user) and (user.role in REGISTER_READERS or involved(user, app))


# --- reading -------------------------------------------------------------------------------------

def get(app_id: int) -> DestructionApplication:
    app = db.session.get(DestructionApplication, app_id)
    if app is None:
        raise NotFound(_l("No such destruction application."))
    return app


def require_visible(actor: Actor, app_id: int, what: str = "view destruction application") -> DestructionApplication:
    app = get(app_id)
    if not can_see(actor.user, app):
        raise deny(actor, _l("Destruction applications are seen by those who take part in them, the "
                             "archivist, the quality supervisor and management."), None, f"{what} {app.number}")
    return app


def require_participant(actor: Actor, what: str) -> None:
    if not can_take_part(actor.user):
        raise deny(actor, _l("Destruction is applied for, approved and witnessed by the archivist, "
                             "department heads, the quality supervisor and management."), None, what)


def require_register_reader(actor: Actor, what: str) -> None:
    if not can_read_register(actor.user):
        raise deny(actor, _l("The destruction register is kept by the archivist and read by the quality "
                             "supervisor and management."), None, what)


def applications_for(user: User, status: str = "") -> list[DestructionApplication]:
    """Applications ``user`` may see, newest first (``status``: one state, "open" or "")."""
    q = sa.select(DestructionApplication)
    if status == "open":
        q = q.where(DestructionApplication.status.in_(LOCKING))
    elif status:
        q = q.where(DestructionApplication.status == status)
    rows = db.session.scalars(q.order_by(DestructionApplication.created_at.desc(),
                                         DestructionApplication.id.desc()).limit(500))
    return [a for a in rows if can_see(user, a)]


def step_deadline(app: DestructionApplication) -> date | None:
    if app.status in (*PENDING, S_APPROVED, S_EXECUTING):
        return workcal.deadline(app.step_started_at, STEP_DAYS)
    return None


def open_application_of(archive_id: int) -> DestructionApplication | None:
    row = db.session.scalar(sa.select(DestructionRecord).where(DestructionRecord.active_archive_id == archive_id))
    return row.application if row is not None else None


def record_of(archive_id: int) -> DestructionRecord | None:
    """The destruction record of a destroyed archive (its latest, should there be several)."""
    return db.session.scalar(sa.select(DestructionRecord).where(
        DestructionRecord.archive_id == archive_id, DestructionRecord.state.in_((R_EXECUTING, R_DONE)))
        .order_by(DestructionRecord.id.desc()).limit(1))


def candidates(user: User, q: str = "", grounds: str = RETENTION, limit: int = 50) -> list[Archive]:
    """Filed archives ``user`` may choose (number or name contains ``q``); for the retention
    path without a query, the archives whose cooperation ended longest ago first."""
    query = sa.select(Archive).where(Archive.status == FILED, perm.visible_clause(user))
    term = (q or "").strip()
    if term:
        like = f"%{term.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(Archive.number.like(like), Archive.name.like(like), Archive.name_en.ilike(like)))
        query = query.order_by(Archive.number)
    elif grounds == RETENTION:
        query = query.where(Archive.terminated_on.is_not(None)).order_by(Archive.terminated_on, Archive.number)
    else:
        return []
    return list(db.session.scalars(query.limit(limit)).unique())


# --- applying ------------------------------------------------------------------------------------

@dataclass
class PiplRequest:
    """The customer's deletion request (PIPL 个人信息保护法 第四十七条), as received."""

    received_on: date | None = None
    channel: str = ""
    requester: str = ""
    identity: str = ""
    reference: str = ""

    @classmethod
    def from_mapping(cls, data) -> PiplRequest:
        raw = (data.get("pipl_received_on") or "").strip()
        try:
            received = date.fromisoformat(raw) if raw else None
        except ValueError:
            received = "bad"
        out = cls(None, (data.get("pipl_channel") or "").strip()[:60],
                  (data.get("pipl_requester") or "").strip()[:200],
                  (data.get("pipl_identity") or "").strip()[:TEXT_LIMIT],
                  (data.get("pipl_reference") or "").strip()[:TEXT_LIMIT])
        out.received_on = received  # type: ignore[assignment]
        return out


@dataclass
class Line:
    archive_id: int
    reason: str = ""


@dataclass
class ApplyProblems:
    fields: dict[str, str] = field(default_factory=dict)
    archives: dict[int, str] = field(default_factory=dict)


def _allocate_number() -> str:
    year = workcal.today().year
    query = sa.select(DestructionSequence).where(DestructionSequence.year == year).with_for_update()
    row = db.session.scalar(query)
    if row is None:  # the year's first application; two at once: the second waits, then reads it
        try:
            with db.session.begin_nested():
                db.session.add(DestructionSequence(year=year, last_value=0))
        except IntegrityError:
            pass
        row = db.session.scalar(query.execution_options(populate_existing=True))
    row.last_value += 1
    db.session.flush()
    return f"XH-{year}-{row.last_value:03d}"


def _check_pipl(pipl: PiplRequest, problems: ApplyProblems) -> None:
    if pipl.received_on == "bad":
        problems.fields["pipl_received_on"] = _("Enter the date as YYYY-MM-DD.")
    elif pipl.received_on is None:
        problems.fields["pipl_received_on"] = _("Enter the day the request was received.")
    elif pipl.received_on > workcal.today():
        problems.fields["pipl_received_on"] = _("The day of receipt cannot be in the future.")
    if not pipl.channel:
        problems.fields["pipl_channel"] = _("Enter how the request was received (letter, e-mail, in person …).")
    if not pipl.requester:
        problems.fields["pipl_requester"] = _("Enter who made the request.")
    if not pipl.identity:
        problems.fields["pipl_identity"] = _("Describe how the requester's identity was verified.")


def apply(actor: Actor, *, grounds: str, reason: str, lines: list[Line],
          pipl: PiplRequest | None = None) -> DestructionApplication:
    """A numbered application for the listed archives; refused (registered) or 422 with reasons."""
    begin_write()
    user = actor.user
    if not can_apply(user):
        raise deny(actor, _l("Destruction is applied for by the archivist or by management."), None,
                   "apply for destruction")
    if grounds not in GROUNDS:
        raise ValidationFailed(_l("Choose the grounds for the destruction."), field="grounds")
    if not can_apply(user, grounds):
        raise deny(actor, _l("Only management may apply for destruction on the grounds “%(grounds)s”.",
                             grounds=GROUND_LABELS[grounds]), None, f"apply for destruction ({grounds})")
    problems = ApplyProblems()
    reason = (reason or "").strip()
    if len(reason) > TEXT_LIMIT:
        problems.fields["reason"] = _("At most %(max)s characters.", max=TEXT_LIMIT)
    if grounds in (PIPL, BUSINESS) and not reason:
        problems.fields["reason"] = _("State the reason for the destruction.")
    if grounds == PIPL:
        pipl = pipl or PiplRequest()
        _check_pipl(pipl, problems)
    seen: dict[int, Line] = {}
    for line in lines:
        seen.setdefault(line.archive_id, line)
    if not seen:
        problems.fields["archives"] = _("List at least one archive.")
    elif len(seen) > MAX_ARCHIVES:
        problems.fields["archives"] = _("At most %(max)s archives per application.", max=MAX_ARCHIVES)
    archives: list[tuple[Archive, str]] = []
    held: list[Archive] = []
    for archive_id, line in list(seen.items())[:MAX_ARCHIVES]:
        archive = db.session.get(Archive, archive_id)
        line_reason = (line.reason or "").strip()[:TEXT_LIMIT] or reason
        if archive is None or archive.status == DESTROYED or not perm.can_view(user, archive):
            problems.archives[archive_id] = _("No such archive, or you cannot open it.")
            continue
        if archive.status != FILED:
            problems.archives[archive_id] = _("Only filed archives are destroyed (this one is not filed).")
        elif retention_link.is_held(archive.id):
            held.append(archive)
            problems.archives[archive_id] = _("On hold (冻结): it cannot be destroyed until the hold is lifted.")
        elif grounds == RETENTION and not retention_link.is_eligible(archive):
            when = retention_link.eligible_on(archive)
            problems.archives[archive_id] = (
                _("The retention period has not ended: destruction is allowed from %(date)s.",
                  date=when.isoformat()) if when else
                _("No termination date: the retention period has not begun, so it cannot be destroyed "
                  "on these grounds."))
        elif open_application_of(archive.id) is not None:
            other = open_application_of(archive.id)
            problems.archives[archive_id] = _("Already in the open application %(number)s.", number=other.number)
        elif not line_reason:
            problems.archives[archive_id] = _("State the reason for destroying this archive.")
        archives.append((archive, line_reason))
    if held:
        # A held archive is refused outright (registered by retention), whatever else is wrong.
        for archive in held:
            retention_link.require_not_held(actor, archive)
    if problems.fields or problems.archives:
        raise ValidationFailed(_l("The application was not submitted; correct the marked entries."),
                               fields=problems.fields, archives=problems.archives)
    number = _allocate_number()
    app = DestructionApplication(
        number=number, grounds=grounds, reason=reason, status=S_SERVICE, applicant_id=user.id,
        created_at=utcnow(), step_started_at=utcnow())
    if grounds == PIPL:
        app.pipl_received_on, app.pipl_channel = pipl.received_on, pipl.channel
        app.pipl_requester, app.pipl_identity, app.pipl_reference = pipl.requester, pipl.identity, pipl.reference
    db.session.add(app)
    departments: list[int] = []
    for position, (archive, line_reason) in enumerate(archives):
        db.session.add(DestructionRecord(
            application=app, archive_id=archive.id, active_archive_id=archive.id, position=position,
            reason=line_reason, archive_number=archive.number or "", customer_name=archive.name,
            filed_on=local_date(archive.filed_at) if archive.filed_at else None,
            terminated_on=archive.terminated_on, department_id=archive.department_id, state=R_PENDING))
        if archive.department_id not in departments:
            departments.append(archive.department_id)
    for department_id in departments:
        db.session.add(DestructionDepartmentApproval(application=app, department_id=department_id))
    try:
        db.session.flush()
    except IntegrityError as exc:  # the same archive applied for at the same moment
        db.session.rollback()
        raise Conflict(_l("One of these archives was put into another destruction application at the "
                          "same moment. Reload and check the list.")) from exc
    for archive, _line_reason in archives:
        record(actor, actions.DESTRUCTION_APPLY, archive=archive,
               detail=f"{number}: {grounds} ({len(archives)} archives)")
        if grounds == PIPL:
            # When and how — the requester's identity and text stay in the application only.
            record(actor, actions.PIPL_REQUEST, archive=archive,
                   detail=f"{number}: received {pipl.received_on.isoformat()} via {pipl.channel}")
    _tell_deciders(app)
    db.session.commit()
    return app


# --- deciding ------------------------------------------------------------------------------------

def _refuse_state(actor: Actor, app: DestructionApplication, action: str, message) -> InvalidState:
    record_now(actor, action, result="failed", detail=f"{app.number}: {message}")
    return InvalidState(message)


def _already(app: DestructionApplication):
    return _l("This destruction application is %(status)s; it cannot be decided now.", status=app.status_label)


def _record_each(actor: Actor, app: DestructionApplication, action: str, detail: str,
                 department_id: int | None = None) -> None:
    for rec in app.records:
        if department_id is None or rec.department_id == department_id:
            record(actor, action, archive=rec.archive, detail=f"{app.number}: {detail}")


def _tell(user: User, app: DestructionApplication, text_fn) -> None:
    with in_language_of(user):
        notifications.notify(user, text_fn(), application_url(app.id))


def _tell_deciders(app: DestructionApplication) -> None:
    for u in next_deciders(app):
        _tell(u, app, lambda: _("Destruction application %(number)s (%(count)s archives) waits for your "
                                "decision.", number=app.number, count=len(app.records)))


def _check_holds(actor: Actor, app: DestructionApplication) -> None:
    for rec in app.records:
        if retention_link.is_held(rec.archive_id):
            retention_link.require_not_held(actor, rec.archive)


def _decider_refusal(actor: Actor, app: DestructionApplication, what: str) -> PermissionDenied:
    user = actor.user
    if user.id == app.applicant_id:
        reason = _l("Nobody approves their own application.")
    elif app.status == S_SERVICE:
        reason = _l("This application waits for the head of the customer-service department.")
    elif app.status == S_DEPARTMENTS:
        reason = _l("This application waits for the heads of the departments that own its archives.")
    else:
        reason = _l("This application waits for management.")
    return deny(actor, reason, None, f"{what} {app.number}")


def _decided_already(user: User, app: DestructionApplication) -> bool:
    """Whether ``user`` decided a step of this application already and has nothing left to decide
    (a second click, or two at the same moment: 409, not 403)."""
    if may_decide(user, app):
        return False
    return (user.id in (app.service_id, app.manager_id)
            or any(p.approver_id == user.id for p in app.department_parts))


def _advance(app: DestructionApplication, now: datetime) -> None:
    """Move past the department step once every part is approved."""
    if app.status == S_DEPARTMENTS and not pending_parts(app):
        app.status = S_MANAGEMENT
        app.step_started_at = now


def approve(actor: Actor, app: DestructionApplication, note: str = "") -> DestructionApplication:
    """The current step's approval (the customer-service head, a department head for their
    department's part, management)."""
    begin_write(app)
    if app.status not in PENDING:
        raise _refuse_state(actor, app, actions.DESTRUCTION_APPROVE, _already(app))
    user = actor.user
    if _decided_already(user, app):
        raise _refuse_state(actor, app, actions.DESTRUCTION_APPROVE, _l(
            "You have decided on this application already; it now waits: %(status)s.",
            status=app.status_label))
    if not may_decide(user, app):
        raise _decider_refusal(actor, app, "approve destruction")
    _check_holds(actor, app)
    note = (note or "").strip()[:TEXT_LIMIT]
    now = utcnow()
    in_place = user.role == roles.MANAGER
    if app.status == S_SERVICE:
        app.service_id, app.service_at, app.service_note = user.id, now, note
        app.status, app.step_started_at = S_DEPARTMENTS, now
        step = "customer-service head" + (" (management in place)" if in_place else "")
        _record_each(actor, app, actions.DESTRUCTION_APPROVE, f"{step} approved")
        # The customer-service head is also the head of departments owning archives: one approval
        # covers their parts too (as with change requests).
        for part in parts_for(user, app):
            if user.role == roles.DEPT_HEAD and part.department_id == user.department_id:
                part.approver_id, part.approved_at, part.note = user.id, now, note
                _record_each(actor, app, actions.DESTRUCTION_APPROVE,
                             f"department head ({part.department.name}) approved", part.department_id)
        _advance(app, now)
    elif app.status == S_DEPARTMENTS:
        for part in parts_for(user, app):
            part.approver_id, part.approved_at, part.note = user.id, now, note
            who = "management in place of the head" if in_place else "department head"
            _record_each(actor, app, actions.DESTRUCTION_APPROVE,
                         f"{who} ({part.department.name}) approved", part.department_id)
        _advance(app, now)
    else:
        app.manager_id, app.manager_at, app.manager_note = user.id, now, note
        app.status, app.step_started_at = S_APPROVED, now
        _record_each(actor, app, actions.DESTRUCTION_APPROVE, "management approved")
    if app.status == S_APPROVED:
        _tell(app.applicant, app, lambda: _("Destruction application %(number)s is approved; the archivist "
                                            "executes it under a quality supervisor's witness.",
                                            number=app.number))
        for u in _archivists():
            if u.id != app.applicant_id:
                _tell(u, app, lambda: _("Destruction application %(number)s is approved and waits for "
                                        "execution.", number=app.number))
    elif app.step_started_at == now:
        _tell_deciders(app)
        _tell(app.applicant, app, lambda: _("Destruction application %(number)s: %(status)s.",
                                            number=app.number, status=app.status_label))
    db.session.commit()
    return app


def reject(actor: Actor, app: DestructionApplication, reason: str) -> DestructionApplication:
    """A decider at their step ends the application with a reason; the archives are free again."""
    begin_write(app)
    if app.status not in PENDING:
        raise _refuse_state(actor, app, actions.DESTRUCTION_REJECT, _already(app))
    user = actor.user
    if _decided_already(user, app):
        raise _refuse_state(actor, app, actions.DESTRUCTION_REJECT, _l(
            "You have decided on this application already; it now waits: %(status)s.",
            status=app.status_label))
    if not may_decide(user, app):
        raise _decider_refusal(actor, app, "reject destruction")
    reason = (reason or "").strip()[:TEXT_LIMIT]
    if not reason:
        raise ValidationFailed(_l("Give the reason for the rejection; the applicant sees it."), field="reason")
    now = utcnow()
    app.rejected_step = app.status
    app.status = S_REJECTED
    app.rejected_by_id, app.rejected_at, app.reject_reason = user.id, now, reason
    for rec in app.records:
        rec.active_archive_id = None
    _record_each(actor, app, actions.DESTRUCTION_REJECT, reason)
    _tell(app.applicant, app, lambda: _("Destruction application %(number)s was rejected: %(reason)s",
                                        number=app.number, reason=reason))
    db.session.commit()
    return app


def withdraw(actor: Actor, app: DestructionApplication) -> DestructionApplication:
    """The applicant takes the application back (until execution begins)."""
    begin_write(app)
    if actor.user.id != app.applicant_id:
        raise deny(actor, _l("Only the applicant can withdraw a destruction application."), None,
                   f"withdraw destruction {app.number}")
    if app.status not in OPEN:
        raise _refuse_state(actor, app, actions.DESTRUCTION_WITHDRAW, _l(
            "This destruction application is %(status)s; it can no longer be withdrawn.",
            status=app.status_label))
    app.status = S_WITHDRAWN
    app.withdrawn_at = utcnow()
    for rec in app.records:
        rec.active_archive_id = None
    _record_each(actor, app, actions.DESTRUCTION_WITHDRAW, "withdrawn by the applicant")
    db.session.commit()
    return app


# --- executing -----------------------------------------------------------------------------------

class ExecutionRefused(PortalError):
    """The executor's or the witness's authentication failed (nothing was destroyed)."""

    status = 422


def _authenticate(actor: Actor, app: DestructionApplication, witness_username: str,
                  witness_password: str, archivist_password: str) -> User:
    """Both passwords checked now, like log-ins (failures count toward the lock-out and are
    registered); returns the witness. Raises ExecutionRefused / PermissionDenied, registered."""
    from portal.auth import services as auth

    user = actor.user
    problems: dict[str, str] = {}
    own = auth.authenticate(actor, user.username, archivist_password or "",
                            purpose=f"destruction {app.number}: executor")
    if own.user is None or own.user.id != user.id:
        problems["archivist_password"] = str(own.message or _l("Wrong password."))
    witness = None
    name = (witness_username or "").strip()
    if not name:
        problems["witness_username"] = _("Enter the witness's user name.")
    else:
        outcome = auth.authenticate(actor, name, witness_password or "",
                                    purpose=f"destruction {app.number}: witness")
        if outcome.user is None:
            problems["witness_password"] = str(outcome.message or _l("Wrong user name or password."))
        else:
            witness = outcome.user
    status = 422
    if witness is not None and not problems:
        if witness.role != roles.SUPERVISOR:
            problems["witness_username"] = _("The witness must be a quality supervisor (质量监督专员).")
            status = 403
        elif witness.id == user.id:
            problems["witness_username"] = _("The witness cannot be the executor.")
            status = 403
    if problems:
        detail = f"{app.number}: execution refused: " + "; ".join(
            {"archivist_password": "executor's password", "witness_password": "witness's password",
             "witness_username": f"witness {name or '(none)'}"}[k] for k in problems)
        db.session.rollback()
        begin_write()
        for rec in app.records:
            record(actor, actions.DESTRUCTION_EXECUTE, archive=db.session.get(Archive, rec.archive_id),
                   result="denied", detail=detail)
        db.session.commit()
        error = ExecutionRefused(_l("Nothing was destroyed: the authentication failed."), fields=problems)
        error.status = status
        raise error
    return witness


def _check_loans(actor: Actor, app: DestructionApplication) -> None:
    """The paper file must be back (and no loan of it pending) before it is shredded or burnt."""
    from portal.workflows.borrowing_models import OPEN_STATUSES, Loan, LoanItem

    if app.status != S_APPROVED:
        return
    rows = db.session.execute(sa.select(LoanItem.archive_id, Loan.id).join(Loan, Loan.id == LoanItem.loan_id).where(
        LoanItem.archive_id.in_([r.archive_id for r in app.records]), Loan.status.in_(OPEN_STATUSES))).all()
    if rows:
        numbers = {r.archive_id: r.archive_number for r in app.records}
        listing = "、".join(f"{numbers[aid]}（#{loan_id}）" for aid, loan_id in rows)
        raise _refuse_state(actor, app, actions.DESTRUCTION_EXECUTE, _l(
            "The paper files of these archives are on loan or have open borrowing applications: %(list)s. "
            "They must be returned (or the applications decided) before the destruction.", list=listing))


def execute(actor: Actor, application_id: int, witness_username: str, witness_password: str,
            archivist_password: str, paper_method: str = "") -> DestructionApplication:
    """Execute an approved application (or finish one whose execution was interrupted).

    The archivist (``actor``) confirms her password, the quality supervisor ``witness_username``
    his; then every archive is destroyed irrecoverably (see ``portal.destruction.purge``) and the
    destruction certificate is made and stored.
    """
    app = get(application_id)
    begin_write(app)
    user = actor.user
    if not (_active(user) and user.role == roles.ARCHIVIST):
        raise deny(actor, _l("Destruction is executed by the archivist, under a quality supervisor's "
                             "witness."), None, f"execute destruction {app.number}")
    if app.status not in (S_APPROVED, S_EXECUTING):
        message = (_l("This application is not approved yet (%(status)s).", status=app.status_label)
                   if app.status in PENDING else
                   _l("This destruction application is %(status)s; there is nothing to execute.",
                      status=app.status_label))
        raise _refuse_state(actor, app, actions.DESTRUCTION_EXECUTE, message)
    paper_method = (paper_method or "").strip()
    if app.status == S_APPROVED and paper_method not in PAPER_CHOICES:
        raise ValidationFailed(_l("Choose how the paper files were destroyed."), fields={
            "paper_method": _("Choose how the paper files were destroyed.")})
    _check_holds(actor, app)
    _check_loans(actor, app)
    db.session.commit()
    from portal import printing
    problem = printing.pdf_problem()
    if problem:  # the certificate is a PDF: refuse before anything is destroyed
        raise printing.PdfUnavailable(problem)
    witness = _authenticate(actor, app, witness_username, witness_password, archivist_password)
    from portal.destruction import purge

    purge.begin(actor, app.id, witness, paper_method)
    return purge.finish(actor, app.id)


def resume(actor: Actor, application_id: int) -> DestructionApplication:
    """Finish an execution that was begun (executor and witness authenticated) and interrupted
    (``portal destruction resume``): idempotent, nothing is done twice."""
    app = get(application_id)
    if app.status == S_EXECUTED:
        return app
    if app.status != S_EXECUTING:
        raise InvalidState(_l("This destruction application is %(status)s; there is nothing to resume.",
                              status=app.status_label))
    from portal.destruction import purge

    return purge.finish(actor, app.id)


# --- the certificate and the register ------------------------------------------------------------

def certificate(actor: Actor, app_id: int) -> tuple[DestructionApplication, bytes]:
    """The stored certificate (PDF) of an executed application; the download is registered."""
    begin_write()
    require_register_reader(actor, "destruction certificate")
    app = get(app_id)
    if app.status != S_EXECUTED or not app.certificate_pdf:
        raise NotFound(_l("This application has no destruction certificate (it was not executed)."))
    data = app.certificate_pdf
    if hashlib.sha256(data).hexdigest() != app.certificate_sha256:
        log.error("destruction certificate of %s does not match its SHA-256", app.number)
        raise InvalidState(_l("The stored certificate does not match its recorded fingerprint; the "
                              "archivist has been told."))
    for rec in app.records:
        record(actor, actions.DESTRUCTION_PRINT, archive=rec.archive,
               detail=f"{app.number}: certificate (sha256 {app.certificate_sha256[:16]}…)")
    db.session.commit()
    return app, data


@dataclass
class RegisterFilter:
    status: str = S_EXECUTED  # executed | rejected | withdrawn | all
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""

    def args(self) -> dict:
        out = {"status": self.status, "from": self.date_from.isoformat() if self.date_from else "",
               "to": self.date_to.isoformat() if self.date_to else "", "q": self.q}
        return {k: v for k, v in out.items() if v and not (k == "status" and v == S_EXECUTED)}


REGISTER_STATUSES = (S_EXECUTED, S_REJECTED, S_WITHDRAWN, "all")


def register_rows(f: RegisterFilter, limit: int = 2000) -> tuple[list[DestructionApplication], int]:
    """Applications of the destruction register (executed by default; closed ones on request)."""
    q = sa.select(DestructionApplication)
    q = q.where(DestructionApplication.status.in_(CLOSED) if f.status == "all"
                else DestructionApplication.status == f.status)
    when = sa.func.coalesce(DestructionApplication.executed_at, DestructionApplication.rejected_at,
                            DestructionApplication.withdrawn_at, DestructionApplication.created_at)
    from portal.workflows.requests import end_of_day_utc

    if f.date_from:
        from datetime import timedelta
        q = q.where(when >= end_of_day_utc(f.date_from - timedelta(days=1)))
    if f.date_to:
        q = q.where(when < end_of_day_utc(f.date_to))
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(DestructionApplication.number.like(like), DestructionApplication.id.in_(
            sa.select(DestructionRecord.application_id).where(sa.or_(
                DestructionRecord.archive_number.like(like), DestructionRecord.customer_name.like(like))))))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
    rows = list(db.session.scalars(q.order_by(when.desc(), DestructionApplication.id.desc()).limit(limit)))
    return rows, total


# --- the inbox -----------------------------------------------------------------------------------

ACTION_LABELS = {
    S_SERVICE: _l("Approve or reject (customer-service head)"),
    S_DEPARTMENTS: _l("Approve or reject your department's part"),
    S_MANAGEMENT: _l("Approve or reject (management)"),
    S_APPROVED: _l("Execute with a quality supervisor as witness"),
    S_EXECUTING: _l("Finish the interrupted execution"),
}


@inbox.source
def waiting_for(user) -> list[inbox.InboxItem]:
    """Applications waiting for ``user``: a decision, or (the archivist) the execution."""
    if not can_take_part(user):
        return []
    wanted = (S_APPROVED, S_EXECUTING) if user.role == roles.ARCHIVIST else PENDING
    items = []
    for app in db.session.scalars(sa.select(DestructionApplication).where(
            DestructionApplication.status.in_(wanted)).order_by(DestructionApplication.created_at)):
        if app.status in PENDING and not may_decide(user, app):
            continue
        due = step_deadline(app)
        items.append(inbox.InboxItem(
            kind="destruction", kind_label=_("Destruction"),
            title=f"{app.number} · {app.grounds_label} · " + _("%(count)s archives", count=len(app.records)),
            url=application_url(app.id), action_label=str(ACTION_LABELS[app.status]),
            requested_by=app.applicant.display_name, requested_at=app.created_at,
            deadline=due, late=due is not None and workcal.today() > due))
    return items


__all__ = ["ELECTRONIC_METHOD", "Line", "PiplRequest", "RegisterFilter", "apply", "approve", "certificate",
           "execute", "reject", "resume", "scrubber", "withdraw"]
