"""Helpers of the borrowing tests (import as ``import loan_helpers as lh``)."""
from __future__ import annotations

from datetime import date

from portal import workcal
from portal.actor import Actor
from portal.workflows import borrowing
from portal.workflows.borrowing import Application


def set_today(monkeypatch, day: date) -> None:
    """Move the portal's clock (Beijing date) to ``day``."""
    monkeypatch.setattr(workcal, "today", lambda: day)


def as_(user) -> Actor:
    return Actor(user, "127.0.0.1")


def apply(user, archives, by: str = "staff_sales", days=5, pickup=None, purpose: str = "核对合同条款"):
    """An application through the service, as ``by``."""
    return borrowing.apply(as_(user(by)), Application(
        archive_ids=[a.id for a in archives], purpose=purpose, period_days=days, pickup_date=pickup))


def approved(user, archives, by: str = "staff_sales", head: str = "head_sales", **kwargs):
    loan = apply(user, archives, by=by, **kwargs)
    borrowing.approve(as_(user(head)), loan)
    borrowing.approve(as_(user("archivist")), loan)
    return loan


def lent(user, archives, by: str = "staff_sales", head: str = "head_sales", **kwargs):
    loan = approved(user, archives, by=by, head=head, **kwargs)
    return borrowing.lend(as_(user("archivist")), loan, "2 册")
