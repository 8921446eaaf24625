"""The customer archive (档案) and its profile sections (SPEC §1)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.admin.models import CustomerType
from portal.auth import roles
from portal.auth.models import Department, User
from portal.extensions import db
from portal.models_base import utcnow

# Archive kinds
INDIVIDUAL, ORGANISATION = "individual", "organisation"
# Cooperation stage 合作阶段
POTENTIAL, ACTIVE, TERMINATED = "potential", "active", "terminated"
STAGES = (POTENTIAL, ACTIVE, TERMINATED)
# Filing status: draft → submitted → approved (by head) → filed (by archivist, number assigned);
# a head's rejection sends it back to ``rejected`` which the author edits and resubmits.
DRAFT, SUBMITTED, APPROVED, REJECTED, FILED = "draft", "submitted", "approved", "rejected", "filed"
# Destroyed 已销毁 (portal.destruction): only a tombstone remains (number, dates, the record).
DESTROYED = "destroyed"
STATUSES = (DRAFT, SUBMITTED, APPROVED, REJECTED, FILED, DESTROYED)
IMPORTANCE_LEVELS = ("A", "B", "C", "D")


class Archive(db.Model):
    __tablename__ = "archive"
    __table_args__ = (
        sa.Index("ix_archive_dept_status", "department_id", "status"),
        sa.Index("ix_archive_updated", "updated_at"),
        # Covering indexes for the list page (migration 0002): the region/industry filter options
        # read only these columns, and SQLite also scans them (instead of the wide rows) for the
        # total and the quick-filter counts (status, responsible) of what a user may see
        # (permissions.visible_clause).
        sa.Index("ix_archive_region_visible", "region", "sensitivity", "department_id",
                 "responsible_id", "created_by_id", "status"),
        sa.Index("ix_archive_industry_visible", "industry", "sensitivity", "department_id",
                 "responsible_id", "created_by_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(sa.String(80), unique=True)  # 档案编号, set when filed
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default=DRAFT, index=True)
    sensitivity: Mapped[int] = mapped_column(default=roles.INTERNAL)

    # Basic info 基础信息 (both kinds)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="", index=True)
    email: Mapped[str] = mapped_column(sa.String(120), default="")
    address: Mapped[str] = mapped_column(sa.String(300), default="")  # individual / domestic contact
    bank_account: Mapped[str] = mapped_column(sa.String(60), default="")
    # individual
    gender: Mapped[str] = mapped_column(sa.String(10), default="")
    birth_date: Mapped[date | None]
    id_number: Mapped[str] = mapped_column(sa.String(40), default="")
    occupation: Mapped[str] = mapped_column(sa.String(100), default="")
    education: Mapped[str] = mapped_column(sa.String(60), default="")
    # organisation
    address_overseas: Mapped[str] = mapped_column(sa.String(300), default="")
    founded_on: Mapped[date | None]
    nature: Mapped[str] = mapped_column(sa.String(60), default="")  # 企业性质
    registered_capital: Mapped[str] = mapped_column(sa.String(60), default="")
    business_scope: Mapped[str] = mapped_column(sa.Text, default="")
    legal_representative: Mapped[str] = mapped_column(sa.String(80), default="")

    # Market info 市场信息
    target_markets: Mapped[str] = mapped_column(sa.String(300), default="")
    positioning: Mapped[str] = mapped_column(sa.Text, default="")
    target_customers: Mapped[str] = mapped_column(sa.Text, default="")
    competition: Mapped[str] = mapped_column(sa.Text, default="")
    # Needs and preferences 需求/偏好
    needs: Mapped[str] = mapped_column(sa.Text, default="")
    preferences: Mapped[str] = mapped_column(sa.Text, default="")
    # Credit 信用
    credit_rating: Mapped[str] = mapped_column(sa.String(10), default="")
    payment_record: Mapped[str] = mapped_column(sa.Text, default="")
    # Other 其他
    special_needs: Mapped[str] = mapped_column(sa.Text, default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")

    # Classification 分类 (policy 004 §15)
    customer_type_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_type.id"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(20), default=POTENTIAL, index=True)
    region: Mapped[str] = mapped_column(sa.String(100), default="", index=True)
    industry: Mapped[str] = mapped_column(sa.String(100), default="", index=True)
    importance: Mapped[str] = mapped_column(sa.String(2), default="C")

    # Responsibility 负责人 and department
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    responsible_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))

    # Paper file location 纸质档案存放位置
    paper_room: Mapped[str] = mapped_column(sa.String(60), default="")
    paper_cabinet: Mapped[str] = mapped_column(sa.String(60), default="")
    paper_shelf: Mapped[str] = mapped_column(sa.String(60), default="")
    paper_box: Mapped[str] = mapped_column(sa.String(60), default="")

    # Workflow timestamps
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    review_note: Mapped[str] = mapped_column(sa.Text, default="")  # rejection reason
    filed_at: Mapped[datetime | None]
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    contract_signed_on: Mapped[date | None]  # starts the 5-working-day filing clock (004 §8)
    terminated_on: Mapped[date | None]

    # Optimistic concurrency: a stale edit form is refused instead of overwriting someone's change.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    customer_type: Mapped[CustomerType] = relationship(lazy="joined")
    department: Mapped[Department] = relationship(lazy="joined")
    responsible: Mapped[User | None] = relationship(foreign_keys=[responsible_id], lazy="joined")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    filed_by: Mapped[User | None] = relationship(foreign_keys=[filed_by_id])

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="archive", cascade="all, delete-orphan", order_by="Contact.id")

    @property
    def paper_location(self) -> str:
        return " / ".join(p for p in (self.paper_room, self.paper_cabinet, self.paper_shelf,
                                      self.paper_box) if p)

    @property
    def label(self) -> str:
        """How the archive is named in the register and messages: number if filed, else draft id."""
        return self.number or f"#{self.id}"

    def __str__(self) -> str:
        return f"{self.label} {self.name}"


class ArchiveNumberSequence(db.Model):
    """Last sequence number used per (prefix, year, type code); only ever increases (never reused)."""

    __tablename__ = "archive_number_sequence"
    prefix: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    type_code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class _SubRecord:
    """Columns every profile sub-record shares."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Contact(_SubRecord, db.Model):
    """Key contact 关键联系人."""

    __tablename__ = "archive_contact"
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    position: Mapped[str] = mapped_column(sa.String(80), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="", index=True)
    email: Mapped[str] = mapped_column(sa.String(120), default="")
    preferred_channel: Mapped[str] = mapped_column(sa.String(40), default="")
    archive: Mapped[Archive] = relationship(back_populates="contacts")


