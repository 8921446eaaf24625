"""Sub-records (contacts, contracts, logs …) edited in place on the archive page.

With htmx each table row turns into a form row and back (``_record_row.html``,
``_record_form_row.html``); without JavaScript the same links lead to full pages
(``record_form.html``) that redirect back to the section of the archive page.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.archives import display as disp
from portal.archives import forms, services, subrecords
from portal.archives import permissions as perm
from portal.archives.views import bp, current, refuse_unless
from portal.archives.views_forms import keep_masked
from portal.web import actor, htmx_target


def _kind(key: str) -> subrecords.SubRecordKind:
    kind = subrecords.BY_KEY.get(key)
    if kind is None:
        abort(404)
    g.error_target = f"#msg-{kind.key}"  # refusals of an inline edit appear above the table
    return kind


def _section_url(archive_id: int, kind) -> str:
    return url_for("archives.show", archive_id=archive_id, _anchor=f"records-{kind.key}")


def _viewable(archive_id: int, kind):
    archive = services.get_archive(archive_id)
    refuse_unless(perm.can_view(current(), archive), archive, f"view {kind.key}", None)
    return archive


def _defaults(kind) -> dict:
    """A new log entry is usually about today (Beijing time)."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return {f.name: today for f in kind.fields if f.type == "date" and f.required} if kind.log else {}


def _form_response(archive, kind, form, rec=None, *, masked=frozenset(), status: int = 200):
    user = current()
    placeholders = {f.name: disp.display(user, rec, f).text for f in kind.fields if f.name in masked}
    if rec is not None:
        action = url_for("archives.record_edit", archive_id=archive.id, kind=kind.key, record_id=rec.id)
        row_id = f"rec-{kind.key}-{rec.id}"
    else:
        action = url_for("archives.record_new", archive_id=archive.id, kind=kind.key)
        row_id = request.headers.get("HX-Target") if request.method == "POST" else None
        row_id = row_id if row_id and row_id.startswith(f"new-{kind.key}-") else \
            f"new-{kind.key}-{secrets.token_hex(3)}"
    template = "archives/_record_form_row.html" if htmx_target() else "archives/record_form.html"
    return render_template(template, archive=archive, kind=kind, form=form, rec=rec, action=action,
                           row_id=row_id, masked=masked, placeholders=placeholders,
                           back=_section_url(archive.id, kind)), status


def _row(archive, kind, rec, status: int = 200, saved: bool = False):
    return render_template("archives/_record_row.html", archive=archive, kind=kind, rec=rec,
                           saved=saved), status


@bp.route("/archives/<int:archive_id>/r/<kind>")
def records(archive_id: int, kind: str):
    """One sub-record section (htmx); the archive page at that section otherwise."""
    kind_ = _kind(kind)
    archive = _viewable(archive_id, kind_)
    if not htmx_target():
        return redirect(_section_url(archive_id, kind_), 303)
    return render_template("archives/_records.html", archive=archive, kind=kind_,
                           rows=services.records_of(archive, kind_))


@bp.route("/archives/<int:archive_id>/r/<kind>/<int:record_id>")
def record_row(archive_id: int, kind: str, record_id: int):
    """One display row (htmx: "cancel" of an inline edit)."""
    kind_ = _kind(kind)
    archive = _viewable(archive_id, kind_)
    rec = services.get_record(archive, kind_, record_id)
    if not htmx_target():
        return redirect(_section_url(archive_id, kind_), 303)
    return _row(archive, kind_, rec)


@bp.route("/archives/<int:archive_id>/r/<kind>/new", methods=["GET", "POST"])
def record_new(archive_id: int, kind: str):
    kind_ = _kind(kind)
    archive = services.get_archive(archive_id)
    services.require_record_access(actor(), archive, kind_, "add")
    fields = list(kind_.fields)
    if request.method == "GET":
        return _form_response(archive, kind_, forms.build_form(fields, {}, data=_defaults(kind_)))
    form = forms.build_form(fields, {})
    if not form.validate_on_submit():
        return _form_response(archive, kind_, form, status=422)
    rec = services.add_record(actor(), archive, kind_, forms.cleaned(form, fields))
    if htmx_target():
        return _row(archive, kind_, rec, saved=True)
    flash(_("The record is added."), "success")
    return redirect(_section_url(archive_id, kind_), 303)


@bp.route("/archives/<int:archive_id>/r/<kind>/<int:record_id>/edit", methods=["GET", "POST"])
def record_edit(archive_id: int, kind: str, record_id: int):
    kind_ = _kind(kind)
    archive = services.get_archive(archive_id)
    services.require_record_access(actor(), archive, kind_, "edit")
    rec = services.get_record(archive, kind_, record_id)
    fields = list(kind_.fields)
    masked = disp.masked_fields(current(), rec, fields)
    if request.method == "GET":
        data = {f.name: None if f.name in masked else getattr(rec, f.name) for f in fields}
        return _form_response(archive, kind_, forms.build_form(fields, {}, data=data), rec, masked=masked)
    form = forms.build_form(fields, {})
    if not form.validate_on_submit():
        return _form_response(archive, kind_, form, rec, masked=masked, status=422)
    data = forms.cleaned(form, fields)
    keep_masked(data, rec, masked)
    services.edit_record(actor(), archive, kind_, rec, data)
    if htmx_target():
        return _row(archive, kind_, rec, saved=True)
    flash(_("The record is saved."), "success")
    return redirect(_section_url(archive_id, kind_), 303)


@bp.route("/archives/<int:archive_id>/r/<kind>/<int:record_id>/delete", methods=["POST"])
def record_delete(archive_id: int, kind: str, record_id: int):
    kind_ = _kind(kind)
    archive = services.get_archive(archive_id)
    services.require_record_access(actor(), archive, kind_, "delete")
    rec = services.get_record(archive, kind_, record_id)
    services.delete_record(actor(), archive, kind_, rec)
    if htmx_target():
        return ""  # htmx removes the row
    flash(_("The record is deleted."), "success")
    return redirect(_section_url(archive_id, kind_), 303)
