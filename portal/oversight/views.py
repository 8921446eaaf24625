"""Pages of oversight: the KPI dashboard 考核指标 (``/oversight/``, print, PDF, Excel) and the
monthly checks 月度检查 (``/oversight/checks``). Reminders live in ``portal.oversight.reminders``
(inbox source, ``portal remind``)."""
from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext

from portal import printing, workcal
from portal.archives import permissions as perm
from portal.archives.models import Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.dbsetup import writes
from portal.errors import PortalError
from portal.extensions import db
from portal.oversight import checks, kpi, reminders, report  # noqa: F401 — reminders: inbox source
from portal.oversight.kpi import month_key, month_start
from portal.web import actor, htmx_target, int_arg, see_other

bp = Blueprint("oversight", __name__, url_prefix="/oversight")


# --- KPI dashboard ----------------------------------------------------------------------------------

@bp.route("/")
@writes
def dashboard():
    me = actor()
    today = workcal.today()
    period, errors = kpi.parse_period(request.args, today)
    fmt = "pdf" if printing.wants("pdf") else "xlsx" if printing.wants("xlsx") else "html"
    kpi.open_dashboard(me, period, int_arg("department"), fmt)
    board = kpi.dashboard(me.user, period, int_arg("department"), today)
    if fmt == "xlsx":
        return printing.xlsx_response(report.xlsx(board, me.user), "kpi-dashboard")
    context = dict(board=board, charts=report.build_charts(board), errors=errors, args=request.args,
                   department_rows=report.department_rows, month_rows=report.month_rows,
                   cap=kpi.LIST_CAP, month_key=month_key, labels=kpi.WORKFLOW_LABELS,
                   years=list(range(today.year, today.year - 6, -1)))
    if fmt == "pdf":
        return printing.pdf_response("oversight/dashboard.html", "kpi-dashboard", **context)
    return render_template("oversight/dashboard.html", **context), 422 if errors else 200


# --- monthly checks ------------------------------------------------------------------------------------

def _checks_context(user, today, q: str, state: str) -> dict:
    month = month_start(today)
    rows = checks.my_rows(user, month, q, state)
    return dict(rows=rows, month=month, month_label=month_key(month), due_date=checks.due_date(month),
                late=today > checks.due_date(month), q=q, state=state, today=today,
                open_ids=[r.archive.id for r in rows if not r.done],
                progress=checks.department_progress(user, month) if user.role == roles.DEPT_HEAD else None,
                note_limit=checks.NOTE_LIMIT)


@bp.route("/checks")
def checks_page():
    me = actor()
    if not checks.can_check(me.user):
        raise deny(me, _("Monthly checks are made by the staff responsible for archives."),
                   what="monthly checks")
    q = (request.args.get("q") or "").strip()[:80]
    state = request.args.get("state") if request.args.get("state") in ("open", "done") else ""
    return render_template("oversight/checks.html", **_checks_context(me.user, workcal.today(), q, state))


@bp.route("/checks/<int:archive_id>/confirm", methods=["POST"])
def confirm(archive_id: int):
    me = actor()
    note = request.form.get("note", "")
    back = request.form.get("back", "")
    target = htmx_target()
    try:
        check = checks.confirm(me, archive_id, note)
    except PortalError as exc:
        if exc.status not in (409, 422):
            raise
        db.session.rollback()
        archive = db.session.get(Archive, archive_id)
        if target == f"check-{archive_id}" and archive is not None:
            row = _row(me.user, archive)
            return render_template("oversight/_check_row.html", row=row, error=str(exc.message),
                                   note=note, note_limit=checks.NOTE_LIMIT), exc.status
        if exc.status == 422 and back != "archive":
            filters = _filter_args()
            context = _checks_context(me.user, workcal.today(), filters.get("q", ""), filters.get("state", ""))
            context.update(errors={archive_id: str(exc.message)}, notes={archive_id: note})
            return render_template("oversight/checks.html", **context), 422
        raise
    if target == f"check-{archive_id}":
        # the row, and out of band the "confirm all listed" form without this archive
        filters = _filter_args()
        context = _checks_context(me.user, workcal.today(), filters.get("q", ""), filters.get("state", ""))
        return (render_template("oversight/_check_row.html", row=_row(me.user, check.archive),
                                note_limit=checks.NOTE_LIMIT)
                + render_template("oversight/_checks_all.html", oob=True, **context))
    flash(_("Monthly check of %(archive)s confirmed.", archive=check.archive.label), "success")
    if back == "archive":
        return see_other("archives.show", archive_id=archive_id)
    return see_other("oversight.checks_page", **_filter_args())


def _row(user, archive: Archive) -> checks.CheckRow:
    month = month_start(workcal.today())
    start = checks._utc_start(month)
    return checks.CheckRow(archive, checks.checks_of(month, [archive.id]).get(archive.id),
                           archive.filed_at is not None and archive.filed_at < start)


def _filter_args() -> dict:
    out = {"q": (request.form.get("q") or "").strip()[:80],
           "state": request.form.get("state") if request.form.get("state") in ("open", "done") else ""}
    return {k: v for k, v in out.items() if v}


@bp.route("/checks/confirm-all", methods=["POST"])
def confirm_all():
    me = actor()
    note = request.form.get("note", "")
    try:
        count = checks.confirm_many(me, request.form.getlist("archive_id"), note)
    except PortalError as exc:
        if exc.status != 422:
            raise
        db.session.rollback()
        filters = _filter_args()
        context = _checks_context(me.user, workcal.today(), filters.get("q", ""), filters.get("state", ""))
        context.update(all_error=str(exc.message), all_note=note)
        return render_template("oversight/checks.html", **context), 422
    if count:
        flash(ngettext("%(num)d monthly check confirmed.", "%(num)d monthly checks confirmed.", count),
              "success")
    else:
        flash(_("Nothing left to confirm: the listed archives were already checked this month."), "info")
    return see_other("oversight.checks_page", **_filter_args())


# --- header link and archive page panel ---------------------------------------------------------

def archive_panel(archive: Archive) -> dict | None:
    """This month's check and the completeness of ``archive`` (shown to those who see the page)."""
    me = actor()
    if me.user is None or archive.status == reminders.DESTROYED or not perm.can_view(me.user, archive):
        return None
    score, missing = kpi.completeness(archive)
    return {"state": checks.state_of(archive), "score": score, "missing": missing,
            "may_confirm": checks.may_confirm(me.user, archive), "note_limit": checks.NOTE_LIMIT,
            "month_label": month_key(month_start(workcal.today()))}


def nav_links() -> dict:
    me = actor()
    user = me.user
    return {"dashboard": kpi.can_read(user),
            "checks": checks.can_check(user) and (user.role == roles.DEPT_HEAD or _responsible(user))}


def _responsible(user) -> bool:
    import sqlalchemy as sa

    return bool(db.session.scalar(sa.select(Archive.id).where(Archive.responsible_id == user.id).limit(1)))


@bp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(oversight_panel=archive_panel, oversight_nav=nav_links)
