"""Query requests 查询申请 and change requests 变更申请 (SPEC §3, policy 004 §13, §16): the tables,
their settings, and the helpers both services share.

- A **query request** asks for time-limited access to an archive the requester may not open (above
  their clearance or outside their department). Once approved it *is* the grant: while
  ``status == approved`` and ``expires_at`` lies in the future, ``portal.archives.permissions``
  lets the requester view the archive (never edit it) — the expiry is a time comparison in the
  permission clause, so nothing has to run when a grant ends. Services: ``query_requests.py``.
- A **change request** proposes new values for profile fields of a filed archive, field by field
  (old → new), with a reason and an evidence document. Services: ``change_requests.py``.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import has_request_context, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.admin.models import Setting
from portal.archives.models import Archive
from portal.archives.profile import ALL_FIELDS
from portal.auth.models import User
from portal.documents.models import Document
from portal.extensions import db
from portal.models_base import utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")

# --- settings (administration: /requests/settings) ---------------------------------------------

QUERY_MAX_DAYS = "query_max_working_days"
IMPORTANT_FIELDS = "change_important_fields"
SETTING_DEFAULTS = {
    # Longest query authorisation, in working days (policy 004 §16 names no figure).
    QUERY_MAX_DAYS: "10",
    # Changes to these fields also need the customer-service head (policy 004 §13: 客户名称、
    # 合作核心条款). The contract terms of the profile: cooperation stage, signing and end dates.
    IMPORTANT_FIELDS: "name,name_en,stage,contract_signed_on,terminated_on",
}
# Profile fields a change request may not touch: the department and the responsible staff change
# through a handover 移交 (SPEC §3), the classification only by the archivist when filing.
NOT_CHANGEABLE = frozenset({"department_id", "responsible_id", "sensitivity"})
SERVICE_DEPARTMENT = "客户服务部"  # its head approves important changes (policy 004 §13)


def setting(key: str) -> str:
    row = db.session.get(Setting, key)
    return row.value if row is not None else SETTING_DEFAULTS[key]


def query_max_days() -> int:
    value = setting(QUERY_MAX_DAYS)
    return int(value) if value.isdigit() and int(value) > 0 else int(SETTING_DEFAULTS[QUERY_MAX_DAYS])


def changeable_fields() -> list:
    """Profile fields a change request may change, in profile order."""
    return [f for f in ALL_FIELDS.values() if f.name not in NOT_CHANGEABLE]


def important_fields() -> set[str]:
    names = {n.strip() for n in setting(IMPORTANT_FIELDS).split(",")}
    return {n for n in names if n in ALL_FIELDS and n not in NOT_CHANGEABLE}


# --- working days and time ---------------------------------------------------------------------

def today() -> date:
    """Today in Beijing (deadlines and grant ends are Beijing calendar days); the calendar's
    ``today`` so that tests moving its clock move ours too."""
    from portal import workcal

    return workcal.today()


def local_date(value: datetime) -> date:
    """A stored naive-UTC timestamp's Beijing calendar day."""
    return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(SHANGHAI).date()


def end_of_day_utc(day: date) -> datetime:
    """The moment ``day`` ends in Beijing, as naive UTC (how timestamps are stored)."""
    local_midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    return local_midnight.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def due_date(start: datetime, working_days: int) -> date:
    from portal import workcal

    return workcal.deadline(start, working_days)


def is_late(due: date | None) -> bool:
    return due is not None and today() > due


def query_url(request_id: int) -> str:
    """The page of a query request (also outside a request: CLI, tests, notifications)."""
    if has_request_context():
        return url_for("requests.query_detail", request_id=request_id)
    return f"/requests/query/{request_id}"


def change_url(request_id: int) -> str:
    if has_request_context():
        return url_for("requests.change_detail", request_id=request_id)
    return f"/requests/changes/{request_id}"


def in_language_of(user: User):
    """Messages for ``user`` (notifications) in their language, Chinese by default."""
    return force_locale(user.locale or "zh_CN")


# --- query requests 查询申请 ---------------------------------------------------------------------

# pending → (archivist approves) → approved, or for 一级 material → manager → approved;
# rejected at either step; withdrawn by the requester while undecided.
Q_PENDING, Q_MANAGER, Q_APPROVED, Q_REJECTED, Q_WITHDRAWN = (
    "pending", "manager", "approved", "rejected", "withdrawn")
