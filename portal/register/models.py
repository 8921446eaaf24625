"""The access register 查阅登记: append-only, hash-chained (SPEC §5)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models_base import utcnow

GENESIS_HASH = "0" * 64


class RegisterEntry(db.Model):
    """One line of the register. Names are copied, not referenced, so the entry outlives renames."""

    __tablename__ = "register_entry"
    __table_args__ = (
        sa.Index("ix_register_at", "at"),
        sa.Index("ix_register_archive", "archive_id"),
        sa.Index("ix_register_user", "user_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)  # position in the chain, 1, 2, 3 … without gaps
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(sa.String(64), default="")
    role: Mapped[str] = mapped_column(sa.String(20), default="")
    department: Mapped[str] = mapped_column(sa.String(80), default="")
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    archive_id: Mapped[int | None]
    archive_number: Mapped[str] = mapped_column(sa.String(80), default="")
    # The document concerned (views, downloads, prints …); hashed only when set, so entries written
    # before documents existed keep their hashes.
    document_id: Mapped[int | None] = mapped_column(index=True)
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    purpose: Mapped[str] = mapped_column(sa.String(300), default="")
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    result: Mapped[str] = mapped_column(sa.String(20), default="ok")  # ok | denied | failed
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class RegisterHead(db.Model):
    """Single row holding the chain's tip; locking it serialises appends (and exposes truncation)."""

    __tablename__ = "register_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS_HASH)
