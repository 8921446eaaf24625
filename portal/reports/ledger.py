"""The archive ledger 档案台账 (policy 004 §11 "更新档案管理台账", §15): every filed archive the
reader may see, with its classification, responsibility, dates, paper location and number of
documents — browsed in pages, printed on A4 landscape, exported to PDF and Excel.

Who reads it: ``rules.can_read_ledger`` (archivist, quality supervisor and management all of it,
within their clearance; a department head their department's part). Everyone else is refused on
the register. Printing and exporting are registered (LEDGER_PRINT); browsing is not.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import printing
from portal.actor import Actor
from portal.admin.models import CustomerType
from portal.archives import forms
from portal.archives import permissions as perm
from portal.archives.labels import KIND_LABELS
from portal.archives.masking import shown
from portal.archives.models import FILED, STAGES, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import Department, User
from portal.dbsetup import begin_write
from portal.documents.models import Document
from portal.extensions import db
from portal.register import actions
from portal.register.services import record
from portal.reports import rules

PER_PAGE = 50
PRINT_CAP = 2000  # rows of one printout or PDF: more is an unwieldy stack of paper
EXPORT_CAP = 20000
SHANGHAI = timedelta(hours=8)
OUTPUTS = {"print": "print", "pdf": "PDF", "xlsx": "Excel"}


@dataclass
class LedgerFilter:
    department_id: int | None = None
    customer_type_id: int | None = None
    stage: str = ""
    year: int | None = None  # filing year (Beijing)
    q: str = ""  # part of the archive number or of the customer's name
    errors: dict = field(default_factory=dict)

    def args(self) -> dict:
        out = {"department": self.department_id or "", "type": self.customer_type_id or "",
               "stage": self.stage, "year": self.year or "", "q": self.q}
        return {k: str(v) for k, v in out.items() if v}


def parse_filter(args: Mapping) -> LedgerFilter:
    f = LedgerFilter()

    def text(name: str, limit: int = 80) -> str:
        return (args.get(name) or "").strip()[:limit]

    for name, attr, message in (("department", "department_id", _l("Unknown department.")),
                                ("type", "customer_type_id", _l("Unknown customer type."))):
        raw = text(name, 12)
        if raw:
            if raw.isdigit():
                setattr(f, attr, int(raw))
            else:
                f.errors[name] = message
    stage = text("stage", 20)
    if stage and stage not in STAGES:
        f.errors["stage"] = _l("Unknown cooperation stage.")
    else:
        f.stage = stage
    year = text("year", 6)
    if year:
        if year.isdigit() and 1900 < int(year) < 2200:
            f.year = int(year)
        else:
            f.errors["year"] = _l("Enter the filing year as four digits, e.g. 2026.")
    f.q = text("q", 80)
    return f


def require_reader(actor: Actor, what: str) -> None:
    if not rules.can_read_ledger(actor.user):
        raise deny(actor, _l("The archive ledger is the archivist's book: the archivist, the quality "
                             "supervisor and management read it, a department head the part of their "
                             "department."), None, f"archive ledger {what}")


def _doc_count():
    return (sa.select(sa.func.count(Document.id)).where(Document.archive_id == Archive.id)
            .correlate(Archive).scalar_subquery())


def query(user: User, f: LedgerFilter) -> sa.Select:
    """(Archive, document count) rows of the ledger, in filing order."""
    q = sa.select(Archive, _doc_count().label("documents")).where(
        Archive.status == FILED, perm.visible_clause(user))
    dept = rules.department_only(user)
    if dept is not None:
        q = q.where(Archive.department_id == dept)
    if f.department_id:
        q = q.where(Archive.department_id == f.department_id)
    if f.customer_type_id:
        q = q.where(Archive.customer_type_id == f.customer_type_id)
    if f.stage:
        q = q.where(Archive.stage == f.stage)
    if f.year:
        start = datetime(f.year, 1, 1) - SHANGHAI
        q = q.where(Archive.filed_at >= start, Archive.filed_at < datetime(f.year + 1, 1, 1) - SHANGHAI)
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(Archive.number.like(like), Archive.name.like(like), Archive.name_en.ilike(like)))
    return q.order_by(Archive.filed_at, Archive.id)


def _count(q: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())) or 0


@dataclass
class Row:
    archive: Archive
    documents: int


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


def browse(actor: Actor, f: LedgerFilter, page: int = 1) -> Page:
    require_reader(actor, "view")
    q = query(actor.user, f)
    total = _count(q)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = [Row(a, n) for a, n in db.session.execute(q.offset((page - 1) * PER_PAGE).limit(PER_PAGE))]
    return Page(rows, total, page, pages)


def for_output(actor: Actor, f: LedgerFilter, output: str) -> tuple[list[Row], int]:
    """The rows of a printout (``print``/``pdf``, at most PRINT_CAP) or an Excel export; the
    output is registered (LEDGER_PRINT) in the same transaction."""
    require_reader(actor, output)
    begin_write()
    q = query(actor.user, f)
    total = _count(q)
    cap = EXPORT_CAP if output == "xlsx" else PRINT_CAP
    rows = [Row(a, n) for a, n in db.session.execute(q.limit(cap))]
    for row in rows:  # detached, so the commit below does not expire them (a reload per row after it)
        db.session.expunge(row.archive)
    record(actor, actions.LEDGER_PRINT,
           detail=f"archive ledger {OUTPUTS[output]}: {len(rows)} of {total}; filter "
                  f"{' '.join(f'{k}={v}' for k, v in f.args().items()) or 'none'}")
    db.session.commit()
    return rows, total


# --- choices and words ---------------------------------------------------------------------------

def departments(user: User) -> list[Department]:
    dept = rules.department_only(user)
    q = sa.select(Department).order_by(Department.id)
    if dept is not None:
        q = q.where(Department.id == dept)
    return list(db.session.scalars(q))


def customer_types() -> list[CustomerType]:
    return list(db.session.scalars(sa.select(CustomerType).order_by(CustomerType.sort_order, CustomerType.id)))


def years(user: User) -> list[int]:
    """Filing years present in what the user may read (newest first) for the year filter."""
    q = sa.select(sa.func.min(Archive.filed_at), sa.func.max(Archive.filed_at)).where(
        Archive.status == FILED, perm.visible_clause(user))
    first, last = db.session.execute(q).one()
    if first is None:
        return []
    return list(range((last + SHANGHAI).year, (first + SHANGHAI).year - 1, -1))


def stage_label(stage: str) -> str:
    return forms.choice_label("stage", stage)


def describe(f: LedgerFilter) -> str:
    """The filter in words, for the printout's subtitle."""
    parts = []
    if f.department_id:
        dept = db.session.get(Department, f.department_id)
        parts.append(_("Department: %(name)s", name=dept.name if dept else f.department_id))
    if f.customer_type_id:
        ctype = db.session.get(CustomerType, f.customer_type_id)
        parts.append(_("Customer type: %(name)s", name=ctype.name if ctype else f.customer_type_id))
    if f.stage:
        parts.append(_("Stage: %(stage)s", stage=stage_label(f.stage)))
    if f.year:
        parts.append(_("Filed in %(year)s", year=f.year))
    if f.q:
        parts.append(_("Number or name contains “%(text)s”", text=f.q))
    return "; ".join(parts) if parts else _("All filed archives")


