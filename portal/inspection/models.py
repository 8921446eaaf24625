"""Tables of the quarterly inspection 抽查 (policy 004 §14 档案核查, §21 随机抽查; migration 0013).

- ``Inspection``: one draw — quarter, scope, requested and actual sample size, the seed and the
  population it was drawn from (count, SHA-256 of the sorted id list, the list itself) so anyone can
  reproduce it; open → closed with a summary.
- ``InspectionSample``: one archive drawn, in drawing order, with what the checker recorded about it
  (paper document count, completeness at the check); ``version`` guards concurrent edits.
- ``InspectionCheck``: one checklist item of a sampled archive: 符合 / 不符合 / 不适用 + note. A
  不符合 item is a finding.
- ``Rectification``: the 整改 of one finding: assignee, deadline (working days), report, verification;
  ``RectificationEvent`` is its timeline.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.archives.models import Archive
from portal.auth.models import Department, User
from portal.extensions import db
from portal.models_base import utcnow

# Inspection status
OPEN, CLOSED = "open", "closed"
# Scope kinds
SCOPE_ALL, SCOPE_DEPARTMENT, SCOPE_TYPE = "all", "department", "customer_type"
# Check results
CONFORM, NONCONFORM, NOT_APPLICABLE = "conform", "nonconform", "na"
RESULTS = (CONFORM, NONCONFORM, NOT_APPLICABLE)
# Rectification status: the assignee works on it (again after a send-back) → reported done →
# verified and closed by the archivist.
R_OPEN, R_REPORTED, R_CLOSED = "open", "reported", "closed"


class Inspection(db.Model):
    __tablename__ = "inspection"
    __table_args__ = (sa.Index("ix_inspection_quarter", "year", "quarter"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    quarter: Mapped[int]  # 1–4
    scope_kind: Mapped[str] = mapped_column(sa.String(20), default=SCOPE_ALL)
    scope_id: Mapped[int | None]  # department or customer type id
    scope_label: Mapped[str] = mapped_column(sa.String(120), default="")  # its name at the draw
    sample_requested: Mapped[str] = mapped_column(sa.String(20))  # "10" or "10%"
    sample_size: Mapped[int]
    seed: Mapped[str] = mapped_column(sa.String(64))
    population_count: Mapped[int]
    population_hash: Mapped[str] = mapped_column(sa.String(64))
    population_ids: Mapped[str] = mapped_column(sa.Text)  # sorted archive ids, comma-separated
    note: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(10), default=OPEN, index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None]
    closing_note: Mapped[str] = mapped_column(sa.Text, default="")
    # Summary at closing (the figures stay as they were when the archivist closed it)
    summary_checked: Mapped[int | None]
    summary_conforming: Mapped[int | None]
    summary_findings: Mapped[int | None]
    summary_open: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    samples: Mapped[list[InspectionSample]] = relationship(
        back_populates="inspection", order_by="InspectionSample.position", cascade="all, delete-orphan")

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.quarter}-{self.id:03d}"

    @property
    def ids(self) -> list[int]:
        return [int(x) for x in self.population_ids.split(",") if x]


class InspectionSample(db.Model):
    __tablename__ = "inspection_sample"
    __table_args__ = (sa.UniqueConstraint("inspection_id", "archive_id", name="uq_inspection_sample_archive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(sa.ForeignKey("inspection.id"), index=True)
    position: Mapped[int]  # order of the draw, 1-based
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id"), index=True)
    archive_number: Mapped[str] = mapped_column(sa.String(80))  # as at the draw
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    paper_count: Mapped[int | None]  # documents counted in the paper file
    electronic_count: Mapped[int | None]  # documents in the portal at the check
    completeness: Mapped[int | None]  # per cent of required profile fields filled, at the check
    checked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    checked_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    inspection: Mapped[Inspection] = relationship(back_populates="samples")
    archive: Mapped[Archive] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship()
    checked_by: Mapped[User | None] = relationship(foreign_keys=[checked_by_id])
    checks: Mapped[list[InspectionCheck]] = relationship(
        back_populates="sample", order_by="InspectionCheck.id", cascade="all, delete-orphan")


class InspectionCheck(db.Model):
    __tablename__ = "inspection_check"
    __table_args__ = (sa.UniqueConstraint("sample_id", "key", name="uq_inspection_check_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(sa.ForeignKey("inspection_sample.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(30))
    result: Mapped[str] = mapped_column(sa.String(12), default="")  # "" = not checked yet
    note: Mapped[str] = mapped_column(sa.Text, default="")
    checked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    checked_at: Mapped[datetime | None]

    sample: Mapped[InspectionSample] = relationship(back_populates="checks")
    rectification: Mapped[Rectification | None] = relationship(back_populates="check", uselist=False)


class Rectification(db.Model):
    __tablename__ = "rectification"
    __table_args__ = (sa.Index("ix_rectification_assignee_status", "assignee_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(sa.ForeignKey("inspection.id"), index=True)
    check_id: Mapped[int] = mapped_column(sa.ForeignKey("inspection_check.id"), unique=True)
    assignee_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    instruction: Mapped[str] = mapped_column(sa.Text, default="")
    working_days: Mapped[int]
    deadline: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(10), default=R_OPEN, index=True)
    assigned_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None]
    report_note: Mapped[str] = mapped_column(sa.Text, default="")
    returned_count: Mapped[int] = mapped_column(default=0)
    return_reason: Mapped[str] = mapped_column(sa.Text, default="")
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None]
    close_note: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    inspection: Mapped[Inspection] = relationship()
    check: Mapped[InspectionCheck] = relationship(back_populates="rectification", lazy="joined")
    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id], lazy="joined")
    assigned_by: Mapped[User] = relationship(foreign_keys=[assigned_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    events: Mapped[list[RectificationEvent]] = relationship(
        back_populates="rectification", order_by="RectificationEvent.id", cascade="all, delete-orphan")

    def is_late(self, today: date) -> bool:
        """Overdue: still with the assignee after the deadline."""
        return self.status == R_OPEN and self.deadline < today

    def reported_late(self) -> bool:
        if self.reported_at is None:
            return False
        from portal.workcal import local_date
        return local_date(self.reported_at) > self.deadline


class RectificationEvent(db.Model):
    """The rectification's timeline: assigned, reported, sent back, closed — who, when, note."""

    __tablename__ = "rectification_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    rectification_id: Mapped[int] = mapped_column(sa.ForeignKey("rectification.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(sa.String(30))  # assign | report | return | close
    note: Mapped[str] = mapped_column(sa.Text, default="")

    rectification: Mapped[Rectification] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()
