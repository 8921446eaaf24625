"""Delivery of job ids through Redis (RQ), when ``REDIS_URL`` is set.

The database stays the record of every job's state and progress; Redis only carries ids to the
``portal worker`` processes (any number, on any machine sharing the database and Redis):

- after the commit that enqueued (or retried) a job, its id is pushed to the RQ queue
  ``JOBS_QUEUE`` as the RQ job ``<queue>-<id>`` calling ``deliver(id)``;
- ``deliver`` claims the job with the same conditional UPDATE as every runner: a second delivery
  of a job that is running, done or cancelled changes nothing (a no-op);
- each worker reconciles every ``JOBS_POLL_SECONDS``: it reclaims jobs of dead workers and pushes
  again every due queued job whose id is not waiting in Redis — lost because Redis keeps nothing
  on disk here and restarted, pushed while Redis was down, a retry that became due, or reclaimed.

Workers are RQ ``SimpleWorker``s: the job runs in the worker process itself. RQ's default
``Worker`` forks a child per job; SQLAlchemy's pooled connections (SQLite handles, PostgreSQL
sockets) must not cross a fork, the lease keeper and reconcile threads do not survive one, and the
OCR models would be loaded again for every job. A crashed worker is covered by the lease instead:
its job is reclaimed and resumed by another worker.
"""
from __future__ import annotations

import logging
import re
import threading

import sqlalchemy as sa

from portal.extensions import db
from portal.jobs import runner
from portal.jobs.models import QUEUED, Job
from portal.models_base import utcnow

log = logging.getLogger("portal.jobs")
T = Job.__table__

_connections: dict[str, object] = {}
_worker_app = None  # the app of this ``portal worker`` process (``deliver`` runs in it)
_worker_name: str | None = None
_stop = threading.Event()
_deliveries = 0  # RQ deliveries run by this process (claimed or not)


def connection(app):
    """A Redis client for ``REDIS_URL`` (one per URL and process)."""
    from redis import Redis
    url = app.config["REDIS_URL"]
    conn = _connections.get(url)
    if conn is None:
        conn = _connections[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10,
                                                  health_check_interval=30)
    return conn


def queue_name(app) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", str(app.config.get("JOBS_QUEUE") or "portal-jobs"))


def queue(app):
    from rq import Queue
    return Queue(queue_name(app), connection=connection(app), default_timeout=-1)


def rq_id(app, job_id: int) -> str:
    return f"{queue_name(app)}-{job_id}"


def push(app, ids) -> int:
    """Put job ids on the RQ queue; returns how many. Redis errors propagate (callers log them:
    the jobs stay queued in the database and the next reconcile pushes them)."""
    q = queue(app)
    n = 0
    for job_id in ids:
        q.enqueue_call("portal.jobs.redisq.deliver", args=(int(job_id),), job_id=rq_id(app, job_id),
                       timeout=-1, result_ttl=0, failure_ttl=24 * 3600,
                       description=f"portal job {job_id}")
        n += 1
    return n


def push_after_commit(app, ids) -> None:
    try:
        push(app, ids)
    except Exception as exc:  # noqa: BLE001 - the job is safe in the database; reconcile re-pushes it
        log.warning("jobs %s queued in the database but not pushed to Redis (%r); a worker's "
                    "reconcile will push them", list(ids), exc)


def reconcile(app, limit: int = 500) -> int:
    """Reclaim jobs of dead workers, then push every due queued job that is not waiting in Redis.
    Returns how many were pushed."""
    runner.reclaim(app)
    with app.app_context():
        now = utcnow()
        with db.engine.connect() as conn:
            ids = list(conn.scalars(sa.select(T.c.id).where(T.c.state == QUEUED, T.c.run_after <= now)
                                    .order_by(T.c.run_after, T.c.id).limit(limit)))
    if not ids:
        return 0
    redis = connection(app)
    key = queue(app).key
    pipe = redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.lpos(key, rq_id(app, job_id))
    missing = [job_id for job_id, pos in zip(ids, pipe.execute(), strict=True) if pos is None]
    if missing:
        log.info("reconcile: pushing %d queued job(s) not waiting in Redis: %s", len(missing), missing[:20])
        push(app, missing)
    return len(missing)


