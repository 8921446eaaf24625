"""JSON API ``/api/v1`` with bearer tokens (``Authorization: Bearer <token>``).

The endpoints call the same services as the pages, so permissions, masking 脱敏 and register
entries are identical; only the transport differs (``Actor.via == "api"``).
"""
from __future__ import annotations

import functools
from urllib.parse import quote

import sqlalchemy as sa
from flask import Blueprint, Response, g, jsonify, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from portal.actor import Actor
from portal.api import serialize
from portal.api.openapi import document
from portal.archives import permissions as perm
from portal.archives import services
from portal.archives.forms import build_form, cleaned, dynamic_choices, error_list
from portal.archives.models import IMPORTANCE_LEVELS, INDIVIDUAL, ORGANISATION, STAGES, STATUSES
from portal.archives.profile import fields_for
from portal.archives.subrecords import KINDS
from portal.auth import roles
from portal.auth import services as auth_services
from portal.auth.models import ApiToken
from portal.documents import filetypes
from portal.documents import services as documents
from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.register import actions, reading
from portal.register.services import record_now

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Endpoints answered without a token: the description of the API holds no data.
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
MAX_PER_PAGE = 100
KINDS_ALLOWED = (ORGANISATION, INDIVIDUAL)


def error(status: int, message, **extra):
    """The API's error shape (the same as ``portal.web.errors`` gives for domain errors)."""
    return jsonify(error=str(message), status=status, **extra), status


def _unauthorized(message, invalid: bool):
    response, status = error(401, message)
    challenge = 'Bearer realm="portal"'
    if invalid:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response, status


def api_actor() -> Actor:
    return g.api_actor


@bp.before_request
def _authenticate():
    """Find the token's user; a refused token is registered like a failed log-in."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized(_l("Send an API token: Authorization: Bearer <token>."), invalid=False)
    user = auth_services.user_for_token(token)
    client_addr = request.remote_addr or ""
    if user is None:
        # Name the token's owner when the token exists (expired or revoked) so the attempt is traceable.
        owner = db.session.scalar(sa.select(ApiToken).where(
            ApiToken.token_hash == auth_services._token_digest(token)))
        record_now(Actor(None, client_addr, "api"), actions.LOGIN_FAILED, result="failed",
                   username=owner.user.username if owner else "",
                   detail="api token " + ("expired, revoked or inactive user" if owner else "unknown"))
        return _unauthorized(_l("The API token is invalid, expired or revoked."), invalid=True)
    if db.session.dirty:
        db.session.commit()  # the token's last use, noted at most every few minutes
    g.api_actor = Actor(user, client_addr, via="api")
    return None


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _positive(raw: str | None, default: int | None, maximum: int | None, name: str,
              errors: dict) -> int | None:
    """A query parameter that must be a whole number from 1 (to ``maximum``); else an error."""
    raw = (raw or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1 or (maximum and int(raw) > maximum):
        errors[name] = (_("Expected a whole number from 1 to %(max)s.", max=maximum) if maximum
                        else _("Expected a positive whole number."))
        return default
    return int(raw)


# --- archives -----------------------------------------------------------------------------

def _archive_filter(args) -> tuple[services.ArchiveFilter, dict[str, str]]:
    """ArchiveFilter from query parameters; bad values are reported, not silently dropped."""
    errors: dict[str, str] = {}

    def number(name: str, default: int | None, maximum: int | None = None) -> int | None:
        return _positive(args.get(name), default, maximum, name, errors)

    def choice(name: str, allowed) -> str:
        raw = (args.get(name) or "").strip()
        if raw and raw not in allowed:
            errors[name] = _("Expected one of: %(values)s.", values=", ".join(allowed))
            return ""
        return raw

    f = services.ArchiveFilter(
        q=(args.get("q") or "").strip()[:100],
        customer_type_id=number("customer_type_id", None),
        stage=choice("stage", STAGES),
        region=(args.get("region") or "").strip()[:100],
        industry=(args.get("industry") or "").strip()[:100],
        importance=choice("importance", IMPORTANCE_LEVELS),
        department_id=number("department_id", None),
        responsible_id=number("responsible_id", None),
        status=choice("status", STATUSES),
        kind=choice("kind", KINDS_ALLOWED),
        sort=choice("sort", tuple(services.SORTS)) or "updated",
        page=number("page", 1),
        per_page=number("per_page", 20, MAX_PER_PAGE),
    )
    return f, errors


@bp.get("/archives")
def archives():
    """The archives the token's user may see (same scope as the list page), filtered and paged."""
    user = api_actor().user
    f, errors = _archive_filter(request.args)
    if errors:
        return error(400, _l("Some query parameters are invalid."), fields=errors)
    items, total = services.list_archives(user, f)
    return jsonify(items=[serialize.archive_summary(a, user) for a in items], total=total,
                   page=f.page, per_page=f.per_page)


