"""Borrowing pages 借阅 under ``/borrowings``: my loans, apply, a loan with its timeline and the
actions of whoever is to act, the archivist's desk, the heads' approvals, the borrowing register.

Views only speak HTTP: the services in ``portal.workflows.borrowing`` check permissions (403,
registered), the state (409) and the input (422). Forms are plain (Post/Redirect/Get); a form
with errors is shown again with the input kept.
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import printing, workcal
from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import FILED, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.dbsetup import writes
from portal.errors import Conflict, InvalidState, ValidationFailed
from portal.extensions import db
from portal.register import actions
from portal.templating import local_time
from portal.web import actor, int_arg, page_or_fragment, see_other
from portal.workflows import borrowing as svc
from portal.workflows import borrowing_inbox, borrowing_ledger
from portal.workflows import borrowing_rules as rules_mod
from portal.workflows.borrowing_models import (
    APPROVED,
    CONDITION_LABELS,
    CONDITIONS,
    EXT_REQUESTED,
    EXTENSION_LABELS,
    LENT,
    PENDING_ARCHIVIST,
    PENDING_HEAD,
    STATUS_LABELS,
    Loan,
    LoanItem,
)

bp = Blueprint("borrowing", __name__, url_prefix="/borrowings")

SEARCH_LIMIT = 15


def _labels() -> dict:
    return {"status_labels": STATUS_LABELS, "condition_labels": CONDITION_LABELS,
            "extension_labels": EXTENSION_LABELS, "action_label": actions.label,
            "today": workcal.today()}


# --- my loans, apply -----------------------------------------------------------------------------

@bp.route("/")
def index():
    """The user's own loans, newest first (the archivist's work is on the desk)."""
    me = actor()
    if rules_mod.is_archivist(me.user):
        return redirect(url_for("borrowing.desk"), 303)
    if not rules_mod.can_borrow(me.user):
        raise deny(me, _l("The system administrator does not borrow archives."), None, "loan list")
    loans = list(db.session.scalars(sa.select(Loan).where(Loan.borrower_id == me.user.id)
                                    .order_by(Loan.created_at.desc(), Loan.id.desc())))
    return render_template("borrowing/index.html", loans=loans, **_labels())


def _require_borrower(me: Actor) -> None:
    if not rules_mod.can_borrow(me.user):
        raise deny(me, _l("Staff, department heads, the quality supervisor and management borrow paper "
                          "files; the archivist lends them."), None, "loan apply")


def _selected_archives(me: Actor, ids) -> list[Archive]:
    """The archives named in the form that the user may see (others are silently dropped here;
    the service refuses them when the form is sent)."""
    out = []
    for ident in dict.fromkeys(str(i).strip() for i in ids if str(i).strip()):
        archive = svc._find_archive(ident)
        if archive is not None and perm.can_view(me.user, archive) and archive not in out:
            out.append(archive)
    return out


def _search(me: Actor, q: str, exclude: list[Archive]) -> list[Archive]:
    q = (q or "").strip()[:100]
    if not q:
        return []
    like = f"%{q}%"
    stmt = (sa.select(Archive).where(perm.visible_clause(me.user), Archive.status == FILED,
                                     sa.or_(Archive.name.like(like), Archive.number.like(like),
                                            Archive.name_en.like(like)))
            .order_by(Archive.number).limit(SEARCH_LIMIT))
    skip = {a.id for a in exclude}
    return [a for a in db.session.scalars(stmt).unique() if a.id not in skip]


def _picker_context(me: Actor, source) -> dict:
    selected = _selected_archives(me, source.getlist("archives"))
    q = (source.get("q") or "").strip()
    results = _search(me, q, selected)
    return {"selected": selected, "results": results, "q": q, "searched": bool(q),
            "out": {a.id: svc.out_with(a.id) for a in [*selected, *results]}}


@bp.route("/new", methods=["GET", "POST"])
def new():
    """The application form 借阅申请表 (GET with ``archives``/``q`` pre-selects and searches)."""
    me = actor()
    _require_borrower(me)
    source = request.form if request.method == "POST" else request.args
    values = {"purpose": source.get("purpose", ""), "period_days": source.get("period_days", ""),
              "pickup_date": source.get("pickup_date", "") or svc.default_pickup().isoformat()}
    errors: dict[str, str] = {}
    if request.method == "POST" and request.form.get("action") != "search":
        try:
            loan = svc.apply(me, svc.Application(
                archive_ids=request.form.getlist("archives"), purpose=values["purpose"],
                period_days=values["period_days"], pickup_date=values["pickup_date"]))
        except ValidationFailed as exc:
            errors[exc.detail.get("field") or "form"] = str(exc.message)
        else:
            flash(_("Application #%(id)s sent; %(who)s decides next.", id=loan.id,
                    who=_first_decider_text(loan)), "success")
            return see_other("borrowing.show", loan_id=loan.id)
    status = 422 if errors else 200
    return page_or_fragment("borrowing/new.html", {"archive-picker": "borrowing/_picker.html"},
                            status=status, values=values, errors=errors, rules=rules_mod.rules(),
                            **_picker_context(me, source), **_labels())


def _first_decider_text(loan: Loan) -> str:
    if loan.status == PENDING_ARCHIVIST:
        return _("the archivist")
    if loan.first_step == "management":
        return _("management")
    return _("your department head")


@bp.route("/archive-search")
def archive_search():
    """Search-as-you-type over the archives the user may borrow (the picker fragment)."""
    me = actor()
    _require_borrower(me)
    return render_template("borrowing/_picker.html", **_picker_context(me, request.args), **_labels())


# --- one loan ------------------------------------------------------------------------------------

def _detail(loan: Loan, status: int = 200, errors: dict | None = None, error: str = "",
            values: dict | None = None):
    me = actor()
    user = me.user
    holders = {a.id: svc.out_with(a.id, exclude_loan=loan.id) for a in loan.archives}
    queues = {a.id: svc.queue_for(a.id) for a in loan.archives}
    rule = rules_mod.rules()
    context = {
        "loan": loan, "holders": holders, "queues": queues, "rules": rule,
        "errors": errors or {}, "error": error, "values": values or {},
        "events": loan.events,
        "can": {"decide": rules_mod.can_decide(user, loan), "withdraw": rules_mod.can_withdraw(user, loan),
                "lend": rules_mod.can_lend(user, loan),
                "extend": rules_mod.can_request_extension(user, loan),
                "check_in": rules_mod.can_check_in(user, loan)},
        "deciding_extension": loan.status == LENT and loan.extension_status == EXT_REQUESTED,
        "last_day_to_extend": svc.last_day_to_extend(loan, rule),
        "conditions": [(c, CONDITION_LABELS[c]) for c in CONDITIONS],
        "first_deciders": rules_mod.first_step_deciders(loan),
        **_labels(),
    }
    return make_response(render_template("borrowing/show.html", **context), status)


@bp.route("/<int:loan_id>")
def show(loan_id: int):
    loan = svc.require_loan(actor(), loan_id)
    return _detail(loan)


def _act(loan_id: int, step, done_message, fields=()):
    """Run one step on a loan; on bad input (422) or a state conflict (409) show the loan again
    with the message and the input kept."""
    me = actor()
    loan = svc.get_loan(loan_id)
    values = {name: request.form.get(name, "") for name in fields}
    try:
        step(me, loan, values)
    except ValidationFailed as exc:
        db.session.rollback()
        return _detail(svc.get_loan(loan_id), 422, errors={exc.detail.get("field") or "form": str(exc.message)},
                       values=values)
    except (InvalidState, Conflict) as exc:
        db.session.rollback()
        return _detail(svc.get_loan(loan_id), 409, error=str(exc.message), values=values)
    flash(done_message(loan), "success")
    return see_other("borrowing.show", loan_id=loan_id)


@bp.post("/<int:loan_id>/approve")
def approve(loan_id: int):
    return _act(loan_id, lambda me, loan, v: svc.approve(me, loan, v["note"]),
                lambda loan: _("Approved."), ("note",))


@bp.post("/<int:loan_id>/reject")
def reject(loan_id: int):
    return _act(loan_id, lambda me, loan, v: svc.reject(me, loan, v["reason"]),
                lambda loan: _("Rejected; the borrower has been told."), ("reason",))


@bp.post("/<int:loan_id>/withdraw")
def withdraw(loan_id: int):
    return _act(loan_id, lambda me, loan, v: svc.withdraw(me, loan),
                lambda loan: _("Application withdrawn."))


@bp.post("/<int:loan_id>/lend")
def lend(loan_id: int):
    return _act(loan_id, lambda me, loan, v: svc.lend(me, loan, v["handover_note"]),
                lambda loan: _("Files handed over; due back on %(due)s.", due=loan.due_date.isoformat()),
                ("handover_note",))


@bp.post("/<int:loan_id>/extend")
def extend(loan_id: int):
    return _act(loan_id, lambda me, loan, v: svc.request_extension(me, loan, v["days"], v["reason"]),
                lambda loan: _("Extension requested; the archivist decides."), ("days", "reason"))


@bp.post("/<int:loan_id>/return")
def check_in(loan_id: int):
    return _act(loan_id, lambda me, loan, v: svc.check_in(me, loan, v["condition"], v["note"]),
                lambda loan: _("Return checked in."), ("condition", "note"))


# --- the archivist's desk, the heads' approvals ------------------------------------------------------

@bp.route("/desk")
@writes
def desk():
    """The archivist's desk: to decide, to hand over (with files still out), out, overdue, queues.
    Opening it sends the day's overdue reminders if nobody has yet (``portal remind`` does too)."""
    me = actor()
    if not rules_mod.is_archivist(me.user):
        raise deny(me, _l("The lending desk is the archivist's."), None, "loan desk")
    reminded = borrowing_inbox.send_reminders(Actor(None, "system", "web"))
    today = workcal.today()

    def loans(*conds, order=Loan.created_at):
        return list(db.session.scalars(sa.select(Loan).where(*conds).order_by(order, Loan.id)))

    out = loans(Loan.status == LENT, order=Loan.due_date)
    approved = loans(Loan.status == APPROVED)
    waiting_ids = {item.archive_id for loan in [*approved, *loans(Loan.status.in_(
        (PENDING_HEAD, PENDING_ARCHIVIST)))] for item in loan.items}
    out_archive_ids = {item.archive_id for loan in out for item in loan.items}
    queued = [(db.session.get(Archive, aid), svc.out_with(aid), svc.queue_for(aid))
              for aid in sorted(waiting_ids & out_archive_ids)]
    return render_template(
        "borrowing/desk.html", to_decide=loans(Loan.status == PENDING_ARCHIVIST), approved=approved,
        extensions=[loan for loan in out if loan.extension_status == EXT_REQUESTED],
        out=[loan for loan in out if not loan.is_overdue(today)],
        overdue=[loan for loan in out if loan.is_overdue(today)], queued=queued,
        holders={loan.id: [svc.out_with(a.id, exclude_loan=loan.id) for a in loan.archives]
                 for loan in approved},
        waiting_heads=loans(Loan.status == PENDING_HEAD), reminded=reminded,
        deadline=workcal.deadline, **_labels())


