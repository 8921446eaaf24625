"""Tables of backup: the backup register 备份登记 (one row per backup, verification or restore).

The key vault itself is not a table (``portal.backup.keyvault``); ``archive_key.vault_key_id``
(migration 0011) names an archive's key-encryption key in it.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models_base import utcnow

BACKUP, VERIFY, RESTORE = "backup", "verify", "restore"
KINDS = (BACKUP, VERIFY, RESTORE)
KIND_LABELS = {BACKUP: _l("Backup"), VERIFY: _l("Verification"), RESTORE: _l("Restore")}
RUNNING, OK, FAILED = "running", "ok", "failed"
RESULT_LABELS = {RUNNING: _l("Running"), OK: _l("Succeeded"), FAILED: _l("Failed")}


class BackupRun(db.Model):
    """One run of ``portal backup`` / ``portal backup --verify`` / ``portal restore``."""

    __tablename__ = "backup_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    username: Mapped[str] = mapped_column(sa.String(80), default="")  # --as user, or the OS user
    host: Mapped[str] = mapped_column(sa.String(200), default="")
    location: Mapped[str] = mapped_column(sa.String(1000), default="")  # the backup directory
    manifest_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    tables: Mapped[int] = mapped_column(default=0)
    rows: Mapped[int] = mapped_column(default=0)
    archives: Mapped[int] = mapped_column(default=0)
    documents: Mapped[int] = mapped_column(default=0)
    objects: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    result: Mapped[str] = mapped_column(sa.String(10), default=RUNNING)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def result_label(self) -> str:
        return str(RESULT_LABELS.get(self.result, self.result))