def _formdata(body: dict, fields, user) -> MultiDict:
    """The JSON body as form data, so the page's WTForms rules validate it unchanged."""
    data = MultiDict()
    for f in fields:
        value = body.get(f.name)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            data.add(f.name, item if isinstance(item, str) else str(item))
    if "department_id" not in data and user.department_id is not None:
        data["department_id"] = str(user.department_id)  # the page pre-selects the own department
    return data


@bp.post("/archives")
def create_archive():
    """A new draft from a JSON object with the profile's fields (validated like the page's form)."""
    actor = api_actor()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, _l("Send a JSON object (Content-Type: application/json)."))
    if not perm.can_create(actor.user):
        raise services.deny(actor, _l("Only staff and department heads enter new archives."), what="create")
    kind = body.get("kind")
    if kind not in KINDS_ALLOWED:
        return error(422, _l("The archive could not be created; correct the fields listed."),
                     fields={"kind": [_("Expected one of: %(values)s.", values=", ".join(KINDS_ALLOWED))]})
    fields = fields_for(kind)
    form = build_form(fields, dynamic_choices(actor.user), formdata=_formdata(body, fields, actor.user),
                      meta={"csrf": False})
    valid = form.validate()
    field_errors = error_list(form)
    for name in sorted(set(body) - {f.name for f in fields} - {"kind"}):
        field_errors[name] = [_("Unknown field for an archive of this kind.")]
    if not valid or field_errors:
        return error(422, _l("The archive could not be created; correct the fields listed."),
                     fields=field_errors)
    data = cleaned(form, fields)
    data["kind"] = kind
    archive = services.create_draft(actor, data)
    response = jsonify(serialize.archive_profile(archive, actor.user, {}))
    response.status_code = 201
    response.headers["Location"] = url_for("api.archive", ident=str(archive.id))
    return response


@bp.get("/archives/<path:ident>")
def archive(ident: str):
    """One archive by id or archive number; the view is registered, a refusal too (403)."""
    actor = api_actor()
    found = services.open_archive(actor, ident, purpose=(request.args.get("purpose") or "")[:300])
    records = {kind.key: services.records_of(found, kind) for kind in KINDS}
    return jsonify(serialize.archive_profile(found, actor.user, records))


# --- register -----------------------------------------------------------------------------

@bp.get("/register")
def register():
    """Register entries, newest first, for the archivist and the quality supervisor only."""
    actor = api_actor()
    reading.require_reader(actor, "register")
    f, errors = reading.parse_filter(request.args)
    page_errors: dict[str, str] = {}
    page = _positive(request.args.get("page"), 1, None, "page", page_errors)
    per_page = _positive(request.args.get("per_page"), 50, MAX_PER_PAGE, "per_page", page_errors)
    errors = {**{k: str(v) for k, v in errors.items()}, **page_errors}
    if errors:
        return error(400, _l("Some query parameters are invalid."), fields=errors)
    result = reading.browse(actor, f, page=page, per_page=per_page)
    return jsonify(items=[serialize.entry_json(e) for e in result.entries], total=result.total,
                   page=result.page, per_page=result.per_page)


# --- documents 档案材料 -------------------------------------------------------------------------
# The same services as the document pages: permission checks, refusals and register entries are
# theirs (``Actor.via == "api"`` marks downloads "[api]" in the register).

UPLOAD_FIELDS = ("doc_type", "title", "doc_date", "sensitivity", "source", "notes")


def _document_error(exc: PortalError):
    """A domain error as JSON, naming the field at fault or the document already holding the file."""
    extra: dict = {}
    field = exc.detail.get("field")
    if field:
        extra["field"] = field
        extra["fields"] = {field: [str(exc.message)]}
    if isinstance(exc, documents.Duplicate) and exc.detail.get("document_id"):
        extra["existing_document_id"] = exc.detail["document_id"]
        extra["existing_document_url"] = url_for("api.document", doc_id=exc.detail["document_id"])
    return error(exc.status, exc.message, **extra)


