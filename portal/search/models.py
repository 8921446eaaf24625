"""The search outbox: which archives and documents changed, written in the committing transaction.

Every flush that touches an archive, one of its sub-records, a document or a version adds a row
here in the same transaction (``portal.search.indexing.track``), so a committed change can never
be missed by the index, and a rolled-back one never reaches it. The single index writer applies
the rows after the commit (``portal.search.indexing.drain``) and marks them done; done rows are
kept for a day so that a rebuild running meanwhile can replay them (``rebuild``).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models_base import utcnow

ARCHIVE = "archive"  # the archive's own entry
ARCHIVE_ALL = "archive+docs"  # the archive and every document of it
DOCUMENT = "document"


class SearchOutbox(db.Model):
    __tablename__ = "search_outbox"
    __table_args__ = (sa.Index("ix_search_outbox_pending", "done_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # archive | archive+docs | document
    obj_id: Mapped[int]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    done_at: Mapped[datetime | None]
