"""The inbox 待办 (``/inbox``): everything waiting for the user's action, from every workflow
(``portal.workflows.inbox`` sources), with deadlines and what is late; and the user's own open
requests. The header shows the count (``templates/_header_inbox.html``), refreshed by htmx
polling ``/inbox/count`` every 60 seconds.

Also here: the "ask for access" offer on the refusal page of an archive or document
(``templates/requests/_refusal_offer.html``, included by ``errors/error.html``).
"""
from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import Blueprint, current_app, g, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from portal.archives import permissions as perm
from portal.archives.models import FILED, Archive
from portal.auth import roles
from portal.documents.models import Document
from portal.extensions import db
from portal.workflows import change_requests, inbox, query_requests

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
log = logging.getLogger(__name__)


def _user():
    return current_user._get_current_object()


def header_counts(user) -> dict:
    """The header's numbers: items waiting (and how many late), unread notifications."""
    empty = {"count": 0, "late": 0, "unread": 0, "notifications_url": None}
    if user is None or not user.is_authenticated:
        return empty
    try:
        items = inbox.items_for(user)
    except SQLAlchemyError:
        # The header is on every page, error pages too: a failed transaction (or a database that
        # is down) must not turn the error page itself into a crash.
        log.exception("inbox count unavailable")
        db.session.rollback()
        return empty
    unread, notes_url = 0, None
    try:
        from portal import notifications

        unread = notifications.unread_count(user)
        if "notifications.index" in current_app.view_functions:
            notes_url = url_for("notifications.index")
    except ImportError:  # pragma: no cover (notifications arrive with the borrowing work)
        pass
    return {"count": len(items), "late": sum(1 for i in items if i.late), "unread": unread,
            "notifications_url": notes_url}


def inbox_header() -> dict:
    """The header's numbers for the current user, computed once per request."""
    if "inbox_header" not in g:
        g.inbox_header = {**header_counts(_user() if current_user.is_authenticated else None),
                          "seen": _seen_stamp()}
    return g.inbox_header


@bp.app_context_processor
def _globals():
    return {"inbox_header": inbox_header, "refusal_offer": refusal_offer}


def _seen_stamp() -> str:
    """The moment of the user's last real request, carried by the polling header (see ``count``)."""
    seen = session.get("_seen")
    return f"{seen:.0f}" if isinstance(seen, (int, float)) else ""


def _own_loans(user) -> list:
    """The user's own loans still open (borrowing, when that workflow is installed)."""
    try:
        from portal.workflows import borrowing
        from portal.workflows.borrowing_models import OPEN_STATUSES, Loan
    except ImportError:  # pragma: no cover
        return []
    loans = db.session.scalars(sa.select(Loan).where(Loan.borrower_id == user.id,
                                                     Loan.status.in_(OPEN_STATUSES))
                               .order_by(Loan.created_at.desc()))
    return [{"loan": loan, "url": borrowing.loan_url(loan), "status": borrowing.status_label(loan)}
            for loan in loans]


@bp.route("/")
def index():
    """What waits for me, then what I am waiting for."""
    user = _user()
    items = inbox.items_for(user)
    return render_template(
        "inbox/index.html", items=items, late=sum(1 for i in items if i.late),
        my_queries=query_requests.open_requests_of(user),
        my_changes=change_requests.open_requests_of(user), my_loans=_own_loans(user),
        query_deadline=query_requests.step_deadline, change_deadline=change_requests.step_deadline,
        last_day=query_requests.last_day, can_request=query_requests.can_request(user))


@bp.route("/count")
def count():
    """The header fragment, polled every 60 s. Polling must not count as activity: the inactivity
    timeout (``portal.__init__``) would never end a session left open in a browser. The fragment
    carries the time of the last real request and puts it back (never later than now)."""
    seen = request.args.get("seen", "")
    if seen.isdigit():
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        now = time.time()
        session["_seen"] = min(now, max(float(seen), now - lifetime))
    current_url = request.headers.get("HX-Current-URL", "")
    return render_template("inbox/_count.html", on_notifications="/notifications" in current_url)


# --- the refusal page's offer ------------------------------------------------------------------

def refusal_offer(status: int) -> dict | None:
    """On a 403 page for an archive (or document) the user may not view: a link to ask for access.

    Only when the refusal is about viewing (not about editing what they can see), only for filed
    archives, and never to the system administrator. The link names the archive by id; the query
    form shows its number only (the refusal page has already said it exists and its level).
    """
    user = current_user
    if status != 403 or not user.is_authenticated or user.role == roles.ADMIN:
        return None
    try:
        return _offer(user)
    except SQLAlchemyError:
        log.exception("query request offer unavailable")
        db.session.rollback()
        return None


def _offer(user) -> dict | None:
    args = request.view_args or {}
    archive = doc = None
    if isinstance(args.get("doc_id"), int):
        doc = db.session.get(Document, args["doc_id"])
        archive = doc.archive if doc is not None else None
    elif isinstance(args.get("archive_id"), int):
        archive = db.session.get(Archive, args["archive_id"])
    elif isinstance(args.get("number"), str):
        archive = db.session.scalar(sa.select(Archive).where(Archive.number == args["number"].strip()))
    if archive is None or archive.status != FILED:
        return None
    if doc is not None:
        if perm.document_refusal(user, doc) is None:
            return None
    elif perm.view_refusal(user, archive) is None:
        return None
    return {"url": url_for("requests.query_new", archive=archive.id,
                           document=doc.id if doc is not None else None)}
