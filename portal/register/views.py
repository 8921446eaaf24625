"""Access register pages 查阅登记: browse with filters, print (A4), export CSV, verify the chain.

Only the archivist and the quality supervisor get in (``reading.require_reader``); every look at
the register is itself an entry. There is deliberately no route that changes or deletes entries.
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, make_response, render_template, request
from flask_babel import gettext as _

from portal import printing
from portal.auth import roles
from portal.auth.models import User
from portal.dbsetup import writes
from portal.extensions import db
from portal.register import actions, reading
from portal.templating import local_time
from portal.web import actor, int_arg, page_or_fragment

bp = Blueprint("register", __name__, url_prefix="/register")

PER_PAGE = 50


def role_label(role: str) -> str:
    return str(roles.ROLE_LABELS[role]) if role in roles.ROLE_LABELS else role


def _labels() -> dict:
    """Helpers the register templates use to show codes as words."""
    return {"action_label": actions.label, "role_label": role_label,
            "result_label": reading.result_label}


def _filter_context(f, errors) -> dict:
    usernames = list(db.session.scalars(sa.select(User.username).order_by(User.username)))
    return {
        "filter": f,
        "filter_args": reading.filter_args(f),
        "errors": errors,
        "action_choices": [(code, str(label)) for code, label in actions.LABELS.items()],
        "result_choices": [(code, str(label)) for code, label in reading.RESULT_LABELS.items()],
        "usernames": usernames,
        **_labels(),
    }


def describe_for_people(f) -> str:
    """The filter in words, for the printout's subtitle."""
    parts = []
    if f.date_from or f.date_to:
        parts.append(_("Dates %(start)s to %(end)s", start=f.date_from.isoformat() if f.date_from else "…",
                       end=f.date_to.isoformat() if f.date_to else "…"))
    if f.username:
        parts.append(_("User %(name)s", name=f.username))
    if f.archive:
        parts.append(_("Archive %(number)s", number=f.archive))
    if f.action:
        parts.append(_("Action: %(action)s", action=actions.label(f.action)))
    if f.result:
        parts.append(_("Result: %(result)s", result=reading.result_label(f.result)))
    return "; ".join(parts) if parts else _("All entries")


@bp.route("/")
@writes
def index():
    """Browse the register, newest first; the filter form swaps only the results with htmx."""
    f, errors = reading.parse_filter(request.args)
    page = reading.browse(actor(), f, page=int_arg("page", 1) or 1, per_page=PER_PAGE)
    return page_or_fragment("register/index.html", {"register-results": "register/_results.html"},
                            result=page, **_filter_context(f, errors))


@bp.route("/print")
@writes
def print_view():
    """The filtered register as an A4 printout: title, filter, repeated headers, signatures;
    ``?format=pdf`` the same as PDF, ``?format=xlsx`` as an Excel workbook (same filter, same cap)."""
    f, errors = reading.parse_filter(request.args)
    if printing.wants("xlsx"):
        return _export_xlsx(f)
    pdf = printing.wants("pdf")
    entries, total = reading.for_print(actor(), f, form="pdf" if pdf else "")
    now = local_time(datetime.now(UTC).replace(tzinfo=None))
    context = dict(entries=entries, total=total, cap=reading.PRINT_CAP, printed_at=now,
                   filter_text=describe_for_people(f), **_filter_context(f, errors))
    if pdf:
        return printing.pdf_response("register/print.html", "access-register", **context)
    return render_template("register/print.html", **context)


XLSX_WIDTHS = (8, 19, 12, 12, 12, 16, 20, 40, 20, 15, 9)


def _export_xlsx(f):
    """The filtered entries as an Excel workbook, at most as many as a printout holds."""
    entries, total = reading.for_export(actor(), f, cap=reading.PRINT_CAP, form="xlsx")
    user = actor().user
    lines = [_("Filter: %(filter)s", filter=describe_for_people(f)),
             _("Printed %(time)s by %(name)s (%(role)s)", time=local_time(datetime.now(UTC).replace(tzinfo=None)),
               name=user.display_name, role=user.role_label)]
    if total > len(entries):
        lines.append(_("Only the first %(shown)s of %(total)s matching entries are printed. Narrow the date "
                       "range to print the rest.", shown=len(entries), total=total))
    rows = [[e.seq, local_time(e.at, "%Y-%m-%d %H:%M:%S"), e.username, role_label(e.role), e.department,
             actions.label(e.action), e.archive_number, e.detail, e.purpose, e.client_addr,
             reading.result_label(e.result)] for e in entries]
    headers = [_("No."), _("Time (Beijing)"), _("User"), _("Role"), _("Department"), _("Action"),
               _("Archive number"), _("Detail"), _("Purpose"), _("Client address"), _("Result")]
    data = printing.workbook(_("Customer archive access register"), headers, rows, lines=lines,
                             widths=XLSX_WIDTHS, signatures=[str(s) for s in printing.DEFAULT_SIGNATURES])
    response = printing.xlsx_response(data, "access-register")
    response.headers["X-Total-Count"] = str(total)
    return response


CSV_COLUMNS = ("seq", "time", "user", "role", "department", "action", "archive", "detail",
               "purpose", "client_addr", "result", "hash")


@bp.route("/export.csv")
@writes
def export_csv():
    """The filtered entries as CSV (UTF-8 with BOM so that Excel shows the Chinese correctly)."""
    f, _errors = reading.parse_filter(request.args)
    entries, total = reading.for_export(actor(), f)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("No."), _("Time (Beijing)"), _("User"), _("Role"), _("Department"),
                     _("Action"), _("Archive number"), _("Detail"), _("Purpose"), _("Client address"),
                     _("Result"), _("Hash")])
    for e in entries:
        writer.writerow([e.seq, local_time(e.at, "%Y-%m-%d %H:%M:%S"), e.username, role_label(e.role),
                         e.department, actions.label(e.action), e.archive_number,
                         _csv_safe(e.detail), _csv_safe(e.purpose), e.client_addr,
                         reading.result_label(e.result), e.hash])
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response.headers["Content-Disposition"] = f'attachment; filename="access-register-{stamp}.csv"'
    response.headers["X-Total-Count"] = str(total)
    return response


def _csv_safe(value: str) -> str:
    """Stop spreadsheet formula injection: text starting with = + - @ is shown, not evaluated."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.route("/verify", methods=["POST"])
def verify():
    """Re-check the hash chain and show the outcome (htmx: only the result box)."""
    outcome = reading.verify_chain(actor())
    return page_or_fragment("register/verify.html", {"verify-result": "register/_verify.html"},
                            outcome=outcome, problem=reading.problem_label(outcome.result.problem),
                            **_labels())
