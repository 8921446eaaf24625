"""Change request pages 变更申请 (routes on the ``requests`` blueprint, under ``/requests/changes``):
propose (the archive's profile form, prefilled), one request with its decisions, the change log
with filters, its A4 printout and its Excel export.

Proposing: the form is validated first, then the evidence file is stored as a document of the
archive (``documents.services.upload``), then the request is made. If the request is refused after
the file was stored, the form comes back with the stored file selected as evidence: nothing is lost.
"""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask import flash, g, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal import printing
from portal.admin.models import CustomerType
from portal.archives import display as disp
from portal.archives import forms
from portal.archives import permissions as perm
from portal.archives.masking import shown
from portal.archives.models import Archive
from portal.archives.profile import ALL_FIELDS, SECTIONS
from portal.archives.services import deny, get_archive
from portal.archives.views_forms import keep_masked
from portal.auth import roles
from portal.auth.models import Department
from portal.dbsetup import writes
from portal.documents import services as documents
from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.register import actions
from portal.register.services import record
from portal.templating import local_time
from portal.web import actor, int_arg, page_or_fragment, see_other
from portal.workflows import change_log
from portal.workflows import change_requests as changes
from portal.workflows.query_requests import last_day
from portal.workflows.requests import C_STATUS_LABELS, active_grant, important_fields
from portal.workflows.views_requests import bp, current, field_errors

PRINT_CAP = 2000
EXPORT_CAP = 20000


# --- showing values ----------------------------------------------------------------------------

def value_text(user, name: str, text: str) -> dict:
    """A stored change value as ``user`` may see it: {"text", "masked", "empty"}."""
    if text in ("", None):
        return {"text": _("(empty)"), "masked": False, "empty": True}
    f = ALL_FIELDS.get(name)
    if f is None:
        return {"text": text, "masked": False, "empty": False}
    if f.personal:
        masked = shown(user, text, name)
        return {"text": masked, "masked": masked != text, "empty": False}
    if f.choices == "customer_type" and text.isdigit():
        ctype = db.session.get(CustomerType, int(text))
        return {"text": ctype.name if ctype else text, "masked": False, "empty": False}
    if f.type == "choice":
        return {"text": forms.choice_label(f.choices, text), "masked": False, "empty": False}
    return {"text": text, "masked": False, "empty": False}


@bp.app_context_processor
def _change_helpers():
    def change_value(name: str, text: str) -> dict:
        return value_text(current_user, name, text)

    return {"change_value": change_value, "archive_requests": archive_requests}


def archive_requests(archive: Archive) -> dict:
    """What the archive page's change section shows (``requests/_archive_changes.html``)."""
    user = current_user
    rows = changes.of_archive(archive)
    grant = None if perm._own_access(user, archive) else active_grant(user.id, archive.id)
    return {
        "pending": [r for r in rows if r.is_open],
        "applied": [r for r in rows if r.status == "applied"],
        "closed": [r for r in rows if r.status in ("rejected", "withdrawn")],
        "can_propose": changes.can_propose(user, archive),
        "grant": grant,
        "grant_last_day": last_day(grant).isoformat() if grant else "",
        "deadline": changes.step_deadline,
    }


# --- proposing ---------------------------------------------------------------------------------

def _proposal_form(archive: Archive, *, data=None):
    user = current()
    fields = changes.fields_for(archive)
    choices = forms.dynamic_choices(user, archive.department_id,
                                    {"customer_type_id": archive.customer_type_id})
    return forms.build_form(fields, choices, data=data), fields


def _render_proposal(archive, form, fields, masked, *, status=200, errors=None, values=None):
    user = current()
    placeholders = {f.name: disp.display(user, archive, f).text for f in fields if f.name in masked}
    groups = []
    for section in SECTIONS:
        in_section = [f for f in fields if f in section.fields]
        if in_section:
            groups.append((section, in_section))
    return render_template(
        "requests/change_new.html", archive=archive, form=form, groups=groups, masked=masked,
        placeholders=placeholders, errors=errors or {}, values=values or {},
        important=important_fields(), evidence_choices=documents.documents_of(user, archive),
        doc_types=documents.document_types()), status


def _default_type(types: list[str]) -> str:
    return "其他" if "其他" in types else (types[-1] if types else "")


