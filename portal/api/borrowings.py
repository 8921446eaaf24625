"""API of loans of paper files 借阅 (``/api/v1/borrowings``).

The same services as the pages (``portal.workflows.borrowing``): the same permission checks and
refusals on the register (403), state checks (409: a decided loan cannot be decided again, a file
that is out cannot be lent), input checks (422 with ``fields``). Registered on the API blueprint by
the import at the bottom of ``portal/api/views.py``; described in ``openapi_paths()``.
"""
from __future__ import annotations

import functools

from flask import jsonify, request, url_for
from flask_babel import lazy_gettext as _l

from portal import workcal
from portal.api.serialize import plain, timestamp
from portal.api.views import MAX_PER_PAGE, _positive, api_actor, bp, error
from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.workflows import borrowing as svc
from portal.workflows import borrowing_ledger
from portal.workflows.borrowing_models import CONDITIONS, STATUS_LABELS, STATUSES, Loan

ACTIONS = ("approve", "reject", "withdraw", "lend", "extend", "return")


def _person(user) -> dict | None:
    return {"id": user.id, "username": user.username, "name": user.display_name} if user else None


def _step(user, at, note: str = "") -> dict | None:
    return {"by": _person(user), "at": timestamp(at), "note": note} if user is not None else None


def loan_json(loan: Loan) -> dict:
    today = workcal.today()
    return {
        "id": loan.id, "status": loan.status,
        "status_label": str(STATUS_LABELS[loan.shown_status(today)]),
        "overdue": loan.is_overdue(today),
        "borrower": _person(loan.borrower),
        "department": {"id": loan.department.id, "name": loan.department.name} if loan.department else None,
        "archives": [{"id": a.id, "number": a.number, "name": a.name,
                      "url": url_for("api.archive", ident=str(a.id))} for a in loan.archives],
        "purpose": loan.purpose, "period_days": loan.period_days, "pickup_date": plain(loan.pickup_date),
        "created_at": timestamp(loan.created_at), "first_step": loan.first_step,
        "head": _step(loan.head_by, loan.head_at, loan.head_note),
        "archivist": _step(loan.archivist_by, loan.archivist_at, loan.archivist_note),
        "reject_reason": loan.reject_reason or None,
        "withdrawn_at": timestamp(loan.withdrawn_at),
        "lent": ({"by": _person(loan.lent_by), "at": timestamp(loan.lent_at), "note": loan.handover_note}
                 if loan.lent_at else None),
        "lend_date": plain(loan.lend_date), "due_date": plain(loan.due_date),
        "original_due_date": plain(loan.original_due_date),
        "extension": ({"status": loan.extension_status, "days": loan.extension_days,
                       "reason": loan.extension_reason,
                       "requested_at": timestamp(loan.extension_requested_at),
                       "decided": _step(loan.extension_by, loan.extension_decided_at, loan.extension_note)}
                      if loan.extension_status else None),
        "returned": ({"by": _person(loan.returned_by), "at": timestamp(loan.returned_at),
                      "condition": loan.return_condition, "note": loan.return_note}
                     if loan.returned_at else None),
        "url": url_for("api.borrowing", loan_id=loan.id),
        "web_url": url_for("borrowing.show", loan_id=loan.id),
    }


