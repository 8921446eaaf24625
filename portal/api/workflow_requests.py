"""API of query requests and change requests (``/api/v1/query-requests``, ``/api/v1/change-requests``).

The same services as the pages (``portal.workflows.query_requests`` / ``change_requests``): the
same permission checks, refusals on the register (403), state checks (409: a decided request
cannot be decided again), input checks (422 with ``fields``). Registered on the API blueprint by
the import at the bottom of ``portal/api/views.py``; described in ``workflow_requests_openapi.py``.
"""
from __future__ import annotations

import functools
from datetime import date

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from portal.api.serialize import plain, timestamp
from portal.api.views import api_actor, bp, error
from portal.archives import permissions as perm
from portal.archives.forms import build_form, cleaned, dynamic_choices, error_list
from portal.archives.masking import shown
from portal.archives.profile import ALL_FIELDS
from portal.archives.services import get_archive
from portal.errors import NotFound, PortalError, ValidationFailed
from portal.workflows import change_log
from portal.workflows import change_requests as changes
from portal.workflows import query_requests as queries
from portal.workflows.requests import C_STATUSES, Q_STATUSES


def _person(user) -> dict | None:
    return {"id": user.id, "username": user.username, "name": user.display_name} if user else None


def _step(user, at, note: str | None = None) -> dict | None:
    if user is None:
        return None
    out = {"by": _person(user), "at": timestamp(at)}
    if note is not None:
        out["note"] = note
    return out


def query_json(req, viewer) -> dict:
    """A query request as ``viewer`` may see it: the archive's name only if they may open it."""
    shows = queries.shows_archive(viewer, req)
    decider_view = viewer.role in queries.OVERSEERS
    last = queries.last_day(req)
    return {
        "id": req.id, "label": req.label, "status": req.status, "status_label": req.status_label,
        "archive_ref": req.archive_ref,
        "archive": ({"id": req.archive.id, "number": req.archive.number, "name": req.archive.name,
                     "sensitivity": req.archive.sensitivity,
                     "url": url_for("api.archive", ident=str(req.archive.id))} if shows else None),
        "requester": _person(req.requester), "created_at": timestamp(req.created_at),
        "purpose": req.purpose, "scope": req.scope, "scope_note": req.scope_note,
        "period_days": req.period_days, "until": plain(req.until),
        "needs_manager": req.needs_manager,
        "archivist": _step(req.archivist, req.archivist_at, req.archivist_note),
        "manager": _step(req.manager, req.manager_at, req.manager_note),
        "rejected": ({**_step(req.rejected_by, req.rejected_at), "reason": req.reject_reason}
                     if req.rejected_by else None),
        "withdrawn_at": timestamp(req.withdrawn_at),
        "granted_at": timestamp(req.granted_at), "expires_at": timestamp(req.expires_at),
        "last_day": last.isoformat() if last else None, "active": req.active,
        "documents": [d.id for d in req.documents] if (decider_view or req.active) else [],
        "deadline": plain(queries.step_deadline(req)),
        "url": url_for("api.query_request", request_id=req.id),
    }


def change_json(req, viewer) -> dict:
    """A change request; personal values masked as on the pages."""
    def value(name, text):
        return shown(viewer, text, name) if ALL_FIELDS[name].personal else text

    return {
        "id": req.id, "label": req.label, "status": req.status, "status_label": req.status_label,
        "archive": {"id": req.archive.id, "number": req.archive.number, "name": req.archive.name},
        "proposed_by": _person(req.proposed_by), "created_at": timestamp(req.created_at),
        "reason": req.reason, "evidence_document_id": req.evidence_document_id,
        "needs_service": req.needs_service,
        "items": [{"field": i.field, "label": str(ALL_FIELDS[i.field].label),
                   "old_value": value(i.field, i.old_value), "new_value": value(i.field, i.new_value)}
                  for i in req.items],
        "head": _step(req.head, req.head_at, req.head_note),
        "service": _step(req.service, req.service_at, req.service_note),
        "applied": _step(req.applied_by, req.applied_at),
        "rejected": ({**_step(req.rejected_by, req.rejected_at), "reason": req.reject_reason}
                     if req.rejected_by else None),
        "withdrawn_at": timestamp(req.withdrawn_at),
        "deadline": plain(changes.step_deadline(req)),
        "url": url_for("api.change_request", request_id=req.id),
    }


