"""Background jobs as services and operators see them: enqueue → run once → done; failures with
their reasons, retries, the retry button, cancelling, one job per key, claims that never run a job
twice, jobs of dead workers resumed, progress that leaves the handler's work alone, the runner
modes, /healthz and ``portal jobs``."""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import jobs
from portal.errors import InvalidState
from portal.extensions import db
from portal.models_base import utcnow


def _enqueue(kind, payload=None, **kw):
    job_id = jobs.enqueue(kind, payload or {}, **kw).id
    db.session.commit()  # (reading job.id after the commit would start a read snapshot here)
    return job_id


def test_a_job_runs_once_and_is_done(app, user, job, calls):
    archivist = user("archivist")
    job_id = jobs.enqueue("test.echo", {"n": 1}, user=archivist).id
    db.session.commit()

    queued = job(job_id)
    assert (queued.state, queued.attempts, queued.created_by.username) == ("queued", 0, "archivist")
    assert calls("test.echo") == []  # manual mode: nothing runs by itself

    assert jobs.run_pending(app) == 1
    done = job(job_id)
    assert (done.state, done.attempts, done.progress, done.error) == ("done", 1, "echo 1", "")
    assert done.finished_at is not None and done.lease_until is None
    assert calls("test.echo") == [(job_id, 1, {"n": 1})]

    assert jobs.run_pending(app) == 0  # nothing is run twice
    assert len(calls("test.echo")) == 1


def test_a_failing_handler_fails_with_its_message_and_the_retry_button_runs_it_again(
        app, job, calls):
    import jobs_testing_handlers as handlers
    handlers.BROKEN.add("scan-1")
    job_id = _enqueue("test.flaky", {"name": "scan-1"}, key="item:1")

    jobs.run_pending(app)
    failed = job(job_id)
    assert (failed.state, failed.error) == ("failed", "The scan is damaged.")  # the PortalError's message
    assert failed.attempts == 1  # a PortalError is not retried by itself
    assert jobs.run_pending(app) == 0

    # while it is failed, the key is free: a new enqueue makes a new job
    handlers.BROKEN.clear()
    jobs.retry(job_id)
    db.session.commit()
    again = job(job_id)
    assert (again.state, again.attempts, again.error) == ("queued", 0, "")
    assert jobs.enqueue("test.flaky", {"name": "scan-1"}, key="item:1").id == job_id  # still one job
    db.session.commit()

    assert jobs.run_pending(app) == 1
    done = job(job_id)
    assert (done.state, done.progress) == ("done", "all pages read")
    assert [attempt for _, attempt, _ in calls("test.flaky")] == [1, 1]

    with pytest.raises(InvalidState):
        jobs.retry(job_id)  # only failed jobs
    db.session.rollback()


def test_an_unexpected_exception_fails_with_its_type_and_the_traceback_is_logged(app, job, caplog):
    job_id = _enqueue("test.crash")
    with caplog.at_level(logging.ERROR, logger="portal.jobs"):
        jobs.run_pending(app)
    failed = job(job_id)
    assert (failed.state, failed.error) == ("failed", "ValueError: bad value on page 3")
    record = next(r for r in caplog.records if r.name == "portal.jobs" and r.exc_info)
    assert "bad value on page 3" in str(record.exc_info[1])


def test_an_unknown_kind_fails_with_a_clear_reason(app, job):
    job_id = _enqueue("test.nobody-handles-this")
    jobs.run_pending(app)
    failed = job(job_id)
    assert failed.state == "failed" and "test.nobody-handles-this" in failed.error


def test_retry_runs_the_job_again_later_and_gives_up_after_max_attempts(app, job, calls, time_passes):
    import jobs_testing_handlers as handlers
    handlers.TRANSIENT.update({"a", "b"})
    a = _enqueue("test.flaky", {"name": "a"}, max_attempts=3)
    b = _enqueue("test.flaky", {"name": "b"}, max_attempts=2)

    assert jobs.run_pending(app) == 2
    for job_id in (a, b):
        waiting = job(job_id)
        assert (waiting.state, waiting.attempts, waiting.error) == ("queued", 1, "store down")
        assert waiting.run_after > utcnow() + timedelta(seconds=50)  # Retry(60): later, not now
    assert jobs.run_pending(app) == 0

    handlers.TRANSIENT.discard("a")  # the store is back for a, not for b
    time_passes(a)
    time_passes(b)
    assert jobs.run_pending(app) == 2
    assert (job(a).state, job(a).attempts) == ("done", 2)
    gave_up = job(b)
    assert (gave_up.state, gave_up.attempts) == ("failed", 2)
    assert "store down" in gave_up.error and "2" in gave_up.error
    assert [attempt for job_id, attempt, _ in calls("test.flaky") if job_id == a] == [1, 2]


