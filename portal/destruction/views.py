"""Pages of destruction 销毁: applications, decisions, execution, the register, the tombstone.

Views only speak HTTP; ``portal.destruction.services`` checks permissions and registers.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask import Blueprint, flash, g, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import printing
from portal.admin.models import Setting, get_setting
from portal.archives import permissions as perm
from portal.archives.models import DESTROYED, FILED, Archive
from portal.auth import roles
from portal.dbsetup import begin_write, writes
from portal.destruction import retention_link
from portal.destruction import services as svc
from portal.destruction.models import (
    GROUND_LABELS,
    GROUNDS,
    PIPL,
    RETENTION,
    S_APPROVED,
    S_EXECUTED,
    S_EXECUTING,
    STATUS_LABELS,
)
from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.register import actions
from portal.register.services import record
from portal.templating import local_time
from portal.web import actor, page_or_fragment, see_other

bp = Blueprint("destruction", __name__, url_prefix="/destruction")

LINE_RE = re.compile(r"^\d{1,12}$")


def _user():
    return actor().user


def _errors(exc: PortalError) -> dict[str, str]:
    fields = exc.detail.get("fields") or {}
    out = {k: str(v) for k, v in fields.items()}
    if not out:
        out[exc.detail.get("field") or "_form"] = str(exc.message)
    else:
        out.setdefault("_form", str(exc.message))
    return out


# --- applications list -------------------------------------------------------------------------

@bp.route("/")
def index():
    """Applications the user takes part in (all of them for archivist, supervisor, management)."""
    svc.require_participant(actor(), "destruction applications")
    status = request.args.get("status", "")
    if status not in ("", "open", *STATUS_LABELS):
        status = ""
    user = _user()
    rows = svc.applications_for(user, status)
    waiting = [a for a in rows if svc.may_decide(user, a) or (svc.may_execute(user, a))]
    return render_template("destruction/index.html", rows=rows, status=status, statuses=STATUS_LABELS,
                           waiting=waiting, can_apply=svc.can_apply(user),
                           can_register=svc.can_read_register(user), deadline=svc.step_deadline)


# --- applying ------------------------------------------------------------------------------------

def _lines_from_form(form) -> list[svc.Line]:
    out, seen = [], set()
    for raw in form.getlist("line"):
        if LINE_RE.match(raw or "") and int(raw) not in seen:
            seen.add(int(raw))
            out.append(svc.Line(int(raw), (form.get(f"reason_{raw}") or "").strip()[:svc.TEXT_LIMIT]))
    return out


def _render_new(lines: list[svc.Line], values: dict, *, status: int = 200, errors: dict | None = None,
                archive_errors: dict | None = None, searched: bool = False):
    user = _user()
    grounds = values.get("grounds") or RETENTION
    archives = {a.id: a for a in db.session.scalars(sa.select(Archive).where(
        Archive.id.in_([line.archive_id for line in lines]))).unique()} if lines else {}
    chosen = []
    for line in lines:
        archive = archives.get(line.archive_id)
        if archive is None or archive.status == DESTROYED or not perm.can_view(user, archive):
            continue
        chosen.append({"archive": archive, "reason": line.reason,
                       "eligible_on": retention_link.eligible_on(archive),
                       "eligible": retention_link.is_eligible(archive),
                       "held": retention_link.is_held(archive.id),
                       "open": svc.open_application_of(archive.id)})
    chosen_ids = {c["archive"].id for c in chosen}
    found = []
    if searched or grounds == RETENTION:
        for archive in svc.candidates(user, values.get("q", ""), grounds):
            if archive.id in chosen_ids:
                continue
            found.append({"archive": archive, "eligible_on": retention_link.eligible_on(archive),
                          "eligible": retention_link.is_eligible(archive),
                          "held": retention_link.is_held(archive.id),
                          "open": svc.open_application_of(archive.id)})
    allowed_grounds = [(g_, GROUND_LABELS[g_]) for g_ in GROUNDS if svc.can_apply(user, g_)]
    return render_template("destruction/new.html", chosen=chosen, found=found, values=values,
                           grounds=grounds, allowed_grounds=allowed_grounds, errors=errors or {},
                           archive_errors=archive_errors or {}, searched=searched), status


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Apply for destruction: grounds, reason, the archives (searched and added), the customer's
    request (PIPL). Works as a plain form: every button posts the whole form back."""
    user = _user()
    if not svc.can_apply(user):
        raise svc.deny(actor(), _l("Destruction is applied for by the archivist or by management."), None,
                       "apply for destruction")
    if request.method == "GET":
        lines = []
        ident = request.args.get("archive", "")
        if LINE_RE.match(ident):
            lines.append(svc.Line(int(ident), ""))
        grounds = request.args.get("grounds", RETENTION)
        values = {"grounds": grounds if grounds in GROUNDS and svc.can_apply(user, grounds) else RETENTION,
                  "q": (request.args.get("q") or "").strip()[:100]}
        return _render_new(lines, values, searched=bool(values["q"]))
    form = request.form
    values = {k: (form.get(k) or "").strip() for k in (
        "grounds", "reason", "q", "pipl_received_on", "pipl_channel", "pipl_requester", "pipl_identity",
        "pipl_reference")}
    values["q"] = values["q"][:100]
    if values["grounds"] not in GROUNDS or not svc.can_apply(user, values["grounds"]):
        values["grounds"] = RETENTION if form.get("action") != "submit" else values["grounds"]
    lines = _lines_from_form(form)
    action = form.get("action", "")
    if action == "search":
        return _render_new(lines, values, searched=True)
    if action == "add":
        present = {line.archive_id for line in lines}
        for raw in form.getlist("pick"):
            if LINE_RE.match(raw) and int(raw) not in present:
                lines.append(svc.Line(int(raw), ""))
                present.add(int(raw))
        return _render_new(lines, values, searched=bool(values["q"]))
    if action.startswith("remove-"):
        gone = action.removeprefix("remove-")
        lines = [line for line in lines if str(line.archive_id) != gone]
        return _render_new(lines, values, searched=bool(values["q"]))
    if action != "submit":
        return _render_new(lines, values, searched=bool(values["q"]))
    try:
        app = svc.apply(actor(), grounds=values["grounds"], reason=values["reason"], lines=lines,
                        pipl=svc.PiplRequest.from_mapping(form) if values["grounds"] == PIPL else None)
    except ValidationFailed as exc:
        db.session.rollback()
        archive_errors = {int(k): str(v) for k, v in (exc.detail.get("archives") or {}).items()}
        return _render_new(lines, values, status=422, errors=_errors(exc), archive_errors=archive_errors)
    except PortalError as exc:
        if exc.status == 403 and not svc.can_apply(_user(), values["grounds"]):
            raise
        db.session.rollback()
        return _render_new(lines, values, status=exc.status, errors={"_form": str(exc.message)})
    flash(_("Destruction application %(number)s submitted. The head of the customer-service department "
            "decides first (2 working days per step).", number=app.number), "success")
    return see_other("destruction.show", app_id=app.id)


