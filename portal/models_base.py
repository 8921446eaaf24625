"""Small shared pieces for models: UTC timestamps."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC timestamp: stored the same on SQLite and PostgreSQL, shown in Asia/Shanghai."""
    return datetime.now(UTC).replace(tzinfo=None)