def _document_errors(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except PortalError as exc:
            return _document_error(exc)
    return wrapper


def check_upload_fields(accepted: tuple[str, ...]) -> None:
    """A multipart upload carries its file as a file part ``file`` and only ``accepted`` fields."""
    if "file" in request.form:
        raise ValidationFailed(_l("Send the file as a file part named “file” (multipart/form-data "
                                  "with a filename), not as a text field."), field="file")
    unknown = sorted(set(request.form) - set(accepted))
    if unknown:
        raise ValidationFailed(_l("Unknown field “%(name)s”. Accepted fields: %(fields)s.",
                                  name=unknown[0], fields=", ".join(("file", *accepted))),
                               field=unknown[0])


def _upload_details() -> documents.Details:
    """The form fields of an upload as Details (format checked here, meaning by the service)."""
    check_upload_fields(UPLOAD_FIELDS)
    details = documents.Details.from_mapping(request.form)
    if details.sensitivity is not None and details.sensitivity not in roles.LEVELS:
        raise ValidationFailed(_l("Choose a sensitivity level: 1 (secret), 2 (internal) or 3 (public)."),
                               field="sensitivity")
    return details


def _created(document_):
    response = jsonify(serialize.document_detail(document_))
    response.status_code = 201
    response.headers["Location"] = url_for("api.document", doc_id=document_.id)
    return response


@bp.post("/archives/<int:archive_id>/documents")
@_document_errors
def upload_documents(archive_id: int):
    """Upload one file (``file``) — or several ``file`` parts, answered file by file."""
    actor = api_actor()
    # End the token check's transaction before the body is read: no database lock is held while a
    # large upload arrives (reading ``request.files`` parses the body; above MAX_CONTENT_LENGTH it
    # is refused with 413).
    db.session.commit()
    files = request.files.getlist("file")
    details = _upload_details()
    if not files:
        raise ValidationFailed(_l("Attach the file to store in the multipart field “file”."), field="file")
    if len(files) == 1:
        return _created(documents.upload(actor, archive_id, files[0].stream, files[0].filename, details))
    outcomes = documents.upload_many(actor, archive_id, [(f.stream, f.filename) for f in files], details)
    items = []
    for outcome in outcomes:
        item: dict = {"filename": outcome.filename, "status": outcome.status}
        if outcome.document is not None:
            item["document"] = serialize.document_summary(outcome.document)
        else:
            item["error"] = outcome.error
        if outcome.duplicate_of is not None:
            item["existing_document_id"] = outcome.duplicate_of.id
        items.append(item)
    created = sum(1 for o in outcomes if o.document is not None)
    # 201 when every file was stored; otherwise 207 and each file's own status in ``items``.
    status = 201 if created == len(outcomes) else 207
    return jsonify(items=items, created=created, failed=len(outcomes) - created), status


@bp.get("/archives/<int:archive_id>/documents")
@_document_errors
def archive_documents(archive_id: int):
    """The archive's documents the user may see; those above their clearance only as a count.
    Opening the list is an archive view (registered, a refusal too)."""
    actor = api_actor()
    archive_ = services.open_archive(actor, archive_id, purpose=(request.args.get("purpose") or "")[:300])
    items = documents.documents_of(actor.user, archive_)
    return jsonify(archive={"id": archive_.id, "number": archive_.number, "name": archive_.name,
                            "url": url_for("api.archive", ident=str(archive_.id))},
                   items=[serialize.document_summary(d) for d in items], total=len(items),
                   hidden_count=documents.hidden_count(actor.user, archive_))


@bp.get("/documents/<int:doc_id>", endpoint="document")
@_document_errors
def document_metadata(doc_id: int):
    """Metadata, versions (file facts, fixity, text status) and history; never the contents."""
    found = documents.require_document(api_actor(), doc_id, "open document")
    return jsonify(serialize.document_detail(found))


def _attachment(name: str, fallback: str) -> str:
    """Content-Disposition with an ASCII ``filename`` and the real name as RFC 5987 ``filename*``."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@bp.get("/documents/<int:doc_id>/content")
@_document_errors
def document_content(doc_id: int):
    """The file of one version (the current one by default), registered as a download; 一级 needs
    ``purpose``; confidential PDFs and images come watermarked with the user's name and the time."""
    actor = api_actor()
    errors: dict[str, str] = {}
    number = _positive(request.args.get("version"), None, None, "version", errors)
    if errors:
        return error(400, _l("Some query parameters are invalid."), fields=errors)
    content = documents.open_content(actor, doc_id, version=number, mode=documents.DOWNLOAD,
                                     purpose=request.args.get("purpose") or "")
    chunks, media_type, length = documents.deliverable(content)
    version = content.version
    suffix = f"-v{version.number}" if version.number != content.document.current_version else ""
    fallback = f"document-{content.document.id}{suffix}{filetypes.EXTENSIONS.get(media_type, '')}"
    response = Response(stream_with_context(chunks), mimetype=media_type)
    if length is not None:
        response.content_length = length
    response.headers["Content-Disposition"] = _attachment(content.download_name, fallback)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Document-Version"] = str(version.number)
    return response


# --- description --------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API (no token needed)."""
    return jsonify(document(request.url_root.rstrip("/")))


from portal.api import borrowings as _borrowings  # noqa: E402,F401  (loans of paper files, issue 5)
from portal.api import intake as _intake  # noqa: E402,F401  (scan intake, issue 4)
from portal.api import search as _search  # noqa: E402,F401  (GET /api/v1/search on ``bp``, issue 6)
from portal.api import workflow_requests as _workflow_requests  # noqa: E402,F401  (query/change requests, issue 5)