# --- one application -----------------------------------------------------------------------------

def _show_page(app, status: int = 200, **extra):
    user = _user()
    context = {
        "app": app, "may_decide": svc.may_decide(user, app), "may_withdraw": svc.may_withdraw(user, app),
        "may_execute": svc.may_execute(user, app), "my_parts": svc.parts_for(user, app),
        "deciders": svc.next_deciders(app), "deadline": svc.step_deadline(app),
        "can_register": svc.can_read_register(user), "held": {r.archive_id for r in app.records
                                                               if retention_link.is_held(r.archive_id)},
        "open_archive": lambda archive: archive.status != DESTROYED and perm.can_view(user, archive),
        "reason": "", "error": None,
    }
    context.update(extra)
    return page_or_fragment("destruction/show.html", {"destruction-reject-slot": "destruction/_reject.html"},
                            status=status, **context)


@bp.route("/<int:app_id>")
def show(app_id: int):
    return _show_page(svc.require_visible(actor(), app_id))


@bp.route("/<int:app_id>/approve", methods=["POST"])
def approve(app_id: int):
    app = svc.require_visible(actor(), app_id)
    svc.approve(actor(), app, request.form.get("note", ""))
    flash(_("Approved. %(status)s.", status=app.status_label), "success")
    return see_other("destruction.show", app_id=app_id)


