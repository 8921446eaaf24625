"""Upload, list, edit details, replace file, history (owned by the upload/manage helper).

Plain forms first: the upload page is a multi-file form that works without JavaScript
(Post/Redirect/Get when every file was stored, otherwise the per-file outcomes and the form again
with the details kept). ``static/js/upload.js`` adds drag-and-drop and a progress bar on top: it
posts the same form with ``HX-Target: upload-outcomes`` and shows the fragment it gets back.
"""
from __future__ import annotations

from flask import current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import FileField, HiddenField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired
from wtforms.widgets import DateInput

from portal.archives import permissions as perm
from portal.archives import services as archive_services
from portal.auth import roles
from portal.documents import filetypes, services
from portal.documents.inspect import Unacceptable
from portal.documents.views import bp
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.storage import StoreUnavailable
from portal.web import actor, htmx_target, page_or_fragment, see_other

OUTCOMES_TARGET = "upload-outcomes"  # the element upload.js asks the outcomes fragment for
FILE_ERRORS = (Unacceptable, services.Duplicate, services.FileTooLarge, StoreUnavailable)


# --- forms ------------------------------------------------------------------------------------

class DetailsForm(FlaskForm):
    """What the user says about a document; the service checks it (``Details``)."""

    doc_type = SelectField(_l("Document type"), validate_choice=False,
                           validators=[InputRequired(_l("Choose a document type from the list."))])
    title = StringField(_l("Title"), render_kw={"maxlength": 200})
    doc_date = StringField(_l("Document date"), widget=DateInput())
    source = StringField(_l("Source / channel"), render_kw={"maxlength": 100})
    sensitivity = SelectField(_l("Sensitivity"), validate_choice=False)
    notes = TextAreaField(_l("Notes"), render_kw={"maxlength": 4000})


class UploadForm(DetailsForm):
    files = MultipleFileField(_l("Files"))


class EditForm(DetailsForm):
    lock_version = HiddenField()


class ReplaceForm(FlaskForm):
    file = FileField(_l("New file"))
    note = StringField(_l("Why is the file replaced?"), render_kw={"maxlength": 300})
    lock_version = HiddenField()


def _choices(form: DetailsForm, user, archive, current_type: str | None = None) -> None:
    types = services.document_types()
    if current_type and current_type not in types:
        types = [current_type, *types]  # a type since removed from the list stays visible
    form.doc_type.choices = [("", _("— choose —"))] + [(t, t) for t in types]
    form.sensitivity.choices = [(str(level), str(roles.LEVEL_LABELS[level]))
                                for level in perm.document_levels(user, archive)]


def _default_level(user, archive) -> int:
    """The archive's level, or the user's own clearance when the archive's is above it."""
    return archive.sensitivity if archive.sensitivity >= user.clearance else user.clearance


def _field_error(form, exc: ValidationFailed) -> str | None:
    """Put the service's message at its field; returns it when no field of the form fits."""
    name = exc.detail.get("field")
    field = form._fields.get(name) if name else None
    if field is None:
        return str(exc.message)
    field.errors = [*field.errors, str(exc.message)]
    return None


def _lock(value) -> int:
    value = str(value or "")
    return int(value) if value.isdigit() else -1  # missing: treated as a stale form


def _user():
    return current_user._get_current_object()


# --- helpers for templates --------------------------------------------------------------------

def list_context(archive) -> dict:
    """What ``documents/_list.html`` needs (also called by the archive page)."""
    user = _user()
    return {
        "documents": services.documents_of(user, archive),
        "hidden_documents": services.hidden_count(user, archive),
        "can_upload": perm.can_upload(user, archive),
    }


def megabytes(size: int) -> str:
    """1048576 → "1", 1500000 → "1.4" (limits are shown in MB of 1024 × 1024 bytes, as the
    services' messages count them)."""
    return f"{size / 1048576:.1f}".removesuffix(".0")