Q_STATUSES = (Q_PENDING, Q_MANAGER, Q_APPROVED, Q_REJECTED, Q_WITHDRAWN)
Q_OPEN = (Q_PENDING, Q_MANAGER)
Q_STATUS_LABELS = {
    Q_PENDING: _l("Waiting for the archivist"),
    Q_MANAGER: _l("Waiting for management"),
    Q_APPROVED: _l("Approved"),
    Q_REJECTED: _l("Rejected"),
    Q_WITHDRAWN: _l("Withdrawn"),
}
# Scope: the whole archive with all its documents, or the archive with the documents at the
# requester's own clearance plus the documents the archivist ticks when approving (the requester
# cannot see the titles of documents above their clearance, so they describe them in words).
SCOPE_ALL, SCOPE_LISTED = "all", "listed"
SCOPES = (SCOPE_ALL, SCOPE_LISTED)
SCOPE_LABELS = {
    SCOPE_ALL: _l("The whole archive with all its documents"),
    SCOPE_LISTED: _l("The archive, the documents at my clearance, and the material described"),
}

query_request_document = sa.Table(
    "query_request_document", db.metadata,
    sa.Column("request_id", sa.ForeignKey("query_request.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("document_id", sa.ForeignKey("document.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


class QueryRequest(db.Model):
    """A request to view an archive; approved, it is the time-limited grant itself."""

    __tablename__ = "query_request"
    __table_args__ = (
        # The permission clauses look up a user's live grants on every archive list and search.
        sa.Index("ix_query_request_grants", "requester_id", "status", "expires_at"),
        sa.Index("ix_query_request_status", "status", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    # None when the number typed matches no filed archive: the requester is told only "submitted"
    # and the archivist answers (see query_requests.submit).
    archive_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    archive_ref: Mapped[str] = mapped_column(sa.String(80))  # what the requester named
    purpose: Mapped[str] = mapped_column(sa.Text)
    scope: Mapped[str] = mapped_column(sa.String(10), default=SCOPE_LISTED)
    scope_note: Mapped[str] = mapped_column(sa.Text, default="")
    asked_document_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("document.id", ondelete="SET NULL"))  # refused document the request began from
    period_days: Mapped[int | None]  # working days from approval …
    until: Mapped[date | None]  # … or an end date (one of the two)
    status: Mapped[str] = mapped_column(sa.String(20), default=Q_PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    needs_manager: Mapped[bool] = mapped_column(default=False)
    archivist_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    archivist_at: Mapped[datetime | None]
    archivist_note: Mapped[str] = mapped_column(sa.Text, default="")
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    manager_at: Mapped[datetime | None]
    manager_note: Mapped[str] = mapped_column(sa.Text, default="")
    rejected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None]
    reject_reason: Mapped[str] = mapped_column(sa.Text, default="")
    withdrawn_at: Mapped[datetime | None]
    # The grant (set on the final approval)
    granted_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    doc_floor: Mapped[int | None]  # scope "all": documents at this level number or above open

    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="joined")
    archive: Mapped[Archive | None] = relationship()
    asked_document: Mapped[Document | None] = relationship()
    archivist: Mapped[User | None] = relationship(foreign_keys=[archivist_id])
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])
    documents: Mapped[list[Document]] = relationship(secondary=query_request_document,
                                                     order_by=Document.id)

    @property
    def status_label(self) -> str:
        if self.status == Q_APPROVED and not self.active:
            return str(_l("Expired"))
        return str(Q_STATUS_LABELS.get(self.status, self.status))

    @property
    def active(self) -> bool:
        return (self.status == Q_APPROVED and self.expires_at is not None
                and self.expires_at > utcnow())

    @property
    def is_open(self) -> bool:
        return self.status in Q_OPEN

    @property
    def label(self) -> str:
        return f"Q{self.id}"


def grant_filter(user_id: int):
    """SQL: the live grants of ``user_id`` (approved and not yet expired)."""
    return sa.and_(QueryRequest.requester_id == user_id, QueryRequest.status == Q_APPROVED,
                   QueryRequest.expires_at > utcnow())


def granted_archive_ids(user_id: int):
    """SELECT of the archives ``user_id`` holds a live grant for (for ``visible_clause``)."""
    return sa.select(QueryRequest.archive_id).where(grant_filter(user_id),
                                                    QueryRequest.archive_id.is_not(None))


def has_grant(user_id: int, archive_id: int) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(
        grant_filter(user_id), QueryRequest.archive_id == archive_id))) or False