@bp.route("/<int:app_id>/reject", methods=["GET", "POST"])
def reject(app_id: int):
    g.error_target = "#destruction-reject-slot"
    app = svc.require_visible(actor(), app_id)
    fragments = {"destruction-reject-slot": "destruction/_reject.html"}
    if request.method == "GET":
        if not svc.may_decide(_user(), app):
            raise svc.deny(actor(), _l("You cannot decide this destruction application at its current step."),
                           None, f"reject destruction {app.number}")
        return page_or_fragment("destruction/reject.html", fragments, app=app, reason="", error=None)
    reason = request.form.get("reason", "")
    try:
        svc.reject(actor(), app, reason)
    except ValidationFailed as exc:
        db.session.rollback()
        return page_or_fragment("destruction/reject.html", fragments, status=422, app=svc.get(app_id),
                                reason=reason, error=exc.message)
    flash(_("The destruction application is rejected; its archives are free again and the applicant is "
            "told why."), "success")
    return see_other("destruction.show", app_id=app_id)


@bp.route("/<int:app_id>/withdraw", methods=["POST"])
def withdraw(app_id: int):
    app = svc.require_visible(actor(), app_id)
    svc.withdraw(actor(), app)
    flash(_("The destruction application is withdrawn."), "success")
    return see_other("destruction.show", app_id=app_id)


@bp.route("/<int:app_id>/execute", methods=["GET", "POST"])
def execute(app_id: int):
    """The execution form: the archivist's password, the witness's user name and password (a
    quality supervisor, present), how the paper files were destroyed."""
    app = svc.require_visible(actor(), app_id, "execute destruction")
    user = _user()
    if user.role != roles.ARCHIVIST:
        raise svc.deny(actor(), _l("Destruction is executed by the archivist, under a quality supervisor's "
                                   "witness."), None, f"execute destruction {app.number}")
    values = {"paper_method": request.form.get("paper_method", ""),
              "witness_username": (request.form.get("witness_username") or "").strip()[:64]}
    if request.method == "GET":
        if app.status not in (S_APPROVED, S_EXECUTING):
            return see_other("destruction.show", app_id=app_id)
        return _execute_page(app, values)
    problem = printing.pdf_problem()
    if problem:  # the certificate could not be made: refuse before anything is destroyed
        return _execute_page(app, values, status=503, errors={"_form": str(problem)})
    try:
        app = svc.execute(actor(), app_id, values["witness_username"], request.form.get("witness_password", ""),
                          request.form.get("archivist_password", ""), values["paper_method"])
    except (ValidationFailed, svc.ExecutionRefused) as exc:
        db.session.rollback()
        return _execute_page(svc.get(app_id), values, status=exc.status, errors=_errors(exc))
    except PortalError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        return _execute_page(svc.get(app_id), values, status=exc.status, errors={"_form": str(exc.message)})
    flash(_("Destruction %(number)s executed: %(n)s archives destroyed. The certificate is in the "
            "destruction register.", number=app.number, n=len(app.records)), "success")
    return see_other("destruction.show", app_id=app_id)


def _execute_page(app, values: dict, *, status: int = 200, errors: dict | None = None):
    return render_template("destruction/execute.html", app=app, values=values, errors=errors or {},
                           paper_choices=svc.PAPER_CHOICES,
                           held={r.archive_id for r in app.records if retention_link.is_held(r.archive_id)}), status


