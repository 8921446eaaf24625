"""Borrowing of paper files 借阅 (policy 004 §16, SPEC §3): who may do what, and every step.

Every step is one function: it enters a write transaction (``begin_write``), re-checks the
permission and the loan's status under the lock, changes the loan, writes the timeline event and
the register entries (one per archive) and the notifications, and commits — all or nothing.
Refusals are registered in a transaction of their own (``deny``) and raised as 403; a step that
does not fit the loan's current status is a 409 (``InvalidState``) — so a request decided twice
(a double click, two heads at once) is refused the second time.

The rules (period, extension) and the permission checks are in ``borrowing_rules``; overdue
reminders and the inbox sources in ``borrowing_inbox``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import workcal
from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import FILED, Archive
from portal.archives.services import deny
from portal.auth.models import User
from portal.dbsetup import begin_write
from portal.errors import Conflict, InvalidState, NotFound, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.notifications import notify
from portal.register import actions
from portal.register.services import record, record_now
from portal.workflows.borrowing_models import (
    APPROVED,
    COMPLETE,
    CONDITION_LABELS,
    CONDITIONS,
    EXT_APPROVED,
    EXT_NONE,
    EXT_REJECTED,
    EXT_REQUESTED,
    LENT,
    OPEN_STATUSES,
    PENDING_ARCHIVIST,
    PENDING_HEAD,
    REJECTED,
    RETURNED,
    STATUS_LABELS,
    STEP_MANAGEMENT,
    STEP_NONE,
    UNDECIDED,
    WITHDRAWN,
    Loan,
    LoanEvent,
    LoanItem,
)
from portal.workflows.borrowing_rules import (
    Rules,
    archivists,
    can_borrow,
    can_see,
    decides_first,
    first_step_deciders,
    first_step_for,
    is_archivist,
    refuse,
    rules,
)

MAX_ARCHIVES = 20  # archives on one application
MAX_PICKUP_AHEAD_DAYS = 60


# --- reading ------------------------------------------------------------------------------------

def get_loan(loan_id: int) -> Loan:
    loan = db.session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(_l("No such loan."))
    return loan


def require_loan(actor: Actor, loan_id: int) -> Loan:
    """The loan if the actor may see it; a refusal is registered (403)."""
    loan = get_loan(loan_id)
    if not can_see(actor.user, loan):
        raise refuse(actor, loan, _l("Only the borrower, their department head, the archivist, the "
                                    "quality supervisor and management see a loan."), "view")
    return loan


def status_label(loan: Loan, today: date | None = None) -> str:
    return str(STATUS_LABELS[loan.shown_status(today or workcal.today())])


def out_with(archive_id: int, exclude_loan: int | None = None) -> Loan | None:
    """The loan that has this archive's paper file out right now, if any."""
    q = (sa.select(Loan).join(LoanItem, LoanItem.loan_id == Loan.id)
         .where(LoanItem.archive_id == archive_id, Loan.status == LENT))
    if exclude_loan is not None:
        q = q.where(Loan.id != exclude_loan)
    return db.session.scalars(q.limit(1)).first()


def queue_for(archive_id: int) -> list[Loan]:
    """Applications for this archive not yet lent, in order of application (the queue)."""
    return list(db.session.scalars(
        sa.select(Loan).join(LoanItem, LoanItem.loan_id == Loan.id)
        .where(LoanItem.archive_id == archive_id, Loan.status.in_(
            (PENDING_HEAD, PENDING_ARCHIVIST, APPROVED)))
        .order_by(Loan.created_at, Loan.id)))


def holder_text(loan: Loan) -> str:
    return _("%(name)s has it until %(due)s (loan #%(id)s)", name=loan.borrower.display_name,
             due=loan.due_date.isoformat() if loan.due_date else "?", id=loan.id)


# --- applying -----------------------------------------------------------------------------------

@dataclass
class Application:
    archive_ids: list
    purpose: str = ""
    period_days: object = None
    pickup_date: object = None


def _find_archive(ident) -> Archive | None:
    if isinstance(ident, Archive):
        return ident
    text = str(ident).strip()
    if not text:
        return None
    archive = db.session.get(Archive, int(text)) if text.isdigit() else None
    if archive is None:
        archive = db.session.scalar(sa.select(Archive).where(Archive.number == text))
    return archive


