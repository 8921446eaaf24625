"""The borrowing register 借阅登记簿: filtered lists, the A4 printout and the Excel export.

Who reads it (``borrowing_rules.can_read_ledger``): the archivist, the quality supervisor and
management see every loan; a department head sees their department's loans (and their own);
everyone else is refused (403, registered). Printing and exporting are registered.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import workcal
from portal.actor import Actor
from portal.archives.models import Archive
from portal.archives.services import deny
from portal.auth.models import Department, User
from portal.dbsetup import begin_write
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record
from portal.templating import local_time
from portal.workflows.borrowing_models import (
    CONDITION_LABELS,
    LENT,
    OVERDUE,
    STATUS_LABELS,
    STATUSES,
    Loan,
    LoanItem,
)
from portal.workflows.borrowing_rules import can_read_ledger, ledger_clause

PER_PAGE = 50
PRINT_CAP = 2000
SHANGHAI_OFFSET = timedelta(hours=8)
FILTER_STATUSES = (*STATUSES, OVERDUE)
PARAMS = ("from", "to", "department", "borrower", "archive", "status")


@dataclass
class LedgerFilter:
    date_from: date | None = None  # application date (Beijing), inclusive
    date_to: date | None = None
    department_id: int | None = None
    borrower: str = ""  # user name or part of the display name
    archive: str = ""  # part of the archive number or name
    status: str = ""
    errors: dict = field(default_factory=dict)

    def args(self) -> dict:
        out = {"from": self.date_from.isoformat() if self.date_from else "",
               "to": self.date_to.isoformat() if self.date_to else "",
               "department": str(self.department_id or ""), "borrower": self.borrower,
               "archive": self.archive, "status": self.status}
        return {k: v for k, v in out.items() if v}


def parse_filter(args: Mapping) -> LedgerFilter:
    f = LedgerFilter()

    def text(name: str, limit: int = 80) -> str:
        return (args.get(name) or "").strip()[:limit]

    for name, attr in (("from", "date_from"), ("to", "date_to")):
        raw = text(name, 20)
        if raw:
            try:
                setattr(f, attr, date.fromisoformat(raw))
            except ValueError:
                f.errors[name] = _l("Enter the date as YYYY-MM-DD.")
    dept = text("department", 12)
    if dept:
        if dept.isdigit():
            f.department_id = int(dept)
        else:
            f.errors["department"] = _l("Unknown department.")
    f.borrower = text("borrower", 80)
    f.archive = text("archive", 80)
    status = text("status", 20)
    if status and status not in FILTER_STATUSES:
        f.errors["status"] = _l("Unknown status.")
    elif status:
        f.status = status
    return f


def require_reader(actor: Actor, what: str) -> None:
    if not can_read_ledger(actor.user):
        raise deny(actor, _l("The borrowing register is kept for the archivist, the quality supervisor, "
                             "management and the department heads (their department's loans)."),
                   None, f"borrowing register {what}")


def query(user: User, f: LedgerFilter) -> sa.Select:
    """Loans matching the filter within what ``user`` may see, newest application first."""
    q = sa.select(Loan).where(ledger_clause(user))
    if f.date_from:
        q = q.where(Loan.created_at >= datetime.combine(f.date_from, time.min) - SHANGHAI_OFFSET)
    if f.date_to:
        q = q.where(Loan.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min)
                    - SHANGHAI_OFFSET)
    if f.department_id:
        q = q.where(Loan.department_id == f.department_id)
    if f.borrower:
        like = f"%{f.borrower}%"
        q = q.where(Loan.borrower_id.in_(sa.select(User.id).where(
            sa.or_(User.username == f.borrower, User.display_name.like(like)))))
    if f.archive:
        like = f"%{f.archive}%"
        q = q.where(Loan.id.in_(sa.select(LoanItem.loan_id).join(Archive, Archive.id == LoanItem.archive_id)
                                .where(sa.or_(Archive.number.like(like), Archive.name.like(like)))))
    if f.status == OVERDUE:
        q = q.where(Loan.status == LENT, Loan.due_date < workcal.today())
    elif f.status == LENT:
        q = q.where(Loan.status == LENT, Loan.due_date >= workcal.today())
    elif f.status:
        q = q.where(Loan.status == f.status)
    return q.order_by(Loan.created_at.desc(), Loan.id.desc())


@dataclass
class Page:
    loans: list
    total: int
    page: int
    pages: int


def browse(actor: Actor, f: LedgerFilter, page: int = 1) -> Page:
    require_reader(actor, "view")
    q = query(actor.user, f)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    loans = list(db.session.scalars(q.offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
    return Page(loans, total, page, pages)


def for_print(actor: Actor, f: LedgerFilter, export: bool = False) -> tuple[list[Loan], int]:
    """The loans for the printout or the export; the reading is registered."""
    require_reader(actor, "export" if export else "print")
    begin_write()
    q = query(actor.user, f)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())) or 0
    loans = list(db.session.scalars(q.limit(PRINT_CAP)))
    record(actor, actions.BORROW_REGISTER_EXPORT if export else actions.BORROW_REGISTER_PRINT,
           detail=f"{len(loans)} of {total} loans; filter {f.args() or 'none'}")
    db.session.commit()
    return loans, total


def departments() -> list[Department]:
    return list(db.session.scalars(sa.select(Department).order_by(Department.name)))


def describe(f: LedgerFilter) -> str:
    """The filter in words, for the printout's subtitle."""
    parts = []
    if f.date_from or f.date_to:
        parts.append(_("Applied %(start)s to %(end)s", start=f.date_from.isoformat() if f.date_from else "…",
                       end=f.date_to.isoformat() if f.date_to else "…"))
    if f.department_id:
        dept = db.session.get(Department, f.department_id)
        parts.append(_("Department %(name)s", name=dept.name if dept else f.department_id))
    if f.borrower:
        parts.append(_("Borrower %(name)s", name=f.borrower))
    if f.archive:
        parts.append(_("Archive %(number)s", number=f.archive))
    if f.status:
        parts.append(_("Status: %(status)s", status=STATUS_LABELS[f.status]))
    return "; ".join(parts) if parts else _("All loans")