def granted_documents_clause(user_id: int):
    """SQL condition on Document: documents opened by a live grant of ``user_id``."""
    whole = sa.exists().where(grant_filter(user_id), QueryRequest.archive_id == Document.archive_id,
                              QueryRequest.scope == SCOPE_ALL,
                              Document.sensitivity >= QueryRequest.doc_floor)
    ticked = Document.id.in_(
        sa.select(query_request_document.c.document_id)
        .join(QueryRequest, QueryRequest.id == query_request_document.c.request_id)
        .where(grant_filter(user_id)))
    return sa.or_(whole, ticked)


def document_granted(user_id: int, document: Document) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(
        Document.id == document.id, granted_documents_clause(user_id)))) or False


def active_grant(user_id: int, archive_id: int) -> QueryRequest | None:
    """The live grant lasting longest, if any."""
    return db.session.scalar(sa.select(QueryRequest).where(
        grant_filter(user_id), QueryRequest.archive_id == archive_id)
        .order_by(QueryRequest.expires_at.desc()).limit(1))


# --- change requests 变更申请 --------------------------------------------------------------------

# pending_head → (important fields) pending_service → approved → applied by the archivist;
# rejected at any step before applying; withdrawn by the author while not applied or rejected.
C_HEAD, C_SERVICE, C_APPROVED, C_APPLIED, C_REJECTED, C_WITHDRAWN = (
    "pending_head", "pending_service", "approved", "applied", "rejected", "withdrawn")
C_STATUSES = (C_HEAD, C_SERVICE, C_APPROVED, C_APPLIED, C_REJECTED, C_WITHDRAWN)
C_OPEN = (C_HEAD, C_SERVICE, C_APPROVED)
C_STATUS_LABELS = {
    C_HEAD: _l("Waiting for the department head"),
    C_SERVICE: _l("Waiting for the customer-service head"),
    C_APPROVED: _l("Approved, waiting for the archivist"),
    C_APPLIED: _l("Applied"),
    C_REJECTED: _l("Rejected"),
    C_WITHDRAWN: _l("Withdrawn"),
}


class ChangeRequest(db.Model):
    """A proposed change of a filed archive's profile (《客户档案信息更新表》, policy 004 §13)."""

    __tablename__ = "change_request"
    __table_args__ = (sa.Index("ix_change_request_status", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(sa.Text)
    evidence_document_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("document.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(20), default=C_HEAD)
    needs_service: Mapped[bool] = mapped_column(default=False)
    head_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    head_at: Mapped[datetime | None]
    head_note: Mapped[str] = mapped_column(sa.Text, default="")
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    service_at: Mapped[datetime | None]
    service_note: Mapped[str] = mapped_column(sa.Text, default="")
    applied_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    applied_at: Mapped[datetime | None]
    rejected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None]
    reject_reason: Mapped[str] = mapped_column(sa.Text, default="")
    withdrawn_at: Mapped[datetime | None]

    archive: Mapped[Archive] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id], lazy="joined")
    evidence: Mapped[Document | None] = relationship()
    head: Mapped[User | None] = relationship(foreign_keys=[head_id])
    service: Mapped[User | None] = relationship(foreign_keys=[service_id])
    applied_by: Mapped[User | None] = relationship(foreign_keys=[applied_by_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])
    items: Mapped[list[ChangeItem]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ChangeItem.position",
        lazy="selectin")

    @property
    def status_label(self) -> str:
        return str(C_STATUS_LABELS.get(self.status, self.status))

    @property
    def is_open(self) -> bool:
        return self.status in C_OPEN

    @property
    def label(self) -> str:
        return f"C{self.id}"

    @property
    def field_names(self) -> list[str]:
        return [item.field for item in self.items]


class ChangeItem(db.Model):
    """One field of a change request: the value when proposed and the value asked for."""

    __tablename__ = "change_request_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("change_request.id", ondelete="CASCADE"),
                                            index=True)
    position: Mapped[int] = mapped_column(default=0)
    field: Mapped[str] = mapped_column(sa.String(60))
    # Values as text: '' for empty, dates ISO, ids as digits (see change_requests.as_text).
    old_value: Mapped[str] = mapped_column(sa.Text, default="")
    new_value: Mapped[str] = mapped_column(sa.Text, default="")

    request: Mapped[ChangeRequest] = relationship(back_populates="items")