@bp.route("/<int:app_id>/certificate")
@writes
def certificate(app_id: int):
    """The stored certificate 销毁清册 (the PDF made at execution, unchanged)."""
    app, data = svc.certificate(actor(), app_id)
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="destruction-certificate-{app.number}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-SHA256"] = app.certificate_sha256
    return response


# --- the destruction register 销毁登记 -------------------------------------------------------------

def _register_filter() -> tuple[svc.RegisterFilter, dict]:
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

    status = args.get("status", S_EXECUTED)
    return svc.RegisterFilter(status=status if status in svc.REGISTER_STATUSES else S_EXECUTED,
                              date_from=day("from"), date_to=day("to"),
                              q=(args.get("q") or "").strip()[:80]), errors


def _describe(f: svc.RegisterFilter) -> str:
    parts = [str(STATUS_LABELS.get(f.status, _("All closed applications")))]
    if f.date_from or f.date_to:
        parts.append(_("%(start)s to %(end)s", start=f.date_from.isoformat() if f.date_from else "…",
                       end=f.date_to.isoformat() if f.date_to else "…"))
    if f.q:
        parts.append(_("containing “%(q)s”", q=f.q))
    return "; ".join(parts)


def _status_choices():
    return [(s, STATUS_LABELS[s]) for s in svc.REGISTER_STATUSES if s != "all"] + [("all", _l("All closed applications"))]


@bp.route("/register")
def register():
    """Every executed destruction (and, on request, rejected and withdrawn applications)."""
    svc.require_register_reader(actor(), "destruction register")
    f, errors = _register_filter()
    rows, total = svc.register_rows(f, limit=500)
    return page_or_fragment("destruction/register.html", {"destruction-results": "destruction/_register_rows.html"},
                            rows=rows, total=total, f=f, errors=errors, filter_args=f.args(),
                            filter_text=_describe(f), status_choices=_status_choices(),
                            keep_name=svc.keep_name())


@bp.route("/register/print")
@writes
def register_print():
    """The register on A4 (landscape), as PDF (``?format=pdf``) or Excel (``?format=xlsx``)."""
    svc.require_register_reader(actor(), "print destruction register")
    f, errors = _register_filter()
    rows, total = svc.register_rows(f)
    fmt = "xlsx" if printing.wants("xlsx") else "pdf" if printing.wants("pdf") else "html"
    record(actor(), actions.DESTRUCTION_PRINT, detail=f"register ({fmt}): {_describe(f)} ({len(rows)} of {total})")
    db.session.commit()
    if fmt == "xlsx":
        return printing.xlsx_response(_register_workbook(rows, f), "destruction-register")
    context = dict(rows=rows, total=total, f=f, errors=errors, filter_args=f.args(), filter_text=_describe(f),
                   printed_at=local_time(datetime.now(UTC).replace(tzinfo=None)))
    if fmt == "pdf":
        return printing.pdf_response("destruction/register_print.html", "destruction-register", **context)
    return render_template("destruction/register_print.html", **context)


def _approvals_text(app) -> str:
    out = []
    if app.service:
        out.append(f"{_('Customer service')}: {app.service.display_name} {local_time(app.service_at, '%Y-%m-%d')}")
    for p in app.department_parts:
        if p.approver:
            out.append(f"{p.department.name}: {p.approver.display_name} {local_time(p.approved_at, '%Y-%m-%d')}")
    if app.manager:
        out.append(f"{_('Management')}: {app.manager.display_name} {local_time(app.manager_at, '%Y-%m-%d')}")
    return "\n".join(out)


