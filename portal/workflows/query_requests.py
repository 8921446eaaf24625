"""Query requests 查询申请 (policy 004 §16, 000 §4.3): ask for time-limited access to an archive.

Who: any user who may open archives at all (not the system administrator) asks; the archivist
decides; material classified 一级 (the archive, or a 一级 document the grant would open) also needs
management — archivist first, then a manager (the archivist checks the request makes sense before
management is asked). Nobody decides their own request.

Not revealing hidden archives: the request names an archive by its exact number (or comes from
the refusal page of an archive the user already reached by a link, which shows its level anyway).
Whether or not a filed archive has that number, the requester is told only "submitted"; the number
is kept as typed and the archivist answers — a number matching nothing can only be rejected. The
requester sees the archive's name only once they may open it. The one early answer is "you can
already open this archive", which tells them nothing they could not see.

The approved request is the grant (``requests.QueryRequest``): ``portal.archives.permissions``
honours it for viewing only, until ``expires_at`` (the end of the last working day, Beijing time).
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import notifications
from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import FILED, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import User
from portal.dbsetup import begin_write
from portal.documents.models import Document
from portal.errors import InvalidState, NotFound, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record, record_now
from portal.workflows import inbox
from portal.workflows.requests import (
    Q_APPROVED,
    Q_MANAGER,
    Q_OPEN,
    Q_PENDING,
    Q_REJECTED,
    Q_WITHDRAWN,
    SCOPE_ALL,
    SCOPE_LISTED,
    SCOPES,
    QueryRequest,
    due_date,
    end_of_day_utc,
    in_language_of,
    is_late,
    local_date,
    query_max_days,
    query_url,
    today,
)

DECISION_DAYS = 1  # working days for each decision (archivist, then management)
REQUESTER_ROLES = (roles.STAFF, roles.DEPT_HEAD, roles.SUPERVISOR, roles.ARCHIVIST, roles.MANAGER)
# Who may read query requests besides the requester: the deciders and the quality supervisor.
OVERSEERS = (roles.ARCHIVIST, roles.MANAGER, roles.SUPERVISOR)
TEXT_LIMIT = 2000


def can_request(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.role in REQUESTER_ROLES)


def can_see(user: User | None, req: QueryRequest) -> bool:
    return bool(user and user.is_authenticated
                and (user.id == req.requester_id or user.role in OVERSEERS))


def shows_archive(user: User, req: QueryRequest) -> bool:
    """Whether ``user`` may see which archive the request names (its name, its page)."""
    return req.archive is not None and perm.can_view(user, req.archive)


def decider_role(req: QueryRequest) -> str | None:
    return {Q_PENDING: roles.ARCHIVIST, Q_MANAGER: roles.MANAGER}.get(req.status)


def may_decide(user: User | None, req: QueryRequest) -> bool:
    return bool(user and user.is_authenticated and req.status in Q_OPEN
                and user.role == decider_role(req) and user.id != req.requester_id)


def may_withdraw(user: User | None, req: QueryRequest) -> bool:
    return bool(user and user.is_authenticated and req.status in Q_OPEN
                and user.id == req.requester_id)


def get(request_id: int) -> QueryRequest:
    req = db.session.get(QueryRequest, request_id)
    if req is None:
        raise NotFound(_l("No such query request."))
    return req


def require_visible(actor: Actor, request_id: int) -> QueryRequest:
    req = get(request_id)
    if not can_see(actor.user, req):
        raise deny(actor, _l("Only the requester, the archivist, management and the quality "
                             "supervisor see query requests."), None, f"view query request Q{req.id}")
    return req


# --- submitting --------------------------------------------------------------------------------

def _find(archive_id: int | None, ref: str) -> Archive | None:
    """The filed archive named by id or exact number, or None (drafts have no number to ask for)."""
    archive = None
    if archive_id is not None:
        archive = db.session.get(Archive, archive_id)
    elif ref:
        archive = db.session.scalar(sa.select(Archive).where(Archive.number == ref))
    return archive if archive is not None and archive.status == FILED else None


def _hidden_documents(user: User, archive: Archive) -> int:
    from portal.documents.services import hidden_count

    return hidden_count(user, archive)


def _duration(period_days, until, errors: dict) -> tuple[int | None, date | None]:
    limit = query_max_days()
    if (period_days is None) == (until is None):
        errors["period_days"] = _("Give either a number of working days or an end date.")
        return None, None
    if period_days is not None:
        if not isinstance(period_days, int) or not 1 <= period_days <= limit:
            errors["period_days"] = _("Choose from 1 to %(max)s working days.", max=limit)
        return period_days, None
    from portal import workcal

    if until < today():
        errors["until"] = _("The end date cannot be in the past.")
    elif workcal.working_days_between(today(), until) > limit:
        errors["until"] = _("Access can last at most %(max)s working days; choose an earlier end date.",
                            max=limit)
    return None, until


def submit(actor: Actor, *, purpose: str, scope: str, period_days: int | None = None,
           until: date | None = None, archive_ref: str = "", archive_id: int | None = None,
           scope_note: str = "", document_id: int | None = None) -> QueryRequest:
    """Record a query request. Raises ValidationFailed(fields={name: message}) for bad input."""
    begin_write()
    user = actor.user
    if not can_request(user):
        raise deny(actor, _l("System administrators manage users and settings but cannot open archives "
                             "(separation of duties)."), None, "query request")
    ref = (archive_ref or "").strip()[:80]
    purpose, scope_note = (purpose or "").strip(), (scope_note or "").strip()
    errors: dict[str, str] = {}
    if archive_id is None and not ref:
        errors["archive"] = _("Enter the archive number exactly as it is written, e.g. 海外-2026-电商-001.")
    if not purpose:
        errors["purpose"] = _("State the purpose: what the information is needed for.")
    elif len(purpose) > TEXT_LIMIT:
        errors["purpose"] = _("At most %(max)s characters.", max=TEXT_LIMIT)
    if scope not in SCOPES:
        errors["scope"] = _("Choose what you need to see.")
    if len(scope_note) > TEXT_LIMIT:
        errors["scope_note"] = _("At most %(max)s characters.", max=TEXT_LIMIT)
    period_days, until = _duration(period_days, until, errors)

    archive = _find(archive_id, ref)
    if archive_id is not None and not ref:
        ref = f"#{archive_id}"  # as the link named it: the number is not revealed either
    if archive is not None and perm.can_view(user, archive) and not _hidden_documents(user, archive):
        errors["archive"] = _("You can already open this archive and all its documents; no request "
                              "is needed.")
    if not errors:
        same = QueryRequest.archive_id == archive.id if archive is not None else sa.and_(
            QueryRequest.archive_id.is_(None), QueryRequest.archive_ref == ref)
        earlier = db.session.scalar(sa.select(QueryRequest).where(
            QueryRequest.requester_id == user.id, QueryRequest.status.in_(Q_OPEN), same))
        if earlier is not None:
            errors["archive"] = _("You already have an open request for this archive (%(label)s); "
                                  "withdraw it first to ask again.", label=earlier.label)
    if errors:
        raise ValidationFailed(_l("The request was not submitted; correct the marked fields."),
                               fields=errors)

    asked = None
    if document_id is not None and archive is not None:
        doc = db.session.get(Document, document_id)
        if doc is not None and doc.archive_id == archive.id and not perm.can_view_document(user, doc):
            asked = doc
    req = QueryRequest(requester_id=user.id, archive_id=archive.id if archive else None,
                       archive_ref=ref, purpose=purpose, scope=scope, scope_note=scope_note,
                       asked_document_id=asked.id if asked else None, period_days=period_days,
                       until=until, status=Q_PENDING)
    db.session.add(req)
    db.session.flush()
    duration = f"{period_days} WD" if period_days else f"until {until.isoformat()}"
    found = "" if archive is not None else " (no filed archive has this number)"
    record(actor, actions.QUERY_REQUEST, archive=archive, purpose=purpose,
           detail=f"{req.label}: {ref}{found}; scope {scope}; {duration}"
                  + (f"; document #{asked.id}" if asked else ""))
    db.session.commit()
    return req


# --- deciding ----------------------------------------------------------------------------------

def _refuse_state(actor: Actor, req: QueryRequest, action: str, message) -> InvalidState:
    """A decision on a request that is no longer waiting for it (e.g. a second click): registered."""
    record_now(actor, action, archive=req.archive, result="failed", detail=f"{req.label}: {message}")
    return InvalidState(message)


def _check_decider(actor: Actor, req: QueryRequest, action: str) -> None:
    user = actor.user
    if req.status not in Q_OPEN:
        raise _refuse_state(actor, req, action, _l("This request was already decided (%(status)s); "
                                                   "it cannot be decided again.",
                                                   status=req.status_label))
    if may_decide(user, req):
        return
    if user.id == req.requester_id:
        reason = _l("Nobody decides their own request.")
    elif req.status == Q_MANAGER:
        reason = _l("This request waits for management's approval.")
    else:
        reason = _l("Only the archivist decides query requests.")
    raise deny(actor, reason, req.archive, f"{action} {req.label}")


def _needs_manager(req: QueryRequest, archive: Archive, ticked: list[Document]) -> bool:
    """一级 material needs management as well: a 一级 archive, or 一级 documents the grant opens."""
    if archive.sensitivity == roles.SECRET:
        return True
    if req.scope == SCOPE_ALL:
        return bool(db.session.scalar(sa.select(sa.exists().where(
            Document.archive_id == archive.id, Document.sensitivity == roles.SECRET))))
    return any(d.sensitivity == roles.SECRET for d in ticked)


def grantable_documents(req: QueryRequest) -> list[Document]:
    """Documents the archivist may tick for a "listed" request: those above the requester's clearance
    (the others open with the archive anyway)."""
    if req.archive is None:
        return []
    return list(db.session.scalars(sa.select(Document).where(
        Document.archive_id == req.archive_id, Document.sensitivity < req.requester.clearance)
        .order_by(Document.doc_date.desc().nulls_last(), Document.id)))


def _expiry(actor: Actor, req: QueryRequest):
    if req.until is not None:
        if req.until < today():
            raise _refuse_state(actor, req, actions.QUERY_APPROVE, _l(
                "The requested end date %(date)s has passed. Reject the request; the requester can "
                "ask again.", date=req.until.isoformat()))
        return end_of_day_utc(req.until)
    return end_of_day_utc(due_date(utcnow(), req.period_days or 1))


def _notify(req: QueryRequest, text_fn) -> None:
    with in_language_of(req.requester):
        notifications.notify(req.requester, text_fn(),
                             query_url(req.id))


def approve(actor: Actor, req: QueryRequest, note: str = "",
            document_ids: list[int] | None = None) -> QueryRequest:
    """The archivist's approval (choosing documents for a "listed" scope), or management's."""
    begin_write(req)
    _check_decider(actor, req, actions.QUERY_APPROVE)
    user = actor.user
    note = (note or "").strip()[:TEXT_LIMIT]
    archive = req.archive
    if archive is None or archive.status != FILED:
        raise _refuse_state(actor, req, actions.QUERY_APPROVE, _l(
            "No filed archive has the number “%(ref)s”. Reject the request and tell the requester "
            "why.", ref=req.archive_ref))
    now = utcnow()
    if req.status == Q_PENDING:
        ticked: list[Document] = []
        if req.scope == SCOPE_LISTED and document_ids:
            allowed = {d.id: d for d in grantable_documents(req)}
            unknown = [i for i in document_ids if i not in allowed]
            if unknown:
                raise ValidationFailed(_l("Tick only documents of this archive that are above the "
                                          "requester's clearance."), field="documents")
            ticked = [allowed[i] for i in dict.fromkeys(document_ids)]
        req.documents = ticked
        req.needs_manager = _needs_manager(req, archive, ticked)
        req.archivist_id, req.archivist_at, req.archivist_note = user.id, now, note
        if req.needs_manager:
            req.status = Q_MANAGER
            record(actor, actions.QUERY_APPROVE, archive=archive,
                   detail=f"{req.label}: archivist approved; 一级 material, management decides next"
                          + (f"; documents {', '.join(f'#{d.id}' for d in ticked)}" if ticked else ""))
            _notify(req, lambda: _("Your query request %(label)s for %(ref)s was approved by the "
                                   "archivist and now waits for management.", label=req.label,
                                   ref=req.archive_ref))
            db.session.commit()
            return req
    else:
        req.manager_id, req.manager_at, req.manager_note = user.id, now, note
    req.expires_at = _expiry(actor, req)
    req.granted_at = now
    req.doc_floor = (roles.SECRET if req.needs_manager else roles.INTERNAL) if req.scope == SCOPE_ALL else None
    req.status = Q_APPROVED
    until = last_day(req).isoformat()
    record(actor, actions.QUERY_APPROVE, archive=archive,
           detail=f"{req.label}: granted to {req.requester.username} until {until} (scope {req.scope})"
                  + (f"; documents {', '.join(f'#{d.id}' for d in req.documents)}" if req.documents else ""))
    _notify(req, lambda: _("Your query request %(label)s was approved: you may view %(ref)s until "
                           "the end of %(date)s.", label=req.label, ref=req.archive_ref, date=until))
    db.session.commit()
    return req


def last_day(req: QueryRequest) -> date | None:
    """The last day of the grant (Beijing): it ends when that day ends."""
    if req.expires_at is None:
        return None
    return local_date(req.expires_at) - timedelta(days=1)


def reject(actor: Actor, req: QueryRequest, reason: str) -> QueryRequest:
    begin_write(req)
    reason = (reason or "").strip()[:TEXT_LIMIT]
    _check_decider(actor, req, actions.QUERY_REJECT)
    if not reason:
        raise ValidationFailed(_l("Give the reason for the rejection; the requester sees it."),
                               field="reason")
    req.status = Q_REJECTED
    req.rejected_by_id, req.rejected_at, req.reject_reason = actor.user.id, utcnow(), reason
    record(actor, actions.QUERY_REJECT, archive=req.archive, detail=f"{req.label}: {reason}")
    _notify(req, lambda: _("Your query request %(label)s for %(ref)s was rejected: %(reason)s",
                           label=req.label, ref=req.archive_ref, reason=reason))
    db.session.commit()
    return req


def withdraw(actor: Actor, req: QueryRequest) -> QueryRequest:
    begin_write(req)
    if req.status not in Q_OPEN and actor.user.id == req.requester_id:
        raise _refuse_state(actor, req, actions.QUERY_WITHDRAW, _l(
            "This request was already decided (%(status)s); it can no longer be withdrawn.",
            status=req.status_label))
    if not may_withdraw(actor.user, req):
        raise deny(actor, _l("Only the requester can withdraw a request."), req.archive,
                   f"withdraw {req.label}")
    req.status = Q_WITHDRAWN
    req.withdrawn_at = utcnow()
    record(actor, actions.QUERY_WITHDRAW, archive=req.archive, detail=req.label)
    db.session.commit()
    return req


# --- reading -----------------------------------------------------------------------------------

def visible_query(user: User, *, status: str = "", mine: bool = False) -> sa.Select:
    q = sa.select(QueryRequest)
    if mine or user.role not in OVERSEERS:
        q = q.where(QueryRequest.requester_id == user.id)
    if status == "active":
        q = q.where(QueryRequest.status == Q_APPROVED, QueryRequest.expires_at > utcnow())
    elif status == "expired":
        q = q.where(QueryRequest.status == Q_APPROVED, QueryRequest.expires_at <= utcnow())
    elif status:
        q = q.where(QueryRequest.status == status)
    return q.order_by(QueryRequest.created_at.desc(), QueryRequest.id.desc())


def requests_for(user: User, *, status: str = "", mine: bool = False, limit: int = 200) -> list[QueryRequest]:
    return list(db.session.scalars(visible_query(user, status=status, mine=mine).limit(limit)))


def open_requests_of(user: User) -> list[QueryRequest]:
    """The user's own requests still waiting, and their live grants (for the inbox)."""
    return list(db.session.scalars(sa.select(QueryRequest).where(
        QueryRequest.requester_id == user.id,
        sa.or_(QueryRequest.status.in_(Q_OPEN),
               sa.and_(QueryRequest.status == Q_APPROVED, QueryRequest.expires_at > utcnow()))
    ).order_by(QueryRequest.created_at.desc())))


