"""Intake pages: batch upload, the list that follows each item's progress, the queue, decisions,
and the cover sheet 封面分隔页 printed from an archive."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, render_template, request, stream_with_context
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, StringField, TextAreaField

from portal.archives import permissions as perm
from portal.archives.services import deny, get_archive
from portal.dbsetup import begin_write, writes
from portal.documents.services import document_types
from portal.documents.views_manage import file_size
from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.housekeeping.services import cleared_pages
from portal.intake import covers, services
from portal.intake.models import ACTIVE, PAGE_LABELS, SOURCE_LABELS, STATE_LABELS
from portal.register import actions
from portal.register.services import record
from portal.web import actor, htmx_target, int_arg, page_or_fragment, see_other

bp = Blueprint("intake", __name__)

ITEMS_TARGET = "intake-items"
VIEW_LABELS = {
    "active": _l("In progress"),
    "queue": _l("Waiting for a decision"),
    "done": _l("Finished"),
    "all": _l("All"),
}


class IntakeForm(FlaskForm):
    files = MultipleFileField(_l("Files"))
    archive = StringField(_l("Archive number"), render_kw={"maxlength": 100, "autocomplete": "off"})
    doc_type = SelectField(_l("Document type"), validate_choice=False)


class AssignForm(FlaskForm):
    archive = StringField(_l("Archive number"), render_kw={"maxlength": 100, "autocomplete": "off"})
    doc_type = SelectField(_l("Document type"), validate_choice=False)
    title = StringField(_l("Title"), render_kw={"maxlength": 200})


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), render_kw={"maxlength": 2000, "rows": 2})


def _type_choices(form) -> None:
    form.doc_type.choices = [("", _("— none (decide later) —"))] + [(t, t) for t in document_types()]


def _require_intake():
    if not perm.can_use_intake(current_user):
        raise deny(actor(), _l("Your role does not send files to intake."), None, "open intake")


def _view() -> str:
    view = request.args.get("view", "active")
    return view if view in services.VIEWS else "active"


def _index_context(form=None, outcomes=None, error=None) -> dict:
    view = _view()
    page = max(int_arg("page", 1), 1)
    items, total = services.list_items(current_user, view, page=page)
    if form is None:
        form = IntakeForm()
        _type_choices(form)
    return {
        "form": form, "outcomes": outcomes or [], "error": error, "view": view, "views": VIEW_LABELS,
        "items": items, "total": total, "page_no": page, "counts": services.counts(current_user),
        "polling": services.any_active(items), "state_of": services.state_of,
        "effective_state": services.effective_state, "STATE_LABELS": STATE_LABELS,
        "SOURCE_LABELS": SOURCE_LABELS, "manage": perm.can_manage_intake(current_user),
        "max_mb": services.max_bytes() // 1048576,
    }


@bp.route("/intake", methods=["GET", "POST"])
@login_required
def index():
    """Send files to intake; follow them (the list polls while something is in progress)."""
    _require_intake()
    if request.method == "GET":
        return page_or_fragment("intake/index.html", {ITEMS_TARGET: "intake/_items.html"}, **_index_context())
    form = IntakeForm()
    _type_choices(form)
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not form.validate_on_submit():
        return page_or_fragment("intake/index.html", {}, status=400, **_index_context(form))
    if not files:
        form.files.errors = [*form.files.errors, _("Choose at least one file to send.")]
        return page_or_fragment("intake/index.html", {}, status=422, **_index_context(form))
    try:
        outcomes = services.receive_many(actor(), [(f.stream, f.filename) for f in files],
                                         archive=form.archive.data or None, doc_type=form.doc_type.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        field = getattr(form, exc.detail.get("field", ""), None)
        if field is not None:
            field.errors = [*field.errors, str(exc.message)]
            return page_or_fragment("intake/index.html", {}, status=422, **_index_context(form))
        return page_or_fragment("intake/index.html", {}, status=422, **_index_context(form, error=str(exc.message)))
    received = [o for o in outcomes if o.item is not None]
    if len(received) == len(outcomes):
        flash(ngettext("%(num)d file received; it is being processed.",
                       "%(num)d files received; they are being processed.", len(received)), "success")
        return see_other("intake.index")
    status = 207 if received else max(o.status for o in outcomes)
    return page_or_fragment("intake/index.html", {}, status=status if status != 207 else 200,
                            **_index_context(form, outcomes=outcomes))


def _item_context(item, assign_form=None, reject_form=None) -> dict:
    if assign_form is None:
        assign_form = AssignForm(data={"archive": item.cover_number or (item.archive.number if item.archive else ""),
                                       "doc_type": item.doc_type, "title": item.title})
    _type_choices(assign_form)
    assign_form.doc_type.choices[0] = ("", _("— choose —"))
    state = services.effective_state(item)
    pages = services.pages_of(item)
    return {
        "item": item, "state": state, "info": services.state_of(item), "pages": pages,
        "cleared": cleared_pages(item, pages),  # texts cleared by housekeeping: page number → when
        "assign_form": assign_form, "reject_form": reject_form or RejectForm(),
        "can_decide": perm.can_decide_intake_item(current_user, item), "PAGE_LABELS": PAGE_LABELS,
        "STATE_LABELS": STATE_LABELS, "SOURCE_LABELS": SOURCE_LABELS, "polling": state in ACTIVE,
        "effective_state": services.effective_state, "file_size": file_size,
    }


@bp.route("/intake/<int:item_id>")
@login_required
def item(item_id: int):
    _require_intake()
    was = request.args.get("was")
    if htmx_target() == "item-state":  # the page polling its own state: no page texts shown
        found = services.require_item(actor(), item_id)
    else:
        found = services.open_item(actor(), item_id)
    context = _item_context(found)
    response = page_or_fragment("intake/item.html", {"item-state": "intake/_item_state.html"}, **context)
    if was and was != context["state"]:
        response.headers["HX-Refresh"] = "true"  # finished: the pages and parts sections change too
    return response


def _decision(item_id: int, run, form_cls, form_key: str):
    _require_intake()
    services.require_item(actor(), item_id, "decide intake item")  # refused before the form is read
    form = form_cls()
    if form_cls is AssignForm:
        _type_choices(form)
    if not form.validate_on_submit():
        abort(400)
    try:
        done = run(form)
    except ValidationFailed as exc:
        db.session.rollback()
        found = services.require_item(actor(), item_id)
        field = getattr(form, exc.detail.get("field", ""), None)
        if field is not None:
            field.errors = [*field.errors, str(exc.message)]
        context = _item_context(found, **{form_key: form})
        return page_or_fragment("intake/item.html", {}, status=422, **context)
    return done


@bp.route("/intake/<int:item_id>/assign", methods=["POST"])
@login_required
def assign(item_id: int):
    def run(form):
        services.assign(actor(), item_id, form.archive.data, form.doc_type.data, form.title.data or "")
        flash(_("The item was assigned and is being filed."), "success")
        return see_other("intake.item", item_id=item_id)
    return _decision(item_id, run, AssignForm, "assign_form")


@bp.route("/intake/<int:item_id>/reject", methods=["POST"])
@login_required
def reject(item_id: int):
    def run(form):
        services.reject(actor(), item_id, form.reason.data)
        flash(_("The item was rejected."), "success")
        return see_other("intake.item", item_id=item_id)
    return _decision(item_id, run, RejectForm, "reject_form")


@bp.route("/intake/<int:item_id>/retry", methods=["POST"])
@login_required
def retry(item_id: int):
    _require_intake()
    services.retry(actor(), item_id)
    flash(_("The item is queued again."), "success")
    return see_other("intake.item", item_id=item_id)


@bp.route("/intake/<int:item_id>/original")
@login_required
@writes
def original(item_id: int):
    _require_intake()
    root, chunks = services.open_original(actor(), item_id)
    name = quote(root.filename)
    response = Response(stream_with_context(chunks), mimetype=root.media_type or "application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
    response.headers["Content-Length"] = str(root.size)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the cover sheet --------------------------------------------------------------------------

@bp.route("/archives/<int:archive_id>/cover-sheet")
@login_required
@writes
def cover_sheet(archive_id: int):
    """An A4 sheet to put in front of a document when scanning: its QR code carries the archive
    number and the document type, so the scanned batch is split and filed by itself."""
    who = actor()
    try:
        archive = get_archive(archive_id)
    except NotFound:
        abort(404)
    if not archive.number:
        raise PortalError(_l("A draft has no archive number yet; cover sheets are printed for filed archives."))
    if not perm.can_upload(current_user, archive):
        raise deny(who, _l("You cannot add material to this archive."), archive, "print cover sheet")
    types = document_types()
    doc_type = request.args.get("doc_type", "")
    if doc_type not in types:
        return render_template("intake/cover_choose.html", archive=archive, types=types)
    begin_write()
    record(who, actions.COVER_SHEET_PRINT, archive=archive, detail=f"{archive.number} {doc_type}")
    db.session.commit()
    payload = covers.payload(archive.number, doc_type)
    return render_template("intake/cover_sheet.html", archive=archive, doc_type=doc_type, payload=payload,
                           qr=covers.qr_svg(payload), now_text=format_datetime(datetime.now(UTC), "yyyy-MM-dd HH:mm"))