def test_the_same_key_makes_one_job_while_it_is_active(app, job):
    first = jobs.enqueue("test.echo", {"n": 1}, key="intake:7")
    same = jobs.enqueue("test.echo", {"n": 2}, key="intake:7")  # same transaction
    assert same is first
    db.session.commit()
    with app.app_context():  # another request
        assert jobs.enqueue("test.echo", {"n": 3}, key="intake:7").id == first.id
        db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(jobs.Job)) == 1

    jobs.run_pending(app)
    assert job(first.id).state == "done"
    later = _enqueue("test.echo", {"n": 4}, key="intake:7")  # the key is free once the job finished
    assert later != first.id
    assert job(later).key == "intake:7"


def test_two_requests_enqueueing_one_key_at_once_make_one_job(app):
    from portal.dbsetup import mark_write_transaction
    ids: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def request(n: int):
        try:
            with app.app_context():
                start.wait()
                mark_write_transaction()  # a service's transaction (begin_write)
                job_id = jobs.enqueue("test.echo", {"n": n}, key="intake:9").id
                time.sleep(0.2)  # still uncommitted while the other one enqueues
                db.session.commit()
                ids.append(job_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(ids) == 2 and ids[0] == ids[1]
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(jobs.Job)) == 1


def test_two_runners_racing_run_each_job_exactly_once(app, job, calls):
    ids = [_enqueue("test.echo", {"n": i, "sleep": 0.02}) for i in range(8)]
    start = threading.Barrier(3)
    ran: list[int] = []
    errors: list[BaseException] = []

    def racer():
        try:
            start.wait()
            ran.append(jobs.run_pending(app))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(ran) == 8
    run_ids = sorted(job_id for job_id, _, _ in calls("test.echo"))
    assert run_ids == sorted(ids)  # each once
    assert {job(i).state for i in ids} == {"done"}


def test_progress_is_stored_without_committing_the_handlers_work(app, job):
    from portal.admin.models import Setting
    failing = _enqueue("test.writes", {"key": "job-test-1", "fail": True})
    jobs.run_pending(app)
    failed = job(failing)
    assert (failed.state, failed.progress) == ("failed", "halfway")
    assert "RuntimeError" in failed.error
    assert db.session.get(Setting, "job-test-1") is None  # the handler's write was rolled back

    ok = _enqueue("test.writes", {"key": "job-test-2"})
    jobs.run_pending(app)
    assert (job(ok).state, job(ok).progress) == ("done", "halfway")
    assert db.session.get(Setting, "job-test-2").value == "written by a job"  # committed when done


def test_cancel_a_queued_job_and_a_running_one(app, job, calls):
    queued = _enqueue("test.echo", {"n": 1})
    jobs.cancel(queued)
    db.session.commit()
    assert job(queued).state == "cancelled"

    running = _enqueue("test.cancel_self")
    jobs.run_pending(app)
    assert calls("test.echo") == []
    assert [p["step"] for _, _, p in calls("test.cancel_self")] == [1, 2]  # stopped at its next step
    cancelled = job(running)
    assert cancelled.state == "cancelled" and cancelled.progress == "step 1/5"

    with pytest.raises(InvalidState):
        done = _enqueue("test.echo", {"n": 2})
        jobs.run_pending(app)
        jobs.cancel(done)
    db.session.rollback()


def _make_running(job_id: int, *, attempts: int, lease_seconds: float, worker="dead-host:1") -> None:
    db.session.commit()
    t = jobs.Job.__table__
    with db.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.id == job_id).values(
            state="running", attempts=attempts, worker=worker, started_at=utcnow(),
            lease_until=utcnow() + timedelta(seconds=lease_seconds)))