def _errors(view):
    """Domain errors as JSON; a 422 names its field in ``fields``."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except PortalError as exc:
            db.session.rollback()
            extra: dict = {}
            field = exc.detail.get("field")
            if field:
                extra["fields"] = {field: [str(exc.message)]}
            if exc.detail.get("holder_loan"):
                extra["holder_loan"] = exc.detail["holder_loan"]
            return error(exc.status, exc.message, **extra)
    return wrapper


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed(_l("Send a JSON object (Content-Type: application/json)."))
    return body


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise ValidationFailed(_l("Expected text."), field=name)
    return str(value)


@bp.get("/borrowings")
@_errors
def borrowings():
    """Loans the token's user may see: their own; their department's (heads); all (archivist,
    supervisor, management). Filters as on the borrowing register."""
    actor = api_actor()
    f = borrowing_ledger.parse_filter(request.args)
    errors = {k: str(v) for k, v in f.errors.items()}
    page = _positive(request.args.get("page"), 1, None, "page", errors)
    per_page = _positive(request.args.get("per_page"), 20, MAX_PER_PAGE, "per_page", errors)
    if errors:
        return error(400, _l("Some query parameters are invalid."), fields=errors)
    q = borrowing_ledger.query(actor.user, f)
    from sqlalchemy import func, select
    total = db.session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    loans = list(db.session.scalars(q.offset((page - 1) * per_page).limit(per_page)))
    return jsonify(items=[loan_json(loan) for loan in loans], total=total, page=page, per_page=per_page)


@bp.post("/borrowings")
@_errors
def create_borrowing():
    """A new application from ``archive`` (id or number) or ``archives`` (a list), ``purpose``,
    ``period_days`` and optionally ``start_date`` (the pick-up date, ISO; default today)."""
    actor = api_actor()
    body = _body()
    unknown = sorted(set(body) - {"archive", "archives", "purpose", "period_days", "start_date",
                                  "pickup_date"})
    if unknown:
        raise ValidationFailed(_l("Unknown field “%(name)s”.", name=unknown[0]), field=unknown[0])
    idents = body.get("archives")
    if idents is None:
        idents = [body["archive"]] if body.get("archive") not in (None, "") else []
    if not isinstance(idents, list) or not all(isinstance(i, str | int) for i in idents):
        raise ValidationFailed(_l("Expected a list of archive ids or numbers."), field="archives")
    loan = svc.apply(actor, svc.Application(
        archive_ids=[str(i) for i in idents], purpose=_text(body, "purpose"),
        period_days=body.get("period_days"),
        pickup_date=body.get("start_date") or body.get("pickup_date") or None))
    response = jsonify(loan_json(loan))
    response.status_code = 201
    response.headers["Location"] = url_for("api.borrowing", loan_id=loan.id)
    return response


@bp.get("/borrowings/<int:loan_id>", endpoint="borrowing")
@_errors
def borrowing_detail(loan_id: int):
    return jsonify(loan_json(svc.require_loan(api_actor(), loan_id)))


@bp.post("/borrowings/<int:loan_id>/<action>")
@_errors
def borrowing_action(loan_id: int, action: str):
    """``approve`` (note), ``reject`` (reason), ``withdraw``, ``lend`` (note), ``extend`` (days,
    reason), ``return`` (condition, note)."""
    if action not in ACTIONS:
        raise NotFound(_l("Unknown action. Accepted: %(actions)s.", actions=", ".join(ACTIONS)))
    actor = api_actor()
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise ValidationFailed(_l("Send a JSON object (Content-Type: application/json)."))
    loan = svc.get_loan(loan_id)
    if action == "approve":
        svc.approve(actor, loan, _text(body, "note"))
    elif action == "reject":
        svc.reject(actor, loan, _text(body, "reason"))
    elif action == "withdraw":
        svc.withdraw(actor, loan)
    elif action == "lend":
        svc.lend(actor, loan, _text(body, "note"))
    elif action == "extend":
        svc.request_extension(actor, loan, body.get("days"), _text(body, "reason"))
    else:
        svc.check_in(actor, loan, _text(body, "condition"), _text(body, "note"))
    return jsonify(loan_json(svc.get_loan(loan_id)))


# --- OpenAPI ----------------------------------------------------------------------------------

def openapi_schemas() -> dict:
    person = {"$ref": "#/components/schemas/Person"}
    step = {"type": ["object", "null"], "properties": {
        "by": person, "at": {"type": "string", "format": "date-time"}, "note": {"type": "string"}}}
    date_ = {"type": ["string", "null"], "format": "date"}
    return {
        "Loan": {"type": "object", "required": ["id", "status"], "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": list(STATUSES),
                       "description": "pending_head → pending_archivist → approved → lent → returned; "
                                      "or rejected / withdrawn."},
            "status_label": {"type": "string"},
            "overdue": {"type": "boolean", "description": "Lent and past the due date."},
            "borrower": person,
            "department": {"type": ["object", "null"], "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}}},
            "archives": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "number": {"type": ["string", "null"]},
                "name": {"type": "string"}, "url": {"type": "string"}}}},
            "purpose": {"type": "string"},
            "period_days": {"type": "integer", "description": "Working days asked for."},
            "pickup_date": date_,
            "created_at": {"type": "string", "format": "date-time"},
            "first_step": {"type": "string", "enum": ["head", "management", "none"],
                           "description": "Who decides before the archivist."},
            "head": step, "archivist": step,
            "reject_reason": {"type": ["string", "null"]},
            "withdrawn_at": {"type": ["string", "null"], "format": "date-time"},
            "lent": step,
            "lend_date": date_,
            "due_date": {**date_, "description": "Once lent: counted in working days (Chinese "
                                                 "statutory calendar) from the lend date."},
            "original_due_date": {**date_, "description": "Before an approved extension."},
            "extension": {"type": ["object", "null"], "properties": {
                "status": {"type": "string", "enum": ["requested", "approved", "rejected"]},
                "days": {"type": "integer"}, "reason": {"type": "string"},
                "requested_at": {"type": "string", "format": "date-time"}, "decided": step}},
            "returned": {"type": ["object", "null"], "properties": {
                "by": person, "at": {"type": "string", "format": "date-time"},
                "condition": {"type": "string", "enum": list(CONDITIONS)}, "note": {"type": "string"}}},
            "url": {"type": "string"}, "web_url": {"type": "string"}}},
        "LoanList": {"type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Loan"}},
            "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}},
        "LoanInput": {"type": "object", "required": ["purpose", "period_days"], "properties": {
            "archive": {"type": ["integer", "string"], "description": "Archive id or number."},
            "archives": {"type": "array", "items": {"type": ["integer", "string"]},
                         "description": "Several archives (instead of `archive`)."},
            "purpose": {"type": "string", "maxLength": 1000},
            "period_days": {"type": "integer", "minimum": 1,
                            "description": "Working days; at most the configured maximum (7)."},
            "start_date": {"type": "string", "format": "date",
                           "description": "Pick-up date (a working day, not in the past); default today."}},
            "additionalProperties": False},
    }


def openapi_paths(errors: dict, error_response) -> dict:
    ref = {"$ref": "#/components/schemas/Loan"}
    ok = {"description": "The loan.", "content": {"application/json": {"schema": ref}}}
    loan_id = {"name": "loan_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    invalid = error_response("Invalid input (see `fields`).", "ValidationError")
    return {
        "/borrowings": {
            "get": {
                "operationId": "listBorrowings",
                "summary": "Loans of paper files the user may see",
                "description": "Own loans; a department head also their department's; the archivist, "
                               "the quality supervisor and management all. Filters as on the "
                               "borrowing register.",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s} for n, s in (
                        ("from", {"type": "string", "format": "date"}),
                        ("to", {"type": "string", "format": "date"}),
                        ("department", {"type": "integer"}), ("borrower", {"type": "string"}),
                        ("archive", {"type": "string"}),
                        ("status", {"type": "string", "enum": list(borrowing_ledger.FILTER_STATUSES)}),
                        ("page", {"type": "integer", "minimum": 1}),
                        ("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}))],
                "responses": {"200": {"description": "One page and the total.", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/LoanList"}}}},
                    **errors},
            },
            "post": {
                "operationId": "createBorrowing",
                "summary": "Apply to borrow paper files",
                "description": "Only archives the user may open, only filed ones; registered "
                               "(borrow_apply, one entry per archive).",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/LoanInput"}}}},
                "responses": {"201": {**ok, "headers": {"Location": {"schema": {"type": "string"}}}},
                              **errors, "422": invalid},
            },
        },
        "/borrowings/{loan_id}": {"get": {
            "operationId": "getBorrowing", "summary": "One loan",
            "parameters": [loan_id],
            "responses": {"200": ok, **errors, "404": error_response("No such loan.")}}},
        "/borrowings/{loan_id}/{action}": {"post": {
            "operationId": "actOnBorrowing",
            "summary": "approve, reject, withdraw, lend, extend or return",
            "description": "`approve` {note} / `reject` {reason}: the department head (management "
                           "for a head's loan), then the archivist; on a lent loan with a requested "
                           "extension the archivist decides the extension. `withdraw`: the borrower "
                           "while undecided. `lend` {note}: the archivist (409 while a file is out, "
                           "`holder_loan`). `extend` {days, reason}: the borrower, once, at most 3 "
                           "working days, at least 1 working day before the due date. `return` "
                           "{condition: complete|damaged|missing_pages, note}: the archivist.",
            "parameters": [loan_id, {"name": "action", "in": "path", "required": True,
                                     "schema": {"type": "string", "enum": list(ACTIONS)}}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "note": {"type": "string"}, "reason": {"type": "string"},
                    "days": {"type": "integer", "minimum": 1},
                    "condition": {"type": "string", "enum": list(CONDITIONS)}}}}}},
            "responses": {"200": ok, **errors, "404": error_response("No such loan or action."),
                          "409": error_response("Already decided, not this step now, or the file is out."),
                          "422": invalid}}},
    }