@bp.route("/approvals")
def approvals():
    """Applications waiting for this department head's (or manager's) decision, and recent decisions."""
    me = actor()
    if me.user is None or me.user.role not in (roles.DEPT_HEAD, roles.MANAGER):
        raise deny(me, _l("Department heads (and management, for the heads' own loans) approve loans."),
                   None, "loan approvals")
    pending = [loan for loan in db.session.scalars(
        sa.select(Loan).where(Loan.status == PENDING_HEAD).order_by(Loan.created_at, Loan.id))
        if rules_mod.decides_first(me.user, loan)]
    decided = list(db.session.scalars(sa.select(Loan).where(Loan.head_by_id == me.user.id)
                                      .order_by(Loan.head_at.desc()).limit(30)))
    return render_template("borrowing/approvals.html", pending=pending, decided=decided,
                           deadline=workcal.deadline, head_days=borrowing_inbox.HEAD_DAYS, **_labels())


# --- the borrowing register 借阅登记簿 ------------------------------------------------------------

@bp.route("/register")
def register():
    me = actor()
    f = borrowing_ledger.parse_filter(request.args)
    page = borrowing_ledger.browse(me, f, page=int_arg("page", 1) or 1)
    return page_or_fragment("borrowing/register.html", {"ledger-results": "borrowing/_ledger_results.html"},
                            f=f, result=page, departments=_ledger_departments(me),
                            filter_args=f.args(), condition_text=borrowing_ledger.condition_text,
                            status_choices=[(s, STATUS_LABELS[s]) for s in borrowing_ledger.FILTER_STATUSES],
                            **_labels())


