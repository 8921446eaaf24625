"""Tables of retention (migration: see migrations/versions/0009_retention.py).

- ``RetentionRule``: how long archives of a classification (customer type, cooperation stage,
  document type; ``None`` = any) are kept after the event (the termination date), and when the
  termination review is due. The default rule (any/any/any) is seeded by the migration and cannot
  be deleted.
- ``RetentionReview``: the archivist's decision in a termination review (retain as 终止合作客户档案
  with a next review date, or propose destruction), kept for ever.
- ``RetentionHold``: a hold 冻结 placed by management (litigation, a regulator's inquiry …); rows
  keep the history, ``lifted_at`` is set when the hold is lifted. At most one hold per archive is
  active (partial unique index).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.admin.models import CustomerType
from portal.archives.models import Archive
from portal.auth.models import User
from portal.extensions import db
from portal.models_base import utcnow

ANY = "*"
RETAIN, PROPOSE = "retain", "propose"
DECISIONS = (RETAIN, PROPOSE)


def classification_key(customer_type_id: int | None, stage: str | None, doc_type: str | None) -> str:
    """One string per classification, unique among rules (NULLs would not collide in SQL)."""
    return "|".join(ANY if v in (None, "") else str(v) for v in (customer_type_id, stage, doc_type))


class RetentionRule(db.Model):
    __tablename__ = "retention_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    classification: Mapped[str] = mapped_column(sa.String(120), unique=True)
    customer_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customer_type.id"))
    stage: Mapped[str | None] = mapped_column(sa.String(20))
    doc_type: Mapped[str | None] = mapped_column(sa.String(40))
    review_months: Mapped[int]
    retain_years: Mapped[int]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    customer_type: Mapped[CustomerType | None] = relationship(lazy="joined")
    updated_by: Mapped[User | None] = relationship()

    @property
    def specificity(self) -> int:
        return sum(v is not None for v in (self.customer_type_id, self.stage, self.doc_type))


class RetentionReview(db.Model):
    __tablename__ = "retention_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    event_date: Mapped[date]  # the termination date the review was about
    decision: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.Text)
    next_review_on: Mapped[date | None]
    eligible_on: Mapped[date | None]  # as computed when deciding (for the record)
    decided_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    archive: Mapped[Archive] = relationship()
    decided_by: Mapped[User] = relationship(lazy="joined")


class RetentionHold(db.Model):
    __tablename__ = "retention_hold"
    __table_args__ = (
        sa.Index("uq_retention_hold_active", "archive_id", unique=True,
                 sqlite_where=sa.text("lifted_at IS NULL"), postgresql_where=sa.text("lifted_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # A deleted draft takes its (lifted) holds with it; the register keeps their history.
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    reference: Mapped[str] = mapped_column(sa.String(200), default="")
    placed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    lifted_at: Mapped[datetime | None]
    lift_reason: Mapped[str] = mapped_column(sa.Text, default="")

    archive: Mapped[Archive] = relationship()
    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id], lazy="joined")
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    @property
    def active(self) -> bool:
        return self.lifted_at is None
