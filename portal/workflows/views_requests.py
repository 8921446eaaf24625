"""Pages of query requests 查询申请 and change requests 变更申请 under ``/requests``.

One blueprint ``requests``: the query pages and the workflow settings live here, the change pages
in ``views_changes`` (same blueprint). Views only speak HTTP: the services in
``query_requests`` / ``change_requests`` check permission (403, registered), state (409,
registered) and input (422: the form is shown again with everything kept).
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, g, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.admin.models import Setting
from portal.archives import permissions as perm
from portal.archives.profile import ALL_FIELDS
from portal.archives.services import deny
from portal.dbsetup import begin_write
from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.register import actions
from portal.register.services import record
from portal.web import actor, htmx_target, page_or_fragment, see_other
from portal.web.errors import render_error
from portal.workflows import query_requests as queries
from portal.workflows.requests import (
    IMPORTANT_FIELDS,
    NOT_CHANGEABLE,
    Q_STATUS_LABELS,
    QUERY_MAX_DAYS,
    SCOPE_LABELS,
    SCOPE_LISTED,
    SETTING_DEFAULTS,
    important_fields,
    query_max_days,
    setting,
    today,
)

bp = Blueprint("requests", __name__, url_prefix="/requests")


def current():
    return current_user._get_current_object()


def field_errors(exc: ValidationFailed) -> dict[str, str]:
    """A service's input errors by form field (``fields``), or its one field."""
    fields = exc.detail.get("fields")
    if fields:
        return {k: str(v) for k, v in fields.items()}
    return {exc.detail.get("field") or "_form": str(exc.message)}


@bp.errorhandler(PortalError)
def _portal_error(exc: PortalError):
    """Errors as pages; an htmx form (reject reason) shows them in its slot."""
    body, status = render_error(exc.status, str(exc.message))
    response = make_response(body, status)
    if htmx_target():
        response.headers["HX-Retarget"] = g.get("error_target", "#messages")
        response.headers["HX-Reswap"] = "innerHTML"
    return response


@bp.app_context_processor
def _request_helpers():
    return {"scope_labels": SCOPE_LABELS, "field_label": field_label, "today_date": today}


def field_label(name: str) -> str:
    f = ALL_FIELDS.get(name)
    return str(f.label) if f else name


def _refuse_admin(what: str) -> None:
    if perm.is_admin(current()):
        raise deny(actor(), perm.view_refusal(current(), None), None, what)


# --- query requests: list, new ---------------------------------------------------------------

@bp.route("/query/")
def query_index():
    """My query requests (and live grants); the archivist, management and the supervisor see all."""
    _refuse_admin("query requests")
    user = current()
    overseer = user.role in queries.OVERSEERS
    mine = request.args.get("mine") == "1" or not overseer
    status = request.args.get("status", "")
    if status not in (*Q_STATUS_LABELS, "active", "expired"):
        status = ""
    return render_template("requests/query_index.html", items=queries.requests_for(user, status=status, mine=mine),
                           overseer=overseer, mine=mine, status=status, statuses=Q_STATUS_LABELS,
                           waiting=queries.waiting_for(user), can_request=queries.can_request(user),
                           show_archive=lambda req: queries.shows_archive(user, req),
                           last_day=queries.last_day)


def _query_form_context(values: dict, errors: dict) -> dict:
    """The form's values; an archive pre-selected by a refusal page is shown by the id its link
    named, never by its number or name."""
    return {"values": values, "errors": errors, "max_days": query_max_days(), "scopes": SCOPE_LABELS}


