"""Tables of reports: handovers 移交 of archives from one responsible person to another
(policy 004 §19; migration 0012_registers).

A handover keeps what was handed over as it was at that moment (archive numbers and names, the
departments before and after, the paper files), so that its record prints the same years later,
after people moved on and archives changed.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.auth.models import Department, User
from portal.extensions import db
from portal.models_base import utcnow

# Reasons 移交原因
RESIGNED, REASSIGNED, CUSTOMER_MOVED, OTHER = "resigned", "reassigned", "customer_moved", "other"
REASONS = (RESIGNED, REASSIGNED, CUSTOMER_MOVED, OTHER)
REASON_LABELS = {
    RESIGNED: _l("Leaving the company"),
    REASSIGNED: _l("Change of post"),
    CUSTOMER_MOVED: _l("Customer transferred"),
    OTHER: _l("Other"),
}
# Receipt 接收确认
PENDING, CONFIRMED = "pending", "confirmed"
STATUS_LABELS = {PENDING: _l("Awaiting receipt"), CONFIRMED: _l("Receipt confirmed")}


class Handover(db.Model):
    """One handover: archives of ``giver`` (as responsible) now in ``receiver``'s care."""

    __tablename__ = "handover"
    id: Mapped[int] = mapped_column(primary_key=True)
    handover_date: Mapped[date]
    giver_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    receiver_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    # departments at the time of the handover (people change departments later)
    giver_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    receiver_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    # the archives' new department when the customer moved to another department (archivist only)
    new_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    reason: Mapped[str] = mapped_column(sa.String(20))
    reason_text: Mapped[str] = mapped_column(sa.Text, default="")
    # who carried it out: the department head or the archivist — the supervising party 监交人
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(sa.String(12), default=PENDING, index=True)
    confirmed_at: Mapped[datetime | None]
    confirm_note: Mapped[str] = mapped_column(sa.String(300), default="")
    # Optimistic lock: two receipt confirmations at once cannot both win.
    lock_version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": lock_version}

    giver: Mapped[User] = relationship(foreign_keys=[giver_id], lazy="joined")
    receiver: Mapped[User] = relationship(foreign_keys=[receiver_id], lazy="joined")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
    giver_department: Mapped[Department | None] = relationship(foreign_keys=[giver_department_id])
    receiver_department: Mapped[Department | None] = relationship(foreign_keys=[receiver_department_id])
    new_department: Mapped[Department | None] = relationship(foreign_keys=[new_department_id])
    items: Mapped[list[HandoverItem]] = relationship(
        back_populates="handover", cascade="all, delete-orphan", order_by="HandoverItem.id")

    @property
    def number(self) -> str:
        """The record's number 移交编号, e.g. ``移交-2026-0007`` (year of the handover, row id)."""
        return f"移交-{self.handover_date.year}-{self.id:04d}"

    @property
    def reason_label(self) -> str:
        return str(REASON_LABELS.get(self.reason, self.reason))

    @property
    def reason_line(self) -> str:
        return f"{self.reason_label}：{self.reason_text}" if self.reason_text else self.reason_label

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def paper_count(self) -> int:
        return sum(item.paper_count for item in self.items if item.paper)

    def department_ids(self) -> set[int]:
        """Departments the handover concerns (a head of any of them reads its record)."""
        ids = {self.giver_department_id, self.receiver_department_id, self.new_department_id}
        ids.update(item.from_department_id for item in self.items)
        return {i for i in ids if i}


class HandoverItem(db.Model):
    """One archive of a handover, as it was handed over."""

    __tablename__ = "handover_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    handover_id: Mapped[int] = mapped_column(sa.ForeignKey("handover.id", ondelete="CASCADE"), index=True)
    archive_id: Mapped[int | None] = mapped_column(sa.ForeignKey("archive.id", ondelete="SET NULL"),
                                                   index=True)
    archive_number: Mapped[str] = mapped_column(sa.String(80))
    archive_name: Mapped[str] = mapped_column(sa.String(200))
    from_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    to_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    paper: Mapped[bool] = mapped_column(default=False)  # paper files handed over with it
    paper_count: Mapped[int] = mapped_column(default=0)  # how many pieces / volumes 件数

    handover: Mapped[Handover] = relationship(back_populates="items")
    from_department: Mapped[Department | None] = relationship(foreign_keys=[from_department_id])
    to_department: Mapped[Department | None] = relationship(foreign_keys=[to_department_id])
