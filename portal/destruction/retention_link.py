"""What destruction asks of retention (``portal.retention.services``): eligibility and holds.

Retention (policy 004 §14, §17; 000 §7) decides when an archive may be destroyed and whether a hold
冻结 stops it; destruction only asks, through these four functions.
"""
from __future__ import annotations

from datetime import date

from portal.retention import services as retention


def eligible_on(archive) -> date | None:
    """The day the archive may be destroyed under the retention rules (None: the clock has not started)."""
    return retention.eligible_on(archive)


def is_eligible(archive, today: date | None = None) -> bool:
    return retention.is_eligible(archive, today=today)


def is_held(archive_id: int) -> bool:
    return retention.is_held(archive_id)


def require_not_held(actor, archive, what: str = "destruction") -> None:
    """Raise 409 (the refusal registered by retention) if the archive is on hold."""
    retention.require_not_held(actor, archive, what=what)
