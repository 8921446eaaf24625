"""Background jobs: slow work (OCR, text extraction, …) runs outside the request, kept in the
database so that a restart loses nothing and resumes.

Writing a handler (a module listed in the config key ``JOBS_MODULES``, imported when a runner
starts)::

    from portal import jobs

    @jobs.handler("intake.process")
    def process(ctx: jobs.JobContext, payload: dict) -> None:
        for page in pages_not_done_yet(payload["item"]):   # idempotent: resumes where it was
            ...; db.session.commit()                        # keep each step's results
            ctx.progress(_("OCR page %(n)d/%(total)d", …))  # own short transaction; may raise
        # returning = done (the handler's uncommitted session work is committed first)

- raise ``jobs.Retry(delay, reason)`` for a transient problem (store down): run again after
  ``delay`` seconds; an attempt is counted and the job fails when ``max_attempts`` are used up;
- raise a ``portal.errors.PortalError``: failed, with its (user-facing, translated) message;
- any other exception: failed with "<ExceptionType>: <message>", the traceback goes to the log;
- ``ctx.job_id``, ``ctx.attempt`` (2 and more after a retry or a crashed worker: continue from the
  results kept so far), ``ctx.progress(text)`` (text for people, stored with a heartbeat and a
  lease extension in a short transaction of its own), ``ctx.heartbeat()``, ``ctx.stopping``.
  ``progress``/``heartbeat`` raise ``JobLost`` when the job was cancelled (or taken over) and
  ``WorkerStopping`` on worker shutdown — both BaseExceptions: let them pass.
- handlers must not change the ``job`` row themselves.

Using jobs from services (all in the caller's transaction; the caller commits)::

    enqueue(kind, payload, *, key=None, max_attempts=3, user=None, delay=0) -> Job
        # added to db.session; dispatched AFTER the commit (nothing on rollback). With a key,
        # while a queued or running job has that key, that job is returned instead.
    retry(job_id, actor=None) -> Job   # a failed job queued again with fresh attempts
    cancel(job_id) -> Job              # queued: at once; running: stopped at its next progress
    get(job_id) -> Job | None          # fresh from the database

Running (``JOBS_RUNNER``, env ``PORTAL_JOBS_RUNNER``):

- ``thread`` (default): ``JOBS_THREADS`` daemon threads in each portal process, woken after a
  commit that enqueued and polling every ``JOBS_POLL_SECONDS``;
- ``sync``: each job runs right after the enqueuing commit, in the committing thread (tests);
- ``manual``: nothing runs by itself; ``run_pending(app)`` runs what is due (tests, scripts);
- ``external``: web processes only enqueue; ``portal worker`` processes poll the database.
- With ``REDIS_URL`` (``PORTAL_REDIS_URL``): ids are delivered through an RQ queue to
  ``portal worker`` processes (``thread`` then means ``external``); see ``portal.jobs.redisq``.

``run_pending(app, *, limit=None) -> int`` runs due jobs in this thread; ``health(app) -> dict``
is the ``jobs`` component of /healthz. A running job holds a lease of ``JOBS_LEASE_SECONDS``,
renewed while its process lives; every runner reclaims jobs whose lease ran out (their worker was
killed): back to the queue ("the worker stopped; resumed") or failed once attempts are used up.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.errors import Conflict, InvalidState, NotFound
from portal.extensions import db
from portal.jobs.models import (
    ACTIVE,
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    KEY_MAX,
    QUEUED,
    RUNNING,
    STATES,
    Job,
)
from portal.jobs.runner import (
    JobContext,
    JobLost,
    Retry,
    WorkerStopping,
    current_mode,
    handler,
    run_one,
    run_pending,
    runner_for,
)
from portal.models_base import utcnow

__all__ = [
    "ACTIVE", "CANCELLED", "DONE", "FAILED", "FINISHED", "QUEUED", "RUNNING", "STATES",
    "Job", "JobContext", "JobLost", "Retry", "WorkerStopping",
    "cancel", "enqueue", "get", "handler", "health", "install", "retry", "run_pending", "start",
]

log = logging.getLogger("portal.jobs")
_DISPATCH = "jobs_dispatch"


# --- the API for services -----------------------------------------------------------------------

def enqueue(kind: str, payload: dict | None = None, *, key: str | None = None, max_attempts: int = 3,
            user=None, delay: float = 0) -> Job:
    """Add a job to ``db.session`` (the caller commits); it is dispatched after the commit."""
    session = db.session
    if key is not None:
        key = str(key)[:KEY_MAX]
        existing = _active_with_key(key)
        if existing is not None:
            return existing
    user = getattr(user, "user", user)  # an Actor or a User
    job = Job(kind=kind, payload=json.dumps(payload or {}, ensure_ascii=False, sort_keys=True),
              key=key, active_key=key, max_attempts=max(1, int(max_attempts)),
              created_by_id=getattr(user, "id", None), state=QUEUED, attempts=0, progress="", error="",
              created_at=utcnow(), run_after=utcnow() + timedelta(seconds=max(0.0, float(delay))))
    if key is None:
        session.add(job)
        session.flush()
    else:
        try:
            with session.begin_nested():  # another transaction may have enqueued the key meanwhile
                session.add(job)
                session.flush()
        except IntegrityError:
            existing = _active_with_key(key)
            if existing is None:
                raise
            return existing
    _dispatch_after_commit(session, job.id)
    return job


def _active_with_key(key: str) -> Job | None:
    return db.session.scalar(sa.select(Job).where(Job.active_key == key))


def get(job_id: int) -> Job | None:
    """The job as it is in the database now (progress changes while it runs)."""
    return db.session.get(Job, job_id, populate_existing=True)


def _require(job_id: int) -> Job:
    from portal.dbsetup import begin_write
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound(_("No such job."))
    begin_write(job)
    return job


def retry(job_id: int, actor=None) -> Job:
    """Queue a failed job again, with its attempts counted afresh (the "retry" button). In the
    caller's transaction (the caller records it in the register and commits)."""
    job = _require(job_id)
    if job.state != FAILED:
        raise InvalidState(_("Only a failed job can be retried."))
    if job.key is not None and _active_with_key(job.key) is not None:
        raise Conflict(_("Another job for the same item is already queued or running."))
    now = utcnow()
    job.state, job.attempts, job.error = QUEUED, 0, ""
    job.run_after, job.finished_at, job.worker, job.lease_until = now, None, None, None
    job.active_key = job.key
    db.session.flush()
    who = getattr(getattr(actor, "user", actor), "username", None)
    log.info("job %s (%s) queued again%s", job.id, job.kind, f" by {who}" if who else "")
    _dispatch_after_commit(db.session(), job.id)
    return job


