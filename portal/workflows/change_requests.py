"""Change requests 变更申请 for filed archives (policy 004 §13, 000 §3.3, SPEC §3).

A filed archive is not edited directly: staff propose new values field by field (old → new) with
a reason and an evidence document (《客户档案信息更新表》 and its 依据). The head of the archive's
department approves (1 working day); changes to important fields (configurable, by default the
customer's name and the contract terms) also need the head of 客户服务部 (1 working day); then the
archivist applies them (1 working day), refused if the archive changed meanwhile (the old values
must still match). Every applied change stays on record: who proposed, who approved, when,
old → new, why.

Nobody approves their own request: when the proposer is the department head (or the
customer-service head) themselves, or that department has no head, management decides that step.
When the head of the archive's department is also the customer-service head, one approval covers
both steps. Applying an approved change is the archivist's execution of others' decisions; the
archivist may apply a change they proposed themselves once the heads approved it.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from portal import notifications
from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.forms import INT_CHOICES
from portal.archives.models import FILED, Archive
from portal.archives.profile import ALL_FIELDS
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import Department, User
from portal.dbsetup import begin_write
from portal.documents.models import Document
from portal.errors import Conflict, InvalidState, NotFound, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record, record_now
from portal.workflows import inbox
from portal.workflows.requests import (
    C_APPLIED,
    C_APPROVED,
    C_HEAD,
    C_OPEN,
    C_REJECTED,
    C_SERVICE,
    C_WITHDRAWN,
    SERVICE_DEPARTMENT,
    ChangeItem,
    ChangeRequest,
    change_url,
    changeable_fields,
    due_date,
    important_fields,
    in_language_of,
    is_late,
)

STEP_DAYS = 1  # working days per step: head, customer-service head, archivist (policy 004 §13)
TEXT_LIMIT = 4000


# --- values ------------------------------------------------------------------------------------

def as_text(value) -> str:
    """A field value as stored in a ChangeItem ('' for empty)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def from_text(name: str, text: str):
    """The model value of a ChangeItem's text for field ``name``."""
    f = ALL_FIELDS[name]
    if f.type == "date":
        return date.fromisoformat(text) if text else None
    if f.type == "choice" and f.choices in INT_CHOICES:
        return int(text) if text else None
    return text


def fields_for(archive: Archive) -> list:
    """The profile fields a change request may change for this archive, in profile order."""
    return [f for f in changeable_fields() if archive.kind in f.kinds]


# --- who ---------------------------------------------------------------------------------------

def can_propose(user: User | None, archive: Archive) -> bool:
    """Those who keep a filed archive's running logs propose changes to its profile: its department's
    staff and head, its responsible staff, the archivist (never by a query grant alone)."""
    return archive.status == FILED and perm.can_append_log(user, archive)


def _service_department_id() -> int | None:
    return db.session.scalar(sa.select(Department.id).where(Department.name == SERVICE_DEPARTMENT))


def _heads_of(department_id: int | None, proposer_id: int) -> list[int]:
    if department_id is None:
        return []
    return list(db.session.scalars(sa.select(User.id).where(
        User.role == roles.DEPT_HEAD, User.department_id == department_id, User.active.is_(True),
        User.id != proposer_id)))


def _step_department(req: ChangeRequest) -> int | None:
    return req.archive.department_id if req.status == C_HEAD else _service_department_id()


def may_decide(user: User | None, req: ChangeRequest) -> bool:
    """The head (department, then customer service) whose step it is — or a manager in place of a
    head who is the proposer, or of a department without a head."""
    if not (user and user.is_authenticated and user.active) or req.status not in (C_HEAD, C_SERVICE):
        return False
    if user.id == req.proposed_by_id:
        return False
    department_id = _step_department(req)
    if user.role == roles.DEPT_HEAD:
        return department_id is not None and user.department_id == department_id
    if user.role == roles.MANAGER:
        return not _heads_of(department_id, req.proposed_by_id)
    return False


def may_apply(user: User | None, req: ChangeRequest) -> bool:
    return bool(user and user.is_authenticated and req.status == C_APPROVED
                and user.role == roles.ARCHIVIST)


def may_reject(user: User | None, req: ChangeRequest) -> bool:
    return may_decide(user, req) or may_apply(user, req)


def may_withdraw(user: User | None, req: ChangeRequest) -> bool:
    return bool(user and user.is_authenticated and req.status in C_OPEN
                and user.id == req.proposed_by_id)


def _is_service_head(user: User) -> bool:
    return user.role == roles.DEPT_HEAD and user.department_id == _service_department_id()


