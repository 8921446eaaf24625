"""Loans of paper files 借阅 (policy 004 §16): the application, its items, timeline and reminders.

A loan moves ``pending_head`` → ``pending_archivist`` → ``approved`` → ``lent`` → ``returned``,
or ends ``rejected`` / ``withdrawn`` before it is lent. "Overdue" is not stored: a lent loan is
overdue when its due date has passed (so it needs no nightly job to become overdue).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.archives.models import Archive
from portal.auth.models import Department, User
from portal.extensions import db
from portal.models_base import utcnow

PENDING_HEAD = "pending_head"  # 待部门负责人审批
PENDING_ARCHIVIST = "pending_archivist"  # 待档案管理员审批
APPROVED = "approved"  # 待出借: approved, waiting for the hand-over
LENT = "lent"  # 借出中
RETURNED = "returned"  # 已归还
REJECTED = "rejected"  # 已驳回
WITHDRAWN = "withdrawn"  # 已撤回
OVERDUE = "overdue"  # not stored: lent and past the due date
PENDING_MANAGEMENT = "pending_management"  # not stored: pending_head of a loan management decides
STATUSES = (PENDING_HEAD, PENDING_ARCHIVIST, APPROVED, LENT, RETURNED, REJECTED, WITHDRAWN)
OPEN_STATUSES = (PENDING_HEAD, PENDING_ARCHIVIST, APPROVED, LENT)
UNDECIDED = (PENDING_HEAD, PENDING_ARCHIVIST)

STATUS_LABELS = {
    PENDING_HEAD: _l("Awaiting department head"),
    PENDING_MANAGEMENT: _l("Awaiting management"),
    PENDING_ARCHIVIST: _l("Awaiting archivist"),
    APPROVED: _l("Approved, awaiting hand-over"),
    LENT: _l("On loan"),
    OVERDUE: _l("Overdue"),
    RETURNED: _l("Returned"),
    REJECTED: _l("Rejected"),
    WITHDRAWN: _l("Withdrawn"),
}

# Who takes the first decision (the borrower's superior): policy 004 §16 names the department head;
# a department head's own loan goes to management; a manager's loan needs none above the archivist.
STEP_HEAD, STEP_MANAGEMENT, STEP_NONE = "head", "management", "none"

# Condition of the paper file when it comes back (归还检查)
COMPLETE, DAMAGED, MISSING_PAGES = "complete", "damaged", "missing_pages"
CONDITIONS = (COMPLETE, DAMAGED, MISSING_PAGES)
CONDITION_LABELS = {COMPLETE: _l("Complete"), DAMAGED: _l("Damaged"), MISSING_PAGES: _l("Pages missing")}

# Extension 延期 state
EXT_NONE, EXT_REQUESTED, EXT_APPROVED, EXT_REJECTED = "", "requested", "approved", "rejected"
EXTENSION_LABELS = {EXT_REQUESTED: _l("Extension requested"), EXT_APPROVED: _l("Extension approved"),
                    EXT_REJECTED: _l("Extension rejected")}


class Loan(db.Model):
    """One application to borrow the paper files of one or more archives (《借阅申请表》)."""

    __tablename__ = "loan"
    id: Mapped[int] = mapped_column(primary_key=True)
    borrower_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    # The borrower's department when applying: its head decides, its head sees the loan.
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.Text)
    period_days: Mapped[int]  # working days asked for (借阅期限, ≤ 7 by default)
    pickup_date: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(20), default=PENDING_HEAD, index=True)
    first_step: Mapped[str] = mapped_column(sa.String(12), default=STEP_HEAD)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    head_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    head_at: Mapped[datetime | None]
    head_note: Mapped[str] = mapped_column(sa.Text, default="")
    archivist_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    archivist_at: Mapped[datetime | None]
    archivist_note: Mapped[str] = mapped_column(sa.Text, default="")
    reject_reason: Mapped[str] = mapped_column(sa.Text, default="")
    withdrawn_at: Mapped[datetime | None]

    lent_at: Mapped[datetime | None]
    lent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))  # handed over by
    handover_note: Mapped[str] = mapped_column(sa.String(300), default="")
    lend_date: Mapped[date | None]
    due_date: Mapped[date | None] = mapped_column(index=True)
    original_due_date: Mapped[date | None]  # before an extension

    extension_status: Mapped[str] = mapped_column(sa.String(10), default=EXT_NONE)
    extension_days: Mapped[int | None]
    extension_reason: Mapped[str] = mapped_column(sa.Text, default="")
    extension_requested_at: Mapped[datetime | None]
    extension_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    extension_decided_at: Mapped[datetime | None]
    extension_note: Mapped[str] = mapped_column(sa.Text, default="")

    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))  # checked in by
    return_condition: Mapped[str] = mapped_column(sa.String(20), default="")
    return_note: Mapped[str] = mapped_column(sa.Text, default="")

    borrower: Mapped[User] = relationship(foreign_keys=[borrower_id], lazy="joined")
    department: Mapped[Department | None] = relationship()
    head_by: Mapped[User | None] = relationship(foreign_keys=[head_by_id])
    archivist_by: Mapped[User | None] = relationship(foreign_keys=[archivist_by_id])
    lent_by: Mapped[User | None] = relationship(foreign_keys=[lent_by_id])
    extension_by: Mapped[User | None] = relationship(foreign_keys=[extension_by_id])
    returned_by: Mapped[User | None] = relationship(foreign_keys=[returned_by_id])
    items: Mapped[list[LoanItem]] = relationship(back_populates="loan", order_by="LoanItem.id",
                                                 cascade="all, delete-orphan", lazy="selectin")
    events: Mapped[list[LoanEvent]] = relationship(back_populates="loan", order_by="LoanEvent.id",
                                                   cascade="all, delete-orphan")

    @property
    def archives(self) -> list[Archive]:
        return [item.archive for item in self.items]

    @property
    def numbers(self) -> str:
        return "、".join(a.label for a in self.archives)

    def is_overdue(self, today: date) -> bool:
        return self.status == LENT and self.due_date is not None and self.due_date < today

    def shown_status(self, today: date) -> str:
        """The status as shown: overdue when past due; a first step of management named so."""
        if self.is_overdue(today):
            return OVERDUE
        if self.status == PENDING_HEAD and self.first_step == STEP_MANAGEMENT:
            return PENDING_MANAGEMENT
        return self.status

    def __str__(self) -> str:
        return f"#{self.id}"


class LoanItem(db.Model):
    """One archive's paper file on a loan."""

    __tablename__ = "loan_item"
    __table_args__ = (sa.UniqueConstraint("loan_id", "archive_id", name="uq_loan_item_archive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("loan.id"), index=True)
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id"), index=True)

    loan: Mapped[Loan] = relationship(back_populates="items")
    archive: Mapped[Archive] = relationship(lazy="joined")


class LoanEvent(db.Model):
    """The loan's timeline: every step, who took it, when, with the note given."""

    __tablename__ = "loan_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("loan.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(sa.String(30))  # a register action code
    note: Mapped[str] = mapped_column(sa.Text, default="")

    loan: Mapped[Loan] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()


class LoanReminder(db.Model):
    """An overdue reminder sent for a loan on a day: at most one per loan and day."""

    __tablename__ = "loan_reminder"
    __table_args__ = (sa.UniqueConstraint("loan_id", "day", name="uq_loan_reminder_day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("loan.id"))
    day: Mapped[date]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
