"""KPIs 考核指标 of policy 004 §22 for management and quality supervision, computed on the spot.

Each figure is defined here once; the dashboard page, its PDF and its Excel read the result of
:func:`dashboard`. All dates are Beijing calendar days, all deadlines count working days on
``portal.workcal`` (official holidays and make-up days included).

- **Filing timeliness 建档及时率**: an archive with a contract date (``contract_signed_on``) is on
  time when it was filed within :data:`FILING_DAYS` working days of that date (004 §8: 新增客户 …
  5个工作日内完成档案的初步建立与归档; target 100 %). Not yet filed and the deadline passed: late.
  Not yet filed and still within the deadline: pending, not counted. Counted in the month of the
  contract date and in the archive's department.
- **Update timeliness 更新及时率**: a change request (``portal.workflows.requests.ChangeRequest``) is
  on time when it was applied within the sum of its steps' working days after it was proposed:
  department head 1 + archivist 1, plus 1 when the customer-service head must approve an important
  field (004 §13). Still open after that: late. Rejected and withdrawn requests are not counted.
  Counted in the month it was proposed and in the archive's department.
- **Completeness 完整度**: :func:`completeness` — the share of :func:`required_fields` filled in;
  filed archives only, as they are today.
- **Overdue loans 逾期借阅**: lent paper files past their due date now; per month, the loans due in
  that month that came back late or are still out (borrower's department).
- **Pending approvals past their deadline 超期待审批**: every workflow step waiting now whose
  deadline has passed (filing, borrowing, query, change requests, and whatever other workflows add
  to :data:`PENDING_SOURCES`).
- **Monthly check rate 月度检查率**: see ``portal.oversight.checks``.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import workcal
from portal.archives import permissions as perm
from portal.archives.models import (
    APPROVED,
    FILED,
    ORGANISATION,
    POTENTIAL,
    SUBMITTED,
    Archive,
    Contact,
)
from portal.archives.profile import Field, fields_for
from portal.auth import roles
from portal.auth.models import Department, User
from portal.extensions import db

FILING_DAYS = 5  # 004 §8: new customers filed within 5 working days of the contract
HEAD_REVIEW_DAYS = 2  # 004 §11: the department head reviews a submitted archive
ARCHIVIST_FILING_DAYS = 2  # 004 §11: the archivist files an approved archive
MAX_MONTHS = 36  # longest period the dashboard computes
LIST_CAP = 200  # rows of a drill-down list printed at most

# Roles that read the dashboard: every department, or (department heads) their own.
ALL_DEPARTMENTS_READERS = frozenset({roles.MANAGER, roles.SUPERVISOR, roles.ARCHIVIST})
READERS = ALL_DEPARTMENTS_READERS | {roles.DEPT_HEAD}


# --- completeness 完整度 -------------------------------------------------------------------------

# The profile fields a complete archive has filled in (004 §10 档案核心内容: basic, market, needs
# and cooperation information; the paper file's place). Fields of the other kind are skipped
# (``profile.fields_for``); the contract date counts once the customer is past the potential stage.
COMPLETENESS_FIELDS = (
    # basic information 基础信息
    "name", "name_en", "phone", "email", "address",
    "gender", "birth_date", "occupation",  # individuals
    "address_overseas", "founded_on", "nature", "registered_capital", "legal_representative",
    "business_scope",  # organisations
    # classification 分类
    "customer_type_id", "stage", "region", "industry", "importance", "credit_rating",
    "contract_signed_on",
    # responsibility 负责人
    "department_id", "responsible_id",
    # market information 市场信息, needs and preferences 需求信息
    "target_markets", "positioning", "target_customers", "needs", "preferences",
    # paper file location 纸质档案存放位置
    "paper_room", "paper_cabinet",
)
# An organisation also needs at least one key contact 关键联系人 (a sub-record, not a field).
CONTACTS = Field("contacts", _l("Key contacts (at least one)"))


def required_fields(archive: Archive) -> list[Field]:
    """What a complete archive of this kind (and stage) has filled in, in profile order."""
    out = [f for f in fields_for(archive.kind) if f.name in COMPLETENESS_FIELDS
           and not (f.name == "contract_signed_on" and archive.stage == POTENTIAL)]
    if archive.kind == ORGANISATION:
        out.append(CONTACTS)
    return out


def _filled(value) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


def completeness(archive: Archive, contacts: int | None = None) -> tuple[int, list[Field]]:
    """``(score, missing)``: the percentage (0–100) of :func:`required_fields` filled in and the
    fields still empty. ``contacts`` (the number of key contacts) is counted when not given."""
    required = required_fields(archive)
    missing = []
    for f in required:
        if f is CONTACTS:
            if contacts is None:
                contacts = db.session.scalar(sa.select(sa.func.count(Contact.id)).where(
                    Contact.archive_id == archive.id)) or 0
            if not contacts:
                missing.append(f)
        elif not _filled(getattr(archive, f.name, None)):
            missing.append(f)
    score = round(100 * (len(required) - len(missing)) / len(required)) if required else 100
    return score, missing


# --- period and scope ------------------------------------------------------------------------------

def month_start(d: date) -> date:
    return d.replace(day=1)


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


@dataclass(frozen=True)
class Period:
    """Whole calendar months ``first`` … ``last`` (first days of the months)."""

    first: date
    last: date
    year: int | None = None  # chosen as a calendar year

    @property
    def start(self) -> date:
        return self.first

    @property
    def end(self) -> date:
        return month_end(self.last)

    @property
    def months(self) -> list[date]:
        out, m = [], self.first
        while m <= self.last:
            out.append(m)
            m = add_months(m, 1)
        return out

    @property
    def label(self) -> str:
        if self.year:
            return _("Year %(year)s", year=self.year)
        return _("%(first)s to %(last)s", first=month_key(self.first), last=month_key(self.last))

    def args(self) -> dict:
        if self.year:
            return {"year": str(self.year)}
        return {"from": month_key(self.first), "to": month_key(self.last)}


def default_period(today: date) -> Period:
    """The last 12 months, the current one included."""
    last = month_start(today)
    return Period(add_months(last, -11), last)


def _parse_month(text: str) -> date | None:
    text = text.strip()
    try:
        year, month = text.split("-")[:2]
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        return None


def parse_period(args: Mapping, today: date) -> tuple[Period, dict]:
    """The period asked for (``year=2026`` or ``from=2026-01&to=2026-06``) and errors by field;
    the default period when nothing (or nothing valid) was asked for."""
    errors: dict = {}
    year = (args.get("year") or "").strip()
    first_text, last_text = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    if year:
        if year.isdigit() and 2000 <= int(year) <= 2100:
            return Period(date(int(year), 1, 1), date(int(year), 12, 1), year=int(year)), errors
        errors["year"] = _l("Enter a year between 2000 and 2100, e.g. 2026.")
        return default_period(today), errors
    if not first_text and not last_text:
        return default_period(today), errors
    first = _parse_month(first_text) if first_text else None
    last = _parse_month(last_text) if last_text else None
    if first_text and first is None:
        errors["from"] = _l("Enter the month as YYYY-MM, e.g. 2026-01.")
    if last_text and last is None:
        errors["to"] = _l("Enter the month as YYYY-MM, e.g. 2026-01.")
    if errors:
        return default_period(today), errors
    last = last or month_start(today)
    first = first or add_months(last, -11)
    if first > last:
        errors["to"] = _l("The last month must not be before the first.")
    elif len(Period(first, last).months) > MAX_MONTHS:
        errors["from"] = _l("Choose at most %(n)s months.", n=MAX_MONTHS)
    if errors:
        return default_period(today), errors
    return Period(first, last), errors


@dataclass
class Scope:
    """Whose figures: every department, or one (a department head's own, or a filter)."""

    user: User
    department_id: int | None  # None: every department
    departments: dict[int, Department]  # those that may appear

    def allows(self, department_id: int | None) -> bool:
        return self.department_id is None or department_id == self.department_id

    def clause(self, column):
        return sa.true() if self.department_id is None else column == self.department_id

    @property
    def fixed(self) -> bool:
        """A department head: the department cannot be changed."""
        return self.user.role == roles.DEPT_HEAD


def can_read(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.role in READERS
                and (user.role != roles.DEPT_HEAD or user.department_id is not None))


def scope_for(user: User, department_id: int | None = None) -> Scope:
    departments = {d.id: d for d in db.session.scalars(sa.select(Department).order_by(Department.id))}
    if user.role == roles.DEPT_HEAD:
        department_id = user.department_id
    elif department_id is not None and department_id not in departments:
        department_id = None
    return Scope(user, department_id, departments)


# --- figures -----------------------------------------------------------------------------------------

@dataclass
class Rate:
    """On time / late (or done / missed) counts; ``pending`` are not counted yet."""

    ok: int = 0
    late: int = 0
    pending: int = 0

    @property
    def counted(self) -> int:
        return self.ok + self.late

    @property
    def percent(self) -> float | None:
        return round(100 * self.ok / self.counted, 1) if self.counted else None

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class Breakdown:
    """A rate in total, per department and per month."""

    total: Rate = field(default_factory=Rate)
    by_department: dict[int | None, Rate] = field(default_factory=lambda: defaultdict(Rate))
    by_month: dict[date, Rate] = field(default_factory=lambda: defaultdict(Rate))

    def add(self, department_id: int | None, month: date | None, outcome: str) -> None:
        self.total.add(outcome)
        self.by_department[department_id].add(outcome)
        if month is not None:
            self.by_month[month].add(outcome)


@dataclass(frozen=True)
class FilingRow:
    archive: Archive
    contract: date
    deadline: date
    filed: date | None
    working_days: int | None  # from the contract to filing (or to today when not filed)
    outcome: str  # ok | late | pending


@dataclass(frozen=True)
class UpdateRow:
    request_id: int
    label: str
    archive: Archive
    proposed: date
    deadline: date
    applied: date | None
    outcome: str


@dataclass(frozen=True)
class PendingItem:
    """One workflow step waiting past its deadline (or not yet: ``late`` False)."""

    workflow: str  # filing | borrowing | query | change | another inbox kind (destruction …)
    title: str
    department_id: int | None
    deadline: date
    waiting_for: str
    url: str
    archive: Archive | None = None
    label: str = ""  # the workflow's name for kinds not in WORKFLOW_LABELS

    def late(self, today: date) -> bool:
        return self.deadline < today


WORKFLOW_LABELS = {
    "filing": _l("Filing"),
    "borrowing": _l("Borrowing"),
    "query": _l("Query requests"),
    "change": _l("Change requests"),
}
# Inbox kinds the built-in sources below already count, or that are no approval or decision:
# reminders, loans to hand over or get back (overdue loans have their own figure), rectification
# tasks of the inspections (tracked with their deadlines in the inspection record).
COUNTED_KINDS = frozenset({"borrowing", "query_request", "change_request", "birthday", "anniversary",
                           "follow_up", "monthly_check", "rectification"})
# Users whose inbox holds the decisions of other workflows (destruction, inspection, retention …).
DECIDERS = (roles.DEPT_HEAD, roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER)


def _utc_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Naive-UTC instants of the start of ``first`` and the end of ``last`` in Beijing."""
    start = datetime.combine(first, time.min, tzinfo=workcal.SHANGHAI).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=workcal.SHANGHAI).astimezone(UTC)
    return start.replace(tzinfo=None), end.replace(tzinfo=None)


def filing_timeliness(scope: Scope, period: Period, today: date) -> tuple[Breakdown, list[FilingRow]]:
    result, rows = Breakdown(), []
    archives = db.session.scalars(sa.select(Archive).where(
        Archive.contract_signed_on.is_not(None), Archive.contract_signed_on >= period.start,
        Archive.contract_signed_on <= period.end, scope.clause(Archive.department_id))
        .order_by(Archive.contract_signed_on, Archive.id))
    for archive in archives:
        contract = archive.contract_signed_on
        deadline = workcal.add_working_days(contract, FILING_DAYS)
        filed = workcal.local_date(archive.filed_at) if archive.filed_at else None
        if filed is not None:
            outcome = "ok" if filed <= deadline else "late"
            taken = max(workcal.working_days_between(contract, filed), 0)
        else:
            outcome = "late" if today > deadline else "pending"
            taken = max(workcal.working_days_between(contract, today), 0)
        result.add(archive.department_id, month_start(contract), outcome)
        rows.append(FilingRow(archive, contract, deadline, filed, taken, outcome))
    return result, rows


def _change_days(req) -> int:
    from portal.workflows.change_requests import STEP_DAYS

    return STEP_DAYS * (3 if req.needs_service else 2)


def update_timeliness(scope: Scope, period: Period, today: date) -> tuple[Breakdown, list[UpdateRow]]:
    from portal.workflows.requests import C_APPLIED, C_OPEN, ChangeRequest

    start, end = _utc_bounds(period.start, period.end)
    result, rows = Breakdown(), []
    requests = db.session.scalars(
        sa.select(ChangeRequest).join(Archive, Archive.id == ChangeRequest.archive_id).where(
            ChangeRequest.created_at >= start, ChangeRequest.created_at < end,
            ChangeRequest.status.in_((C_APPLIED, *C_OPEN)), scope.clause(Archive.department_id))
        .order_by(ChangeRequest.created_at, ChangeRequest.id))
    for req in requests:
        proposed = workcal.local_date(req.created_at)
        deadline = workcal.add_working_days(proposed, _change_days(req))
        applied = workcal.local_date(req.applied_at) if req.status == C_APPLIED and req.applied_at else None
        if applied is not None:
            outcome = "ok" if applied <= deadline else "late"
        else:
            outcome = "late" if today > deadline else "pending"
        result.add(req.archive.department_id, month_start(proposed), outcome)
        rows.append(UpdateRow(req.id, req.label, req.archive, proposed, deadline, applied, outcome))
    return result, rows


@dataclass
class CompletenessFigures:
    by_department: dict[int | None, list[int]] = field(default_factory=lambda: defaultdict(list))
    least: list[tuple[Archive, int, list[Field]]] = field(default_factory=list)
    count: int = 0
    total: float | None = None

    def average(self, department_id) -> float | None:
        scores = self.by_department.get(department_id) or []
        return round(sum(scores) / len(scores), 1) if scores else None


def completeness_figures(scope: Scope, least: int = 10) -> CompletenessFigures:
    figures = CompletenessFigures()
    archives = list(db.session.scalars(sa.select(Archive).where(
        Archive.status == FILED, scope.clause(Archive.department_id)).order_by(Archive.id)))
    if not archives:
        return figures
    contacts = dict(db.session.execute(
        sa.select(Contact.archive_id, sa.func.count(Contact.id))
        .join(Archive, Archive.id == Contact.archive_id)
        .where(Archive.status == FILED, scope.clause(Archive.department_id))
        .group_by(Contact.archive_id)).all())
    scored = []
    for archive in archives:
        score, missing = completeness(archive, contacts.get(archive.id, 0))
        figures.by_department[archive.department_id].append(score)
        scored.append((archive, score, missing))
    figures.count = len(scored)
    figures.total = round(sum(s for _a, s, _m in scored) / len(scored), 1)
    scored.sort(key=lambda row: (row[1], row[0].number or "", row[0].id))
    figures.least = scored[:least]
    return figures


@dataclass
class LoanFigures:
    current: int = 0
    current_by_department: dict[int | None, int] = field(default_factory=lambda: defaultdict(int))
    by_month: dict[date, int] = field(default_factory=lambda: defaultdict(int))
    by_department: dict[int | None, int] = field(default_factory=lambda: defaultdict(int))
    total: int = 0  # loans due in the period that came back late or are still out
    overdue_now: list = field(default_factory=list)


def overdue_loans(scope: Scope, period: Period, today: date) -> LoanFigures:
    from portal.workflows.borrowing_models import LENT, RETURNED, Loan

    figures = LoanFigures()
    for loan in db.session.scalars(sa.select(Loan).where(
            Loan.status == LENT, Loan.due_date < today, scope.clause(Loan.department_id))
            .order_by(Loan.due_date, Loan.id)):
        figures.current += 1
        figures.current_by_department[loan.department_id] += 1
        figures.overdue_now.append(loan)
    for loan in db.session.scalars(sa.select(Loan).where(
            Loan.status.in_((LENT, RETURNED)), Loan.due_date >= period.start,
            Loan.due_date <= period.end, scope.clause(Loan.department_id))):
        if loan.status == LENT:
            late = loan.due_date < today
        else:
            late = loan.returned_at is not None and workcal.local_date(loan.returned_at) > loan.due_date
        if late:
            figures.total += 1
            figures.by_month[month_start(loan.due_date)] += 1
            figures.by_department[loan.department_id] += 1
    return figures


# --- pending approvals 超期待审批 ------------------------------------------------------------------

def _archive_title(archive: Archive | None, fallback: str = "") -> str:
    if archive is None:
        return fallback
    return f"{archive.label} {archive.name}"


def _filing_pending(scope: Scope, today: date) -> list[PendingItem]:
    from flask import url_for

    items = []
    for archive in db.session.scalars(sa.select(Archive).where(
            Archive.status.in_((SUBMITTED, APPROVED)), scope.clause(Archive.department_id))
            .order_by(Archive.id)):
        if archive.status == SUBMITTED and archive.submitted_at:
            due, who = workcal.deadline(archive.submitted_at, HEAD_REVIEW_DAYS), _("Department head review")
        elif archive.status == APPROVED and archive.reviewed_at:
            due, who = workcal.deadline(archive.reviewed_at, ARCHIVIST_FILING_DAYS), _("Archivist files")
        else:
            continue
        items.append(PendingItem("filing", _archive_title(archive), archive.department_id, due, who,
                                 url_for("archives.show", archive_id=archive.id), archive))
    return items


def _borrowing_pending(scope: Scope, today: date) -> list[PendingItem]:
    from portal.workflows.borrowing import loan_url
    from portal.workflows.borrowing_inbox import ARCHIVIST_DAYS, HEAD_DAYS
    from portal.workflows.borrowing_models import (
        EXT_REQUESTED,
        LENT,
        PENDING_ARCHIVIST,
        PENDING_HEAD,
        STEP_MANAGEMENT,
        Loan,
    )

    items = []
    for loan in db.session.scalars(sa.select(Loan).where(
            sa.or_(Loan.status.in_((PENDING_HEAD, PENDING_ARCHIVIST)),
                   sa.and_(Loan.status == LENT, Loan.extension_status == EXT_REQUESTED)),
            scope.clause(Loan.department_id)).order_by(Loan.id)):
        if loan.status == PENDING_HEAD:
            due = workcal.deadline(loan.created_at, HEAD_DAYS)
            who = _("Management") if loan.first_step == STEP_MANAGEMENT else _("Department head")
        elif loan.status == PENDING_ARCHIVIST:
            due, who = workcal.deadline(loan.head_at or loan.created_at, ARCHIVIST_DAYS), _("Archivist")
        else:
            due = min(workcal.deadline(loan.extension_requested_at, ARCHIVIST_DAYS), loan.due_date)
            who = _("Archivist (extension)")
        title = _("Loan #%(id)s %(archives)s · %(name)s", id=loan.id, archives=loan.numbers,
                  name=loan.borrower.display_name)
        items.append(PendingItem("borrowing", title, loan.department_id, due, who, loan_url(loan)))
    return items


def _query_pending(scope: Scope, today: date) -> list[PendingItem]:
    from portal.workflows.query_requests import step_deadline
    from portal.workflows.requests import Q_OPEN, Q_PENDING, QueryRequest, query_url

    items = []
    q = sa.select(QueryRequest).outerjoin(Archive, Archive.id == QueryRequest.archive_id).where(
        QueryRequest.status.in_(Q_OPEN))
    if scope.department_id is not None:
        q = q.where(Archive.department_id == scope.department_id)
    for req in db.session.scalars(q.order_by(QueryRequest.id)):
        due = step_deadline(req)
        if due is None:
            continue
        archive = req.archive
        items.append(PendingItem(
            "query", f"{req.label} · {_archive_title(archive, req.archive_ref)}",
            archive.department_id if archive is not None else None, due,
            _("Archivist") if req.status == Q_PENDING else _("Management"), query_url(req.id), archive))
    return items


def _change_pending(scope: Scope, today: date) -> list[PendingItem]:
    from portal.workflows.change_requests import step_deadline
    from portal.workflows.requests import C_HEAD, C_OPEN, C_SERVICE, ChangeRequest, change_url

    who = {C_HEAD: _("Department head"), C_SERVICE: _("Customer-service head")}
    items = []
    for req in db.session.scalars(
            sa.select(ChangeRequest).join(Archive, Archive.id == ChangeRequest.archive_id).where(
                ChangeRequest.status.in_(C_OPEN), scope.clause(Archive.department_id))
            .order_by(ChangeRequest.id)):
        due = step_deadline(req)
        if due is None:
            continue
        items.append(PendingItem("change", f"{req.label} · {_archive_title(req.archive)}",
                                 req.archive.department_id, due, who.get(req.status, _("Archivist")),
                                 change_url(req.id), req.archive))
    return items


def _other_pending(scope: Scope, today: date) -> list[PendingItem]:
    """Late steps of the other workflows, as their inbox sources report them to the deciders
    (department heads, archivists, quality supervisors, management), each counted once. An item in
    a department head's inbox counts for that department; the others for no department, so a
    department head's dashboard shows only those of their own inbox."""
    from portal.workflows import inbox

    found: dict[tuple[str, str], PendingItem] = {}
    deciders = db.session.scalars(sa.select(User).where(User.active.is_(True), User.role.in_(DECIDERS))
                                  .order_by(User.id))
    for user in deciders:
        if scope.department_id is not None and user.department_id != scope.department_id:
            continue
        for item in inbox.items_for(user):
            if item.kind in COUNTED_KINDS or item.deadline is None:
                continue
            department = user.department_id if user.role == roles.DEPT_HEAD else None
            key = (item.kind, item.url)
            if key in found and found[key].department_id is not None:
                continue
            found[key] = PendingItem(item.kind, item.title, department, item.deadline,
                                     item.action_label, item.url, label=item.kind_label)
    return list(found.values())


BUILTIN_PENDING = (_filing_pending, _borrowing_pending, _query_pending, _change_pending, _other_pending)


@dataclass
class PendingFigures:
    late: list[PendingItem] = field(default_factory=list)
    waiting: int = 0  # all steps waiting, late or not
    by_workflow: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_department: dict[int | None, int] = field(default_factory=lambda: defaultdict(int))
    by_cell: dict[tuple[str, int | None], int] = field(default_factory=lambda: defaultdict(int))
    labels: dict[str, str] = field(default_factory=dict)  # workflow → its name


def pending_approvals(scope: Scope, today: date) -> PendingFigures:
    figures = PendingFigures()
    for source in BUILTIN_PENDING:
        for item in source(scope, today):
            if not scope.allows(item.department_id):
                continue
            figures.waiting += 1
            if not item.late(today):
                continue
            figures.late.append(item)
            figures.labels[item.workflow] = item.label or str(WORKFLOW_LABELS.get(item.workflow, item.workflow))
            figures.by_workflow[item.workflow] += 1
            figures.by_department[item.department_id] += 1
            figures.by_cell[(item.workflow, item.department_id)] += 1
    figures.late.sort(key=lambda i: (i.deadline, i.workflow, i.title))
    return figures


# --- the dashboard -------------------------------------------------------------------------------

@dataclass
class Dashboard:
    scope: Scope
    period: Period
    today: date
    filing: Breakdown
    filing_rows: list[FilingRow]
    updates: Breakdown
    update_rows: list[UpdateRow]
    completeness: CompletenessFigures
    loans: LoanFigures
    pending: PendingFigures
    checks: Breakdown
    check_counts: dict

    @property
    def months(self) -> list[date]:
        return self.period.months

    @property
    def department_ids(self) -> list[int | None]:
        """Departments with any figure (a department head: their own), in a stable order."""
        if self.scope.department_id is not None:
            return [self.scope.department_id]
        seen = set()
        for mapping in (self.filing.by_department, self.updates.by_department,
                        self.completeness.by_department, self.loans.by_department,
                        self.loans.current_by_department, self.pending.by_department,
                        self.checks.by_department):
            seen.update(k for k, v in mapping.items() if v)
        order = list(self.scope.departments)
        return sorted(seen, key=lambda d: (d is None, order.index(d) if d in order else 0))

    def department_name(self, department_id: int | None) -> str:
        dept = self.scope.departments.get(department_id) if department_id is not None else None
        return dept.name if dept else _("No department")

    def shows(self, archive: Archive | None) -> bool:
        """Whether the reader may see the archive's name (else only its number is listed)."""
        return archive is not None and perm.can_view(self.scope.user, archive)

    @property
    def late_filings(self) -> list[FilingRow]:
        return [r for r in self.filing_rows if r.outcome == "late"]

    @property
    def late_updates(self) -> list[UpdateRow]:
        return [r for r in self.update_rows if r.outcome == "late"]


def dashboard(user: User, period: Period, department_id: int | None = None,
              today: date | None = None) -> Dashboard:
    """Every figure of the dashboard for ``user``'s scope (no permission check: the caller's)."""
    from portal.oversight import checks

    today = today or workcal.today()
    scope = scope_for(user, department_id)
    filing, filing_rows = filing_timeliness(scope, period, today)
    updates, update_rows = update_timeliness(scope, period, today)
    check_rate, check_counts = checks.check_rate(scope, period, today)
    return Dashboard(scope=scope, period=period, today=today, filing=filing, filing_rows=filing_rows,
                     updates=updates, update_rows=update_rows,
                     completeness=completeness_figures(scope), loans=overdue_loans(scope, period, today),
                     pending=pending_approvals(scope, today), checks=check_rate,
                     check_counts=check_counts)


def open_dashboard(actor, period: Period, department_id: int | None = None, fmt: str = "html") -> Scope:
    """Check that ``actor`` may read the dashboard (403, registered, otherwise) and register the
    view (``KPI_VIEW``, once per page, PDF or Excel); commits. Returns the reader's scope."""
    from portal.archives.services import deny
    from portal.dbsetup import begin_write
    from portal.register import actions
    from portal.register.services import record

    user = actor.user
    if not can_read(user):
        raise deny(actor, _l("The KPI dashboard is for management, the quality supervisor, the "
                             "archivist and department heads (their own department)."),
                   what="KPI dashboard")
    begin_write()
    scope = scope_for(user, department_id)
    department = scope.departments.get(scope.department_id) if scope.department_id else None
    record(actor, actions.KPI_VIEW, detail=f"{fmt}; {month_key(period.first)}..{month_key(period.last)}; "
                                           f"department {department.name if department else 'all'}")
    db.session.commit()
    return scope