def deliver(job_id: int) -> bool:
    """The RQ job: claim and run portal job ``job_id`` (a no-op when it cannot be claimed)."""
    global _deliveries
    _deliveries += 1
    app = _worker_app
    if app is None:  # run by a plain ``rq worker``: build the app once
        from portal import create_app
        app = _set_worker_app(create_app({"SEARCH_WRITER": "manual"}))
    return runner.run_one(app, job_id, _worker_name, _stop)


def _set_worker_app(app):
    global _worker_app
    _worker_app = app
    return app


def _worker_class():
    from rq.timeouts import BaseDeathPenalty
    from rq.worker import SimpleWorker

    class NoDeathPenalty(BaseDeathPenalty):
        """No RQ time limit: a job may take minutes; liveness is the lease's business. (RQ's default
        uses SIGALRM, which works in the main thread only.)"""

        def setup_death_penalty(self):
            pass

        def cancel_death_penalty(self):
            pass

    class PortalWorker(SimpleWorker):
        death_penalty_class = NoDeathPenalty

        def subscribe(self):
            # RQ's command channel (``rq`` CLI: shutdown, kill-horse), listened to in a thread that
            # waits up to ``sleep_time`` per round; with redis-py 8 ``unsubscribe`` joins it
            # without a bound, so RQ's 60 s made every stop (and each burst) last up to a minute.
            self.pubsub = self.connection.pubsub()
            self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
            self.pubsub_thread = self.pubsub.run_in_thread(
                sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler)

        def request_stop(self, signum, frame):
            # RQ's warm shutdown waits for the job; ours also asks the handler to stop at its next
            # step, so that its job goes back to the queue at once.
            _stop.set()
            super().request_stop(signum, frame)

    return PortalWorker


def work(app, *, name: str | None = None, burst: bool = False, logging_level: str = "INFO") -> int:
    """``portal worker`` with Redis: an RQ SimpleWorker plus a reconcile thread. ``burst``: run
    what is due and waiting, then return. Returns how many RQ deliveries ran."""
    global _worker_name
    _set_worker_app(app)
    _stop.clear()
    _worker_name = runner.worker_name(name)
    with app.app_context():
        runner.load_modules(app)
    w = _worker_class()([queue(app)], connection=connection(app), name=_worker_name.replace(":", "_"))
    poll = float(app.config.get("JOBS_POLL_SECONDS", 2))
    delivered = 0
    if burst:
        while True:
            pushed = reconcile(app)
            before = _deliveries
            w.work(burst=True, logging_level=logging_level)
            ran = _deliveries - before
            delivered += ran
            if (not pushed and not ran) or _stop.is_set():
                return delivered
    done = threading.Event()

    def reconciling():
        while not done.wait(poll):
            try:
                reconcile(app)
            except Exception:  # noqa: BLE001 - Redis or the database is down: try again later
                log.warning("reconcile failed; trying again", exc_info=True)

    try:
        reconcile(app)
    except Exception:  # noqa: BLE001
        log.warning("reconcile failed; trying again", exc_info=True)
    thread = threading.Thread(target=reconciling, name="jobs-reconcile", daemon=True)
    thread.start()
    log.info("worker %s: RQ queue %s at %s", _worker_name, queue_name(app),
             connection(app).connection_pool.connection_kwargs.get("host"))
    before = _deliveries
    try:
        w.work(logging_level=logging_level)
    finally:
        done.set()
    return _deliveries - before


def ping(app) -> bool:
    try:
        return bool(connection(app).ping())
    except Exception:  # noqa: BLE001
        return False