def _errors(view):
    """Domain errors as JSON, with ``fields`` for input errors."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except ValidationFailed as exc:
            fields = exc.detail.get("fields") or (
                {exc.detail["field"]: str(exc.message)} if exc.detail.get("field") else None)
            extra = {"fields": {k: [str(v)] for k, v in fields.items()}} if fields else {}
            return error(exc.status, exc.message, **extra)
        except PortalError as exc:
            return error(exc.status, exc.message)
    return wrapper


def _body() -> dict:
    body = request.get_json(silent=True)
    if body is None and not request.data:
        return {}
    if not isinstance(body, dict):
        raise ValidationFailed(_l("Send a JSON object (Content-Type: application/json)."))
    return body


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(_l("Expected text."), field=name)
    return value


def _created(payload: dict, location: str):
    response = jsonify(payload)
    response.status_code = 201
    response.headers["Location"] = location
    return response


# --- query requests --------------------------------------------------------------------------

@bp.get("/query-requests")
@_errors
def query_requests():
    """The user's own query requests (``mine=1``), or for the archivist, management and the
    supervisor all of them; ``status`` filters (also ``active`` / ``expired`` grants)."""
    user = api_actor().user
    status = (request.args.get("status") or "").strip()
    if status and status not in (*Q_STATUSES, "active", "expired"):
        return error(400, _l("Some query parameters are invalid."),
                     fields={"status": _("Expected one of: %(values)s.",
                                         values=", ".join((*Q_STATUSES, "active", "expired")))})
    if perm.is_admin(user):
        from portal.archives.services import deny
        raise deny(api_actor(), perm.view_refusal(user, None), None, "query requests")
    items = queries.requests_for(user, status=status, mine=request.args.get("mine") == "1")
    return jsonify(items=[query_json(r, user) for r in items], total=len(items))


@bp.post("/query-requests")
@_errors
def create_query_request():
    """Ask for access: ``archive`` (number, or id), ``purpose``, ``scope``, ``period_days`` or
    ``until``. Answered 201 whether or not the archive exists (the archivist answers)."""
    actor = api_actor()
    body = _body()
    errors: dict[str, list[str]] = {}
    for name in sorted(set(body) - {"archive", "purpose", "scope", "scope_note", "period_days",
                                     "until", "document"}):
        errors[name] = [_("Unknown field.")]
    ref = body.get("archive")
    archive_id, archive_ref = None, ""
    if isinstance(ref, int) and not isinstance(ref, bool):
        archive_id = ref
    elif isinstance(ref, str) and ref.strip().isdigit():
        archive_id = int(ref.strip())
    elif isinstance(ref, str):
        archive_ref = ref
    elif ref is not None:
        errors["archive"] = [_("Give the archive's number (text) or id (number).")]
    period_days = body.get("period_days")
    if period_days is not None and (not isinstance(period_days, int) or isinstance(period_days, bool)):
        errors["period_days"] = [_("Expected a whole number of working days.")]
        period_days = None
    until = None
    if body.get("until") is not None:
        try:
            until = date.fromisoformat(str(body["until"]))
        except ValueError:
            errors["until"] = [_("Enter the date as YYYY-MM-DD.")]
    document = body.get("document")
    if document is not None and (not isinstance(document, int) or isinstance(document, bool)):
        errors["document"] = [_("Expected a document id.")]
        document = None
    if errors:
        return error(422, _l("The request was not submitted; correct the marked fields."), fields=errors)
    req = queries.submit(actor, purpose=_text(body, "purpose"), scope=body.get("scope") or "",
                         period_days=period_days, until=until, archive_ref=archive_ref,
                         archive_id=archive_id, scope_note=_text(body, "scope_note"), document_id=document)
    return _created(query_json(req, actor.user), url_for("api.query_request", request_id=req.id))


@bp.get("/query-requests/<int:request_id>", endpoint="query_request")
@_errors
def get_query_request(request_id: int):
    actor = api_actor()
    return jsonify(query_json(queries.require_visible(actor, request_id), actor.user))


@bp.post("/query-requests/<int:request_id>/approve")
@_errors
def approve_query_request(request_id: int):
    """``note``; for a "listed" scope ``documents``: ids of documents above the requester's clearance."""
    actor = api_actor()
    body = _body()
    ids = body.get("documents") or []
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return error(422, _l("The request was not approved; correct the marked fields."),
                     fields={"documents": [_("Expected a list of document ids.")]})
    req = queries.require_visible(actor, request_id)
    queries.approve(actor, req, _text(body, "note"), ids)
    return jsonify(query_json(req, actor.user))


@bp.post("/query-requests/<int:request_id>/reject")
@_errors
def reject_query_request(request_id: int):
    actor = api_actor()
    body = _body()
    req = queries.require_visible(actor, request_id)
    queries.reject(actor, req, _text(body, "reason"))
    return jsonify(query_json(req, actor.user))