def _ledger_departments(me: Actor):
    if me.user.role == roles.DEPT_HEAD:
        return [me.user.department] if me.user.department else []
    return borrowing_ledger.departments()


@bp.route("/register/print")
@writes
def register_print():
    me = actor()
    f = borrowing_ledger.parse_filter(request.args)
    if printing.wants("xlsx"):
        return register_export()
    loans, total = borrowing_ledger.for_print(me, f)
    context = dict(loans=loans, total=total, f=f, filter_args=f.args(),
                   filter_text=borrowing_ledger.describe(f),
                   printed_at=local_time(datetime.now(UTC).replace(tzinfo=None)),
                   condition_text=borrowing_ledger.condition_text, **_labels())
    if printing.wants("pdf"):
        return printing.pdf_response("borrowing/register_print.html", "borrowing-register", **context)
    return render_template("borrowing/register_print.html", **context)


@bp.route("/register/export.xlsx")
@writes
def register_export():
    me = actor()
    f = borrowing_ledger.parse_filter(request.args)
    loans, total = borrowing_ledger.for_print(me, f, export=True)
    data = borrowing_ledger.to_xlsx(loans, borrowing_ledger.describe(f), me.user, total)
    response = make_response(data)
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response.headers["Content-Disposition"] = f'attachment; filename="borrowing-register-{stamp}.xlsx"'
    response.headers["X-Total-Count"] = str(total)
    return response