def cancel(job_id: int) -> Job:
    """Cancel a queued job at once, a running one at its next ``ctx.progress`` (what it committed
    so far stays), a failed one so that it is not retried. In the caller's transaction."""
    job = _require(job_id)
    if job.state == DONE:
        raise InvalidState(_("The job has already finished."))
    if job.state != CANCELLED:
        job.state, job.finished_at, job.active_key, job.lease_until = CANCELLED, utcnow(), None, None
        db.session.flush()
    return job


# --- dispatching after the commit -----------------------------------------------------------------

def _dispatch_after_commit(session, job_id: int) -> None:
    session.info.setdefault(_DISPATCH, []).append(job_id)


def _after_commit(session: Session) -> None:
    ids = session.info.pop(_DISPATCH, None)
    if not ids:
        return
    try:
        app = current_app._get_current_object()
    except RuntimeError:  # outside the application: the runners poll the database
        return
    mode = current_mode(app)
    if app.config.get("REDIS_URL") and mode != "sync":
        from portal.jobs import redisq
        redisq.push_after_commit(app, _due(app, ids))
    if mode == "sync":
        for job_id in ids:
            try:
                run_one(app, job_id)
            except Exception:  # noqa: BLE001 - the commit stands; the job stays in the database
                log.exception("job %s: could not be run after the commit", job_id)
    elif mode == "thread":
        runner_for(app).wake()
    # "manual" and "external": the jobs wait in the database for run_pending / portal worker


def _due(app, ids) -> list[int]:
    """Of ``ids``, those due now (a delayed job is pushed by reconcile when it becomes due)."""
    with app.app_context(), db.engine.connect() as conn:
        return list(conn.scalars(sa.select(Job.id).where(Job.id.in_(ids), Job.state == QUEUED,
                                                         Job.run_after <= utcnow())))


def _after_soft_rollback(session: Session, previous) -> None:
    if getattr(previous, "nested", False):
        return  # a savepoint (enqueue's own, for instance): the transaction's jobs still stand
    session.info.pop(_DISPATCH, None)


def install() -> None:
    """Register the session hooks once per process (create_app)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)


def start(app) -> None:
    """Start this process's runner threads when the mode is ``thread`` (wsgi, ``portal run``):
    jobs left by a restart are resumed at once."""
    if current_mode(app) == "thread":
        runner_for(app).wake()


# --- health -------------------------------------------------------------------------------------

def health(app=None) -> dict:
    """Counts per state, age of the oldest due queued job, running jobs whose lease ran out or
    whose handler gave no sign of life for ``JOBS_STALL_SECONDS``, and Redis reachability."""
    app = app or current_app._get_current_object()
    stall = int(app.config.get("JOBS_STALL_SECONDS", 300))
    now = utcnow()
    out: dict = {"ok": True, "runner": current_mode(app)}
    counts = dict(db.session.execute(sa.select(Job.state, sa.func.count()).group_by(Job.state)).all())
    out["counts"] = {state: counts.get(state, 0) for state in STATES}
    oldest = db.session.scalar(sa.select(sa.func.min(Job.run_after)).where(
        Job.state == QUEUED, Job.run_after <= now))
    if oldest is not None:
        age = int((now - oldest).total_seconds())
        out["oldest_queued_seconds"] = age
        if age > stall:
            out["ok"] = False
            out["error"] = "stalled"  # nothing takes the queued jobs: no worker running?
    out["lease_expired"] = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(
        Job.state == RUNNING, Job.lease_until < now))
    out["silent"] = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(
        Job.state == RUNNING, Job.heartbeat_at < now - timedelta(seconds=stall)))
    if app.config.get("REDIS_URL"):
        from portal.jobs import redisq
        reachable = redisq.ping(app)
        out["redis"] = "reachable" if reachable else "unreachable"
        if not reachable:
            out["ok"] = False
            out.setdefault("error", "redis unreachable")
    return out
