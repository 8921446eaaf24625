"""Pages of reports under ``/ledgers``: the registers index 台账, the archive ledger 档案台账 (browse,
print, PDF, Excel) and handovers 移交 (list and register, new handover, the record with its
printout, receipt confirmation).

Views only speak HTTP; ``portal.reports.ledger`` and ``portal.reports.handovers`` check
permissions (403, registered), state (409) and input (422).
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal import printing
from portal.archives.labels import STATUS_LABELS as ARCHIVE_STATUS_LABELS
from portal.archives.services import deny
from portal.auth.models import User
from portal.dbsetup import writes
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.reports import handovers as svc
from portal.reports import ledger as ledger_svc
from portal.reports import registers, rules
from portal.reports.models import REASON_LABELS, STATUS_LABELS
from portal.templating import local_time
from portal.web import actor, int_arg, page_or_fragment, see_other

bp = Blueprint("reports", __name__, url_prefix="/ledgers")


def _printed_line() -> str:
    user = current_user
    return _("Printed %(time)s by %(name)s (%(role)s)", time=local_time(datetime.now(UTC).replace(tzinfo=None)),
             name=user.display_name, role=user.role_label)


def _output() -> str:
    return "pdf" if printing.wants("pdf") else "xlsx" if printing.wants("xlsx") else "print"


# --- the registers index -------------------------------------------------------------------------

@bp.route("/")
def index():
    return render_template("reports/index.html", entries=registers.entries(current_user))


# --- the archive ledger 档案台账 ------------------------------------------------------------------

def _ledger_context(f) -> dict:
    user = current_user
    return {"f": f, "filter_args": f.args(), "departments": ledger_svc.departments(user),
            "customer_types": ledger_svc.customer_types(), "years": ledger_svc.years(user),
            "stages": [(s, ledger_svc.stage_label(s)) for s in ("potential", "active", "terminated")],
            "row_cells": lambda row: ledger_svc.row_cells(user, row), "scope_text": ledger_svc.scope_text(user),
            "head_only": rules.department_only(user) is not None}


@bp.route("/archives")
def ledger():
    f = ledger_svc.parse_filter(request.args)
    result = ledger_svc.browse(actor(), f, page=int_arg("page", 1) or 1)
    return page_or_fragment("reports/ledger.html", {"ledger-results": "reports/_ledger_results.html"},
                            result=result, **_ledger_context(f))


@bp.route("/archives/print")
@writes
def ledger_print():
    """A4 landscape printout; ``?format=pdf`` the same as PDF, ``?format=xlsx`` as Excel."""
    f = ledger_svc.parse_filter(request.args)
    output = _output()
    rows, total = ledger_svc.for_output(actor(), f, output)
    if output == "xlsx":
        return printing.xlsx_response(ledger_svc.to_xlsx(current_user, rows, f, total, _printed_line()),
                                      "archive-ledger")
    context = dict(rows=rows, total=total, filter_text=ledger_svc.describe(f), printed=_printed_line(),
                   columns=ledger_svc.COLUMNS, **_ledger_context(f))
    if output == "pdf":
        return printing.pdf_response("reports/ledger_print.html", "archive-ledger", **context)
    return render_template("reports/ledger_print.html", **context)


# --- handovers 移交 -------------------------------------------------------------------------------

def _register_context(f) -> dict:
    user = current_user
    return {"f": f, "filter_args": f.args(), "statuses": STATUS_LABELS,
            "departments": ledger_svc.departments(user) if rules.can_read_ledger(user) else [],
            "may_print": rules.can_read_handover_register(user), "may_hand_over": rules.can_hand_over(user),
            "person_line": svc.person_line}


@bp.route("/handovers")
def handovers():
    f = svc.parse_register_filter(request.args)
    result = svc.browse(actor(), f, page=int_arg("page", 1) or 1)
    return page_or_fragment("reports/handovers.html", {"handover-results": "reports/_handover_results.html"},
                            result=result, **_register_context(f))


@bp.route("/handovers/print")
@writes
def handovers_print():
    f = svc.parse_register_filter(request.args)
    output = _output()
    rows, total = svc.register_for_output(actor(), f, output)
    if output == "xlsx":
        return printing.xlsx_response(svc.register_xlsx(rows, f, total, _printed_line()), "handover-register")
    context = dict(rows=rows, total=total, filter_text=svc.describe(f), printed=_printed_line(),
                   **_register_context(f))
    if output == "pdf":
        return printing.pdf_response("reports/handovers_print.html", "handover-register", **context)
    return render_template("reports/handovers_print.html", **context)


def _new_page(form: svc.HandoverForm, status: int = 200, error: str | None = None):
    user = current_user
    me = actor()
    giver = db.session.get(User, form.giver_id) if form.giver_id else None
    if giver is not None and not rules.may_give(user, giver):
        raise deny(me, _l("You hand over the archives of people of your own department only."),
                       None, f"handover from {giver.username}")
    text = (request.values.get("q") or "").strip()[:80]
    archives = svc.archives_of(user, giver, text) if giver is not None else []
    if request.method == "GET" and giver is not None:
        form.selected = [a.id for a in archives]
    context = dict(
        form=form, giver=giver, archives=archives, q=text, error=error,
        hidden=svc.hidden_count(user, giver) if giver is not None else 0,
        givers=svc.givers(user), receivers=svc.receivers(user),
        departments=svc.departments() if rules.may_move_department(user) else [],
        reasons=svc.reason_choices(), max_paper=svc.MAX_PAPER_COUNT, status_labels=ARCHIVE_STATUS_LABELS)
    return page_or_fragment("reports/handover_new.html", {"handover-step2": "reports/_handover_form.html"},
                            status=status, **context)


@bp.route("/handovers/new", methods=["GET", "POST"])
def handover_new():
    svc.require_hand_over(actor(), "handover form")
    if request.method == "GET":
        form = svc.HandoverForm.blank()
        form.giver_id = int_arg("giver")
        return _new_page(form)
    form = svc.HandoverForm.from_mapping(request.form)
    try:
        outcome = svc.hand_over(actor(), form)
    except ValidationFailed as exc:
        db.session.rollback()
        return _new_page(form, 422, str(exc.message))
    except Conflict as exc:
        db.session.rollback()
        fresh = svc.HandoverForm.from_mapping(request.form)
        fresh.versions = {}  # show the archives as they are now
        fresh.selected = []
        return _new_page(fresh, 409, str(exc.message) + " " + "、".join(exc.detail.get("skipped", [])))
    h = outcome.handover
    flash(_("Handover %(number)s recorded: %(count)s archive(s) are now in the care of %(name)s, who is "
            "asked to confirm the receipt.", number=h.number, count=len(h.items), name=h.receiver.display_name),
          "success")
    if outcome.skipped:
        flash(_("Not handed over, because someone else changed them after you opened the form: "
                "%(archives)s. Check them and hand them over again if needed.",
                archives="、".join(outcome.skipped)), "warning")
    return see_other("reports.handover", handover_id=h.id)


@bp.route("/handovers/<int:handover_id>")
def handover(handover_id: int):
    h = svc.require_visible(actor(), handover_id)
    return render_template("reports/handover.html", h=h, reasons=REASON_LABELS,
                           may_confirm=rules.can_confirm_receipt(current_user, h) and h.status == "pending")


@bp.route("/handovers/<int:handover_id>/print")
@writes
def handover_print(handover_id: int):
    """The handover record on A4 portrait for signatures; ``?format=pdf`` as PDF."""
    output = "pdf" if printing.wants("pdf") else "print"
    h = svc.print_record(actor(), handover_id, output)
    context = dict(h=h, printed=_printed_line())
    if output == "pdf":
        return printing.pdf_response("reports/handover_print.html", f"handover-{h.id}", **context)
    return render_template("reports/handover_print.html", **context)


@bp.route("/handovers/<int:handover_id>/confirm", methods=["POST"])
def handover_confirm(handover_id: int):
    h = svc.confirm_receipt(actor(), handover_id, request.form.get("note", ""))
    flash(_("Receipt of handover %(number)s confirmed.", number=h.number), "success")
    return see_other("reports.handover", handover_id=handover_id)


# --- header link, archive page panel -------------------------------------------------------------

@bp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(
        reports_nav=lambda: registers.has_any(current_user),
        archive_handovers=lambda archive: svc.of_archive(archive, 3),
        may_view_handover=lambda h: rules.can_view_handover(current_user, h),
    )