def involved(user: User | None, req: ChangeRequest) -> bool:
    """Whether ``user`` takes part in the request (proposes, decides or decided a step)."""
    if not (user and user.is_authenticated):
        return False
    if user.id in (req.proposed_by_id, req.head_id, req.service_id, req.applied_by_id):
        return True
    if user.role == roles.DEPT_HEAD and user.department_id == req.archive.department_id:
        return True
    return (req.needs_service and _is_service_head(user)) or may_decide(user, req)


def can_see(user: User | None, req: ChangeRequest) -> bool:
    """Those who may open the archive, and those who take part (a customer-service head decides
    changes of other departments' archives without opening them: the request shows the fields)."""
    return perm.can_view(user, req.archive) or involved(user, req)


def evidence_open_to(user: User | None, document: Document) -> bool:
    """The evidence of a change request may be opened by those who decide it, even when the archive
    is outside their department (their clearance must still reach the document's level)."""
    if not (user and user.is_authenticated) or document.sensitivity < user.clearance:
        return False
    rows = db.session.scalars(sa.select(ChangeRequest).where(
        ChangeRequest.evidence_document_id == document.id))
    return any(involved(user, req) for req in rows)


def get(request_id: int) -> ChangeRequest:
    req = db.session.get(ChangeRequest, request_id)
    if req is None:
        raise NotFound(_l("No such change request."))
    return req


def require_visible(actor: Actor, request_id: int) -> ChangeRequest:
    req = get(request_id)
    if not can_see(actor.user, req):
        raise deny(actor, perm.view_refusal(actor.user, req.archive), req.archive,
                   f"view change request {req.label}")
    return req


def refuse_propose(actor: Actor, archive: Archive) -> None:
    """Raise (registered) unless ``actor`` may propose a change of ``archive``."""
    user = actor.user
    if can_propose(user, archive):
        return
    reason = perm.view_refusal(user, archive)
    if reason is None:
        if archive.status != FILED:
            reason = _l("Only filed archives change through change requests; a draft is edited directly.")
        else:
            reason = _l("Changes to this archive are proposed by its department, its responsible staff "
                        "or the archivist.")
    raise deny(actor, reason, archive, "propose change")


# --- proposing ---------------------------------------------------------------------------------