def scope_text(user: User) -> str:
    """What part of the ledger the reader sees (printed under the title)."""
    if user.role == roles.DEPT_HEAD:
        return _("Archives of %(department)s", department=user.department_name)
    return _("Archives within your clearance: %(level)s", level=roles.LEVEL_LABELS[user.clearance])


def row_cells(user: User, row: Row) -> dict:
    """One ledger row as text, personal data masked as on screen."""
    a = row.archive
    return {
        "number": a.number or "", "name": a.name, "name_en": a.name_en,
        "kind": str(KIND_LABELS.get(a.kind, a.kind)),
        "type": a.customer_type.name if a.customer_type else "",
        "stage": stage_label(a.stage), "department": a.department.name if a.department else "",
        "responsible": a.responsible.display_name if a.responsible else "",
        "phone": shown(user, a.phone, "phone"), "phone_masked": bool(a.phone) and shown(user, a.phone, "phone") != a.phone,
        "filed": _local_day(a.filed_at), "contract": a.contract_signed_on.isoformat() if a.contract_signed_on else "",
        "terminated": a.terminated_on.isoformat() if a.terminated_on else "",
        "paper": a.paper_location, "documents": row.documents,
        "level": str(roles.LEVEL_LABELS.get(a.sensitivity, a.sensitivity)), "sensitivity": a.sensitivity,
    }


def _local_day(value: datetime | None) -> str:
    return (value + SHANGHAI).date().isoformat() if value else ""


COLUMNS = (("number", _l("Archive number")), ("name", _l("Customer name")), ("kind", _l("Kind")),
           ("type", _l("Customer type")), ("stage", _l("Stage")), ("department", _l("Department")),
           ("responsible", _l("Responsible")), ("phone", _l("Phone")), ("filed", _l("Filed on")),
           ("contract", _l("Contract signed")), ("terminated", _l("Terminated on")),
           ("paper", _l("Paper file location")), ("documents", _l("Documents")),
           ("level", _l("Sensitivity")))
WIDTHS = (20, 26, 8, 12, 9, 10, 10, 14, 11, 11, 11, 22, 7, 12)


def to_xlsx(user: User, rows: list[Row], f: LedgerFilter, total: int, printed: str) -> bytes:
    lines = [_("Filter: %(filter)s", filter=describe(f)) + "    " + scope_text(user), printed]
    if total > len(rows):
        lines.append(_("Only the first %(shown)s of %(total)s archives.", shown=len(rows), total=total))
    data = []
    for row in rows:
        cells = row_cells(user, row)
        data.append([cells[key] for key, _label in COLUMNS])
    return printing.workbook(_("Customer archive ledger"), [str(label) for _key, label in COLUMNS], data,
                             lines=lines, widths=WIDTHS, sheet=_("Archive ledger"),
                             signatures=[str(s) for s in printing.DEFAULT_SIGNATURES])
