"""The change log 变更登记 (SPEC §5): change requests of the archives a user may open, filtered,
for the list page, its A4 printout, the Excel export and the API."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from portal.archives import permissions as perm
from portal.archives.models import Archive
from portal.auth.models import User
from portal.extensions import db
from portal.workflows.requests import ChangeRequest


@dataclass
class LogFilter:
    date_from: date | None = None  # proposed on or after (Beijing day)
    date_to: date | None = None
    archive: str = ""  # part of the archive number or of the customer's name
    department_id: int | None = None
    status: str = ""


def log(user: User, f: LogFilter, limit: int = 200) -> tuple[list[ChangeRequest], int]:
    """Change requests of the archives ``user`` may open, newest first, and how many match."""
    q = sa.select(ChangeRequest).join(Archive, Archive.id == ChangeRequest.archive_id).where(
        perm.visible_clause(user))
    shanghai = timedelta(hours=8)
    if f.date_from:
        q = q.where(ChangeRequest.created_at >= datetime.combine(f.date_from, time.min) - shanghai)
    if f.date_to:
        q = q.where(ChangeRequest.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min)
                    - shanghai)
    if f.archive:
        like = f"%{f.archive.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(Archive.number.like(like), Archive.name.like(like)))
    if f.department_id:
        q = q.where(Archive.department_id == f.department_id)
    if f.status:
        q = q.where(ChangeRequest.status == f.status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())) or 0
    rows = list(db.session.scalars(q.order_by(ChangeRequest.created_at.desc(), ChangeRequest.id.desc())
                                   .limit(limit)))
    return rows, total