@bp.app_template_filter("file_size")
def file_size(size: int | None) -> str:
    """A file's size for people: 812 B, 2.9 KB, 36.8 MB (units of 1024, as in the limits)."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1048576:
        return f"{size / 1024:.1f} KB"
    if size < 1073741824:
        return f"{size / 1048576:.1f} MB"
    return f"{size / 1073741824:.2f} GB"


@bp.app_template_filter("file_kind")
def file_kind(media_type: str) -> str:
    """``application/pdf`` → ``PDF`` (the short label lists and badges show)."""
    return filetypes.EXTENSIONS.get(media_type, "").lstrip(".").upper() or media_type


# --- permissions (the services check again; refusals are registered once, here) ---------------

def _archive_for_upload(archive_id: int):
    user = _user()
    archive = archive_services.get_archive(archive_id)
    if not perm.can_upload(user, archive):
        reason = perm.view_refusal(user, archive) or _l("You cannot add material to this archive.")
        raise archive_services.deny(actor(), reason, archive, "upload document")
    return archive


def _archive_for_list(archive_id: int):
    user = _user()
    archive = archive_services.get_archive(archive_id)
    reason = perm.view_refusal(user, archive)
    if reason is not None:
        raise archive_services.deny(actor(), reason, archive, "list documents")
    return archive


def _changeable(doc_id: int, what: str):
    document = services.require_document(actor(), doc_id, what)
    if not perm.can_change_document(_user(), document):
        raise archive_services.deny(actor(), _l("You cannot change the material of this archive."),
                                    document.archive, f"{what} #{document.id}", document=document)
    return document


# --- upload -----------------------------------------------------------------------------------

def _upload_page(form, archive, *, outcomes=None, status: int = 200, error: str | None = None):
    context = {"form": form, "archive": archive, "outcomes": outcomes or [], "error": error,
               "max_bytes": int(current_app.config["DOCUMENT_MAX_BYTES"]),
               "max_mb": megabytes(int(current_app.config["DOCUMENT_MAX_BYTES"])),
               "max_request_bytes": int(current_app.config.get("MAX_CONTENT_LENGTH") or 0),
               "stored": [o for o in outcomes or [] if o.document is not None],
               "refused": [o for o in outcomes or [] if o.document is None]}
    if htmx_target() == OUTCOMES_TARGET:
        return render_template("documents/_upload_outcomes.html", **context), status
    return render_template("documents/upload.html", **context), status


def _outcome_status(outcomes) -> int:
    """200 when something was stored; otherwise the refusal's own status (409 duplicate, 413 too
    large, 422 unacceptable, 503 store down), 422 when the files failed for different reasons."""
    if any(o.document is not None for o in outcomes):
        return 200
    statuses = {o.status for o in outcomes}
    return statuses.pop() if len(statuses) == 1 else 422


@bp.route("/archives/<int:archive_id>/documents/upload", methods=["GET", "POST"])
def upload(archive_id: int):
    """Upload one or many files to an archive (multi-file form; drag-and-drop with upload.js)."""
    archive = _archive_for_upload(archive_id)
    user = _user()
    if request.method == "GET":
        form = UploadForm(data={"sensitivity": str(_default_level(user, archive))})
        _choices(form, user, archive)
        return _upload_page(form, archive)

    form = UploadForm()
    _choices(form, user, archive)
    files = [f for f in request.files.getlist("files") if f and f.filename]
    valid = form.validate_on_submit()
    if not files:
        form.files.errors = [*form.files.errors, _("Choose at least one file to upload.")]
    if not valid or not files:
        return _upload_page(form, archive, status=422)
    try:
        details = services.Details.from_mapping(request.form)
        outcomes = services.upload_many(actor(), archive.id, [(f.stream, f.filename) for f in files],
                                        details)
    except ValidationFailed as exc:
        db.session.rollback()
        return _upload_page(form, archive, status=422, error=_field_error(form, exc))
    status = _outcome_status(outcomes)
    if status == 200 and all(o.document is not None for o in outcomes) \
            and htmx_target() != OUTCOMES_TARGET:
        flash(ngettext("%(num)d document uploaded.", "%(num)d documents uploaded.", len(outcomes)),
              "success")
        return see_other("archives.show", archive_id=archive.id, _anchor="documents")
    return _upload_page(form, archive, outcomes=outcomes, status=status)


# --- the archive's documents ------------------------------------------------------------------

@bp.route("/archives/<int:archive_id>/documents")
def for_archive(archive_id: int):
    """The archive's documents: the list section for htmx, a page of its own otherwise."""
    archive = _archive_for_list(archive_id)
    return page_or_fragment("documents/index.html", {"documents": "documents/_list.html"},
                            archive=archive, **list_context(archive))


# --- one document -----------------------------------------------------------------------------

def _detail_context(document) -> dict:
    user = _user()
    events = services.history(document)
    return {
        "document": document,
        "archive": document.archive,
        "events": [(event, services.event_changes(event)) for event in events],
        "field_labels": services.FIELD_LABELS,
        "can_change": perm.can_change_document(user, document),
    }


