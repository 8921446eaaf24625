"""Filing workflow actions 建档 (SPEC §3): submit, withdraw, approve, reject, file, delete draft.

Each is a POST form on the archive page (Post/Redirect/Get). The services check permission and
register both the action and any refusal; the buttons only appear when the action is allowed.
"""
from __future__ import annotations

from flask import flash, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.archives import permissions as perm
from portal.archives import services
from portal.archives.views import bp, current, refuse_unless
from portal.errors import ValidationFailed
from portal.register import actions
from portal.web import actor, page_or_fragment, see_other

REVIEW_REFUSAL = _l("Only the head of the archive's department can review a submitted archive.")


def _back(archive_id: int):
    return see_other("archives.show", archive_id=archive_id)


@bp.route("/archives/<int:archive_id>/submit", methods=["POST"])
def submit(archive_id: int):
    services.submit(actor(), services.get_archive(archive_id))
    flash(_("Submitted. The department head reviews it next."), "success")
    return _back(archive_id)


@bp.route("/archives/<int:archive_id>/withdraw", methods=["POST"])
def withdraw(archive_id: int):
    services.withdraw(actor(), services.get_archive(archive_id))
    flash(_("The submission is withdrawn; the archive is a draft again."), "success")
    return _back(archive_id)


@bp.route("/archives/<int:archive_id>/approve", methods=["POST"])
def approve(archive_id: int):
    note = request.form.get("note", "").strip()[:2000]
    services.approve(actor(), services.get_archive(archive_id), note)
    flash(_("Approved. The archivist files it and assigns the number next."), "success")
    return _back(archive_id)


def _reject_form(archive, status: int = 200, **context):
    return page_or_fragment("archives/reject.html", {"reject-slot": "archives/_reject_form.html"},
                            status=status, archive=archive, **context)


@bp.route("/archives/<int:archive_id>/reject", methods=["GET", "POST"])
def reject(archive_id: int):
    """Return a submitted archive to its author with a reason (required)."""
    g.error_target = "#reject-slot"
    archive = services.get_archive(archive_id)
    if request.method == "GET":
        refuse_unless(perm.can_review(current(), archive), archive, actions.ARCHIVE_REJECT, REVIEW_REFUSAL)
        return _reject_form(archive, reason="", error=None)
    reason = request.form.get("reason", "").strip()[:2000]
    try:
        services.reject(actor(), archive, reason)
    except ValidationFailed as exc:
        return _reject_form(archive, status=422, reason=reason, error=exc.message)
    flash(_("Returned to the author for correction."), "success")
    return _back(archive_id)


@bp.route("/archives/<int:archive_id>/file", methods=["POST"])
def file(archive_id: int):
    level = request.form.get("sensitivity", "")
    number = services.file_archive(actor(), services.get_archive(archive_id),
                                   sensitivity=int(level) if level.isdigit() else None)
    flash(_("Filed. The archive number is %(number)s.", number=number), "success")
    return _back(archive_id)


@bp.route("/archives/<int:archive_id>/delete", methods=["POST"])
def delete(archive_id: int):
    archive = services.get_archive(archive_id)
    name = archive.name
    services.delete_draft(actor(), archive)
    flash(_("The draft “%(name)s” is deleted.", name=name), "success")
    return see_other("archives.index")