def condition_text(loan: Loan) -> str:
    if not loan.return_condition:
        return ""
    text = str(CONDITION_LABELS.get(loan.return_condition, loan.return_condition))
    return f"{text}：{loan.return_note}" if loan.return_note else text


# --- Excel -------------------------------------------------------------------------------------

def _cell_text(value: str) -> str:
    """Stop spreadsheet formula injection: text starting with = + - @ stays text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_xlsx(loans: list[Loan], filter_text: str, printed_by: User, total: int) -> bytes:
    """The register as an .xlsx workbook (A4 landscape when printed from Excel)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    today = workcal.today()
    wb = Workbook()
    ws = wb.active
    ws.title = _("Borrowing register")[:31]
    headers = [_("Loan no."), _("Applied on"), _("Borrower"), _("Department"), _("Archives"),
               _("Purpose"), _("Period (WD)"), _("Lent on"), _("Handed over by"), _("Due date"),
               _("Returned on"), _("Condition on return"), _("Status"),
               _("Borrower's signature"), _("Archivist's signature")]
    widths = [9, 12, 12, 12, 36, 30, 9, 12, 12, 12, 12, 22, 14, 14, 14]
    ws.append([_("Borrowing register of paper customer archives")])
    ws.append([_("Filter: %(filter)s", filter=filter_text) + "    " + _(
        "Exported %(time)s by %(name)s", time=local_time(utcnow()), name=printed_by.display_name)])
    if total > len(loans):
        ws.append([_("Only the first %(shown)s of %(total)s loans.", shown=len(loans), total=total)])
    header_row = ws.max_row + 1
    ws.append(headers)
    for loan in loans:
        ws.append([
            loan.id, local_time(loan.created_at, "%Y-%m-%d"), loan.borrower.display_name,
            loan.department.name if loan.department else "",
            _cell_text("\n".join(f"{a.label} {a.name}" for a in loan.archives)),
            _cell_text(loan.purpose), loan.period_days,
            loan.lend_date.isoformat() if loan.lend_date else "",
            loan.lent_by.display_name if loan.lent_by else "",
            loan.due_date.isoformat() if loan.due_date else "",
            local_time(loan.returned_at, "%Y-%m-%d") if loan.returned_at else "",
            _cell_text(condition_text(loan)), str(STATUS_LABELS[loan.shown_status(today)]), "", ""])
    ws["A1"].font = Font(bold=True, size=14)
    thin = Side(style="thin", color="999999")
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
        cell = ws.cell(row=header_row, column=col)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="EEEEEE")
    for row in ws.iter_rows(min_row=header_row, max_row=ws.max_row, max_col=len(headers)):
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