def _store_evidence(archive: Archive, upload, doc_type: str, names: list[str]):
    """Store the evidence file as a document of the archive; returns (document id, error)."""
    title = _("Evidence for a change of %(fields)s", fields="、".join(names))[:200]
    details = documents.Details(doc_type=doc_type, title=title)
    try:
        doc = documents.upload(actor(), archive.id, upload.stream, upload.filename, details)
    except documents.Duplicate as exc:
        db.session.rollback()
        existing = db.session.get(documents.Document, exc.detail.get("document_id"))
        if existing is not None and perm.can_view_document(current(), existing):
            flash(_("The same file is already in this archive as “%(title)s”; it is used as the "
                    "evidence.", title=existing.title), "info")
            return existing.id, None
        return None, str(exc.message)
    except PortalError as exc:
        db.session.rollback()
        return None, str(exc.message)
    return doc.id, None


@bp.route("/changes/new/<int:archive_id>", methods=["GET", "POST"])
def change_new(archive_id: int):
    """Propose a change of a filed archive: its profile form with the current values."""
    archive = get_archive(archive_id)
    changes.refuse_propose(actor(), archive)
    user = current()
    fields = changes.fields_for(archive)
    masked = disp.masked_fields(user, archive, fields)
    if request.method == "GET":
        data = {f.name: None if f.name in masked else getattr(archive, f.name) for f in fields}
        form, fields = _proposal_form(archive, data=data)
        return _render_proposal(archive, form, fields, masked,
                                values={"evidence_type": _default_type(documents.document_types())})
    form, fields = _proposal_form(archive)
    values = {"reason": request.form.get("reason", ""),
              "evidence_document": request.form.get("evidence_document", ""),
              "evidence_type": request.form.get("evidence_type", "")}
    errors: dict[str, str] = {}
    upload = request.files.get("evidence_file")
    has_file = upload is not None and bool(upload.filename)
    if not form.validate_on_submit():
        errors["_form"] = _("Correct the marked fields.")
    data = forms.cleaned(form, fields) if not form.errors else {}
    keep_masked(data, archive, masked)
    proposed = [f.name for f in fields if f.name in data
                and changes.as_text(data[f.name]) != changes.as_text(getattr(archive, f.name))]
    if not form.errors and not proposed:
        errors["fields"] = _("Change at least one field: the form still holds the archive's current values.")
    if not values["reason"].strip():
        errors["reason"] = _("State the reason for the change.")
    if not has_file and not values["evidence_document"].isdigit():
        errors["evidence"] = _("Attach the evidence for the change (a file, or a document already in "
                               "this archive).")
    if has_file and values["evidence_type"] not in documents.document_types():
        errors["evidence"] = _("Choose the kind of document the evidence is.")
    if errors:
        if has_file:
            errors.setdefault("evidence", _("Choose the evidence file again: a browser does not keep a "
                                            "chosen file when the form comes back."))
        return _render_proposal(archive, form, fields, masked, status=422, errors=errors, values=values)
    evidence_id = int(values["evidence_document"]) if values["evidence_document"].isdigit() else None
    if has_file:
        evidence_id, problem = _store_evidence(archive, upload, values["evidence_type"],
                                               [str(ALL_FIELDS[n].label) for n in proposed])
        if problem:
            errors["evidence"] = problem
            return _render_proposal(archive, form, fields, masked, status=422, errors=errors, values=values)
        values["evidence_document"] = str(evidence_id)
    archive = get_archive(archive_id)
    try:
        req = changes.propose(actor(), archive, {n: data[n] for n in proposed}, values["reason"],
                              evidence_id)
    except ValidationFailed as exc:
        db.session.rollback()
        archive = get_archive(archive_id)
        return _render_proposal(archive, form, fields, masked, status=422, errors=field_errors(exc),
                                values=values)
    flash(_("Change request %(label)s submitted. The department head decides within 1 working day.",
            label=req.label), "success")
    return see_other("requests.change_detail", request_id=req.id)


# --- one request -------------------------------------------------------------------------------

