"""``portal worker`` processes: stopped with SIGTERM (the job goes back to the queue at its next
step), killed with SIGKILL mid-job (another worker resumes it once the lease ran out, from the
handler's own checkpoint); and delivery through Redis (RQ) against the real Redis on 6379."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal import jobs
from portal.extensions import db

HERE = Path(__file__).resolve().parent
REDIS_URL = "redis://127.0.0.1:6379/15"


def _enqueue(kind, payload=None, **kw):
    job_id = jobs.enqueue(kind, payload or {}, **kw).id
    db.session.commit()
    return job_id


def _wait_until(condition, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- worker processes -------------------------------------------------------------------------

PORTAL = Path(sys.executable).parent / "portal"


@pytest.fixture
def worker_env(database_url, tmp_path):
    """The environment of a ``portal worker`` on the test's database, with the test handlers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "PORTAL_SECRET_KEY": "test-secret",
        "PORTAL_JOBS_MODULES": "jobs_testing_handlers",
        "PORTAL_JOBS_LEASE_SECONDS": "2",
        "PORTAL_JOBS_POLL_SECONDS": "0.3",
        "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p),
    })
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path):
    """``start_worker("name")`` → a running ``portal worker --name name`` process."""
    procs: list[subprocess.Popen] = []

    def _start(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([str(PORTAL), "worker", "--name", name], env=worker_env, stdout=log,
                                stderr=subprocess.STDOUT)
        proc.log = log
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.log.close()


def _checkpoint(folder: Path) -> int:
    try:
        return int((folder / "checkpoint").read_text())
    except (FileNotFoundError, ValueError):
        return 0


@pytest.mark.slow
def test_a_stopped_or_killed_worker_leaves_its_job_to_the_next_one(app, job, start_worker, tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    steps = 20
    job_id = _enqueue("test.steps", {"dir": str(folder), "steps": steps, "sleep": 0.15})

    # SIGTERM: the running job goes back to the queue at its next step, not counted as an attempt
    first = start_worker("first")
    _wait_until(lambda: _checkpoint(folder) >= 2, 60, "the first steps", first)
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    released = job(job_id)
    assert (released.state, released.attempts, released.worker) == ("queued", 0, None)
    assert released.error  # "the worker stopped; resumed"
    at_stop = _checkpoint(folder)
    assert released.progress == f"step {at_stop}/{steps}"

    # SIGKILL mid-job: nothing is written; the job stays "running" until its lease runs out
    second = start_worker("second")
    _wait_until(lambda: _checkpoint(folder) >= at_stop + 2, 60, "steps of the second worker", second)
    second.kill()
    second.wait(10)
    orphaned = job(job_id)
    assert orphaned.state == "running" and orphaned.worker.startswith("second")
    at_kill = _checkpoint(folder)

    third = start_worker("third")
    _wait_until(lambda: job(job_id).state == "done", 60, "the third worker to finish", third)
    third.send_signal(signal.SIGTERM)
    assert third.wait(30) == 0

    done = job(job_id)
    assert (done.attempts, done.progress, done.error) == (2, f"step {steps}/{steps}", "")
    assert done.worker.startswith("third")
    log = (folder / "log").read_text().splitlines()
    starts = [line for line in log if line.startswith("start")]
    assert starts == ["start attempt=1 from=0", f"start attempt=1 from={at_stop}",
                      f"start attempt=2 from={at_kill}"]  # each run continued from its checkpoint
    done_steps = {int(line.split()[1]) for line in log if line.startswith("step")}
    assert done_steps == set(range(1, steps + 1))
    first_of_attempt_2 = next(line for line in log if line.endswith("attempt=2") and line.startswith("step"))
    assert first_of_attempt_2 == f"step {at_kill + 1} attempt=2"


def test_portal_worker_burst_runs_what_is_due_and_exits(app, job, worker_env):
    ids = [_enqueue("test.echo", {"n": i}) for i in range(3)]
    result = subprocess.run([str(PORTAL), "worker", "--burst"], env=worker_env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "3 job(s) run." in result.stdout
    assert {job(i).state for i in ids} == {"done"}


# --- Redis (RQ) -------------------------------------------------------------------------------

@pytest.fixture
def redis_app(app):
    """The app delivering job ids through the real Redis, in a queue of this test's own."""
    import redis
    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        conn.ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    name = f"portal-test-{uuid.uuid4().hex[:10]}"
    app.config.update(REDIS_URL=REDIS_URL, JOBS_QUEUE=name)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}  # RQ installs its own
    yield app
    for s, handler in saved.items():
        signal.signal(s, handler)
    for key in conn.scan_iter(f"*{name}*"):
        conn.delete(key)
    conn.srem("rq:queues", f"rq:queue:{name}")
    conn.close()


def _burst(app) -> int:
    from portal.jobs import redisq
    return redisq.work(app, burst=True, logging_level="WARNING")


def test_redis_delivers_the_job_and_the_database_keeps_its_state(redis_app, job, calls):
    from portal.jobs import redisq
    job_id = _enqueue("test.echo", {"n": 1})
    assert redisq.queue(redis_app).count == 1  # pushed after the commit
    assert job(job_id).state == "queued"  # the database has the state

    assert _burst(redis_app) == 1
    done = job(job_id)
    assert (done.state, done.progress) == ("done", "echo 1")
    assert calls("test.echo") == [(job_id, 1, {"n": 1})]

    redisq.push(redis_app, [job_id])  # delivered again (a duplicate push, a reconcile race)
    assert _burst(redis_app) == 1
    assert len(calls("test.echo")) == 1  # the claim refused it: no second run
    assert job(job_id).state == "done"


def test_nothing_is_pushed_on_rollback(redis_app):
    from portal.jobs import redisq
    jobs.enqueue("test.echo", {"n": 1})
    db.session.rollback()
    assert redisq.queue(redis_app).count == 0


def test_a_job_lost_by_redis_is_pushed_again_by_reconcile(redis_app, job, calls):
    import redis

    from portal.jobs import redisq
    job_id = _enqueue("test.echo", {"n": 2})
    conn = redis.Redis.from_url(REDIS_URL)
    conn.delete(redisq.queue(redis_app).key, f"rq:job:{redisq.rq_id(redis_app, job_id)}")  # Redis restarted
    assert redisq.queue(redis_app).count == 0

    assert redisq.reconcile(redis_app) == 1
    assert redisq.reconcile(redis_app) == 0  # waiting in Redis now: not pushed twice
    assert _burst(redis_app) == 1
    assert job(job_id).state == "done"
    assert calls("test.echo") == [(job_id, 1, {"n": 2})]


def test_a_retry_that_becomes_due_is_pushed_by_reconcile(redis_app, job, calls, time_passes):
    import jobs_testing_handlers as handlers

    from portal.jobs import redisq
    handlers.TRANSIENT.add("r")
    job_id = _enqueue("test.flaky", {"name": "r"})
    assert _burst(redis_app) == 1
    assert (job(job_id).state, job(job_id).attempts) == ("queued", 1)
    assert redisq.reconcile(redis_app) == 0  # not due yet

    handlers.TRANSIENT.clear()
    time_passes(job_id)
    assert _burst(redis_app) == 1  # the burst worker reconciles first
    assert (job(job_id).state, job(job_id).attempts) == ("done", 2)


def test_redis_down_the_job_waits_in_the_database(app, job, client, caplog):
    app.config.update(REDIS_URL="redis://127.0.0.1:1/0", JOBS_QUEUE="portal-test-down")
    with caplog.at_level(logging.WARNING, logger="portal.jobs"):
        job_id = _enqueue("test.echo", {"n": 3})  # the commit stands
    assert job(job_id).state == "queued"
    assert any("not pushed to Redis" in r.getMessage() for r in caplog.records)
    state = client.get("/healthz").get_json()["components"]["jobs"]
    assert state["ok"] is False and state["redis"] == "unreachable"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(jobs.Job)) == 1
