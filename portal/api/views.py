"""JSON API ``/api/v1`` with bearer tokens (``Authorization: Bearer <token>``).

The endpoints call the same services as the pages, so permissions, masking 脱敏 and register
entries are identical; only the transport differs (``Actor.via == "api"``).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, g, jsonify, request, url_for
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
from portal.auth import services as auth_services
from portal.auth.models import ApiToken
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


# --- description --------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API (no token needed)."""
    return jsonify(document(request.url_root.rstrip("/")))