def _change_page(req, status: int = 200, **extra):
    user = current()
    context = {
        "req": req, "may_decide": changes.may_decide(user, req), "may_apply": changes.may_apply(user, req),
        "may_reject": changes.may_reject(user, req), "may_withdraw": changes.may_withdraw(user, req),
        "deadline": changes.step_deadline(req), "stale": changes.stale_items(req) if req.is_open else [],
        "show_archive": perm.can_view(user, req.archive),
        "evidence_open": req.evidence is not None and perm.can_view_document(user, req.evidence),
        "reason": "", "error": None,
    }
    context.update(extra)
    return page_or_fragment("requests/change_detail.html", {"change-reject-slot": "requests/_change_reject.html"},
                            status=status, **context)


@bp.route("/changes/<int:request_id>")
def change_detail(request_id: int):
    return _change_page(changes.require_visible(actor(), request_id))


@bp.route("/changes/<int:request_id>/approve", methods=["POST"])
def change_approve(request_id: int):
    req = changes.require_visible(actor(), request_id)
    changes.approve(actor(), req, request.form.get("note", ""))
    flash(_("Approved. The archivist applies the change next.") if req.status == "approved" else
          _("Approved. The head of the customer-service department decides next."), "success")
    return see_other("requests.change_detail", request_id=request_id)


@bp.route("/changes/<int:request_id>/reject", methods=["GET", "POST"])
def change_reject(request_id: int):
    g.error_target = "#change-reject-slot"
    req = changes.require_visible(actor(), request_id)
    fragments = {"change-reject-slot": "requests/_change_reject.html"}
    if request.method == "GET":
        if not changes.may_reject(current(), req):
            raise deny(actor(), _l("You cannot decide this change request at its current step."),
                       req.archive, f"reject {req.label}")
        return page_or_fragment("requests/change_reject.html", fragments, req=req, reason="", error=None)
    reason = request.form.get("reason", "")
    try:
        changes.reject(actor(), req, reason)
    except ValidationFailed as exc:
        db.session.rollback()
        return page_or_fragment("requests/change_reject.html", fragments, status=422,
                                req=changes.get(request_id), reason=reason, error=exc.message)
    flash(_("The change request is rejected; the proposer is told why."), "success")
    return see_other("requests.change_detail", request_id=request_id)


@bp.route("/changes/<int:request_id>/withdraw", methods=["POST"])
def change_withdraw(request_id: int):
    req = changes.require_visible(actor(), request_id)
    changes.withdraw(actor(), req)
    flash(_("Your change request is withdrawn."), "success")
    return see_other("requests.change_detail", request_id=request_id)


@bp.route("/changes/<int:request_id>/apply", methods=["POST"])
def change_apply(request_id: int):
    req = changes.require_visible(actor(), request_id)
    changes.apply(actor(), req)
    flash(_("The change is applied to the archive."), "success")
    return see_other("requests.change_detail", request_id=request_id)


# --- the change log 变更登记 -------------------------------------------------------------------

def _log_filter() -> tuple[change_log.LogFilter, dict]:
    args, errors = request.args, {}

    def day(name):
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = _("Enter the date as YYYY-MM-DD.")
            return None

    status = args.get("status", "")
    return change_log.LogFilter(
        date_from=day("from"), date_to=day("to"), archive=(args.get("archive") or "").strip()[:80],
        department_id=int_arg("department_id"), status=status if status in C_STATUS_LABELS else "",
    ), errors


def _filter_args(f: change_log.LogFilter) -> dict:
    out = {"from": f.date_from.isoformat() if f.date_from else "", "to": f.date_to.isoformat() if f.date_to else "",
           "archive": f.archive, "department_id": f.department_id or "", "status": f.status}
    return {k: v for k, v in out.items() if v}


def _describe(f: change_log.LogFilter) -> str:
    parts = []
    if f.date_from or f.date_to:
        parts.append(_("Proposed %(start)s to %(end)s", start=f.date_from.isoformat() if f.date_from else "…",
                       end=f.date_to.isoformat() if f.date_to else "…"))
    if f.archive:
        parts.append(_("Archive %(number)s", number=f.archive))
    if f.department_id:
        dept = db.session.get(Department, f.department_id)
        parts.append(_("Department: %(name)s", name=dept.name if dept else f.department_id))
    if f.status:
        parts.append(_("Status: %(status)s", status=C_STATUS_LABELS[f.status]))
    return "; ".join(parts) if parts else _("All change requests")