def _register_workbook(rows, f) -> bytes:
    user = _user()
    headers = [_("Destruction application"), _("Status"), _("Grounds"), _("Archive number"), _("Customer"), _("Filed on"),
               _("Cooperation ended"), _("Department"), _("Reason"), _("Documents"), _("Versions"), _("Page count"),
               _("Approval record"), _("Executed at"), _("Executor"), _("Witness"), _("Paper files"),
               _("Certificate SHA-256")]
    table = []
    for app in rows:
        for rec in app.records:
            table.append([app.number, app.status_label, app.grounds_label, rec.archive_number, rec.customer_name,
                          rec.filed_on.isoformat() if rec.filed_on else "",
                          rec.terminated_on.isoformat() if rec.terminated_on else "",
                          rec.department.name if rec.department else "", rec.reason,
                          rec.documents, rec.versions, rec.pages, _approvals_text(app),
                          local_time(app.executed_at) if app.executed_at else "",
                          app.executor.display_name if app.executor else "",
                          app.witness.display_name if app.witness else "", app.paper_method,
                          app.certificate_sha256])
    return printing.workbook(
        _("Destruction register"), headers, table,
        lines=[_("Filter: %(filter)s", filter=_describe(f)),
               _("Printed %(time)s by %(name)s", time=local_time(datetime.now(UTC).replace(tzinfo=None)),
                 name=user.display_name)],
        widths=[13, 10, 14, 20, 18, 11, 11, 10, 24, 8, 8, 8, 28, 16, 10, 10, 10, 20],
        signatures=[str(s) for s in printing.DEFAULT_SIGNATURES])


# --- the tombstone (the archive page of a destroyed archive) ------------------------------------

def tombstone_page(archive_id: int):
    """The archive page of a destroyed archive: only the tombstone, for the archivist, the quality
    supervisor and management (the view is registered); 404 for everyone else. None when the
    archive is not destroyed (the archive page proper is shown)."""
    archive = db.session.get(Archive, archive_id)
    if archive is None or archive.status != DESTROYED:
        return None
    me = actor()
    if not svc.can_view_tombstone(me.user):
        raise NotFound(_l("No such archive."))
    begin_write()
    record(me, actions.ARCHIVE_VIEW, archive=archive, detail="tombstone")
    db.session.commit()
    rec = svc.record_of(archive_id)
    return render_template("destruction/tombstone.html", archive=db.session.get(Archive, archive_id), rec=rec,
                           app=rec.application if rec else None)


# --- settings (administrator) -------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Whether a destroyed archive's tombstone (and certificate) keeps the customer's name."""
    from portal.admin.services import check_admin

    me = actor()
    check_admin(me, "destruction settings")
    keep = get_setting(svc.KEEP_NAME) not in ("0", "false", "no", "")
    if request.method == "POST":
        new_keep = request.form.get("keep_name") == "1"
        begin_write()
        check_admin(me, "destruction settings")
        if new_keep != keep:
            row = db.session.get(Setting, svc.KEEP_NAME)
            value = "1" if new_keep else "0"
            if row is None:
                db.session.add(Setting(key=svc.KEEP_NAME, value=value))
            else:
                row.value = value
            record(me, actions.SETTING_CHANGE, detail=f"{svc.KEEP_NAME}: {'1' if keep else '0'} → {value}")
            db.session.commit()
            flash(_("Saved. Destructions executed from now on follow the new setting."), "success")
        return see_other("destruction.settings")
    return render_template("destruction/settings.html", keep=keep)


# --- the archive page's panel and the header link ------------------------------------------------

def archive_panel(archive: Archive) -> dict:
    """What the archive page shows about destruction: an open application, or the way to propose one."""
    user = _user()
    if user is None or not svc.can_take_part(user):
        return {"show": False}
    app = svc.open_application_of(archive.id)
    may_propose = (archive.status == FILED and app is None and svc.can_apply(user)
                   and not retention_link.is_held(archive.id))
    rec = svc.record_of(archive.id) if archive.status == DESTROYED else None
    return {"show": bool(app or may_propose or rec), "app": app, "may_propose": may_propose,
            "sees_app": app is not None and svc.can_see(user, app), "rec": rec,
            "eligible_on": retention_link.eligible_on(archive) if may_propose else None}


@bp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(
        destruction_panel=archive_panel,
        destruction_nav=lambda: svc.can_take_part(actor().user),
    )
