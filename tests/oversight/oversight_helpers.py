"""Data for the oversight tests: archives with contract and filing dates, change requests and loans
with chosen timestamps, and the clock (``workcal.today``) set to a chosen day."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from portal import workcal
from portal.auth.models import Department, User
from portal.extensions import db


def set_today(monkeypatch, day: date) -> None:
    monkeypatch.setattr(workcal, "today", lambda: day)


def beijing(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A Beijing wall-clock time as the naive UTC the database stores."""
    return datetime(day.year, day.month, day.day, hour, minute) - timedelta(hours=8)


def department(name: str) -> Department:
    return db.session.scalar(sa.select(Department).where(Department.name == name))


def user_named(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def filed(make_archive, by: str, *, contract: date | None, filed_at: datetime | None, **fields):
    """A filed archive of ``by`` with its contract date and the moment it was filed."""
    archive = make_archive(by, status="filed", contract_signed_on=contract, **fields)
    if filed_at is not None:
        archive.filed_at = filed_at
    db.session.commit()
    return archive


def change_request(archive, by: str, *, proposed: datetime, applied: datetime | None = None,
                   status: str = "applied", important: bool = False):
    """A change request of ``archive`` proposed (and applied) at the given moments."""
    from portal.workflows.requests import ChangeItem, ChangeRequest

    req = ChangeRequest(archive_id=archive.id, proposed_by_id=user_named(by).id, reason="测试",
                        status=status, needs_service=important, created_at=proposed,
                        applied_at=applied, head_at=proposed if status != "pending_head" else None,
                        items=[ChangeItem(position=0, field="region", old_value="", new_value="东南亚")])
    db.session.add(req)
    db.session.commit()
    return req


def loan(archive, by: str, *, due: date, status: str = "lent", returned: datetime | None = None,
         lent_on: date | None = None):
    """A loan of ``archive``'s paper file to ``by``, lent (or returned) with the due date given."""
    from portal.workflows.borrowing_models import Loan, LoanItem

    borrower = user_named(by)
    lent_on = lent_on or due - timedelta(days=7)
    item = Loan(borrower_id=borrower.id, department_id=borrower.department_id, purpose="测试",
                period_days=5, pickup_date=lent_on, status=status, lend_date=lent_on, due_date=due,
                lent_at=beijing(lent_on), returned_at=returned, created_at=beijing(lent_on - timedelta(days=2)),
                items=[LoanItem(archive_id=archive.id)])
    db.session.add(item)
    db.session.commit()
    return item