def _refuse_admin_log(what: str) -> None:
    if perm.is_admin(current()):
        raise deny(actor(), perm.view_refusal(current(), None), None, what)


@bp.route("/changes/")
def change_index():
    """Change requests of the archives the user may open, with filters (and print / Excel)."""
    _refuse_admin_log("change log")
    f, errors = _log_filter()
    rows, total = change_log.log(current(), f, limit=200)
    return page_or_fragment("requests/change_index.html", {"change-results": "requests/_change_results.html"},
                            rows=rows, total=total, f=f, errors=errors, filter_args=_filter_args(f),
                            statuses=C_STATUS_LABELS, departments=_departments(),
                            filter_text=_describe(f))


def _departments():
    if current().role not in roles.ALL_DEPARTMENT_ROLES:
        return []
    return list(db.session.scalars(sa.select(Department).order_by(Department.id)))


@bp.route("/changes/print")
@writes
def change_print():
    """The change log on A4 (landscape): who proposed, who approved, when, old → new, why."""
    if printing.wants("xlsx"):  # the print toolbar's Excel button
        return change_export()
    _refuse_admin_log("print change log")
    pdf = printing.wants("pdf")
    f, errors = _log_filter()
    rows, total = change_log.log(current(), f, limit=PRINT_CAP)
    record(actor(), actions.CHANGE_LOG_PRINT,
           detail=f"{'PDF ' if pdf else ''}{_describe(f)} ({len(rows)} of {total})")
    db.session.commit()
    now = local_time(datetime.now(UTC).replace(tzinfo=None))
    context = dict(rows=rows, total=total, filter_text=_describe(f), filter_args=_filter_args(f),
                   printed_at=now, errors=errors)
    if pdf:
        return printing.pdf_response("requests/change_print.html", "change-log", **context)
    return render_template("requests/change_print.html", **context)


@bp.route("/changes/export.xlsx")
@writes
def change_export():
    """The filtered change log as an Excel workbook: one row per changed field."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    _refuse_admin_log("export change log")
    f, _errors = _log_filter()
    user = current()
    rows, total = change_log.log(user, f, limit=EXPORT_CAP)
    book = Workbook()
    sheet = book.active
    sheet.title = _("Change log")[:31]
    headers = [_("Request"), _("Archive number"), _("Customer"), _("Status"), _("Field"), _("Old value"),
               _("New value"), _("Reason"), _("Proposed by"), _("Proposed at"),
               _("Department head"), _("Approved at"), _("Customer-service head"), _("Approved at"),
               _("Applied by"), _("Applied at"), _("Rejected by"), _("Rejection reason")]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="EEF2F6")
    when = lambda v: local_time(v, "%Y-%m-%d %H:%M") if v else ""  # noqa: E731
    name = lambda u: u.display_name if u else ""  # noqa: E731
    for req in rows:
        for item in req.items:
            values = [req.label, req.archive.label, req.archive.name, req.status_label,
                      field_text(item.field), value_text(user, item.field, item.old_value)["text"],
                      value_text(user, item.field, item.new_value)["text"], req.reason,
                      name(req.proposed_by), when(req.created_at), name(req.head), when(req.head_at),
                      name(req.service), when(req.service_at), name(req.applied_by), when(req.applied_at),
                      name(req.rejected_by), req.reject_reason]
            sheet.append(values)
            for cell in sheet[sheet.max_row]:
                # Text only: a value starting with "=" must not become a formula in Excel.
                if isinstance(cell.value, str):
                    cell.data_type = "s"
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = [8, 22, 24, 14, 14, 24, 24, 30, 10, 17, 10, 17, 10, 17, 10, 17, 10, 24]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    book.save(out)
    record(actor(), actions.CHANGE_LOG_EXPORT, detail=f"{_describe(f)} ({len(rows)} of {total})")
    db.session.commit()
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response.headers["Content-Disposition"] = f'attachment; filename="change-log-{stamp}.xlsx"'
    response.headers["X-Total-Count"] = str(total)
    return response


def field_text(name: str) -> str:
    f = ALL_FIELDS.get(name)
    return str(f.label) if f else name
