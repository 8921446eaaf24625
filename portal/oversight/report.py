"""The KPI dashboard's presentation: chart objects and table rows (page, PDF) and the Excel of
the figures. The figures themselves come from ``portal.oversight.kpi``."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from portal import printing
from portal.oversight import charts
from portal.oversight.kpi import Dashboard, Rate, month_key


def _pct(rate: Rate) -> float | None:
    return rate.percent


@dataclass(frozen=True)
class RateRow:
    label: str
    rate: Rate


def department_rows(board: Dashboard, mapping) -> list[RateRow]:
    return [RateRow(board.department_name(d), mapping.get(d) or Rate()) for d in board.department_ids]


def month_rows(board: Dashboard, mapping) -> list[RateRow]:
    return [RateRow(month_key(m), mapping.get(m) or Rate()) for m in board.months]


def build_charts(board: Dashboard) -> dict[str, charts.Chart]:
    depts = board.department_ids
    names = [board.department_name(d) for d in depts]
    months = [month_key(m) for m in board.months]
    period = board.period.label
    out = {}
    out["filing_dept"] = charts.hbar(
        "c-filing-dept", _("Filing timeliness by department"),
        _("Share of archives filed within 5 working days of the contract, per department, %(period)s; "
          "target 100%%.", period=period),
        [(n, _pct(board.filing.by_department.get(d) or Rate())) for n, d in zip(names, depts, strict=True)],
        target=100, good_at=100)
    out["filing_month"] = charts.line(
        "c-filing-month", _("Filing timeliness by month of the contract"),
        _("Share of archives filed on time, per month of the contract date, %(period)s.", period=period),
        [(m, _pct(board.filing.by_month.get(k) or Rate())) for m, k in zip(months, board.months, strict=True)],
        target=100)
    out["update_dept"] = charts.hbar(
        "c-update-dept", _("Update timeliness by department"),
        _("Share of change requests applied within their deadlines, per department, %(period)s.",
          period=period),
        [(n, _pct(board.updates.by_department.get(d) or Rate())) for n, d in zip(names, depts, strict=True)],
        target=100, good_at=100)
    out["update_month"] = charts.line(
        "c-update-month", _("Update timeliness by month"),
        _("Share of change requests applied on time, per month they were proposed, %(period)s.",
          period=period),
        [(m, _pct(board.updates.by_month.get(k) or Rate())) for m, k in zip(months, board.months, strict=True)],
        target=100)
    out["completeness_dept"] = charts.hbar(
        "c-completeness-dept", _("Average completeness by department"),
        _("Average share of the required profile fields filled in, filed archives, per department."),
        [(n, board.completeness.average(d)) for n, d in zip(names, depts, strict=True)])
    out["loans_dept"] = charts.hbar(
        "c-loans-dept", _("Overdue loans now by department"),
        _("Paper files lent and past their due date today, per borrower's department."),
        [(n, float(board.loans.current_by_department.get(d, 0))) for n, d in zip(names, depts, strict=True)],
        unit="")
    out["loans_month"] = charts.vbar(
        "c-loans-month", _("Overdue loans by month due"),
        _("Loans due in the month that came back late or are still out, %(period)s.", period=period),
        [(m, float(board.loans.by_month.get(k, 0))) for m, k in zip(months, board.months, strict=True)],
        fill=charts.BAD)
    workflows = sorted(board.pending.by_workflow)
    out["pending_workflow"] = charts.hbar(
        "c-pending-workflow", _("Pending approvals past their deadline by workflow"),
        _("Workflow steps waiting today whose deadline has passed, per workflow."),
        [(board.pending.labels.get(w, w), float(board.pending.by_workflow[w])) for w in workflows], unit="")
    out["pending_dept"] = charts.hbar(
        "c-pending-dept", _("Pending approvals past their deadline by department"),
        _("Workflow steps waiting today whose deadline has passed, per department."),
        [(n, float(board.pending.by_department.get(d, 0))) for n, d in zip(names, depts, strict=True)],
        unit="")
    out["checks_dept"] = charts.hbar(
        "c-checks-dept", _("Monthly check rate by department"),
        _("Share of archives whose monthly check was confirmed by the month's last working day, per "
          "department, %(period)s.", period=period),
        [(n, _pct(board.checks.by_department.get(d) or Rate())) for n, d in zip(names, depts, strict=True)],
        target=100, good_at=100)
    out["checks_month"] = charts.line(
        "c-checks-month", _("Monthly check rate by month"),
        _("Share of due monthly checks confirmed on time, per month, %(period)s.", period=period),
        [(m, _pct(board.checks.by_month.get(k) or Rate())) for m, k in zip(months, board.months, strict=True)],
        target=100)
    return out


def _percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def xlsx(board: Dashboard, user) -> bytes:
    """The figures as one Excel sheet: indicator, breakdown, item, counts, rate."""
    headers = [_("Indicator"), _("Breakdown"), _("Department / month"), _("Counted"),
               _("On time / done"), _("Late / missed"), _("Not yet due"), _("Rate / value")]
    rows = []

    def rates(indicator: str, by_dept, by_month, total: Rate) -> None:
        for row in department_rows(board, by_dept):
            rows.append([indicator, _("By department"), row.label, row.rate.counted, row.rate.ok,
                         row.rate.late, row.rate.pending, _percent_text(row.rate.percent)])
        for row in month_rows(board, by_month):
            rows.append([indicator, _("By month"), row.label, row.rate.counted, row.rate.ok,
                         row.rate.late, row.rate.pending, _percent_text(row.rate.percent)])
        rows.append([indicator, _("Total"), board.period.label, total.counted, total.ok, total.late,
                     total.pending, _percent_text(total.percent)])

    rates(_("Filing timeliness"), board.filing.by_department, board.filing.by_month, board.filing.total)
    rates(_("Update timeliness"), board.updates.by_department, board.updates.by_month, board.updates.total)
    for d in board.department_ids:
        scores = board.completeness.by_department.get(d) or []
        rows.append([_("Completeness"), _("By department"), board.department_name(d), len(scores), "", "", "",
                     _percent_text(board.completeness.average(d))])
    rows.append([_("Completeness"), _("Total"), _("Filed archives"), board.completeness.count, "", "", "",
                 _percent_text(board.completeness.total)])
    for d in board.department_ids:
        rows.append([_("Overdue loans now"), _("By department"), board.department_name(d), "", "", "", "",
                     board.loans.current_by_department.get(d, 0)])
    for m in board.months:
        rows.append([_("Overdue loans"), _("By month due"), month_key(m), "", "", "", "",
                     board.loans.by_month.get(m, 0)])
    for w, n in sorted(board.pending.by_workflow.items()):
        rows.append([_("Pending approvals past their deadline"), _("By workflow"),
                     board.pending.labels.get(w, w), "", "", "", "", n])
    for d in board.department_ids:
        rows.append([_("Pending approvals past their deadline"), _("By department"),
                     board.department_name(d), "", "", "", "", board.pending.by_department.get(d, 0)])
    rates(_("Monthly check rate"), board.checks.by_department, board.checks.by_month, board.checks.total)
    department = (board.department_name(board.scope.department_id) if board.scope.department_id is not None
                  else _("All departments"))
    lines = [_("Period: %(period)s · %(department)s", period=board.period.label, department=department),
             _("As of %(date)s · exported by %(name)s", date=board.today.isoformat(), name=user.display_name)]
    return printing.workbook(_("KPI dashboard"), headers, rows, lines=lines,
                             widths=[22, 14, 22, 10, 12, 12, 10, 12], sheet=_("KPI figures"))