def _parse_date(value, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed(_l("Enter the date as YYYY-MM-DD."), field=field) from None


def _parse_days(value, maximum: int, field: str, what) -> int:
    text = str(value if value is not None else "").strip()
    if not text.lstrip("-").isdigit():
        raise ValidationFailed(_l("Enter the number of working days (1 to %(max)s).", max=maximum),
                               field=field)
    days = int(text)
    if days < 1:
        raise ValidationFailed(_l("Enter at least 1 working day."), field=field)
    if days > maximum:
        raise ValidationFailed(what, field=field)
    return days


def default_pickup() -> date:
    """Today if the archive room is open, else the next working day."""
    today = workcal.today()
    return today if workcal.is_working_day(today) else workcal.add_working_days(today, 1)


def apply(actor: Actor, application: Application) -> Loan:
    """A new application (借阅申请): checks everything, registers it, tells who decides first."""
    user = actor.user
    if not can_borrow(user):
        raise deny(actor, _l("Staff, department heads, the quality supervisor and management borrow "
                             "paper files; the archivist lends them."), None, "loan apply")
    begin_write()
    rule = rules()
    idents = [i for i in dict.fromkeys(str(i).strip() for i in application.archive_ids or []) if i]
    if not idents:
        raise ValidationFailed(_l("Choose at least one archive."), field="archives")
    if len(idents) > MAX_ARCHIVES:
        raise ValidationFailed(_l("At most %(max)s archives on one application.", max=MAX_ARCHIVES),
                               field="archives")
    found: list[Archive] = []
    for ident in idents:
        archive = _find_archive(ident)
        if archive is None:
            raise ValidationFailed(_l("No archive with the number or id “%(ident)s”.", ident=ident[:80]),
                                   field="archives")
        reason = perm.view_refusal(user, archive)
        if reason is not None:
            raise deny(actor, reason, archive, "loan apply")
        if archive.status != FILED:
            raise ValidationFailed(_l("%(archive)s is not filed yet: only filed archives have a paper "
                                      "file in the archive room.", archive=archive.label), field="archives")
        if archive not in found:
            found.append(archive)
    purpose = (application.purpose or "").strip()
    if not purpose:
        raise ValidationFailed(_l("State the purpose of the loan."), field="purpose")
    if len(purpose) > 1000:
        raise ValidationFailed(_l("The purpose may have at most 1000 characters."), field="purpose")
    days = _parse_days(application.period_days, rule.max_days, "period_days",
                       _l("A loan lasts at most %(max)s working days.", max=rule.max_days))
    today = workcal.today()
    pickup = (_parse_date(application.pickup_date, "pickup_date")
              if application.pickup_date not in (None, "") else default_pickup())
    if pickup < today:
        raise ValidationFailed(_l("The pick-up date cannot be in the past."), field="pickup_date")
    if pickup > today + timedelta(days=MAX_PICKUP_AHEAD_DAYS):
        raise ValidationFailed(_l("Choose a pick-up date within the next %(days)s days.",
                                  days=MAX_PICKUP_AHEAD_DAYS), field="pickup_date")
    if not workcal.is_working_day(pickup):
        raise ValidationFailed(_l("%(date)s is not a working day: the archive room is closed. The next "
                                  "working day is %(next)s.", date=pickup.isoformat(),
                                  next=workcal.add_working_days(pickup, 1).isoformat()),
                               field="pickup_date")
    for archive in found:
        dup = db.session.scalar(
            sa.select(Loan.id).join(LoanItem, LoanItem.loan_id == Loan.id)
            .where(LoanItem.archive_id == archive.id, Loan.borrower_id == user.id,
                   Loan.status.in_(OPEN_STATUSES)).limit(1))
        if dup is not None:
            raise ValidationFailed(_l("You already have an open loan (#%(id)s) for %(archive)s.",
                                      id=dup, archive=archive.label), field="archives")

    step = first_step_for(user)
    loan = Loan(borrower_id=user.id, department_id=user.department_id, purpose=purpose,
                period_days=days, pickup_date=pickup, first_step=step,
                status=PENDING_ARCHIVIST if step == STEP_NONE else PENDING_HEAD)
    loan.items = [LoanItem(archive_id=a.id) for a in found]
    db.session.add(loan)
    db.session.flush()
    add_event(actor, loan, actions.BORROW_APPLY, purpose)
    register_step(actor, loan, actions.BORROW_APPLY, f"{days} WD from {pickup.isoformat()}; purpose: {purpose}",
              archives=found)
    deciders = first_step_deciders(loan) if step != STEP_NONE else archivists()
    for person in deciders:
        tell(person, lambda: _("%(name)s applies to borrow %(archives)s for %(days)s working days; "
                                "please decide.", name=user.display_name, archives=_numbers(found),
                                days=days), loan)
    db.session.commit()
    return loan


# --- deciding -----------------------------------------------------------------------------------

def approve(actor: Actor, loan: Loan, note: str = "") -> Loan:
    """Approve what the loan waits for: the first step, the archivist's approval, or an extension."""
    return _decide(actor, loan, approve=True, text=(note or "").strip())


def reject(actor: Actor, loan: Loan, reason: str) -> Loan:
    """Reject the application (either step) or the requested extension; a reason is required."""
    return _decide(actor, loan, approve=False, text=(reason or "").strip())


def _decide(actor: Actor, loan: Loan, *, approve: bool, text: str) -> Loan:
    user = actor.user
    what = "approve" if approve else "reject"
    if user is not None and user.id == loan.borrower_id:
        raise refuse(actor, loan, _l("Nobody decides their own loan."), what)
    if not (decides_first(user, loan) or is_archivist(user)):
        raise refuse(actor, loan, _l("Only the borrower's department head (management for a "
                                    "department head's loan) and the archivist decide loans."), what)
    begin_write(loan)
    if not approve and not text:
        raise ValidationFailed(_l("Give the reason for the rejection."), field="reason")
    if len(text) > 2000:
        raise ValidationFailed(_l("At most 2000 characters."), field="reason")
    now = utcnow()
    stage = "archivist"
    if loan.status == PENDING_HEAD:
        stage = "management" if loan.first_step == STEP_MANAGEMENT else "department head"
        if not decides_first(user, loan):
            raise InvalidState(_l("This application is waiting for the department head's decision first."))
        loan.head_by_id, loan.head_at, loan.head_note = user.id, now, text
        if approve:
            loan.status = PENDING_ARCHIVIST
            for person in archivists():
                tell(person, lambda: _("Loan #%(id)s (%(archives)s, %(name)s) was approved by the "
                                        "department head and waits for you.", id=loan.id,
                                        archives=loan.numbers, name=loan.borrower.display_name), loan)
            tell(loan.borrower, lambda: _("Your loan #%(id)s was approved by %(name)s; the archivist "
                                           "decides next.", id=loan.id, name=user.display_name), loan)
        else:
            _set_rejected(loan, text)
    elif loan.status == PENDING_ARCHIVIST:
        if not is_archivist(user):
            raise InvalidState(_l("This application was already decided at your step; it now waits "
                                  "for the archivist."))
        loan.archivist_by_id, loan.archivist_at, loan.archivist_note = user.id, now, text
        if approve:
            loan.status = APPROVED
            holders = [out_with(a.id) for a in loan.archives]
            waiting = [h for h in holders if h is not None]
            tell(loan.borrower, lambda: (
                _("Your loan #%(id)s is approved. Collect the files from the archive room on %(date)s.",
                  id=loan.id, date=loan.pickup_date.isoformat()) if not waiting else
                _("Your loan #%(id)s is approved; a file is still out (%(holder)s): you are in the queue.",
                  id=loan.id, holder=holder_text(waiting[0]))), loan)
        else:
            _set_rejected(loan, text)
    elif loan.status == LENT and loan.extension_status == EXT_REQUESTED:
        if not is_archivist(user):
            raise InvalidState(_l("The archivist decides extensions."))
        return _decide_extension(actor, loan, approve, text)
    else:
        raise InvalidState(_l("This loan was already decided (now: %(status)s); nothing was changed.",
                              status=status_label(loan)))
    action = actions.BORROW_APPROVE if approve else actions.BORROW_REJECT
    add_event(actor, loan, action, text)
    register_step(actor, loan, action, f"{stage}" + (f": {text}" if text else ""))
    db.session.commit()
    return loan


def _set_rejected(loan: Loan, reason: str) -> None:
    loan.status = REJECTED
    loan.reject_reason = reason
    tell(loan.borrower, lambda: _("Your loan #%(id)s was rejected: %(reason)s", id=loan.id, reason=reason),
          loan)


def withdraw(actor: Actor, loan: Loan) -> Loan:
    """The borrower takes the application back while it is undecided."""
    if actor.user is None or actor.user.id != loan.borrower_id:
        raise refuse(actor, loan, _l("Only the borrower can withdraw the application."), "withdraw")
    begin_write(loan)
    if loan.status not in UNDECIDED:
        raise InvalidState(_l("The application was already decided (now: %(status)s) and can no longer "
                              "be withdrawn.", status=status_label(loan)))
    loan.status = WITHDRAWN
    loan.withdrawn_at = utcnow()
    add_event(actor, loan, actions.BORROW_WITHDRAW, "")
    register_step(actor, loan, actions.BORROW_WITHDRAW, "")
    db.session.commit()
    return loan


# --- lending, extension, return ---------------------------------------------------------------------

def lend(actor: Actor, loan: Loan, note: str = "") -> Loan:
    """The archivist hands the files over; the due date is counted on the working-day calendar."""
    if not is_archivist(actor.user) or actor.user.id == loan.borrower_id:
        raise refuse(actor, loan, _l("Only the archivist lends paper files."), "lend")
    begin_write(loan)
    if loan.status != APPROVED:
        raise InvalidState(_l("Only an approved application can be lent (now: %(status)s).",
                              status=status_label(loan)))
    for archive in loan.archives:
        holder = out_with(archive.id, exclude_loan=loan.id)
        if holder is not None:
            message = _("%(archive)s is out: %(holder)s. It cannot be lent again before it is returned.",
                        archive=archive.label, holder=holder_text(holder))
            record_now(actor, actions.BORROW_LEND, archive=archive, result="failed",
                       detail=f"loan #{loan.id}: file out with {holder.borrower.username} "
                              f"(loan #{holder.id}, due {holder.due_date})")
            raise Conflict(message, holder_loan=holder.id)
    today = workcal.today()
    loan.status = LENT
    loan.lent_at = utcnow()
    loan.lent_by_id = actor.user.id
    loan.handover_note = (note or "").strip()[:300]
    loan.lend_date = today
    loan.due_date = workcal.add_working_days(today, loan.period_days)
    add_event(actor, loan, actions.BORROW_LEND, loan.handover_note)
    register_step(actor, loan, actions.BORROW_LEND, f"due {loan.due_date.isoformat()}; handed over by "
                                               f"{actor.user.username}" + (f"; {loan.handover_note}"
                                                                           if loan.handover_note else ""))
    tell(loan.borrower, lambda: _("You borrowed %(archives)s (loan #%(id)s). Return the files by "
                                   "%(due)s.", archives=loan.numbers, id=loan.id,
                                   due=loan.due_date.isoformat()), loan)
    db.session.commit()
    return loan


def last_day_to_extend(loan: Loan, rule: Rules | None = None) -> date | None:
    """The last day an extension may be asked for (notice working days before the due date)."""
    if loan.due_date is None:
        return None
    rule = rule or rules()
    d = loan.due_date
    for _i in range(400):
        if workcal.working_days_between(d, loan.due_date) >= rule.extension_notice_days:
            return d
        d -= timedelta(days=1)
    return None


def request_extension(actor: Actor, loan: Loan, days, reason: str) -> Loan:
    """The borrower asks once for more time, early enough; the archivist decides."""
    if actor.user is None or actor.user.id != loan.borrower_id:
        raise refuse(actor, loan, _l("Only the borrower can ask for an extension."), "extend")
    begin_write(loan)
    rule = rules()
    if loan.status != LENT:
        raise InvalidState(_l("Only a loan that is out can be extended (now: %(status)s).",
                              status=status_label(loan)))
    if loan.extension_status != EXT_NONE:
        raise InvalidState(_l("A loan can be extended only once; an extension was already requested "
                              "for this loan."))
    if rule.max_extension_days < 1:
        raise ValidationFailed(_l("Extensions are switched off in the borrowing rules."), field="days")
    days = _parse_days(days, rule.max_extension_days, "days",
                       _l("An extension is at most %(max)s working days.", max=rule.max_extension_days))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Give the reason for the extension."), field="reason")
    today = workcal.today()
    if workcal.working_days_between(today, loan.due_date) < rule.extension_notice_days:
        last = last_day_to_extend(loan, rule)
        raise ValidationFailed(_l("An extension must be asked for at least %(n)s working day(s) before "
                                  "the due date %(due)s (at the latest on %(last)s). Return the files, "
                                  "then apply again.", n=rule.extension_notice_days,
                                  due=loan.due_date.isoformat(), last=last.isoformat() if last else "?"),
                               field="days")
    loan.extension_status = EXT_REQUESTED
    loan.extension_days = days
    loan.extension_reason = reason[:2000]
    loan.extension_requested_at = utcnow()
    add_event(actor, loan, actions.BORROW_EXTEND_REQUEST, _("%(days)s working days: %(reason)s",
                                                          days=days, reason=reason))
    register_step(actor, loan, actions.BORROW_EXTEND_REQUEST, f"{days} WD; {reason}")
    for person in archivists():
        tell(person, lambda: _("%(name)s asks to extend loan #%(id)s by %(days)s working days.",
                                name=loan.borrower.display_name, id=loan.id, days=days), loan)
    db.session.commit()
    return loan


def _decide_extension(actor: Actor, loan: Loan, approve: bool, text: str) -> Loan:
    loan.extension_by_id = actor.user.id
    loan.extension_decided_at = utcnow()
    loan.extension_note = text
    if approve:
        loan.extension_status = EXT_APPROVED
        loan.original_due_date = loan.due_date
        loan.due_date = workcal.add_working_days(loan.due_date, loan.extension_days or 0)
        tell(loan.borrower, lambda: _("Your extension of loan #%(id)s is approved: return the files by "
                                       "%(due)s.", id=loan.id, due=loan.due_date.isoformat()), loan)
        action = actions.BORROW_EXTEND_APPROVE
        detail = f"due {loan.original_due_date} → {loan.due_date}"
    else:
        loan.extension_status = EXT_REJECTED
        tell(loan.borrower, lambda: _("Your extension of loan #%(id)s was rejected: %(reason)s. Return "
                                       "the files by %(due)s.", id=loan.id, reason=text,
                                       due=loan.due_date.isoformat()), loan)
        action = actions.BORROW_EXTEND_REJECT
        detail = text
    add_event(actor, loan, action, text)
    register_step(actor, loan, action, detail + (f"; {text}" if approve and text else ""))
    db.session.commit()
    return loan


def check_in(actor: Actor, loan: Loan, condition: str, note: str = "") -> Loan:
    """The archivist takes the files back and notes their condition (完好 / 破损 / 缺页)."""
    if not is_archivist(actor.user):
        raise refuse(actor, loan, _l("Only the archivist checks returned files in."), "return")
    begin_write(loan)
    if loan.status != LENT:
        raise InvalidState(_l("Only a loan that is out can be returned (now: %(status)s).",
                              status=status_label(loan)))
    condition = (condition or "").strip()
    if condition not in CONDITIONS:
        raise ValidationFailed(_l("Choose the condition of the returned files."), field="condition")
    note = (note or "").strip()
    if condition != COMPLETE and not note:
        raise ValidationFailed(_l("Describe the damage or the missing pages."), field="note")
    today = workcal.today()
    late = loan.is_overdue(today)
    loan.status = RETURNED
    loan.returned_at = utcnow()
    loan.returned_by_id = actor.user.id
    loan.return_condition = condition
    loan.return_note = note[:2000]
    label = str(CONDITION_LABELS[condition])
    add_event(actor, loan, actions.BORROW_RETURN, f"{label}" + (f": {note}" if note else ""))
    register_step(actor, loan, actions.BORROW_RETURN,
              f"condition {condition}" + (f"; {note}" if note else "")
              + (f"; returned {workcal.working_days_between(loan.due_date, today)} WD late" if late else ""))
    tell(loan.borrower, lambda: _("The archivist checked in the files of loan #%(id)s (%(condition)s).",
                                   id=loan.id, condition=str(CONDITION_LABELS[condition])), loan)
    for queued in _next_in_queue(loan):
        tell(queued.borrower, lambda q=queued: _("A file you are waiting for is back: loan #%(id)s can "
                                                  "now be lent.", id=q.id), queued)
    db.session.commit()
    return loan


def _next_in_queue(loan: Loan) -> list[Loan]:
    """Approved applications waiting for a file of ``loan`` that is now free (first in queue)."""
    waiting = []
    for archive in loan.archives:
        for queued in queue_for(archive.id):
            if queued.status == APPROVED and queued not in waiting:
                waiting.append(queued)
                break
    return waiting


# --- helpers -----------------------------------------------------------------------------------

def _numbers(archives: Iterable[Archive]) -> str:
    return "、".join(a.label for a in archives)


def add_event(actor: Actor, loan: Loan, action: str, note: str) -> None:
    db.session.add(LoanEvent(loan_id=loan.id, user_id=actor.user.id if actor.user else None,
                             action=action, note=(note or "")[:2000]))


def register_step(actor: Actor, loan: Loan, action: str, detail: str, archives=None) -> None:
    """One register entry per archive of the loan (the register is kept per archive)."""
    via = " [api]" if actor.via == "api" else ""
    for archive in archives or loan.archives:
        record(actor, action, archive=archive, detail=f"loan #{loan.id}{via}: {detail}"[:2000])


def loan_url(loan: Loan) -> str:
    if has_request_context():
        return url_for("borrowing.show", loan_id=loan.id)
    return f"/borrowings/{loan.id}"


def tell(user: User, message, loan: Loan) -> None:
    """Notify ``user`` in their own language (``message`` is called under that locale)."""
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        text = message()
    notify(user, text, loan_url(loan))