@bp.post("/query-requests/<int:request_id>/withdraw")
@_errors
def withdraw_query_request(request_id: int):
    actor = api_actor()
    req = queries.require_visible(actor, request_id)
    queries.withdraw(actor, req)
    return jsonify(query_json(req, actor.user))


# --- change requests -------------------------------------------------------------------------

@bp.get("/change-requests")
@_errors
def change_requests():
    """Change requests of the archives the user may open (``status``, ``archive`` filter)."""
    user = api_actor().user
    status = (request.args.get("status") or "").strip()
    if status and status not in C_STATUSES:
        return error(400, _l("Some query parameters are invalid."),
                     fields={"status": _("Expected one of: %(values)s.", values=", ".join(C_STATUSES))})
    if perm.is_admin(user):
        from portal.archives.services import deny
        raise deny(api_actor(), perm.view_refusal(user, None), None, "change requests")
    f = change_log.LogFilter(status=status, archive=(request.args.get("archive") or "").strip()[:80])
    rows, total = change_log.log(user, f, limit=500)
    return jsonify(items=[change_json(r, user) for r in rows], total=total)


@bp.post("/change-requests")
@_errors
def create_change_request():
    """Propose a change of a filed archive: ``archive`` (id or number), ``changes`` ({field: new
    value}, validated like the profile form), ``reason``, ``evidence_document_id`` (a document of
    the archive, e.g. uploaded first through ``POST /archives/{id}/documents``)."""
    actor = api_actor()
    body = _body()
    unknown = sorted(set(body) - {"archive", "changes", "reason", "evidence_document_id"})
    if unknown:
        return error(422, _l("The change request was not submitted; correct the marked fields."),
                     fields={name: [_("Unknown field.")] for name in unknown})
    ref = body.get("archive")
    if not isinstance(ref, (int, str)) or isinstance(ref, bool) or ref == "":
        return error(422, _l("The change request was not submitted; correct the marked fields."),
                     fields={"archive": [_("Give the archive's id or number.")]})
    try:
        archive = get_archive(ref)
    except NotFound:
        return error(404, _l("No such archive."))
    changes.refuse_propose(actor, archive)
    proposed = body.get("changes")
    if not isinstance(proposed, dict) or not proposed:
        return error(422, _l("The change request was not submitted; correct the marked fields."),
                     fields={"changes": [_("Give the fields to change and their new values.")]})
    allowed = {f.name: f for f in changes.fields_for(archive)}
    field_errors = {name: [_("This field cannot be changed by a change request.")]
                    for name in proposed if name not in allowed}
    fields = [f for name, f in allowed.items() if name in proposed]
    data = MultiDict()
    for f in fields:
        value = proposed[f.name]
        data.add(f.name, "" if value is None else str(value))
    form = build_form(fields, dynamic_choices(actor.user, archive.department_id,
                                              {"customer_type_id": archive.customer_type_id}),
                      formdata=data, meta={"csrf": False})
    if not form.validate():
        field_errors.update(error_list(form))
    if field_errors:
        return error(422, _l("The change request was not submitted; correct the marked fields."),
                     fields=field_errors)
    evidence = body.get("evidence_document_id")
    if evidence is not None and (not isinstance(evidence, int) or isinstance(evidence, bool)):
        evidence = None
    req = changes.propose(actor, archive, cleaned(form, fields), _text(body, "reason"), evidence)
    return _created(change_json(req, actor.user), url_for("api.change_request", request_id=req.id))


@bp.get("/change-requests/<int:request_id>", endpoint="change_request")
@_errors
def get_change_request(request_id: int):
    actor = api_actor()
    return jsonify(change_json(changes.require_visible(actor, request_id), actor.user))


def _change_action(request_id: int, action: str):
    actor = api_actor()
    body = _body()
    req = changes.require_visible(actor, request_id)
    if action == "approve":
        changes.approve(actor, req, _text(body, "note"))
    elif action == "reject":
        changes.reject(actor, req, _text(body, "reason"))
    elif action == "withdraw":
        changes.withdraw(actor, req)
    else:
        changes.apply(actor, req)
    return jsonify(change_json(req, actor.user))


@bp.post("/change-requests/<int:request_id>/approve")
@_errors
def approve_change_request(request_id: int):
    return _change_action(request_id, "approve")


@bp.post("/change-requests/<int:request_id>/reject")
@_errors
def reject_change_request(request_id: int):
    return _change_action(request_id, "reject")


@bp.post("/change-requests/<int:request_id>/withdraw")
@_errors
def withdraw_change_request(request_id: int):
    return _change_action(request_id, "withdraw")


@bp.post("/change-requests/<int:request_id>/apply")
@_errors
def apply_change_request(request_id: int):
    return _change_action(request_id, "apply")

