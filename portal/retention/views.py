"""Pages of retention under ``/retention``: the termination review list 终止合作复核 (archivist;
supervisor and management read), a review's decision page, holds 冻结 (management acts), and the
retention rules (system administrator, linked from the administration pages).

Views only speak HTTP: ``portal.retention.services`` checks permission (403, registered), state
(409) and input (422: the form is shown again with everything kept).
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import printing, workcal
from portal.archives.forms import choice_label
from portal.archives.models import FILED, TERMINATED, Archive
from portal.archives.services import get_archive
from portal.dbsetup import writes
from portal.errors import Conflict, InvalidState, PortalError, ValidationFailed
from portal.extensions import db
from portal.register import actions
from portal.register.services import record
from portal.retention import services as svc
from portal.retention.models import RetentionRule
from portal.templating import local_time
from portal.web import actor, htmx_target, page_or_fragment, see_other

bp = Blueprint("retention", __name__, url_prefix="/retention")

WITHIN_CHOICES = (30, 90, 365)


def _user():
    return current_user._get_current_object()


# --- header link, archive panel ---------------------------------------------------------------------

@bp.app_template_global()
def retention_reader() -> bool:
    """Whether the header shows 保管与复核 (archivist, supervisor, management)."""
    return svc.can_read_reviews(_user()) if current_user.is_authenticated else False


@bp.app_template_global()
def retention_panel(archive: Archive) -> dict:
    """What the archive page shows about retention: the status (filed archives), the hold banner
    (any archive) and what the viewer may do. One or two queries."""
    user = _user()
    filed = archive.status == FILED
    if filed:
        status = svc.status(archive)
        hold = status.hold
    else:
        status = None
        hold = svc.active_hold(archive.id) if archive.id else None
    return {
        "status": status, "hold": hold, "filed": filed,
        "may_hold": svc.can_hold(user),
        "may_review": svc.can_review(user) and filed and archive.stage == TERMINATED,
        "reads_reviews": svc.can_read_reviews(user),
        "labels": svc.STATE_LABELS,
    }


@bp.app_context_processor
def _helpers():
    return {"retention_state_labels": svc.STATE_LABELS, "retention_decision_labels": svc.DECISION_LABELS,
            "retention_describe": svc.describe, "choice_label": choice_label}


@bp.route("/")
def index():
    svc.require(actor(), svc.can_read_reviews(_user()),
                _("Only the archivist, the quality supervisor and management see retention reviews."),
                "retention")
    return redirect(url_for("retention.reviews"), code=303)


# --- termination review list ---------------------------------------------------------------------

class ReviewFilter:
    def __init__(self, args):
        self.department_id = int(args["department"]) if (args.get("department") or "").isdigit() else None
        within = args.get("within", "")
        self.within = None if within == "all" else (int(within) if within.isdigit() and int(within) in
                                                    WITHIN_CHOICES else svc.DUE_WITHIN_DAYS)
        self.descending = args.get("sort") == "-due"

    def args(self) -> dict:
        out = {}
        if self.department_id:
            out["department"] = self.department_id
        if self.within != svc.DUE_WITHIN_DAYS:
            out["within"] = "all" if self.within is None else self.within
        if self.descending:
            out["sort"] = "-due"
        return out

    def describe(self, departments) -> str:
        parts = []
        names = {d.id: d.name for d in departments}
        parts.append(names.get(self.department_id, _("all departments")))
        parts.append(_("due any time or overdue") if self.within is None else
                     _("due within %(days)s days or overdue", days=self.within))
        return "; ".join(parts)


def _require_reader(what: str) -> None:
    svc.require(actor(), svc.can_read_reviews(_user()),
                _("Only the archivist, the quality supervisor and management see termination reviews."), what)


def _review_context():
    f = ReviewFilter(request.args)
    user = _user()
    items = svc.reviews_due(user, f.within, department_id=f.department_id, descending=f.descending)
    departments = svc.departments()
    return {"f": f, "items": items, "departments": departments, "filter_args": f.args(),
            "filter_text": f.describe(departments), "today": workcal.today(),
            "missing": svc.missing_dates(user, f.department_id), "may_review": svc.can_review(user)}


@bp.route("/reviews")
def reviews():
    _require_reader("retention reviews")
    return page_or_fragment("retention/reviews.html", {"review-results": "retention/_review_results.html"},
                            **_review_context())


@bp.route("/reviews/print")
@writes
def reviews_print():
    _require_reader("retention reviews print")
    context = _review_context()
    fmt = "pdf" if printing.wants("pdf") else "xlsx" if printing.wants("xlsx") else "html"
    record(actor(), actions.LEDGER_PRINT,
           detail=f"termination review list ({fmt}): {context['filter_text']}; {len(context['items'])} archives")
    db.session.commit()
    printed_at = local_time(datetime.now(UTC).replace(tzinfo=None))
    if fmt == "xlsx":
        return printing.xlsx_response(_review_workbook(context, printed_at), "termination-reviews")
    context["printed_at"] = printed_at
    if fmt == "pdf":
        return printing.pdf_response("retention/reviews_print.html", "termination-reviews", **context)
    return render_template("retention/reviews_print.html", **context)


def _review_workbook(context, printed_at: str) -> bytes:
    headers = [_("No."), _("Archive number"), _("Customer name"), _("Department"), _("Customer type"),
               _("Terminated on"), _("Review due"), _("Eligible for destruction from"), _("Status"),
               _("Last decision")]
    rows = []
    for n, item in enumerate(context["items"], 1):
        a, st = item.archive, item.status
        decision = ""
        if st.last_review is not None:
            decision = f"{st.decision_label} ({local_time(st.last_review.decided_at, '%Y-%m-%d')}, " \
                       f"{st.last_review.decided_by.display_name}): {st.last_review.reason}"
        rows.append([n, a.label, a.name, a.department.name, a.customer_type.name,
                     st.event_date.isoformat(), item.due.isoformat() + (f" ({_('overdue')})" if item.overdue else ""),
                     st.eligible_on.isoformat() if st.eligible_on else "",
                     st.label + (f": {st.hold.reason}" if st.held else ""), decision])
    return printing.workbook(
        _("Termination review list of terminated-customer archives"), headers, rows,
        lines=[_("Filter: %(filter)s", filter=context["filter_text"]),
               _("Printed %(time)s by %(name)s (%(role)s)", time=printed_at, name=_user().display_name,
                 role=_user().role_label)],
        widths=[6, 22, 26, 12, 14, 12, 16, 14, 18, 40],
        signatures=[str(s) for s in printing.DEFAULT_SIGNATURES])


# --- one archive's review --------------------------------------------------------------------------

def _archive(archive_id: int) -> Archive:
    return get_archive(archive_id)


def _review_page(archive: Archive, status: int = 200, errors: dict | None = None, values: dict | None = None,
                 notice: str = ""):
    values = values or {}
    return render_template(
        "retention/review.html", archive=archive, st=svc.status(archive), history=svc.reviews_of(archive.id),
        holds=svc.hold_history(archive.id), last_id=svc.latest_review_id(archive.id),
        may_review=svc.can_review(_user()), errors=errors or {}, notice=notice,
        values={"next_review_on": svc.default_next_review().isoformat(), **values},
        doc_types_note=bool(archive.stage == TERMINATED)), status


@bp.route("/reviews/<int:archive_id>")
def review(archive_id: int):
    _require_reader("retention review")
    archive = _archive(archive_id)
    svc.require_view(actor(), archive, "retention review")
    return _review_page(archive)


def _expected_last() -> int | None:
    value = request.form.get("last_review", "")
    return int(value) if value.isdigit() else None


@bp.post("/reviews/<int:archive_id>/retain")
def retain(archive_id: int):
    archive = _archive(archive_id)
    values = {"reason": request.form.get("reason", ""), "next_review_on": request.form.get("next_review_on", ""),
              "decision": "retain"}
    try:
        svc.retain(actor(), archive, values["reason"], values["next_review_on"], expected_last=_expected_last())
    except ValidationFailed as exc:
        return _review_page(archive, 422, errors=_prefixed("retain", exc), values=values)
    except (InvalidState, Conflict) as exc:
        return _review_page(archive, exc.status, values=values, notice=str(exc.message))
    flash(_("%(archive)s is retained as a terminated-customer archive; next review on %(date)s.",
            archive=archive.label, date=values["next_review_on"].strip()), "success")
    return see_other("retention.reviews")


@bp.post("/reviews/<int:archive_id>/propose")
def propose(archive_id: int):
    archive = _archive(archive_id)
    values = {"propose_reason": request.form.get("reason", ""), "decision": "propose"}
    try:
        svc.propose(actor(), archive, values["propose_reason"], expected_last=_expected_last())
    except ValidationFailed as exc:
        return _review_page(archive, 422, errors=_prefixed("propose", exc), values=values)
    except (InvalidState, Conflict) as exc:
        return _review_page(archive, exc.status, values=values, notice=str(exc.message))
    flash(_("Destruction of %(archive)s proposed. Complete the destruction application.",
            archive=archive.label), "success")
    # The destruction application (portal.destruction) starts with this archive listed.
    return redirect(f"{request.script_root}/destruction/new?archive={archive.id}", code=303)


def _prefixed(form: str, exc: ValidationFailed) -> dict:
    fields = exc.detail.get("fields") or {exc.detail.get("field") or "_form": str(exc.message)}
    return {f"{form}_{k}": str(v) for k, v in fields.items()}


# --- holds 冻结 ---------------------------------------------------------------------------------------

@bp.route("/holds")
def holds():
    svc.require(actor(), svc.can_read_holds(_user()),
                _("Only management, the archivist and the quality supervisor see holds."), "holds")
    active_only = request.args.get("show") != "all"
    return render_template("retention/holds.html", holds=svc.holds(_user(), active_only=active_only),
                           active_only=active_only, may_hold=svc.can_hold(_user()),
                           number=request.args.get("number", ""))


@bp.route("/holds/find")
def hold_find():
    """Management names an archive by its number to put it on hold."""
    svc.require(actor(), svc.can_hold(_user()), _("Only management places a hold on an archive."), "place hold")
    number = (request.args.get("number") or "").strip()
    try:
        archive = get_archive(number) if number else None
    except PortalError:
        archive = None
    if archive is None:
        flash(_("No archive has the number %(number)s.", number=number) if number else
              _("Enter an archive number."), "error")
        return see_other("retention.holds")
    return see_other("retention.hold_place", archive_id=archive.id)


def _hold_page(template: str, archive: Archive, status: int = 200, **context):
    fragment = f"retention/_{template}_form.html"
    return page_or_fragment(f"retention/{template}.html", {"hold-slot": fragment}, status=status,
                            archive=archive, hold=svc.active_hold(archive.id), **context)


@bp.route("/archives/<int:archive_id>/hold", methods=["GET", "POST"])
def hold_place(archive_id: int):
    archive = _archive(archive_id)
    me = actor()
    svc.require(me, svc.can_hold(me.user), _("Only management places a hold on an archive."), "place hold", archive)
    svc.require_view(me, archive, "place hold")
    values = {"reason": request.form.get("reason", ""), "reference": request.form.get("reference", "")}
    if request.method == "GET":
        return _hold_page("hold_place", archive, values=values, errors={})
    try:
        svc.place_hold(me, archive, values["reason"], values["reference"])
    except ValidationFailed as exc:
        return _hold_page("hold_place", archive, 422, values=values, errors=_fields(exc))
    flash(_("%(archive)s is on hold. It cannot be destroyed or deleted until the hold is lifted.",
            archive=archive.label), "success")
    return see_other("archives.show", archive_id=archive.id)


@bp.route("/archives/<int:archive_id>/hold/lift", methods=["GET", "POST"])
def hold_lift(archive_id: int):
    archive = _archive(archive_id)
    me = actor()
    svc.require(me, svc.can_hold(me.user), _("Only management lifts a hold."), "lift hold", archive)
    svc.require_view(me, archive, "lift hold")
    values = {"lift_reason": request.form.get("lift_reason", "")}
    if request.method == "GET":
        if svc.active_hold(archive.id) is None:
            raise InvalidState(_("This archive is not on hold."))
        return _hold_page("hold_lift", archive, values=values, errors={})
    hold_id = request.form.get("hold_id", "")
    try:
        svc.lift_hold(me, archive, values["lift_reason"], int(hold_id) if hold_id.isdigit() else None)
    except ValidationFailed as exc:
        return _hold_page("hold_lift", archive, 422, values=values, errors=_fields(exc))
    flash(_("The hold on %(archive)s is lifted.", archive=archive.label), "success")
    return see_other("archives.show", archive_id=archive.id)


def _fields(exc: ValidationFailed) -> dict:
    fields = exc.detail.get("fields")
    return {k: str(v) for k, v in fields.items()} if fields else {"_form": str(exc.message)}


# --- retention rules (system administrator) --------------------------------------------------------

def _require_admin(what: str) -> None:
    svc.require(actor(), svc.can_manage_rules(_user()),
                _("Only the system administrator configures retention rules."), what)


def _rule_values(source, rule: RetentionRule | None = None) -> dict:
    if source is None:
        return {"customer_type_id": str(rule.customer_type_id or "") if rule else "",
                "stage": (rule.stage or "") if rule else "", "doc_type": (rule.doc_type or "") if rule else "",
                "review_months": str(rule.review_months) if rule else str(svc.DEFAULT_REVIEW_MONTHS),
                "retain_years": str(rule.retain_years) if rule else str(svc.DEFAULT_RETAIN_YEARS),
                "note": rule.note if rule else ""}
    return {name: source.get(name, "") for name in
            ("customer_type_id", "stage", "doc_type", "review_months", "retain_years", "note")}


def _rules_page(status: int = 200, values: dict | None = None, errors: dict | None = None):
    return page_or_fragment("retention/rules.html", {}, status=status, rules=svc.rules(),
                            values=values or _rule_values(None), errors=errors or {},
                            choices=svc.rule_choices(), describe=svc.scope_text, terms=svc.terms_text)


@bp.route("/rules")
def rules():
    _require_admin("retention rules")
    return _rules_page()


def _save(rule: RetentionRule | None, values: dict) -> RetentionRule:
    return svc.save_rule(actor(), rule, customer_type_id=values["customer_type_id"], stage=values["stage"],
                         doc_type=values["doc_type"], review_months=values["review_months"],
                         retain_years=values["retain_years"], note=values["note"])


@bp.post("/rules/new")
def rule_new():
    _require_admin("retention rule")
    values = _rule_values(request.form)
    try:
        rule = _save(None, values)
    except ValidationFailed as exc:
        return _rules_page(422, values, _fields(exc))
    flash(_("Retention rule saved: %(rule)s.", rule=svc.describe(rule)), "success")
    return see_other("retention.rules")


@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
def rule_edit(rule_id: int):
    _require_admin("retention rule")
    rule = svc.get_rule(rule_id)
    if request.method == "GET":
        return render_template("retention/rule_edit.html", rule=rule, values=_rule_values(None, rule),
                               errors={}, choices=svc.rule_choices(), describe=svc.scope_text)
    values = _rule_values(request.form)
    try:
        _save(rule, values)
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("retention/rule_edit.html", rule=svc.get_rule(rule_id), values=values,
                               errors=_fields(exc), choices=svc.rule_choices(), describe=svc.scope_text), 422
    flash(_("Retention rule saved: %(rule)s.", rule=svc.describe(svc.get_rule(rule_id))), "success")
    return see_other("retention.rules")


@bp.post("/rules/<int:rule_id>/delete")
def rule_delete(rule_id: int):
    _require_admin("retention rule delete")
    rule = svc.get_rule(rule_id)
    text = svc.describe(rule)
    svc.delete_rule(actor(), rule)
    flash(_("Retention rule deleted: %(rule)s.", rule=text), "success")
    if htmx_target():
        return _rules_page()
    return see_other("retention.rules")

