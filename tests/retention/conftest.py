"""Fixtures of the retention tests: terminated archives and documents through the real services."""
from __future__ import annotations

import io
from datetime import date

import pytest

from portal import workcal
from portal.retention.services import add_months


@pytest.fixture
def today():
    return workcal.today()


@pytest.fixture
def terminated(make_archive, today):
    """``terminated(months_ago=7, name=…)`` → a filed archive of 销售部 whose cooperation ended
    ``months_ago`` months (or ``on``) before today."""

    def _make(months_ago: int | None = 7, *, on: date | None = None, by: str = "staff_sales", **fields):
        when = on if on is not None else add_months(today, -months_ago)
        fields.setdefault("name", f"终止客户{when.isoformat()}有限公司")
        return make_archive(by, status="filed", stage="terminated", terminated_on=when, **fields)

    return _make


@pytest.fixture
def add_document(user):
    """``add_document(archive, "合同")`` → a Document of that type, uploaded through the service."""
    from PIL import Image

    from portal.actor import Actor
    from portal.documents import services as documents

    counter = iter(range(1, 1000))

    def _add(archive, doc_type: str, by: str = "staff_sales"):
        n = next(counter)
        scan = io.BytesIO()
        Image.new("RGB", (30 + n, 40), (200, 210, 220 - n % 50)).save(scan, format="PNG")
        scan.seek(0)
        return documents.upload(Actor(user(by), "127.0.0.1"), archive.id, scan, f"{doc_type}{n}.png",
                                documents.Details(doc_type=doc_type))

    return _add


@pytest.fixture
def as_actor(user):
    """``as_actor("manager")`` → an Actor for service calls."""
    from portal.actor import Actor

    return lambda username: Actor(user(username), "127.0.0.1")
