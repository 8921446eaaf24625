"""``GET /api/v1/search``: the search page's results as JSON (issue 6), on the API blueprint.

Same service as the page (``portal.search.services.search``): the same permission-exact hits, the
same register entry (``search``, marked by ``Actor.via == "api"``). Unlike the page, which drops a
filter value it does not understand, the API answers 400 naming the parameter (as ``/archives``).
"""
from __future__ import annotations

from datetime import date

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.api.views import api_actor, bp, error
from portal.archives import permissions as perm
from portal.archives import services as archive_services
from portal.archives.models import STAGES
from portal.auth import roles
from portal.extensions import db
from portal.search import services
from portal.search.schema import KIND_ARCHIVE

INTEGER_PARAMS = ("customer_type", "department")


def _check_args(args) -> dict[str, str]:
    """Parameter name → message for every value ``SearchRequest.from_args`` would silently drop."""
    errors: dict[str, str] = {}

    def choice(name: str, allowed) -> None:
        raw = (args.get(name) or "").strip()
        if raw and raw not in allowed:
            errors[name] = _("Expected one of: %(values)s.", values=", ".join(allowed))

    choice("kind", services.KINDS)
    choice("sort", services.SORTS)
    choice("stage", STAGES)
    choice("sensitivity", [str(level) for level in roles.LEVELS])
    for name in INTEGER_PARAMS:
        raw = (args.get(name) or "").strip()
        if raw and (not raw.isdigit() or int(raw) < 1):
            errors[name] = _("Expected a positive whole number.")
    for name, maximum in (("page", services.MAX_PAGE), ("per_page", 100)):
        raw = (args.get(name) or "").strip()
        if raw and (not raw.isdigit() or not 1 <= int(raw) <= maximum):
            errors[name] = _("Expected a whole number from 1 to %(max)s.", max=maximum)
    for name in ("date_from", "date_to"):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                date.fromisoformat(raw)
            except ValueError:
                errors[name] = _("Enter the date as YYYY-MM-DD.")
    return errors


def highlights(parts: list[tuple[str, bool]]) -> list[list[int]]:
    """[start, end) offsets (in characters, i.e. Unicode code points) of the matched parts of the
    snippet that ``snippet_text`` joins from ``parts``."""
    out, at = [], 0
    for text, matched in parts:
        if matched:
            out.append([at, at + len(text)])
        at += len(text)
    return out


def hit_json(hit: services.Hit) -> dict:
    archive = hit.archive
    doc = hit.document
    if hit.kind == KIND_ARCHIVE:
        url = url_for("api.archive", ident=str(hit.id))
    else:
        url = url_for("api.document", doc_id=hit.id)
    return {
        "kind": hit.kind,
        "id": hit.id,
        "title": hit.title,
        "url": url,
        "web_url": hit.url,
        "archive": {"id": archive.id, "number": archive.number, "name": archive.name,
                    "url": url_for("api.archive", ident=str(archive.id))},
        "document": None if doc is None else {
            "id": doc.id, "title": doc.title, "doc_type": doc.doc_type,
            "doc_date": doc.doc_date.isoformat() if doc.doc_date else None},
        "snippet": hit.snippet_text,
        "highlights": highlights(hit.snippet),
        "day": hit.day.isoformat() if hit.day else None,
        "score": round(float(hit.score), 4),
    }


@bp.get("/search")
def search():
    """Archives and documents the token's user may open that match ``q``, filtered and paged."""
    actor = api_actor()
    if perm.is_admin(actor.user):
        # The administrator opens no archive (separation of duties): refused and registered.
        raise archive_services.deny(actor, perm.view_refusal(actor.user, None), None, "search")
    errors = _check_args(request.args)
    if errors:
        return error(400, _l("Some query parameters are invalid."), fields=errors)
    req = services.SearchRequest.from_args(request.args)
    if not req.q:
        return error(422, _l("Type something to search for."))  # nothing searched, nothing registered
    # End the token check's transaction (a write transaction on SQLite) before searching: the
    # search only reads; its register entry is written in a transaction of its own.
    db.session.commit()
    try:
        results = services.search(actor, req)
    except (services.QueryError, services.SearchUnavailable) as exc:
        return error(exc.status, exc.message)
    return jsonify(
        query=req.q, filters=req.filters(), sort=req.sort, page=req.page, per_page=req.per_page,
        total=results.total, total_exact=results.total_exact, pages=results.pages,
        hits=[hit_json(h) for h in results.hits],
    )