def step_deadline(req: QueryRequest) -> date | None:
    """When the current decision is due (1 working day per step)."""
    if req.status == Q_PENDING:
        return due_date(req.created_at, DECISION_DAYS)
    if req.status == Q_MANAGER and req.archivist_at is not None:
        return due_date(req.archivist_at, DECISION_DAYS)
    return None


@inbox.source
def waiting_for(user) -> list[inbox.InboxItem]:
    """Query requests waiting for ``user``'s decision (archivist, then management)."""
    if user.role not in (roles.ARCHIVIST, roles.MANAGER):
        return []
    status = Q_PENDING if user.role == roles.ARCHIVIST else Q_MANAGER
    rows = db.session.scalars(sa.select(QueryRequest).where(
        QueryRequest.status == status, QueryRequest.requester_id != user.id)
        .order_by(QueryRequest.created_at))
    items = []
    for req in rows:
        due = step_deadline(req)
        archive = req.archive
        name = f"{archive.number} {archive.name}" if archive is not None else req.archive_ref
        items.append(inbox.InboxItem(
            kind="query_request", kind_label=_("Query request"),
            title=f"{req.label} · {name}",
            url=query_url(req.id),
            action_label=_("Decide (archivist)") if status == Q_PENDING else _("Decide (management)"),
            requested_by=req.requester.display_name, requested_at=req.created_at,
            deadline=due, late=is_late(due)))
    return items
