"""Notifications page 通知 under ``/notifications``: the user's own messages, marked read one by
one or all at once, and the address e-mail copies go to. Every user sees only their own."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from portal import notifications as notes
from portal.dbsetup import writes
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.web import actor, page_or_fragment, see_other

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def _page(status: int = 200, address_error: str = "", address_value: str | None = None):
    user = actor().user
    return page_or_fragment(
        "notifications/index.html", {"notification-list": "notifications/_list.html"}, status=status,
        items=notes.notifications_of(user), unread=notes.unread_count(user),
        address=notes.own_address(user) if address_value is None else address_value,
        address_error=address_error, mail_on=notes.smtp_configured(),
        fallback=notes.mail_address(user) if not notes.own_address(user) else "")


@bp.route("/")
def index():
    return _page()


@bp.route("/<int:notification_id>/open")
@writes
def open_(notification_id: int):
    """Follow a notification's link, marking it read (only the user's own)."""
    user = actor().user
    note = db.session.get(notes.Notification, notification_id)
    if note is None or note.user_id != user.id:
        abort(404)
    notes.mark_read(user, notification_id)
    return redirect(note.url or url_for("notifications.index"), 303)


@bp.post("/<int:notification_id>/read")
def read(notification_id: int):
    notes.mark_read(actor().user, notification_id)
    return see_other("notifications.index") if not request.headers.get("HX-Target") else _page()


@bp.post("/read-all")
def read_all():
    count = notes.mark_read(actor().user)
    if count:
        flash(_("%(count)s notifications marked read.", count=count), "success")
    return see_other("notifications.index")


@bp.post("/address")
def address():
    """Set or clear the user's own address for e-mail copies."""
    value = request.form.get("email", "")
    try:
        saved = notes.set_address(actor().user, value)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(422, str(exc.message), value)
    flash(_("E-mail copies go to %(address)s.", address=saved) if saved else
          _("No e-mail copies: the address was removed."), "success")
    return see_other("notifications.index")


@bp.record_once
def _template_helpers(state) -> None:
    from flask_login import current_user

    state.app.jinja_env.globals["unread_notifications"] = lambda: notes.unread_count(current_user)
