"""Helpers of the intake tests (a module of its own: ``conftest`` names clash across test folders)."""
from __future__ import annotations

import sqlalchemy as sa


def pages_of(item_id: int):
    from portal.extensions import db
    from portal.intake.models import IntakePage

    return list(db.session.scalars(sa.select(IntakePage).where(IntakePage.item_id == item_id)
                                   .order_by(IntakePage.number)))
