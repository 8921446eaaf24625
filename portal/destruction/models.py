"""Tables of destruction 销毁 (migration: migrations/versions/0010_destruction.py).

- ``DestructionApplication``: one application 《海外客户档案销毁申请表》 (policy 004 §17), numbered
  XH-<year>-<seq>, with its grounds (retention period over, the customer's lawful request under the
  PIPL, business ended), the approvals of the customer-service head and of management, the
  execution (executor, witness, paper method) and the destruction certificate 销毁清册 (PDF bytes
  and their SHA-256, made once at execution and never changed).
- ``DestructionRecord``: one archive of an application. Before execution it is the application's
  line (number, name, filing date, department, reason); after it, the archive's destruction record
  (what was removed: documents, versions, pages, objects, bytes). ``active_archive_id`` is the
  archive's id while the application is open or executing and NULL otherwise: a unique column, so
  an archive can be in one open application at a time (concurrent applications included).
- ``DestructionDepartmentApproval``: the part of each department owning archives of the
  application, approved by that department's head (the step completes when all have approved).
- ``DestructionSequence``: last number used per year (only ever increases).
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

# Grounds 销毁依据
RETENTION, PIPL, BUSINESS = "retention", "pipl", "business"
GROUNDS = (RETENTION, PIPL, BUSINESS)
GROUND_LABELS = {
    RETENTION: _l("Retention period expired"),
    PIPL: _l("Customer's lawful deletion request (PIPL)"),
    BUSINESS: _l("Business ended"),
}

# Application states: the approval chain, then execution.
S_SERVICE, S_DEPARTMENTS, S_MANAGEMENT = "pending_service", "pending_departments", "pending_management"
S_APPROVED, S_EXECUTING, S_EXECUTED = "approved", "executing", "executed"
S_REJECTED, S_WITHDRAWN = "rejected", "withdrawn"
STATUSES = (S_SERVICE, S_DEPARTMENTS, S_MANAGEMENT, S_APPROVED, S_EXECUTING, S_EXECUTED, S_REJECTED,
            S_WITHDRAWN)
PENDING = (S_SERVICE, S_DEPARTMENTS, S_MANAGEMENT)
OPEN = (*PENDING, S_APPROVED)  # the applicant may still withdraw
LOCKING = (*OPEN, S_EXECUTING)  # the archives are taken by the application
CLOSED = (S_EXECUTED, S_REJECTED, S_WITHDRAWN)
STATUS_LABELS = {
    S_SERVICE: _l("Waiting for the customer-service head"),
    S_DEPARTMENTS: _l("Waiting for the department heads"),
    S_MANAGEMENT: _l("Waiting for management"),
    S_APPROVED: _l("Approved, waiting for execution"),
    S_EXECUTING: _l("Execution begun, not finished"),
    S_EXECUTED: _l("Destroyed"),
    S_REJECTED: _l("Rejected"),
    S_WITHDRAWN: _l("Withdrawn"),
}

# Record (per archive) states
R_PENDING, R_EXECUTING, R_DONE = "pending", "executing", "done"

PAPER_METHODS = ("碎纸", "焚毁")  # 粉碎或焚烧处理 (policy 004 §17)
ELECTRONIC_METHOD = "电子文件：对象存储所有版本删除、数据密钥销毁、文本与索引清除"


class DestructionSequence(db.Model):
    __tablename__ = "destruction_sequence"
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class DestructionApplication(db.Model):
    __tablename__ = "destruction_application"
    __table_args__ = (sa.Index("ix_destruction_application_status", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    grounds: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default=S_SERVICE)
    applicant_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    step_started_at: Mapped[datetime] = mapped_column(default=utcnow)  # deadlines count from here
    # The customer's request (grounds PIPL): kept as the lawful basis of the deletion.
    pipl_received_on: Mapped[date | None]
    pipl_channel: Mapped[str] = mapped_column(sa.String(60), default="")
    pipl_requester: Mapped[str] = mapped_column(sa.String(200), default="")
    pipl_identity: Mapped[str] = mapped_column(sa.Text, default="")  # how identity was verified
    pipl_reference: Mapped[str] = mapped_column(sa.Text, default="")
    # Decisions
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    service_at: Mapped[datetime | None]
    service_note: Mapped[str] = mapped_column(sa.Text, default="")
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    manager_at: Mapped[datetime | None]
    manager_note: Mapped[str] = mapped_column(sa.Text, default="")
    rejected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None]
    rejected_step: Mapped[str] = mapped_column(sa.String(20), default="")
    reject_reason: Mapped[str] = mapped_column(sa.Text, default="")
    withdrawn_at: Mapped[datetime | None]
    # Execution
    executor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    witness_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    paper_method: Mapped[str] = mapped_column(sa.String(60), default="")
    execution_started_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    # The destruction certificate 销毁清册: made at execution, kept for ever, never changed.
    certificate_pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    certificate_sha256: Mapped[str] = mapped_column(sa.String(64), default="")

    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id], lazy="joined")
    service: Mapped[User | None] = relationship(foreign_keys=[service_id])
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])
    executor: Mapped[User | None] = relationship(foreign_keys=[executor_id])
    witness: Mapped[User | None] = relationship(foreign_keys=[witness_id])
    records: Mapped[list[DestructionRecord]] = relationship(
        back_populates="application", order_by="DestructionRecord.position", lazy="selectin")
    department_parts: Mapped[list[DestructionDepartmentApproval]] = relationship(
        back_populates="application", order_by="DestructionDepartmentApproval.id", lazy="selectin")

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def grounds_label(self) -> str:
        return str(GROUND_LABELS.get(self.grounds, self.grounds))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def label(self) -> str:
        return self.number


class DestructionRecord(db.Model):
    """One archive of an application; after execution, its destruction record (the tombstone's
    evidence: what was removed, when, by whom, witnessed by whom)."""

    __tablename__ = "destruction_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("destruction_application.id"), index=True)
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id"), index=True)
    # The archive's id while the application is open or executing (one open application per archive).
    active_archive_id: Mapped[int | None] = mapped_column(unique=True)
    position: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    # What the application and the certificate list (the name only if the setting keeps names).
    archive_number: Mapped[str] = mapped_column(sa.String(80), default="")
    customer_name: Mapped[str] = mapped_column(sa.String(200), default="")
    filed_on: Mapped[date | None]
    terminated_on: Mapped[date | None]
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    # Execution
    state: Mapped[str] = mapped_column(sa.String(20), default=R_PENDING)
    documents: Mapped[int] = mapped_column(default=0)
    versions: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int] = mapped_column(default=0)
    objects: Mapped[int] = mapped_column(default=0)  # object versions removed from the store
    bytes_removed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    intake_objects: Mapped[int] = mapped_column(default=0)
    intake_pages: Mapped[int] = mapped_column(default=0)
    subrecords: Mapped[int] = mapped_column(default=0)
    key_destroyed: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(sa.Text, default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")  # what else was found and removed
    done_at: Mapped[datetime | None]

    application: Mapped[DestructionApplication] = relationship(back_populates="records")
    archive: Mapped[Archive] = relationship()
    department: Mapped[Department | None] = relationship(lazy="joined")


class DestructionDepartmentApproval(db.Model):
    """A department's part of the application: approved by that department's head (or, for a
    department without a head, by management in its place)."""

    __tablename__ = "destruction_department_approval"
    __table_args__ = (sa.UniqueConstraint("application_id", "department_id",
                                          name="uq_destruction_department_part"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("destruction_application.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    approver_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(sa.Text, default="")

    application: Mapped[DestructionApplication] = relationship(back_populates="department_parts")
    department: Mapped[Department] = relationship(lazy="joined")
    approver: Mapped[User | None] = relationship()