class Cooperation(_SubRecord, db.Model):
    """Cooperation / contract 合作信息: key terms are entered desensitised."""

    __tablename__ = "archive_cooperation"
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    project: Mapped[str] = mapped_column(sa.String(200))
    contract_number: Mapped[str] = mapped_column(sa.String(80), default="", index=True)
    key_terms: Mapped[str] = mapped_column(sa.Text, default="")
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    fee_range: Mapped[str] = mapped_column(sa.String(80), default="")
    progress: Mapped[str] = mapped_column(sa.String(200), default="")
    renewal: Mapped[str] = mapped_column(sa.String(200), default="")


class Transaction(_SubRecord, db.Model):
    """Transaction 交易记录."""

    __tablename__ = "archive_transaction"
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    product: Mapped[str] = mapped_column(sa.String(200))
    spec: Mapped[str] = mapped_column(sa.String(200), default="")
    quantity: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    price: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    traded_on: Mapped[date | None]
    order_number: Mapped[str] = mapped_column(sa.String(80), default="")


class Communication(_SubRecord, db.Model):
    """Communication log entry 沟通记录."""

    __tablename__ = "archive_communication"
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    occurred_on: Mapped[date]
    channel: Mapped[str] = mapped_column(sa.String(40), default="")
    topic: Mapped[str] = mapped_column(sa.String(200))
    agreements: Mapped[str] = mapped_column(sa.Text, default="")
    disagreements: Mapped[str] = mapped_column(sa.Text, default="")
    # 下次跟进日期: the responsible staff are reminded when it is due (portal.oversight.reminders)
    follow_up_on: Mapped[date | None]


class ServiceRecord(_SubRecord, db.Model):
    """Service record 服务记录."""

    __tablename__ = "archive_service"
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    served_on: Mapped[date]
    service: Mapped[str] = mapped_column(sa.String(200))
    content: Mapped[str] = mapped_column(sa.Text, default="")
    staff_name: Mapped[str] = mapped_column(sa.String(80), default="")


class Feedback(_SubRecord, db.Model):
    """Feedback or complaint 反馈与投诉."""

    __tablename__ = "archive_feedback"
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="feedback")  # feedback | complaint
    received_on: Mapped[date]
    description: Mapped[str] = mapped_column(sa.Text)
    handling: Mapped[str] = mapped_column(sa.Text, default="")
    result: Mapped[str] = mapped_column(sa.Text, default="")
    satisfaction: Mapped[int | None]  # 1–5


class Anniversary(_SubRecord, db.Model):
    """Birthday or anniversary 纪念日 to be reminded of."""

    __tablename__ = "archive_anniversary"
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    occasion: Mapped[str] = mapped_column(sa.String(100))
    falls_on: Mapped[date]
    note: Mapped[str] = mapped_column(sa.String(300), default="")
