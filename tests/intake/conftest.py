"""Intake tests: jobs run when the test says so (``run_jobs``), the search index is written right
after each commit so that OCR'd text can be searched at once."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # scans
sys.path.insert(0, str(Path(__file__).parent.parent / "documents"))  # doc_samples


@pytest.fixture
def store_config():
    return {"SEARCH_WRITER": "sync", "JOBS_RUNNER": "manual"}


@pytest.fixture
def run_jobs(app):
    """Run every due job now (in this thread); returns how many ran."""
    from portal import jobs

    def _run() -> int:
        return jobs.run_pending(app)

    return _run


@pytest.fixture
def send(app, user):
    """``send("archivist", data, "scan.pdf", archive=…, doc_type=…)`` → IntakeItem (received, not
    processed)."""
    from portal.actor import Actor
    from portal.intake import services

    def _send(by, data: bytes, filename: str = "scan.pdf", **kwargs):
        return services.receive(Actor(user(by), "127.0.0.1", "web"), io.BytesIO(data), filename, **kwargs)

    return _send


@pytest.fixture
def item_of(app):
    """Fresh state of an item from the database."""
    from portal.extensions import db
    from portal.intake.models import IntakeItem

    def _item(item_id: int):
        db.session.commit()  # end any read snapshot: the job committed in a session of its own
        db.session.expire_all()
        return db.session.get(IntakeItem, item_id)

    return _item


@pytest.fixture
def filed(make_archive):
    """A filed archive of 销售部 (staff_sales is its author), with its number."""
    def _filed(**fields):
        return make_archive("staff_sales", status="filed", **fields)
    return _filed
