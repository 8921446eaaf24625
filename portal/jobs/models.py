"""The ``job`` table: every background job and its state. The database is the record of state and
progress in every runner mode (Redis, when configured, only delivers job ids)."""
from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.auth.models import User
from portal.extensions import db
from portal.models_base import utcnow

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED)

PROGRESS_MAX = 200
KEY_MAX = 200


class Job(db.Model):
    __tablename__ = "job"
    __table_args__ = (
        sa.Index("ix_job_claim", "state", "run_after"),  # due jobs; running jobs with their leases
        sa.Index("ix_job_key", "key"),
        # ``active_key`` is ``key`` while the job is queued or running and NULL afterwards: at most
        # one active job per key, enforced by the database even between concurrent enqueuers.
        sa.Index("ix_job_active_key", "active_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(60))
    payload: Mapped[str] = mapped_column(sa.Text, default="{}")  # JSON object
    state: Mapped[str] = mapped_column(sa.String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)  # claims so far (the running one included)
    max_attempts: Mapped[int] = mapped_column(default=3)
    progress: Mapped[str] = mapped_column(sa.String(PROGRESS_MAX), default="")  # for people
    error: Mapped[str] = mapped_column(sa.Text, default="")
    key: Mapped[str | None] = mapped_column(sa.String(KEY_MAX))
    active_key: Mapped[str | None] = mapped_column(sa.String(KEY_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]  # of the current / last attempt
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # the handler's last sign of life (progress/heartbeat)
    lease_until: Mapped[datetime | None]  # a running job whose lease passed is reclaimed
    worker: Mapped[str | None] = mapped_column(sa.String(120))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship()

    @property
    def data(self) -> dict:
        """The payload as a dict."""
        return json.loads(self.payload or "{}")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.state} {self.attempts}/{self.max_attempts}>"
