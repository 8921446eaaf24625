"""The search page ``GET /search`` (issue 6): one query box, filters, sort, highlighted hits.

Plain GET form first; htmx on top swaps only ``#search-results`` (``_results.html``) and pushes the
short address, so a results page is always a shareable link. Nothing here decides who sees what:
``services.search`` filters the hits by what the database says the user may open and writes the
access-register entry (in a transaction of its own, ``record_now``; so the view needs no
``@writes``, which would hold SQLite's write lock for the whole search).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.archives import forms
from portal.archives import permissions as perm
from portal.archives.labels import STATUS_LABELS
from portal.auth import roles
from portal.search import schema, services
from portal.web import actor, htmx_target, page_or_fragment

bp = Blueprint("search", __name__)

RESULTS_TARGET = "search-results"
KIND_LABELS = {schema.KIND_ARCHIVE: _l("Customer archive"), schema.KIND_DOCUMENT: _l("Document")}
SORT_LABELS = (("relevance", _l("Relevance")), ("date", _l("Date, newest first")))


def labels() -> dict:
    """Labels the results need, translated once per request rather than once per hit."""
    return {
        "kind_labels": {k: str(v) for k, v in KIND_LABELS.items()},
        "status_labels": {k: str(v) for k, v in STATUS_LABELS.items()},
        "level_labels": {k: str(v) for k, v in roles.LEVEL_LABELS.items()},
        "stage_labels": {v: str(label) for v, label in forms.FIXED_CHOICES["stage"]},
    }


@bp.route("/search")
def index():
    """Results for ``q`` and the filters; without ``q`` only the form (no search, no register entry).

    A malformed query answers 422 with the parser's message where the results would be; an index
    being rebuilt answers 503 with the page and the message.
    """
    user = current_user._get_current_object()
    if perm.is_admin(user):
        # As the archive list: the administrator opens no archive, so there is nothing to search.
        flash(str(perm.view_refusal(user, None)), "info")
        return redirect(url_for("admin.index"), 303)
    req = services.SearchRequest.from_args(request.args)
    results = error = None
    status = 200
    if req.q:
        try:
            results = services.search(actor(), req)
        except services.QueryError as exc:
            error, status = str(exc.message), exc.status
        except services.SearchUnavailable as exc:
            error, status = str(exc.message), exc.status
    context = {"req": req, "results": results, "error": error, "unavailable": status == 503,
               "page_url": lambda n: url_for("search.index", **_short_args(req, page=n)),
               **labels()}
    fragment = htmx_target() == RESULTS_TARGET
    if not fragment:
        context.update(choices=services.filter_choices(user), sorts=SORT_LABELS)
    response = page_or_fragment("search/index.html", {RESULTS_TARGET: "search/_results.html"},
                                status=status, **context)
    if fragment:
        # The form sends every field, empty or not; the address bar gets the short form.
        response.headers["HX-Push-Url"] = url_for("search.index", **_short_args(req))
    return response


def _short_args(req: services.SearchRequest, page: int | None = None) -> dict[str, str]:
    """The query string of this search (of its page ``page``), without empty or default values."""
    args = req.args()
    if not args.get("q"):
        args.pop("q", None)
    if req.per_page != services.PER_PAGE:
        args["per_page"] = str(req.per_page)
    if page is not None:
        args.pop("page", None)
        if page > 1:
            args["page"] = str(page)
    return args
