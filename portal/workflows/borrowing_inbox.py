"""What borrowing asks of whom, and when: overdue reminders and the inbox sources.

Deadlines (working days, ``portal.workcal``): the first decision (department head or
management) 1 working day after the application, the archivist's decision 1 working day after
that (SPEC §3 names no figure for loans; these follow the change-request figures), the hand-over
on the pick-up date, an extension request before the due date, the return on the due date.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from portal import workcal
from portal.actor import Actor
from portal.auth import roles
from portal.dbsetup import begin_write
from portal.extensions import db
from portal.register import actions
from portal.register.models import RegisterHead
from portal.workflows import inbox
from portal.workflows.borrowing import add_event, loan_url, register_step, tell
from portal.workflows.borrowing_models import (
    APPROVED,
    EXT_REQUESTED,
    LENT,
    PENDING_ARCHIVIST,
    PENDING_HEAD,
    STEP_HEAD,
    Loan,
    LoanReminder,
)
from portal.workflows.borrowing_rules import decides_first, first_step_deciders, is_archivist

HEAD_DAYS = 1  # the first decision
ARCHIVIST_DAYS = 1  # the archivist's decision, and an extension request
DUE_SOON_DAYS = 2  # the borrower sees a loan in the inbox this many working days before it is due



def overdue_loans(today: date | None = None) -> list[Loan]:
    today = today or workcal.today()
    return list(db.session.scalars(sa.select(Loan).where(Loan.status == LENT, Loan.due_date < today)
                                   .order_by(Loan.due_date, Loan.id)))


def send_reminders(actor: Actor | None = None, today: date | None = None) -> int:
    """Remind the borrower and their head of every overdue loan, once per loan per day.

    Run by ``portal remind`` (cron) and lazily when the archivist opens the desk, so the
    embedded default needs no scheduler. Returns how many loans were reminded now.
    """
    today = today or workcal.today()
    actor = actor or Actor(None, "system", "cli")
    begin_write()
    # Serialise concurrent runs (two desks opened at once, cron during a click): on PostgreSQL
    # the register head's row lock; on SQLite the write transaction is exclusive already.
    db.session.execute(sa.select(RegisterHead.id).where(RegisterHead.id == 1).with_for_update())
    done = set(db.session.scalars(sa.select(LoanReminder.loan_id).where(LoanReminder.day == today)))
    due = [loan for loan in overdue_loans(today) if loan.id not in done]
    if not due:
        db.session.commit()
        return 0
    try:
        for loan in due:
            _remind(actor, loan, today)
        db.session.commit()
    except IntegrityError:  # another process reminded the same loan in the same moment
        db.session.rollback()
        return 0
    return len(due)


def _remind(actor: Actor, loan: Loan, today: date) -> None:
    late_days = workcal.working_days_between(loan.due_date, today)
    db.session.add(LoanReminder(loan_id=loan.id, day=today))
    db.session.flush()
    # the borrower's superior: their department head (management for a head's own loan)
    heads = first_step_deciders(loan)
    tell(loan.borrower, lambda: _(
        "Loan #%(id)s (%(archives)s) is overdue: it was due on %(due)s (%(n)s working day(s) ago). "
        "Please return the files to the archive room.", id=loan.id, archives=loan.numbers,
        due=loan.due_date.isoformat(), n=late_days), loan)
    for head in heads:
        tell(head, lambda: _("Loan #%(id)s of %(name)s (%(archives)s) is overdue since %(due)s.",
                             id=loan.id, name=loan.borrower.display_name, archives=loan.numbers,
                             due=loan.due_date.isoformat()), loan)
    add_event(actor, loan, actions.BORROW_REMIND, f"{late_days} WD overdue")
    register_step(actor, loan, actions.BORROW_REMIND,
                  f"due {loan.due_date}; {late_days} WD overdue; reminded {loan.borrower.username}"
                  + "".join(f", {h.username}" for h in heads))


# --- inbox sources ---------------------------------------------------------------------------------

def _item(loan: Loan, action_label: str, deadline: date | None, today: date) -> inbox.InboxItem:
    return inbox.InboxItem(
        kind="borrowing", kind_label=_("Borrowing"),
        title=_("Borrowing %(archives)s · %(name)s", archives=loan.numbers, name=loan.borrower.display_name),
        url=loan_url(loan), action_label=action_label, requested_by=loan.borrower.display_name,
        requested_at=loan.created_at, deadline=deadline,
        late=deadline is not None and deadline < today)


@inbox.source
def first_decisions(user) -> list[inbox.InboxItem]:
    """Applications waiting for this department head's (or manager's) decision."""
    if user is None or user.role not in (roles.DEPT_HEAD, roles.MANAGER):
        return []
    q = sa.select(Loan).where(Loan.status == PENDING_HEAD, Loan.borrower_id != user.id)
    if user.role == roles.DEPT_HEAD:
        q = q.where(Loan.first_step == STEP_HEAD, Loan.department_id == user.department_id)
    today = workcal.today()
    return [_item(loan, _("Awaiting your approval"), workcal.deadline(loan.created_at, HEAD_DAYS), today)
            for loan in db.session.scalars(q.order_by(Loan.created_at)) if decides_first(user, loan)]


@inbox.source
def archivist_work(user) -> list[inbox.InboxItem]:
    """The archivist: applications to decide, files to hand over, extensions, returns due."""
    if not is_archivist(user):
        return []
    today = workcal.today()
    items = []
    for loan in db.session.scalars(sa.select(Loan).where(Loan.status == PENDING_ARCHIVIST)
                                   .order_by(Loan.created_at)):
        items.append(_item(loan, _("Awaiting your approval"),
                           workcal.deadline(loan.head_at or loan.created_at, ARCHIVIST_DAYS), today))
    for loan in db.session.scalars(sa.select(Loan).where(Loan.status == APPROVED).order_by(Loan.created_at)):
        ready = max(loan.pickup_date, workcal.local_date(loan.archivist_at or loan.created_at))
        items.append(_item(loan, _("Hand over the files"), ready, today))
    for loan in db.session.scalars(sa.select(Loan).where(
            Loan.status == LENT, Loan.extension_status == EXT_REQUESTED).order_by(Loan.extension_requested_at)):
        due = workcal.deadline(loan.extension_requested_at, ARCHIVIST_DAYS)
        items.append(_item(loan, _("Decide the extension"), min(due, loan.due_date), today))
    for loan in db.session.scalars(sa.select(Loan).where(Loan.status == LENT, Loan.due_date <= today)
                                   .order_by(Loan.due_date)):
        items.append(_item(loan, _("Overdue: get the files back") if loan.due_date < today
                           else _("Due back today"), loan.due_date, today))
    return items


@inbox.source
def my_loans_due(user) -> list[inbox.InboxItem]:
    """The borrower: loans overdue or due within two working days."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    today = workcal.today()
    items = []
    for loan in db.session.scalars(sa.select(Loan).where(Loan.borrower_id == user.id, Loan.status == LENT)
                                   .order_by(Loan.due_date)):
        left = workcal.working_days_between(today, loan.due_date)
        if left > DUE_SOON_DAYS:
            continue
        label = (_("Overdue: return the files") if left < 0 or loan.due_date < today
                 else _("Return the files by the due date"))
        items.append(_item(loan, label, loan.due_date, today))
    return items
