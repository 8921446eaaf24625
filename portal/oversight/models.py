"""Tables of oversight (migration 0014_oversight): monthly checks and the reminders already sent.

The follow-up date of a communication (``Communication.follow_up_on``) is added to the archive's
sub-record table by the same migration (``portal.archives.models``).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.archives.models import Archive
from portal.auth.models import User
from portal.extensions import db
from portal.models_base import utcnow


class MonthlyCheck(db.Model):
    """The responsible staff member's confirmation 月度检查 that an archive is current (profile,
    paper file location, documents) for one calendar month (policy 004 §12: 每月核查)."""

    __tablename__ = "monthly_check"
    __table_args__ = (
        sa.UniqueConstraint("archive_id", "month", name="uq_monthly_check_archive_month"),
        sa.Index("ix_monthly_check_month", "month"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id", ondelete="CASCADE"))
    month: Mapped[date]  # the first day of the month checked
    checked_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_on: Mapped[date]  # the Beijing working-calendar day of the confirmation (on time or late)
    note: Mapped[str] = mapped_column(sa.Text, default="")

    archive: Mapped[Archive] = relationship()
    checked_by: Mapped[User] = relationship(lazy="joined")


class ReminderSent(db.Model):
    """A reminder notification already sent: one per user, item and occasion (``key``), so a
    daily ``portal remind`` never repeats one (e.g. ``birthday:12:2026-05-03``)."""

    __tablename__ = "reminder_sent"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_reminder_sent_user_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(120))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