def _int(value) -> int | None:
    value = (value or "").strip() if isinstance(value, str) else value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _date(value: str, errors: dict, name: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = _("Enter the date as YYYY-MM-DD.")
        return None


@bp.route("/query/new", methods=["GET", "POST"])
def query_new():
    """Ask for access to an archive (by its exact number, or the one a refusal page named)."""
    user = current()
    if not queries.can_request(user):
        raise deny(actor(), perm.view_refusal(user, None) if perm.is_admin(user) else
                   _l("You cannot ask for query access."), None, "query request")
    source = request.form if request.method == "POST" else request.args
    values = {
        "archive_id": _int(source.get("archive")) if request.method == "GET" else _int(source.get("archive_id")),
        "document_id": _int(source.get("document")) if request.method == "GET" else _int(source.get("document_id")),
        "archive_ref": (source.get("archive_ref") or "").strip()[:80],
        "purpose": source.get("purpose", ""), "scope": source.get("scope", SCOPE_LISTED),
        "scope_note": source.get("scope_note", ""), "duration": source.get("duration", "days"),
        "period_days": source.get("period_days", "5"), "until": source.get("until", ""),
    }
    if values["document_id"] and request.method == "GET":
        values["scope_note"] = values["scope_note"] or _("The document #%(id)s I was refused.",
                                                         id=values["document_id"])
    if request.method == "GET":
        return render_template("requests/query_new.html", **_query_form_context(values, {}))
    errors: dict[str, str] = {}
    period_days = until = None
    if values["duration"] == "until":
        until = _date(values["until"], errors, "until")
        if until is None and "until" not in errors:
            errors["until"] = _("Enter the last day of access.")
    else:
        period_days = _int(values["period_days"])
        if period_days is None:
            errors["period_days"] = _("Enter a whole number of working days.")
    if errors:
        return render_template("requests/query_new.html", **_query_form_context(values, errors)), 422
    try:
        req = queries.submit(actor(), purpose=values["purpose"], scope=values["scope"],
                             period_days=period_days, until=until, archive_ref=values["archive_ref"],
                             archive_id=values["archive_id"], scope_note=values["scope_note"],
                             document_id=values["document_id"])
    except ValidationFailed as exc:
        return render_template("requests/query_new.html",
                               **_query_form_context(values, field_errors(exc))), 422
    flash(_("Your query request %(label)s is submitted. The archivist decides within %(days)s working "
            "day; you will be notified.", label=req.label, days=queries.DECISION_DAYS), "success")
    return see_other("requests.query_detail", request_id=req.id)


# --- query requests: one request and its decisions --------------------------------------------

def _query_page(req, status: int = 200, **extra):
    user = current()
    context = {
        "req": req, "show_archive": queries.shows_archive(user, req),
        "may_decide": queries.may_decide(user, req), "may_withdraw": queries.may_withdraw(user, req),
        "deadline": queries.step_deadline(req), "last_day": queries.last_day(req),
        "grantable": queries.grantable_documents(req) if queries.may_decide(user, req) and
        req.status == "pending" and req.scope == SCOPE_LISTED else [],
        "reason": "", "error": None, "approve_error": None,
    }
    context.update(extra)
    return page_or_fragment("requests/query_detail.html", {"query-reject-slot": "requests/_query_reject.html"},
                            status=status, **context)


@bp.route("/query/<int:request_id>")
def query_detail(request_id: int):
    return _query_page(queries.require_visible(actor(), request_id))


@bp.route("/query/<int:request_id>/approve", methods=["POST"])
def query_approve(request_id: int):
    req = queries.require_visible(actor(), request_id)
    ids = [int(v) for v in request.form.getlist("documents") if v.isdigit()]
    try:
        queries.approve(actor(), req, request.form.get("note", ""), ids)
    except ValidationFailed as exc:
        db.session.rollback()
        return _query_page(queries.get(request_id), 422, approve_error=exc.message)
    if req.status == "manager":
        flash(_("Approved. Management decides next (一级 material)."), "success")
    else:
        flash(_("Approved: %(name)s may view the archive until the end of %(date)s.",
                name=req.requester.display_name, date=queries.last_day(req).isoformat()), "success")
    return see_other("requests.query_detail", request_id=request_id)


@bp.route("/query/<int:request_id>/reject", methods=["GET", "POST"])
def query_reject(request_id: int):
    """The reason form (inline with htmx, a page of its own without), then the rejection."""
    g.error_target = "#query-reject-slot"
    req = queries.require_visible(actor(), request_id)
    if request.method == "GET":
        if not queries.may_decide(current(), req):
            raise deny(actor(), _l("Only the archivist (and for 一级 material management) decides query "
                                   "requests, never their own."), req.archive, f"reject {req.label}")
        return page_or_fragment("requests/query_reject.html", {"query-reject-slot": "requests/_query_reject.html"},
                                req=req, reason="", error=None)
    reason = request.form.get("reason", "")
    try:
        queries.reject(actor(), req, reason)
    except ValidationFailed as exc:
        db.session.rollback()
        return page_or_fragment("requests/query_reject.html", {"query-reject-slot": "requests/_query_reject.html"},
                                status=422, req=queries.get(request_id), reason=reason, error=exc.message)
    flash(_("The request is rejected; the requester is told why."), "success")
    return see_other("requests.query_detail", request_id=request_id)


@bp.route("/query/<int:request_id>/withdraw", methods=["POST"])
def query_withdraw(request_id: int):
    req = queries.require_visible(actor(), request_id)
    queries.withdraw(actor(), req)
    flash(_("Your request is withdrawn."), "success")
    return see_other("requests.query_detail", request_id=request_id)


# --- settings (the system administrator) ---------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Longest query authorisation and the important fields of change requests (administrator)."""
    user = current()
    if not perm.is_admin(user):
        raise deny(actor(), _l("Only the system administrator changes these settings."), None,
                   "workflow settings")
    fields = [f for f in ALL_FIELDS.values() if f.name not in NOT_CHANGEABLE]
    errors: dict[str, str] = {}
    if request.method == "GET":
        return render_template("requests/settings.html", fields=fields, important=important_fields(),
                               max_days=setting(QUERY_MAX_DAYS), errors=errors, defaults=SETTING_DEFAULTS)
    max_days = request.form.get("max_days", "").strip()
    chosen = [name for name in request.form.getlist("important") if name in {f.name for f in fields}]
    if not max_days.isdigit() or not 1 <= int(max_days) <= 60:
        errors["max_days"] = _("Enter a whole number of working days from 1 to 60.")
    if errors:
        return render_template("requests/settings.html", fields=fields, important=set(chosen),
                               max_days=max_days, errors=errors, defaults=SETTING_DEFAULTS), 422
    begin_write()
    changed = []
    for key, value in ((QUERY_MAX_DAYS, str(int(max_days))), (IMPORTANT_FIELDS, ",".join(chosen))):
        old = setting(key)
        if old == value:
            continue
        row = db.session.get(Setting, key)
        if row is None:
            db.session.add(Setting(key=key, value=value))
        else:
            row.value = value
        changed.append(f"{key}: {old} → {value}")
    if changed:
        record(actor(), actions.SETTING_CHANGE, detail="; ".join(changed))
        db.session.commit()
        flash(_("Settings saved."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return see_other("requests.settings")


from portal.workflows import views_changes  # noqa: E402,F401  (change request routes on bp)