def test_a_job_of_a_dead_worker_is_resumed_after_its_lease(app, job, calls):
    job_id = _enqueue("test.echo", {"n": 5})
    _make_running(job_id, attempts=1, lease_seconds=30)  # a worker holds it, lease still valid
    assert jobs.run_pending(app) == 0  # not taken from a live worker

    _make_running(job_id, attempts=1, lease_seconds=-1)  # its worker was killed: the lease ran out
    assert jobs.run_pending(app) == 1
    resumed = job(job_id)
    assert (resumed.state, resumed.attempts) == ("done", 2)
    assert calls("test.echo") == [(job_id, 2, {"n": 5})]  # the handler knows it is resumed

    given_up = _enqueue("test.echo", {"n": 6}, max_attempts=2)
    _make_running(given_up, attempts=2, lease_seconds=-1)  # died during its last attempt
    assert jobs.run_pending(app) == 0
    failed = job(given_up)
    assert failed.state == "failed" and failed.active_key is None
    assert failed.error == "后台进程在第 2 次（共 2 次）尝试时停止，已放弃。"  # stored in the default language


def test_sync_mode_runs_after_the_commit_and_not_on_rollback(app, job, calls):
    app.config["JOBS_RUNNER"] = "sync"
    jobs.enqueue("test.echo", {"n": 1})
    assert calls("test.echo") == []  # not before the commit
    db.session.rollback()
    assert calls("test.echo") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(jobs.Job)) == 0

    job_id = jobs.enqueue("test.echo", {"n": 2}).id
    assert calls("test.echo") == []
    db.session.commit()
    assert calls("test.echo") == [(job_id, 1, {"n": 2})]
    assert job(job_id).state == "done"


def test_delayed_jobs_wait(app, job, calls, time_passes):
    job_id = _enqueue("test.echo", {"n": 1}, delay=3600)
    assert jobs.run_pending(app) == 0
    time_passes(job_id)
    assert jobs.run_pending(app) == 1


def test_thread_mode_runs_jobs_in_the_background_after_the_commit(app, job, calls):
    from portal.jobs.runner import runner_for
    app.config.update(JOBS_RUNNER="thread", JOBS_POLL_SECONDS=30)  # the wake-up, not the poll, runs it
    try:
        job_id = _enqueue("test.echo", {"n": 9})
        deadline = time.monotonic() + 20
        while job(job_id).state != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job(job_id).state == "done"
        assert calls("test.echo") == [(job_id, 1, {"n": 9})]
    finally:
        runner_for(app).stop(wait=10)


def test_healthz_reports_jobs_and_a_stalled_queue(app, client, time_passes):
    body = client.get("/healthz").get_json()
    assert body["components"]["jobs"]["ok"] is True
    assert body["components"]["jobs"]["counts"]["queued"] == 0

    job_id = _enqueue("test.echo", {"n": 1})
    t = jobs.Job.__table__
    with db.engine.begin() as conn:  # nobody took it for an hour: no worker is running
        conn.execute(sa.update(t).where(t.c.id == job_id).values(run_after=utcnow() - timedelta(hours=1)))
    response = client.get("/healthz")
    state = response.get_json()["components"]["jobs"]
    assert response.status_code == 503
    assert state["ok"] is False and state["error"] == "stalled"
    assert state["counts"]["queued"] == 1 and state["oldest_queued_seconds"] >= 3600


def test_portal_jobs_lists_recent_jobs_and_retries_a_failed_one(app, job):
    import jobs_testing_handlers as handlers
    handlers.BROKEN.add("x")
    failed = _enqueue("test.flaky", {"name": "x"})
    jobs.run_pending(app)
    runner = app.test_cli_runner()

    listing = runner.invoke(args=["jobs"])
    assert listing.exit_code == 0, listing.output
    assert "test.flaky" in listing.output and "failed" in listing.output

    handlers.BROKEN.clear()
    retried = runner.invoke(args=["jobs", "retry", str(failed)])
    assert retried.exit_code == 0, retried.output
    assert job(failed).state == "queued"
    refused = runner.invoke(args=["jobs", "retry", str(failed)])
    assert refused.exit_code != 0
