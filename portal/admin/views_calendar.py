"""Administration: the working-day calendar 工作日历 and the borrowing rules 借阅规则.

Routes on the ``admin`` blueprint (system administrator only, like every page under /admin).
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import date

from flask import flash, render_template, request
from flask_babel import gettext as _

from portal import workcal
from portal.admin.views import admin_required, bp
from portal.errors import ValidationFailed
from portal.web import actor, int_arg, see_other
from portal.workflows import borrowing_rules

WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")


def _years(selected: int) -> list[int]:
    """Years offered in the year switcher: the last official years, this and the coming year,
    and any year with administrator entries."""
    from sqlalchemy import func, select

    from portal.extensions import db

    years = set(workcal.official_years()[-3:]) | {workcal.today().year, workcal.coming_year(), selected}
    first, last = db.session.execute(select(func.min(workcal.CalendarDay.day),
                                            func.max(workcal.CalendarDay.day))).one()
    for d in (first, last):
        if d is not None:
            years.add(d.year)
    return sorted(years)


def _calendar_page(year: int, status: int = 200, errors: dict | None = None, values: dict | None = None):
    coming = workcal.coming_year()
    return render_template(
        "admin/calendar.html", year=year, years=_years(year), rows=workcal.days_in_force(year),
        year_status=workcal.year_status(year), coming=coming, warn_coming=workcal.needs_warning(coming),
        warn_year=workcal.needs_warning(year), official_years=workcal.official_years(),
        errors=errors or {}, values=values or {"day": "", "kind": workcal.HOLIDAY, "name": ""},
        weekday=lambda d: WEEKDAYS[d.weekday()], kinds=workcal.KINDS), status


@bp.route("/calendar")
@admin_required
def calendar():
    year = int_arg("year", workcal.today().year) or workcal.today().year
    year = min(max(year, 2000), 2100)
    return _calendar_page(year)


@bp.post("/calendar/days")
@admin_required
def calendar_add():
    values = {k: request.form.get(k, "") for k in ("day", "kind", "name")}
    try:
        entry = workcal.add_entry(actor(), values["day"], values["kind"], values["name"])
    except ValidationFailed as exc:
        year = _year_of(values["day"])
        return _calendar_page(year, 422, {exc.detail.get("field") or "form": str(exc.message)}, values)
    flash(_("%(date)s is now a %(kind)s (%(name)s). Deadlines from now on count with it.",
            date=entry.day.isoformat(), name=entry.name,
            kind=_("day off") if entry.kind == workcal.HOLIDAY else _("working day")), "success")
    return see_other("admin.calendar", year=entry.day.year)


def _year_of(raw: str) -> int:
    try:
        return date.fromisoformat(raw.strip()).year
    except ValueError:
        return int_arg("year", workcal.today().year) or workcal.today().year


@bp.post("/calendar/days/<int:day_id>/delete")
@admin_required
def calendar_remove(day_id: int):
    entry = workcal.remove_entry(actor(), day_id)
    if entry is None:
        flash(_("That entry was already removed."), "info")
        return see_other("admin.calendar")
    flash(_("Entry for %(date)s removed.", date=entry.day.isoformat()), "success")
    return see_other("admin.calendar", year=entry.day.year)


@bp.route("/borrowing-rules", methods=["GET", "POST"])
@admin_required
def borrowing_settings():
    current = borrowing_rules.rules()
    values = {attr: str(getattr(current, attr)) for attr in borrowing_rules.SETTING_KEYS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {attr: request.form.get(attr, "") for attr in borrowing_rules.SETTING_KEYS}
        try:
            changes = borrowing_rules.save_rules(actor(), values)
        except ValidationFailed as exc:
            errors[exc.detail.get("field") or "form"] = str(exc.message)
        else:
            flash(_("Borrowing rules saved.") if changes else _("Nothing was changed."),
                  "success" if changes else "info")
            return see_other("admin.borrowing_settings")
    return render_template("admin/borrowing_rules.html", values=values, errors=errors,
                           labels=borrowing_rules.RULE_LABELS, limits=borrowing_rules.RULE_LIMITS,
                           defaults=asdict(borrowing_rules.Rules())), 422 if errors else 200