@bp.route("/documents/<int:doc_id>")
def detail(doc_id: int):
    """Details, every version and the history. Opening it is not a view of the content (the viewer
    registers those); a refusal is registered."""
    document = services.require_document(actor(), doc_id, "open details of document")
    return page_or_fragment("documents/detail.html",
                            {"document-history": "documents/_history.html",
                             "document-versions": "documents/_versions.html"},
                            **_detail_context(document))


def _edit_page(form, document, *, status: int = 200, error=None, conflict=None, conflicts=None):
    return render_template("documents/edit.html", form=form, document=document, archive=document.archive,
                           error=error, conflict=conflict, conflicts=conflicts or {}), status


def _conflicting(document, data) -> dict[str, str]:
    """Fields where the saved document now differs from the user's input: field → saved value."""
    out = {}
    for name in services.EDITABLE_FIELDS:
        saved = services._show(name, getattr(document, name))
        entered = str(data.get(name) or "").strip()
        if name == "sensitivity":
            entered = services._show(name, int(entered)) if entered.isdigit() else entered
        if saved != entered:
            out[name] = saved or _("(empty)")
    return out


@bp.route("/documents/<int:doc_id>/edit", methods=["GET", "POST"])
def edit(doc_id: int):
    """Correct the details; every change goes into the history (old → new)."""
    document = _changeable(doc_id, "edit document")
    user = _user()
    if request.method == "GET":
        form = EditForm(data={
            "doc_type": document.doc_type, "title": document.title,
            "doc_date": document.doc_date.isoformat() if document.doc_date else "",
            "source": document.source, "sensitivity": str(document.sensitivity),
            "notes": document.notes, "lock_version": str(document.lock_version)})
        _choices(form, user, document.archive, document.doc_type)
        return _edit_page(form, document)

    form = EditForm()
    _choices(form, user, document.archive, document.doc_type)
    if not form.validate_on_submit():
        return _edit_page(form, document, status=422)
    try:
        details = services.Details.from_mapping(request.form)
        changes = services.update_details(actor(), doc_id, details, lock_version=_lock(form.lock_version.data))
    except Conflict as exc:
        db.session.rollback()
        document = services.get_document(doc_id)
        # Saving again now knowingly replaces the other person's details with this input.
        form.lock_version.data = str(document.lock_version)
        return _edit_page(form, document, status=409, conflict=exc.message,
                          conflicts=_conflicting(document, request.form))
    except ValidationFailed as exc:
        db.session.rollback()
        return _edit_page(form, services.get_document(doc_id), status=422, error=_field_error(form, exc))
    if changes:
        flash(ngettext("Details saved (%(num)d change, kept in the history).",
                       "Details saved (%(num)d changes, kept in the history).", len(changes)), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return see_other("documents.detail", doc_id=doc_id)


def _replace_page(form, document, *, status: int = 200, error=None, duplicate_id=None):
    return render_template("documents/replace.html", form=form, document=document, archive=document.archive,
                           error=error, duplicate_id=duplicate_id,
                           max_mb=megabytes(int(current_app.config["DOCUMENT_MAX_BYTES"]))), status


@bp.route("/documents/<int:doc_id>/replace", methods=["GET", "POST"])
def replace(doc_id: int):
    """Upload a new file as the next version; the earlier versions stay listed and viewable."""
    document = _changeable(doc_id, "replace document")
    if request.method == "GET":
        form = ReplaceForm(data={"lock_version": str(document.lock_version)})
        return _replace_page(form, document)

    form = ReplaceForm()
    upload_file = request.files.get("file")
    valid = form.validate_on_submit()
    if upload_file is None or not upload_file.filename:
        form.file.errors = [*form.file.errors, _("Choose the new file.")]
        valid = False
    if not valid:
        return _replace_page(form, document, status=422)
    try:
        services.replace_file(actor(), doc_id, upload_file.stream, upload_file.filename,
                              note=(form.note.data or "").strip(), lock_version=_lock(form.lock_version.data))
    except (*FILE_ERRORS, Conflict, ValidationFailed) as exc:
        db.session.rollback()
        document = services.get_document(doc_id)
        duplicate_id = exc.detail.get("document_id") if isinstance(exc, services.Duplicate) else None
        if isinstance(exc, Conflict):
            form.lock_version.data = str(document.lock_version)
        return _replace_page(form, document, status=exc.status, error=str(exc.message),
                             duplicate_id=duplicate_id if duplicate_id != doc_id else None)
    flash(_("The new file is stored as version %(n)s; the earlier versions stay listed.",
            n=services.get_document(doc_id).current_version), "success")
    return see_other("documents.detail", doc_id=doc_id)
