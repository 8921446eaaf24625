"""API of scan intake (``/api/v1/intake``): for scanner software and other systems.

``POST /api/v1/intake`` (multipart ``file``, optional ``archive`` id or number, ``doc_type``,
``title``) answers at once (202) with the intake item; ``GET /api/v1/intake/<id>`` shows its state
and, once filed, its document id. The same services as the intake page: permission checks and
register entries are theirs. Registered on the API blueprint by the import at the bottom of
``portal/api/views.py``; described in ``openapi_paths()``.
"""
from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import lazy_gettext as _l

from portal.api.views import (
    MAX_PER_PAGE,
    _document_errors,
    _positive,
    api_actor,
    bp,
    check_upload_fields,
    error,
)
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.intake import services
from portal.intake.models import SOURCE_API, STATES

FIELDS = ("archive", "doc_type", "title")


def item_json(item) -> dict:
    out = services.state_of(item)
    out["url"] = url_for("api.intake_item", item_id=item.id)
    out["page_url"] = url_for("intake.item", item_id=item.id)
    if item.document_id:
        out["document_url"] = url_for("api.document", doc_id=item.document_id)
    return out


@bp.post("/intake")
@_document_errors
def intake_receive():
    """Take one file into intake; 202 with the item (processing follows in the background)."""
    actor = api_actor()
    db.session.commit()  # no database lock while the body arrives
    check_upload_fields(FIELDS)
    files = request.files.getlist("file")
    if len(files) != 1 or not files[0].filename:
        raise ValidationFailed(_l("Attach exactly one file in the multipart field “file”."), field="file")
    item = services.receive(actor, files[0].stream, files[0].filename, archive=request.form.get("archive") or None,
                            doc_type=request.form.get("doc_type", ""), title=request.form.get("title", ""),
                            source=SOURCE_API)
    response = jsonify(item_json(item))
    response.status_code = 202
    response.headers["Location"] = url_for("api.intake_item", item_id=item.id)
    return response


@bp.get("/intake/<int:item_id>")
@_document_errors
def intake_item(item_id: int):
    item = services.require_item(api_actor(), item_id, "api intake item")
    return jsonify(item_json(item))


@bp.get("/intake")
@_document_errors
def intake_list():
    """The caller's items (the archivist: everyone's), newest first; ``view`` = active | queue |
    done | all."""
    errors: dict[str, str] = {}
    view = request.args.get("view", "all")
    if view not in services.VIEWS:
        errors["view"] = ", ".join(services.VIEWS)
    page = _positive(request.args.get("page"), 1, None, "page", errors)
    per_page = _positive(request.args.get("per_page"), 20, MAX_PER_PAGE, "per_page", errors)
    if errors:
        return error(422, _l("Some query parameters are invalid."), fields=errors)
    items, total = services.list_items(api_actor().user, view, page=page, per_page=per_page)
    return jsonify(items=[item_json(item) for item in items], total=total, page=page, per_page=per_page)


def openapi_paths(errors: dict, error_response) -> dict:
    item = {"$ref": "#/components/schemas/IntakeItem"}
    ok = {"description": "The intake item.", "content": {"application/json": {"schema": item}}}
    return {
        "/intake": {
            "post": {
                "operationId": "intakeReceive",
                "summary": "Send a file (scan, batch with cover sheets, PDF, Office file) to intake",
                "description": "Answers at once (202) whatever the page count; reading, OCR, splitting "
                               "at cover sheets and filing follow in the background. Without `archive`"
                               " and with no cover sheet the item waits for the archivist. Registered "
                               "(intake_receive).",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"], "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "archive": {"type": "string", "description": "archive id or number"},
                        "doc_type": {"type": "string"}, "title": {"type": "string"}}}}}},
                "responses": {"202": ok, **errors,
                              "409": error_response("The same file is already in intake."),
                              "413": error_response("The file is larger than the intake limit."),
                              "422": error_response("Not an accepted file, empty, unknown archive or type.")},
            },
            "get": {
                "operationId": "intakeList",
                "summary": "Intake items of the caller (the archivist: all)",
                "parameters": [
                    {"name": "view", "in": "query", "schema": {"type": "string", "enum": list(services.VIEWS)}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}}],
                "responses": {"200": {"description": "One page and the total."}, **errors},
            },
        },
        "/intake/{item_id}": {
            "get": {
                "operationId": "intakeItem",
                "summary": "An intake item: its state, progress, reason and, once filed, its document",
                "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": ok, **errors},
            },
        },
    }


def openapi_schemas() -> dict:
    return {"IntakeItem": {"type": "object", "properties": {
        "id": {"type": "integer"},
        "state": {"type": "string", "enum": list(STATES)},
        "state_label": {"type": "string"},
        "filename": {"type": "string"}, "source": {"type": "string"}, "media_type": {"type": "string"},
        "size": {"type": "integer"}, "pages": {"type": ["integer", "null"]}, "pages_done": {"type": "integer"},
        "progress": {"type": "string", "description": "e.g. “OCR 第 3/12 页” while processing"},
        "archive": {"type": ["string", "null"]}, "doc_type": {"type": ["string", "null"]},
        "reason": {"type": "string", "description": "why it waits, was refused, failed or rejected"},
        "document_id": {"type": ["integer", "null"]}, "document_url": {"type": "string"},
        "parent_id": {"type": ["integer", "null"]}, "parts": {"type": "array", "items": {"type": "integer"}},
        "created_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string"}, "page_url": {"type": "string"}}}}