# --- the archive page's panel, the header link -----------------------------------------------------

def archive_panel(archive: Archive) -> dict:
    """What the archive page shows about the archive's paper file: out with whom, the queue, the
    user's own open loan, and whether they may apply."""
    me = actor()
    user = me.user
    holder = svc.out_with(archive.id)
    queue = svc.queue_for(archive.id)
    mine = db.session.scalar(sa.select(Loan).join(LoanItem, LoanItem.loan_id == Loan.id).where(
        LoanItem.archive_id == archive.id, Loan.borrower_id == user.id,
        Loan.status.in_((PENDING_HEAD, PENDING_ARCHIVIST, APPROVED, LENT))).limit(1)) if user else None
    return {"holder": holder, "queue": queue, "mine": mine, "filed": archive.status == FILED,
            "may_apply": rules_mod.can_borrow(user) and archive.status == FILED and mine is None,
            "sees_loans": bool(user) and (rules_mod.is_archivist(user) or (holder is not None and
                                                                              rules_mod.can_see(user, holder)))}


@bp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(
        borrowing_panel=archive_panel,
        can_borrow=lambda: rules_mod.can_borrow(actor().user),
        is_archivist=lambda: rules_mod.is_archivist(actor().user),
        reads_loan_register=lambda: rules_mod.can_read_ledger(actor().user),
        loan_status_label=lambda loan: STATUS_LABELS[loan.shown_status(workcal.today())],
        today_date=workcal.today,
    )