def propose(actor: Actor, archive: Archive, values: dict, reason: str,
            evidence_document_id: int | None) -> ChangeRequest:
    """A change request from the new ``values`` (field → value; unchanged fields are ignored)."""
    begin_write(archive)
    refuse_propose(actor, archive)
    user = actor.user
    allowed = {f.name for f in fields_for(archive)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValidationFailed(_l("These fields cannot be changed by a change request: %(fields)s.",
                                  fields=", ".join(unknown)), field=unknown[0])
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("State the reason for the change.")
    elif len(reason) > TEXT_LIMIT:
        errors["reason"] = _("At most %(max)s characters.", max=TEXT_LIMIT)
    evidence = db.session.get(Document, evidence_document_id) if evidence_document_id else None
    if evidence is None or evidence.archive_id != archive.id or not perm.can_view_document(user, evidence):
        errors["evidence"] = _("Attach the evidence for the change (a file, or a document already in "
                               "this archive).")
    items = []
    for f in fields_for(archive):
        if f.name not in values:
            continue
        old, new = as_text(getattr(archive, f.name)), as_text(values[f.name])
        if old != new:
            items.append(ChangeItem(position=len(items), field=f.name, old_value=old, new_value=new))
    if not items:
        errors["fields"] = _("Change at least one field: the form still holds the archive's current values.")
    if errors:
        raise ValidationFailed(_l("The change request was not submitted; correct the marked fields."),
                               fields=errors)
    names = [i.field for i in items]
    req = ChangeRequest(archive_id=archive.id, proposed_by_id=user.id, reason=reason,
                        evidence_document_id=evidence.id, status=C_HEAD,
                        needs_service=bool(set(names) & important_fields()), items=items)
    db.session.add(req)
    db.session.flush()
    # Field names only: values (personal data among them) stay out of the register.
    record(actor, actions.CHANGE_REQUEST, archive=archive, document=evidence,
           detail=f"{req.label}: {', '.join(names)}" + ("; important" if req.needs_service else ""))
    db.session.commit()
    return req


# --- deciding ----------------------------------------------------------------------------------

def _refuse_state(actor: Actor, req: ChangeRequest, action: str, message) -> InvalidState:
    record_now(actor, action, archive=req.archive, result="failed", detail=f"{req.label}: {message}")
    return InvalidState(message)


def _already(req: ChangeRequest):
    return _l("This change request is already %(status)s; it cannot be decided again.",
              status=req.status_label)


def _notify(req: ChangeRequest, text_fn) -> None:
    with in_language_of(req.proposed_by):
        notifications.notify(req.proposed_by, text_fn(),
                             change_url(req.id))


def _decider_refusal(actor: Actor, req: ChangeRequest, what: str):
    user = actor.user
    if user.id == req.proposed_by_id:
        reason = _l("Nobody approves their own request.")
    elif req.status == C_SERVICE:
        reason = _l("This change waits for the head of the customer-service department.")
    else:
        reason = _l("This change waits for the head of the archive's department.")
    return deny(actor, reason, req.archive, f"{what} {req.label}")


def approve(actor: Actor, req: ChangeRequest, note: str = "") -> ChangeRequest:
    """The department head's approval, or the customer-service head's (important fields)."""
    begin_write(req)
    if req.status not in (C_HEAD, C_SERVICE):
        raise _refuse_state(actor, req, actions.CHANGE_APPROVE, _already(req))
    user = actor.user
    if not may_decide(user, req):
        raise _decider_refusal(actor, req, "approve")
    note = (note or "").strip()[:TEXT_LIMIT]
    now = utcnow()
    if req.status == C_HEAD:
        req.head_id, req.head_at, req.head_note = user.id, now, note
        step = "department head"
        req.status = C_SERVICE if req.needs_service else C_APPROVED
        if req.status == C_SERVICE and _is_service_head(user):
            # The archive's own head is the customer-service head: one approval covers both steps.
            req.service_id, req.service_at, req.service_note = user.id, now, note
            req.status, step = C_APPROVED, "department head and customer-service head"
    else:
        req.service_id, req.service_at, req.service_note = user.id, now, note
        req.status, step = C_APPROVED, "customer-service head"
    if user.role == roles.MANAGER:
        step = f"management in place of the {step}"
    record(actor, actions.CHANGE_APPROVE, archive=req.archive, detail=f"{req.label}: {step} approved")
    if req.status == C_APPROVED:
        _notify(req, lambda: _("Your change request %(label)s for %(archive)s was approved; the "
                               "archivist applies it next.", label=req.label, archive=req.archive.label))
    else:
        _notify(req, lambda: _("Your change request %(label)s for %(archive)s was approved by the "
                               "department head and now waits for the customer-service head.",
                               label=req.label, archive=req.archive.label))
    db.session.commit()
    return req


def reject(actor: Actor, req: ChangeRequest, reason: str) -> ChangeRequest:
    """A head at their step, or the archivist instead of applying, turns the change down."""
    begin_write(req)
    if req.status not in C_OPEN:
        raise _refuse_state(actor, req, actions.CHANGE_REJECT, _already(req))
    user = actor.user
    if not may_reject(user, req):
        if req.status == C_APPROVED:
            raise deny(actor, _l("The change is approved; only the archivist can still turn it down."),
                       req.archive, f"reject {req.label}")
        raise _decider_refusal(actor, req, "reject")
    reason = (reason or "").strip()[:TEXT_LIMIT]
    if not reason:
        raise ValidationFailed(_l("Give the reason for the rejection; the proposer sees it."),
                               field="reason")
    req.status = C_REJECTED
    req.rejected_by_id, req.rejected_at, req.reject_reason = user.id, utcnow(), reason
    record(actor, actions.CHANGE_REJECT, archive=req.archive, detail=f"{req.label}: {reason}")
    _notify(req, lambda: _("Your change request %(label)s for %(archive)s was rejected: %(reason)s",
                           label=req.label, archive=req.archive.label, reason=reason))
    db.session.commit()
    return req


def withdraw(actor: Actor, req: ChangeRequest) -> ChangeRequest:
    begin_write(req)
    if req.status not in C_OPEN and actor.user.id == req.proposed_by_id:
        raise _refuse_state(actor, req, actions.CHANGE_WITHDRAW, _l(
            "This change request is already %(status)s; it can no longer be withdrawn.",
            status=req.status_label))
    if not may_withdraw(actor.user, req):
        raise deny(actor, _l("Only the proposer can withdraw a change request."), req.archive,
                   f"withdraw {req.label}")
    req.status = C_WITHDRAWN
    req.withdrawn_at = utcnow()
    record(actor, actions.CHANGE_WITHDRAW, archive=req.archive, detail=req.label)
    db.session.commit()
    return req


def stale_items(req: ChangeRequest) -> list[ChangeItem]:
    """Items whose field no longer holds the value it had when the change was proposed."""
    return [i for i in req.items if as_text(getattr(req.archive, i.field)) != i.old_value]


def apply(actor: Actor, req: ChangeRequest) -> ChangeRequest:
    """The archivist writes the approved values into the archive (policy 004 §13 档案更新)."""
    begin_write(req, req.archive)
    if req.status != C_APPROVED:
        message = (_l("This change is not approved yet (%(status)s).", status=req.status_label)
                   if req.status in (C_HEAD, C_SERVICE) else _already(req))
        raise _refuse_state(actor, req, actions.CHANGE_APPLY, message)
    if not may_apply(actor.user, req):
        raise deny(actor, _l("Only the archivist applies approved changes."), req.archive,
                   f"apply {req.label}")
    archive = req.archive
    if archive.status != FILED:
        raise _refuse_state(actor, req, actions.CHANGE_APPLY, _l("The archive is no longer filed."))
    stale = stale_items(req)
    if stale:
        names = "、".join(str(ALL_FIELDS[i.field].label) for i in stale)
        message = _l("The archive changed after this request was made: %(fields)s no longer hold the "
                     "values the request started from. Nothing was applied. Reject the request so that "
                     "the proposer can make a new one from the current values.", fields=names)
        record_now(actor, actions.CHANGE_APPLY, archive=archive, result="failed",
                   detail=f"{req.label}: changed meanwhile: {', '.join(i.field for i in stale)}")
        raise Conflict(message)
    for item in req.items:
        setattr(archive, item.field, from_text(item.field, item.new_value))
    req.status = C_APPLIED
    req.applied_by_id, req.applied_at = actor.user.id, utcnow()
    record(actor, actions.CHANGE_APPLY, archive=archive,
           detail=f"{req.label}: {', '.join(req.field_names)}")
    _notify(req, lambda: _("Your change request %(label)s was applied to %(archive)s.",
                           label=req.label, archive=archive.label))
    try:
        db.session.commit()
    except StaleDataError as exc:  # cannot happen under the lock; kept as a guard
        db.session.rollback()
        raise Conflict(_l("Someone else saved this archive at the same moment. Try again.")) from exc
    return req


# --- reading -----------------------------------------------------------------------------------

def of_archive(archive: Archive) -> list[ChangeRequest]:
    """All change requests of an archive, newest first."""
    return list(db.session.scalars(sa.select(ChangeRequest).where(ChangeRequest.archive_id == archive.id)
                                   .order_by(ChangeRequest.created_at.desc(), ChangeRequest.id.desc())))


def step_deadline(req: ChangeRequest) -> date | None:
    """When the current step is due: 1 working day from the moment it began."""
    start = {C_HEAD: req.created_at, C_SERVICE: req.head_at,
             C_APPROVED: req.service_at or req.head_at}.get(req.status)
    return due_date(start, STEP_DAYS) if start is not None else None


def open_requests_of(user: User) -> list[ChangeRequest]:
    return list(db.session.scalars(sa.select(ChangeRequest).where(
        ChangeRequest.proposed_by_id == user.id, ChangeRequest.status.in_(C_OPEN))
        .order_by(ChangeRequest.created_at.desc())))


def _waiting_query(user: User) -> sa.Select | None:
    q = sa.select(ChangeRequest).join(Archive, Archive.id == ChangeRequest.archive_id).where(
        ChangeRequest.proposed_by_id != user.id)
    if user.role == roles.ARCHIVIST:
        return q.where(ChangeRequest.status == C_APPROVED)
    if user.role == roles.DEPT_HEAD:
        conds = [sa.and_(ChangeRequest.status == C_HEAD, Archive.department_id == user.department_id)]
        if _is_service_head(user):
            conds.append(ChangeRequest.status == C_SERVICE)
        return q.where(sa.or_(*conds))
    if user.role == roles.MANAGER:  # only where no other head can decide (checked per request)
        return q.where(ChangeRequest.status.in_((C_HEAD, C_SERVICE)))
    return None


ACTION_LABELS = {
    C_HEAD: _l("Approve or reject (department head)"),
    C_SERVICE: _l("Approve or reject (customer-service head)"),
    C_APPROVED: _l("Apply the change (archivist)"),
}


@inbox.source
def waiting_for(user) -> list[inbox.InboxItem]:
    """Change requests waiting for ``user``: a head's approval, or the archivist applying."""
    q = _waiting_query(user)
    if q is None:
        return []
    items = []
    for req in db.session.scalars(q.order_by(ChangeRequest.created_at)):
        if req.status != C_APPROVED and not may_decide(user, req):
            continue
        due = step_deadline(req)
        items.append(inbox.InboxItem(
            kind="change_request", kind_label=_("Change request"),
            title=f"{req.label} · {req.archive.label} {req.archive.name}",
            url=change_url(req.id),
            action_label=str(ACTION_LABELS[req.status]),
            requested_by=req.proposed_by.display_name, requested_at=req.created_at,
            deadline=due, late=is_late(due)))
    return items

