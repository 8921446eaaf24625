"""Pages of the quarterly inspection 抽查 (services in ``portal.inspection.services``).

/inspections/                         list (+ overdue rectifications); /inspections/print (A4, PDF, Excel)
/inspections/new                      draw a sample (archivist)
/inspections/<id>                     one inspection: samples, findings, 复现抽样, closing
/inspections/<id>/print               档案抽查记录 (A4, PDF, Excel)
/inspections/samples/<id>             one sampled archive's checklist (+ /check to save)
/inspections/findings/<id>/assign     assign the rectification of a finding
/inspections/rectifications/<id>      one rectification (+ /done, /close, /return)
/inspections/settings                 default sample size (administrator)
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from portal import printing, workcal
from portal.archives import permissions as perm
from portal.archives.models import Archive
from portal.dbsetup import writes
from portal.documents.models import Document
from portal.errors import Conflict, PortalError, ValidationFailed
from portal.extensions import db
from portal.inspection import checklist
from portal.inspection import services as svc
from portal.inspection.models import CLOSED, NONCONFORM, OPEN, R_CLOSED, R_OPEN, R_REPORTED
from portal.register import actions
from portal.register.services import record
from portal.templating import local_time
from portal.web import actor, htmx_target, int_arg, see_other

bp = Blueprint("inspection", __name__, url_prefix="/inspections")


def _printed_at() -> str:
    return local_time(datetime.now(UTC).replace(tzinfo=None))


def _errors_of(exc: PortalError) -> dict:
    errors = dict(exc.detail.get("errors") or {})
    if not errors and exc.detail.get("field"):
        errors[exc.detail["field"]] = str(exc.message)
    return errors


def _doc_counts(archive_ids: list[int]) -> dict[int, int]:
    if not archive_ids:
        return {}
    rows = db.session.execute(sa.select(Document.archive_id, sa.func.count(Document.id))
                              .where(Document.archive_id.in_(archive_ids)).group_by(Document.archive_id))
    return {archive_id: count for archive_id, count in rows}


def _print_log(what: str, fmt: str) -> None:
    """PDF and Excel copies leave the portal: they go on the register."""
    me = actor()
    record(me, actions.LEDGER_PRINT, detail=f"{what} ({fmt})")
    db.session.commit()


# --- list -------------------------------------------------------------------------------------------

def _list_context():
    me = actor()
    year = int_arg("year")
    status = request.args.get("status", "")
    rows = svc.list_inspections(me, year=year, status=status)
    return dict(rows=rows, year=year, status=status, years=svc.years(),
                overdue=svc.overdue_rectifications(me.user), today=workcal.today(),
                partial=not svc.sees_everything(me.user),
                filter_text=_list_filter_text(year, status))


def _list_filter_text(year, status) -> str:
    parts = [_("Year %(year)s", year=year) if year else _("All years")]
    parts.append(str(svc.STATE_LABELS[status]) if status in (OPEN, CLOSED) else _("All states"))
    return "；".join(parts)


@bp.route("/")
def index():
    return render_template("inspection/index.html", may_draw=svc.can_draw(current_user), **_list_context())


@bp.route("/print")
@writes
def list_print():
    context = _list_context()
    context["printed_at"] = _printed_at()
    if printing.wants("xlsx"):
        rows = [[row.inspection.label, svc.quarter_label(row.inspection.year, row.inspection.quarter),
                 svc.scope_text(row.inspection), f"{row.summary.samples} / {row.inspection.population_count}",
                 row.summary.checked, row.summary.conforming, row.summary.findings, row.summary.open,
                 row.summary.overdue, str(svc.STATE_LABELS[row.state]), row.inspection.created_by.display_name,
                 local_time(row.inspection.created_at, "%Y-%m-%d")] for row in context["rows"]]
        data = printing.workbook(
            _("Quarterly inspection records"),
            [_("No."), _("Quarter"), _("Inspection scope"), _("Sample / population"), _("Checked"), _("Conforming"),
             _("Findings"), _("Open rectifications"), _("Overdue"), _("State"), _("Drawn by"), _("Drawn on")],
            rows, lines=[_("Filter: %(filter)s", filter=context["filter_text"]),
                         _("Printed %(time)s by %(name)s (%(role)s)", time=context["printed_at"],
                           name=current_user.display_name, role=current_user.role_label)],
            widths=[14, 14, 22, 12, 8, 8, 8, 10, 8, 16, 12, 12],
            signatures=[_("Archivist"), _("Quality supervisor"), _("Date")])
        _print_log("inspection list", "xlsx")
        return printing.xlsx_response(data, "inspections")
    if printing.wants("pdf"):
        response = printing.pdf_response("inspection/list_print.html", "inspections", **context)
        _print_log("inspection list", "pdf")
        return response
    return render_template("inspection/list_print.html", **context)


# --- drawing ---------------------------------------------------------------------------------------

def _draw_page(form: svc.DrawForm, errors=None, status=200):
    quarters = svc.quarter_choices()
    try:  # an earlier quarter asked for (reproducing an old draw) stays selectable
        year, quarter = svc.parse_quarter(form.quarter)
    except ValidationFailed:
        pass
    else:
        if svc.quarter_value(year, quarter) not in dict(quarters):
            quarters.append((svc.quarter_value(year, quarter), svc.quarter_label(year, quarter)))
    return render_template("inspection/new.html", form=form, errors=errors or {},
                           quarters=quarters, scopes=svc.scope_choices()), status


@bp.route("/new", methods=["GET", "POST"])
def new():
    me = actor()
    if not svc.can_draw(me.user):
        from portal.archives.services import deny
        raise deny(me, _("Only the archivist draws inspection samples."), None, "inspection draw")
    if request.method == "GET":
        year, quarter = svc.quarter_of(workcal.today())
        seed = request.args.get("seed", "").strip()[:64] or svc.new_seed()
        form = svc.DrawForm(quarter=request.args.get("quarter", "")[:8] or svc.quarter_value(year, quarter),
                            sample=request.args.get("sample", "")[:6] or svc.default_sample_size(),
                            seed=seed, scope=request.args.get("scope", "all")[:40])
        return _draw_page(form)
    form = svc.DrawForm.from_mapping(request.form)
    try:
        inspection = svc.draw(me, form)
    except ValidationFailed as exc:
        db.session.rollback()
        return _draw_page(form, _errors_of(exc), 422)
    flash(_("Sample drawn: %(n)s of %(total)s archives. Check each one against the checklist.",
            n=inspection.sample_size, total=inspection.population_count), "success")
    return see_other("inspection.show", inspection_id=inspection.id)


# --- one inspection -----------------------------------------------------------------------------------

def _inspection_context(inspection):
    user = current_user
    samples = svc.visible_samples(user, inspection)
    s = svc.summary(inspection, samples)
    counts = _doc_counts([sm.archive_id for sm in samples])
    rects = svc.rectifications_of(inspection, samples)
    findings = [c for sm in samples for c in sm.checks if c.result == NONCONFORM]
    may_check = svc.can_check(user) and inspection.status == OPEN
    return dict(inspection=inspection, samples=samples, summary=s, counts=counts, rects=rects,
                findings=findings, state=svc.state(inspection, s if svc.sees_everything(user) else None),
                partial=not svc.sees_everything(user), may_check=may_check,
                may_assign=svc.can_check(user), may_close=may_check,
                scope_text=svc.scope_text(inspection), today=workcal.today(),
                assignees=svc.assignable_users() if svc.can_check(user) else [],
                default_assignee=svc.default_assignee, rectify_days=svc.RECTIFY_DAYS,
                checklist_items=checklist.CHECKLIST)


@bp.route("/<int:inspection_id>")
def show(inspection_id: int):
    inspection = svc.require_inspection(actor(), inspection_id)
    context = _inspection_context(inspection)
    context["reproduction"] = svc.reproduce(inspection)
    context["assign_errors"] = {}
    return render_template("inspection/show.html", **context)


@bp.route("/<int:inspection_id>/close", methods=["POST"])
def close(inspection_id: int):
    svc.close(actor(), inspection_id, request.form.get("note", ""), request.form.get("version"))
    flash(_("The inspection is closed."), "success")
    return see_other("inspection.show", inspection_id=inspection_id)


@bp.route("/<int:inspection_id>/print")
@writes
def record_print(inspection_id: int):
    inspection = svc.require_inspection(actor(), inspection_id)
    context = _inspection_context(inspection)
    context["printed_at"] = _printed_at()
    if printing.wants("xlsx"):
        data = _record_workbook(context)
        _print_log(f"inspection record {inspection.label}", "xlsx")
        return printing.xlsx_response(data, f"inspection-{inspection.label}")
    if printing.wants("pdf"):
        response = printing.pdf_response("inspection/record_print.html", f"inspection-{inspection.label}",
                                         **context)
        _print_log(f"inspection record {inspection.label}", "pdf")
        return response
    return render_template("inspection/record_print.html", **context)


def _record_workbook(context) -> bytes:
    inspection = context["inspection"]
    rows = []
    for sample in context["samples"]:
        name = archive_name(sample.archive)
        for check in sample.checks:
            rect = check.rectification
            rows.append([sample.position, sample.archive_number, name,
                         sample.department.name if sample.department else "",
                         checklist.label(check.key), svc._result_text(check.result), check.note,
                         rect.assignee.display_name if rect else "", rect.deadline.isoformat() if rect else "",
                         svc.rect_state_label(rect) if rect else ""])
    s = context["summary"]
    lines = [
        _("Quarter: %(quarter)s", quarter=svc.quarter_label(inspection.year, inspection.quarter)),
        _("Scope: %(scope)s", scope=context["scope_text"]),
        _("Sample size: %(requested)s → %(n)s of %(total)s archives", requested=inspection.sample_requested,
          n=inspection.sample_size, total=inspection.population_count),
        _("Seed: %(seed)s", seed=inspection.seed),
        _("Population SHA-256: %(hash)s", hash=inspection.population_hash),
        _("Checked %(checked)s, conforming %(conforming)s, findings %(findings)s, open rectifications %(open)s",
          checked=s.checked, conforming=s.conforming, findings=s.findings, open=s.open),
        _("Printed %(time)s by %(name)s (%(role)s)", time=context["printed_at"],
          name=current_user.display_name, role=current_user.role_label),
    ]
    return printing.workbook(
        _("Archive inspection record %(label)s", label=inspection.label),
        [_("No."), _("Archive number"), _("Customer name"), _("Department"), _("Check item"), _("Check result"),
         _("Note"), _("Rectification by"), _("Rectification deadline"), _("Rectification state")],
        rows, lines=lines, widths=[6, 22, 22, 12, 22, 10, 30, 12, 12, 16],
        signatures=[_("Inspector (archivist)"), _("Quality supervisor"), _("Date")])


# --- one sampled archive ----------------------------------------------------------------------------

def _sample_context(sample, values=None, errors=None, conflict=None):
    user = current_user
    inspection = sample.inspection
    visible = svc.visible_samples(user, inspection)
    position = next((i for i, s in enumerate(visible) if s.id == sample.id), 0)
    later = visible[position + 1:] + visible[:position]
    next_open = next((s for s in later if svc.sample_state(s) in ("unchecked", "partial")), None)
    may_check = svc.can_check(user) and inspection.status == OPEN
    return dict(sample=sample, inspection=inspection, archive=sample.archive,
                values=values or svc.CheckValues.of(sample), errors=errors or {}, conflict=conflict,
                facts=checklist.facts(sample.archive) if svc.can_check(user) else None,
                completeness=checklist.completeness(sample.archive) if svc.can_check(user) else None,
                electronic=checklist.electronic_count(sample.archive),
                checks={c.key: c for c in sample.checks}, checklist=checklist.CHECKLIST,
                results=checklist.RESULT_LABELS, may_check=may_check, next_sample=next_open,
                prev_sample=visible[position - 1] if position > 0 else None,
                next_in_order=visible[position + 1] if position + 1 < len(visible) else None,
                today=workcal.today())


def _sample_response(sample, status=200, **kw):
    context = _sample_context(sample, **kw)
    template = "inspection/_checklist.html" if htmx_target() == "checklist" else "inspection/sample.html"
    return render_template(template, **context), status


@bp.route("/samples/<int:sample_id>")
def sample(sample_id: int):
    return _sample_response(svc.require_sample(actor(), sample_id))


@bp.route("/samples/<int:sample_id>/check", methods=["POST"])
def check(sample_id: int):
    values = svc.CheckValues.from_mapping(request.form)
    try:
        sample = svc.save_checks(actor(), sample_id, values)
    except ValidationFailed as exc:
        db.session.rollback()
        sample = svc.require_sample(actor(), sample_id)
        return _sample_response(sample, 422, values=values, errors=_errors_of(exc))
    except Conflict as exc:
        db.session.rollback()
        sample = svc.require_sample(actor(), sample_id)
        # keep what the user entered; show the saved results beside it; the next save wins
        values.version = str(sample.version)
        return _sample_response(sample, 409, values=values, conflict=str(exc.message))
    flash(_("Checklist of %(archive)s saved (%(state)s).", archive=sample.archive_number,
            state=svc.SAMPLE_STATE_LABELS[svc.sample_state(sample)]), "success")
    if request.form.get("then") == "next":
        nxt = _sample_context(sample)["next_sample"]
        if nxt is not None:
            return see_other("inspection.sample", sample_id=nxt.id)
        return see_other("inspection.show", inspection_id=sample.inspection_id)
    return see_other("inspection.sample", sample_id=sample.id)


# --- findings and rectifications ----------------------------------------------------------------------

@bp.route("/findings/<int:finding_id>/assign", methods=["POST"])
def assign(finding_id: int):
    me = actor()
    try:
        rect = svc.assign(me, finding_id, assignee_id=request.form.get("assignee", ""),
                          days=request.form.get("days", ""), instruction=request.form.get("instruction", ""))
    except ValidationFailed as exc:
        db.session.rollback()
        from portal.inspection.models import InspectionCheck
        finding = db.session.get(InspectionCheck, finding_id)
        inspection = svc.require_inspection(me, finding.sample.inspection_id)
        context = _inspection_context(inspection)
        context["reproduction"] = svc.reproduce(inspection)
        context["assign_errors"] = {finding_id: _errors_of(exc)}
        context["assign_values"] = {finding_id: request.form}
        return render_template("inspection/show.html", **context), 422
    flash(_("Rectification assigned to %(name)s, due %(date)s.", name=rect.assignee.display_name,
            date=rect.deadline.isoformat()), "success")
    return see_other("inspection.show", inspection_id=rect.inspection_id, _anchor=f"finding-{finding_id}")


def _rect_page(rect, status=200, errors=None, values=None):
    user = current_user
    sample = rect.check.sample
    return render_template(
        "inspection/rectification.html", rect=rect, sample=sample, inspection=sample.inspection,
        archive=sample.archive, state=svc.rect_state(rect), errors=errors or {}, values=values or {},
        may_report=rect.assignee_id == user.id and rect.status == R_OPEN,
        may_verify=svc.can_check(user) and rect.status == R_REPORTED,
        sees_inspection=svc.sees_sample(user, sample), today=workcal.today(),
        may_open_archive=perm.can_view(user, sample.archive)), status


@bp.route("/rectifications/<int:rectification_id>")
def rectification(rectification_id: int):
    return _rect_page(svc.require_rectification(actor(), rectification_id))


def _rect_action(rectification_id: int, action, success: str):
    me = actor()
    try:
        action(me)
    except ValidationFailed as exc:
        db.session.rollback()
        rect = svc.require_rectification(me, rectification_id)
        return _rect_page(rect, 422, errors=_errors_of(exc), values=request.form)
    flash(success, "success")
    return see_other("inspection.rectification", rectification_id=rectification_id)


@bp.route("/rectifications/<int:rectification_id>/done", methods=["POST"])
def rectification_done(rectification_id: int):
    return _rect_action(rectification_id, lambda me: svc.report_done(
        me, rectification_id, request.form.get("note", ""), request.form.get("version")),
        _("Reported done. The archivist will verify it."))


@bp.route("/rectifications/<int:rectification_id>/close", methods=["POST"])
def rectification_close(rectification_id: int):
    return _rect_action(rectification_id, lambda me: svc.close_rectification(
        me, rectification_id, request.form.get("note", ""), request.form.get("version")),
        _("Rectification verified and closed."))


@bp.route("/rectifications/<int:rectification_id>/return", methods=["POST"])
def rectification_return(rectification_id: int):
    return _rect_action(rectification_id, lambda me: svc.send_back(
        me, rectification_id, request.form.get("reason", ""), request.form.get("days", ""),
        request.form.get("version")),
        _("Rectification sent back."))


# --- settings (administrator) ----------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def settings():
    me = actor()
    if getattr(me.user, "role", None) != "admin":
        from portal.archives.services import deny
        raise deny(me, _("Only the system administrator changes this setting."), None, "inspection settings")
    errors = {}
    value = svc.default_sample_size()
    if request.method == "POST":
        value = request.form.get("sample_size", "").strip()
        try:
            changed = svc.save_sample_setting(me, value)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            flash(_("Saved.") if changed else _("Nothing changed."), "success" if changed else "info")
            return see_other("inspection.settings")
    return render_template("inspection/settings.html", value=value, errors=errors,
                           default=svc.SAMPLE_DEFAULT), 422 if errors else 200


# --- template helpers -------------------------------------------------------------------------------

def archive_name(archive: Archive) -> str:
    """The customer's name, or a placeholder where the reader's clearance does not reach the archive."""
    if archive is None:
        return ""
    if perm.can_view(current_user, archive) or svc.can_check(current_user):
        return archive.name
    return _("(name not shown: %(level)s)", level=perm.roles.LEVEL_LABELS.get(archive.sensitivity, ""))


@bp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(
        inspection_panel=lambda archive: svc.archive_panel(current_user, archive),
        reads_inspections=lambda: svc.can_read_inspections(current_user),
        inspection_archive_name=archive_name,
        inspection_check_label=checklist.label,
        inspection_result_label=svc._result_text,
        inspection_rect_state=svc.rect_state,
        inspection_rect_labels=svc.R_STATE_LABELS,
        inspection_sample_state=svc.sample_state,
        inspection_sample_labels=svc.SAMPLE_STATE_LABELS,
        inspection_state_labels=svc.STATE_LABELS,
        inspection_quarter=svc.quarter_label,
        inspection_r_closed=R_CLOSED,
        inspection_r_open=R_OPEN,
    )
