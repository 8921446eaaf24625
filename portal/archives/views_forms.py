"""New archive and edit archive (drafts): forms built from the profile description.

Personal fields the editor may only see masked never go into the form's HTML: the input stays
empty with the masked value as placeholder, and an empty input keeps the stored value.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.admin.models import CustomerType
from portal.archives import display as disp
from portal.archives import forms, profile, services
from portal.archives import permissions as perm
from portal.archives.models import INDIVIDUAL, ORGANISATION, POTENTIAL, Archive
from portal.archives.views import bp, current, refuse_admin, refuse_unless
from portal.auth import roles
from portal.dbsetup import writes
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.web import actor, see_other

KINDS = (ORGANISATION, INDIVIDUAL)
NEW_TITLES = {ORGANISATION: _l("New organisation archive"), INDIVIDUAL: _l("New individual archive")}


def _groups(kind: str) -> list:
    """(section, fields) for the form's fieldsets, in profile order."""
    return [(s, s.fields_for(kind)) for s in profile.SECTIONS if s.fields_for(kind)]


def _defaults_for_new(kind: str) -> dict:
    user = current()
    data = {"stage": POTENTIAL, "importance": "C", "sensitivity": max(roles.INTERNAL, user.clearance),
            "department_id": user.department_id,
            "responsible_id": user.id if user.role == roles.STAFF else None}
    if kind == INDIVIDUAL:  # preselect the individual customer type when the list has one
        individual = db.session.scalar(sa.select(CustomerType).where(
            CustomerType.code == "个人", CustomerType.active.is_(True)))
        if individual is not None:
            data["customer_type_id"] = individual.id
    return data


def keep_masked(data: dict, obj, masked: set[str]) -> None:
    """Masked inputs left empty keep the stored value; the "clear" box empties the field."""
    for name in masked:
        if request.form.get(f"clear_{name}"):
            data[name] = ""
        elif not data.get(name):
            data[name] = getattr(obj, name)


def _same(a, b) -> bool:
    return (a if a not in (None, "") else None) == (b if b not in (None, "") else None)


def _conflicting(archive: Archive, data: dict, fields, masked: set[str]) -> dict[str, str]:
    """Fields where the archive as saved now differs from what the user entered: field → the
    saved value (masked values are left out: the user may not see them)."""
    user = current()
    out = {}
    for f in fields:
        if f.name in masked or f.name not in data or _same(getattr(archive, f.name), data[f.name]):
            continue
        out[f.name] = disp.display(user, archive, f).text or _("(empty)")
    return out


def _render(form, kind: str, archive: Archive | None, *, masked=frozenset(), status: int = 200,
            error=None, conflict=None, conflicts=None):
    placeholders = {}
    if archive is not None:
        user = current()
        for f in profile.fields_for(kind):
            if f.name in masked:
                placeholders[f.name] = disp.display(user, archive, f).text
    title = _("Edit archive: %(name)s", name=archive.name) if archive is not None else str(NEW_TITLES[kind])
    return render_template("archives/form.html", form=form, kind=kind, archive=archive,
                           groups=_groups(kind), masked=masked, placeholders=placeholders,
                           title=title, error=error, conflict=conflict,
                           conflicts=conflicts or {}), status


@bp.route("/archives/new", methods=["GET", "POST"])
def new():
    """Enter a new archive as a draft (staff and department heads, policy 004 §11)."""
    refuse_admin()
    user = current()
    refuse_unless(perm.can_create(user), None, "create",
                  _l("Only staff and department heads enter new archives."))
    kind = request.args.get("kind", "")
    if kind not in KINDS:
        return render_template("archives/choose_kind.html")
    fields = profile.fields_for(kind)
    choices = forms.dynamic_choices(user)
    if request.method == "GET":
        return _render(forms.build_form(fields, choices, data=_defaults_for_new(kind)), kind, None)
    form = forms.build_form(fields, choices)
    if not form.validate_on_submit():
        return _render(form, kind, None, status=422)
    data = forms.cleaned(form, fields)
    data["kind"] = kind
    try:
        archive = services.create_draft(actor(), data)
    except ValidationFailed as exc:
        return _render(form, kind, None, status=422, error=exc.message)
    flash(_("The draft is saved. Add contacts and other records below, then submit it for review."),
          "success")
    return see_other("archives.show", archive_id=archive.id)


@bp.route("/archives/<int:archive_id>/edit", methods=["GET", "POST"])
@writes
def edit(archive_id: int):
    """Edit a draft (or a returned one); a stale form is refused without losing the input."""
    user = current()
    archive = services.get_archive(archive_id)
    refuse_unless(perm.can_edit(user, archive), archive, "edit",
                  _l("This archive cannot be edited by you in its current state."))
    fields = profile.fields_for(archive.kind)
    choices = forms.dynamic_choices(user, archive.department_id,
                                    {"customer_type_id": archive.customer_type_id})
    masked = disp.masked_fields(user, archive, fields)
    if request.method == "GET":
        # The form shows the whole archive, so opening it is a view for the register.
        services.open_archive(actor(), archive.id, purpose="edit")
        data = {f.name: None if f.name in masked else getattr(archive, f.name) for f in fields}
        data["version"] = archive.version
        form = forms.build_form(fields, choices, with_version=True, data=data)
        return _render(form, archive.kind, archive, masked=masked)

    form = forms.build_form(fields, choices, with_version=True)
    if not form.validate_on_submit():
        return _render(form, archive.kind, archive, masked=masked, status=422)
    data = forms.cleaned(form, fields)
    keep_masked(data, archive, masked)
    version = str(form.version.data or "")
    try:
        changed = services.update_draft(actor(), archive, data, int(version) if version.isdigit() else None)
    except Conflict as exc:
        db.session.rollback()
        archive = services.get_archive(archive_id)
        # Saving again now knowingly replaces the other person's version with this input.
        form.version.data = str(archive.version)
        return _render(form, archive.kind, archive, masked=masked, status=409, conflict=exc.message,
                       conflicts=_conflicting(archive, data, fields, masked))
    except ValidationFailed as exc:
        return _render(form, archive.kind, archive, masked=masked, status=422, error=exc.message)
    if changed:
        flash(_("Changes saved."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return see_other("archives.show", archive_id=archive.id)
