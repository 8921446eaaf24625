"""Fixtures for background-job tests: the test handlers, a fresh view of a job, a settable clock."""
from __future__ import annotations

from datetime import timedelta

import jobs_testing_handlers as handlers
import pytest
import sqlalchemy as sa

from portal import jobs
from portal.extensions import db
from portal.models_base import utcnow


@pytest.fixture(autouse=True)
def _clean_handlers():
    handlers.CALLS.clear()
    handlers.BROKEN.clear()
    handlers.TRANSIENT.clear()
    yield
    handlers.CALLS.clear()


@pytest.fixture(autouse=True)
def _only_test_handlers(app):
    """The runners import no feature's handler modules here (tests/jobs is about the machinery)."""
    app.config["JOBS_MODULES"] = []


@pytest.fixture
def calls():
    """``calls("test.echo")`` → [(job id, attempt, payload)] of that kind, in order."""
    def _calls(kind: str):
        return [(job_id, attempt, payload) for k, job_id, attempt, payload in handlers.CALLS if k == kind]
    return _calls


@pytest.fixture
def job(app):
    """``job(id)`` → the job as committed now (the test's own snapshot ended first)."""
    def _job(job_id: int):
        db.session.commit()
        return jobs.get(job_id)
    return _job


@pytest.fixture
def time_passes(app):
    """``time_passes(job_id)``: the job's delay is over (its run_after moves to the past)."""
    def _passes(job_id: int):
        db.session.commit()
        with db.engine.begin() as conn:
            conn.execute(sa.update(jobs.Job.__table__).where(jobs.Job.__table__.c.id == job_id)
                         .values(run_after=utcnow() - timedelta(seconds=1)))
    return _passes
