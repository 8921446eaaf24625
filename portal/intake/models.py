"""Scan intake 扫描收件 (issue 4): files received for filing, their pages, and where they went.

An ``IntakeItem`` is one received file (web batch upload, API, watched folder), or one *part* of
a received file that cover sheets split (``parent_id`` set; a part has no file of its own: its
pages are ``page_from``–``page_to`` of its parent's staged file). The staged file is encrypted
with a data key of its own (``wrapped_key``, wrapped by the master key) under ``intake/<uid>`` in
the object store until everything made from it is filed or rejected; then it is removed and the
key wiped. ``IntakePage`` keeps what was read from each page (text layer, OCR, cover sheet), so a
job interrupted at page 7 of 12 resumes at page 8.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.archives.models import Archive
from portal.auth.models import User
from portal.extensions import db
from portal.models_base import utcnow

# States of an item
QUEUED = "queued"  # received; its job waits for a runner
PROCESSING = "processing"  # reading pages: text layers, cover sheets, OCR
SPLIT = "split"  # cover sheets divided it into parts (the parts are items of their own)
WAITING = "waiting"  # in the intake queue: an archivist must assign archive and type
FILED = "filed"  # a document of an archive
DUPLICATE = "duplicate"  # the same file is already a document of that archive
REFUSED = "refused"  # unreadable, encrypted, or over the limits: kept for the archivist to decide
REJECTED = "rejected"  # an archivist (or its sender) decided not to file it
FAILED = "failed"  # processing failed (reason kept); can be retried

STATES = (QUEUED, PROCESSING, SPLIT, WAITING, FILED, DUPLICATE, REFUSED, REJECTED, FAILED)
ACTIVE = (QUEUED, PROCESSING)
OPEN = (QUEUED, PROCESSING, WAITING, REFUSED, FAILED)  # someone or something still has to act
FINISHED = (FILED, DUPLICATE, REJECTED)

STATE_LABELS = {
    QUEUED: _l("Queued"),
    PROCESSING: _l("Processing"),
    SPLIT: _l("Split at cover sheets"),
    WAITING: _l("Waiting for assignment"),
    FILED: _l("Filed"),
    DUPLICATE: _l("Already in the archive"),
    REFUSED: _l("Refused"),
    REJECTED: _l("Rejected"),
    FAILED: _l("Failed"),
}

# Where an item came from
SOURCE_WEB, SOURCE_API, SOURCE_WATCH, SOURCE_PART = "web", "api", "watch", "part"
SOURCE_LABELS = {
    SOURCE_WEB: _l("Batch upload"),
    SOURCE_API: _l("API"),
    SOURCE_WATCH: _l("Watched folder"),
    SOURCE_PART: _l("Part of a scanned batch"),
}

# What a page turned out to be
PAGE_TEXT, PAGE_OCR, PAGE_COVER, PAGE_BLANK = "text", "ocr", "cover", "blank"
PAGE_LABELS = {
    PAGE_TEXT: _l("Text layer"),
    PAGE_OCR: _l("OCR"),
    PAGE_COVER: _l("Cover sheet"),
    PAGE_BLANK: _l("No text found"),
}


class IntakeItem(db.Model):
    __tablename__ = "intake_item"
    __table_args__ = (
        sa.Index("ix_intake_item_state", "state"),
        sa.Index("ix_intake_item_sha256", "sha256"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("intake_item.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(10))
    filename: Mapped[str] = mapped_column(sa.String(255))
    media_type: Mapped[str] = mapped_column(sa.String(100), default="")
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    # the staged file (top-level items only); None once removed
    staged_key: Mapped[str | None] = mapped_column(sa.String(200))
    staged_version: Mapped[str | None] = mapped_column(sa.String(200))
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    master_key_id: Mapped[str] = mapped_column(sa.String(32), default="")
    # a part: pages of the parent's file (1-based, inclusive)
    page_from: Mapped[int | None]
    page_to: Mapped[int | None]
    page_count: Mapped[int | None]
    pages_done: Mapped[int] = mapped_column(default=0)
    # where it should go: given at upload, read from a cover sheet, or assigned by an archivist
    archive_id: Mapped[int | None] = mapped_column(sa.ForeignKey("archive.id"), index=True)
    doc_type: Mapped[str] = mapped_column(sa.String(40), default="")
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    cover_number: Mapped[str] = mapped_column(sa.String(100), default="")  # as printed on the cover
    state: Mapped[str] = mapped_column(sa.String(20), default=QUEUED)
    reason: Mapped[str] = mapped_column(sa.Text, default="")  # why waiting / refused / failed / rejected
    ocr_engine: Mapped[str] = mapped_column(sa.String(20), default="")
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("job.id"))
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("document.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # who files it: the sender, or the archivist who assigned it
    filer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None]
    # when housekeeping blanked its pages' texts (finished long enough ago; portal.housekeeping)
    texts_cleared_at: Mapped[datetime | None]

    parent: Mapped[IntakeItem | None] = relationship(remote_side=[id], back_populates="parts")
    parts: Mapped[list[IntakeItem]] = relationship(back_populates="parent", order_by="IntakeItem.page_from")
    archive: Mapped[Archive | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    filer: Mapped[User | None] = relationship(foreign_keys=[filer_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    job = relationship("Job")
    document = relationship("Document")

    @property
    def root(self) -> IntakeItem:
        return self.parent or self

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS.get(self.state, self.state))


class IntakePage(db.Model):
    """What one page of a staged file is: its text (layer or OCR) or a cover sheet."""

    __tablename__ = "intake_page"
    __table_args__ = (sa.UniqueConstraint("item_id", "number", name="uq_intake_page_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("intake_item.id", ondelete="CASCADE"))
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(10))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    confidence: Mapped[float | None]
    rotation: Mapped[int] = mapped_column(default=0)
    skew: Mapped[float] = mapped_column(default=0.0)
    cover_number: Mapped[str] = mapped_column(sa.String(100), default="")
    cover_doc_type: Mapped[str] = mapped_column(sa.String(40), default="")
