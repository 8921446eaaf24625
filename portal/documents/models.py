"""Documents 档案材料 (SPEC §2): metadata here, contents (encrypted) in the object store."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.archives.models import Archive
from portal.auth import roles
from portal.auth.models import User
from portal.extensions import db
from portal.models_base import utcnow

# Text status of a version: where its searchable text stands.
TEXT_EXTRACTED = "extracted"  # text layer / document text read on upload
TEXT_NONE = "none"  # nothing to read: an image or a PDF without a text layer (OCR: scan intake)
TEXT_FAILED = "failed"
TEXT_OCR = "ocr"  # recognised from page images by scan intake (portal.intake), some pages at least
TEXT_STATUSES = (TEXT_EXTRACTED, TEXT_NONE, TEXT_FAILED, TEXT_OCR)


class ArchiveKey(db.Model):
    """The archive's data key, wrapped by the archive's key-encryption key in the key vault
    (``vault_key_id``, ``portal.backup.keyvault``) — or, for rows made before the vault, by the
    master key itself (``vault_key_id`` None; rewrapped by ``portal keys migrate``)."""

    __tablename__ = "archive_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id"), unique=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # None once destroyed
    vault_key_id: Mapped[str | None] = mapped_column(sa.String(32))  # the KEK's id in the key vault
    master_key_id: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None]


class Document(db.Model):
    __tablename__ = "document"
    __table_args__ = (
        sa.UniqueConstraint("archive_id", "stored_name", name="uq_document_stored_name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    archive_id: Mapped[int] = mapped_column(sa.ForeignKey("archive.id"), index=True)
    # Object key in the store: ``archives/<archive id>/<uid>``; every file version is a store version.
    uid: Mapped[str] = mapped_column(sa.String(32), unique=True)
    doc_type: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(200))
    doc_date: Mapped[date | None]
    source: Mapped[str] = mapped_column(sa.String(100), default="")  # source / channel 来源渠道
    sensitivity: Mapped[int] = mapped_column(default=roles.INTERNAL)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    # Naming rule 客户名称-档案类型-年份 (policy 004 §15), with a counter when needed.
    stored_name: Mapped[str] = mapped_column(sa.String(300))
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    lock_version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": lock_version}

    archive: Mapped[Archive] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship()
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number", cascade="all, delete-orphan")

    @property
    def effective_sensitivity(self) -> int:
        """The stricter of the document's and its archive's level (1 is the strictest)."""
        return min(self.sensitivity, self.archive.sensitivity)

    def version(self, number: int | None = None) -> DocumentVersion | None:
        number = number or self.current_version
        return next((v for v in self.versions if v.number == number), None)

    @property
    def latest(self) -> DocumentVersion:
        return self.version(self.current_version)


class DocumentVersion(db.Model):
    """One file of a document. Replacing the file adds a version; none is ever overwritten."""

    __tablename__ = "document_version"
    __table_args__ = (
        sa.UniqueConstraint("document_id", "number", name="uq_document_version_number"),
        sa.Index("ix_document_version_sha256", "sha256"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"))
    number: Mapped[int]
    store_key: Mapped[str] = mapped_column(sa.String(200))
    store_version: Mapped[str] = mapped_column(sa.String(200))
    stored_size: Mapped[int] = mapped_column(sa.BigInteger)  # ciphertext bytes in the store
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    media_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    sm3: Mapped[str] = mapped_column(sa.String(64), default="")
    page_count: Mapped[int | None]
    text: Mapped[str] = mapped_column(sa.Text, default="")
    text_status: Mapped[str] = mapped_column(sa.String(20), default=TEXT_NONE)
    text_note: Mapped[str] = mapped_column(sa.String(300), default="")
    thumbnail: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # PNG, sealed with the data key
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.String(300), default="")  # why the file was replaced

    document: Mapped[Document] = relationship(back_populates="versions")
    uploaded_by: Mapped[User] = relationship()


class DocumentEvent(db.Model):
    """The document's own history: uploads, replacements and metadata changes (old → new)."""

    __tablename__ = "document_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    username: Mapped[str] = mapped_column(sa.String(64), default="")
    action: Mapped[str] = mapped_column(sa.String(20))  # upload | replace | edit
    version_number: Mapped[int | None]
    changes: Mapped[str] = mapped_column(sa.Text, default="")  # JSON [{field, old, new}]
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    user: Mapped[User | None] = relationship()
