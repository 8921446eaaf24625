"""Claiming, running, leases and reclaiming; the embedded runner thread and the polling worker.

Every state change of a job is one short transaction on a connection of its own (never the
handler's ``db.session``) and a *conditional* UPDATE:

- claim: ``… SET state='running', attempts=attempts+1 WHERE id=? AND state='queued' AND
  run_after<=now`` — of two runners (threads, processes, machines) exactly one gets the row;
- progress, heartbeat, lease renewal and the outcome: ``… WHERE id=? AND state='running' AND
  worker=? AND attempts=?`` — a runner that lost its job (cancelled, or reclaimed after its lease
  ran out) changes nothing and its handler is stopped at its next ``ctx.progress``;
- reclaim: ``… WHERE id=? AND state='running' AND lease_until<now``.

While a handler runs, a lease keeper thread renews the lease every third of
``JOBS_LEASE_SECONDS``: the lease runs out only when the process is gone (killed, machine
rebooted, frozen), never because one step of a live handler was slow.
"""
from __future__ import annotations

import atexit
import importlib
import json
import logging
import os
import random
import signal
import socket
import string
import threading
import time
import weakref
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from portal.errors import PortalError
from portal.extensions import db
from portal.jobs.models import DONE, FAILED, PROGRESS_MAX, QUEUED, RUNNING, Job
from portal.models_base import utcnow

log = logging.getLogger("portal.jobs")
T = Job.__table__

HANDLERS: dict[str, object] = {}
EXIT_WAIT_SECONDS = 10  # how long an exiting process waits for its running handlers' next step
_loaded_modules: set[str] = set()
_load_lock = threading.Lock()


# --- handlers and their outcomes ----------------------------------------------------------------

def handler(kind: str):
    """Register ``fn(ctx, payload)`` as the handler of jobs of ``kind``."""
    def register(fn):
        existing = HANDLERS.get(kind)
        if existing is not None and _qualname(existing) != _qualname(fn):
            raise ValueError(f"job kind {kind!r} already has a handler: {_qualname(existing)}")
        HANDLERS[kind] = fn
        return fn
    return register


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"


class Retry(Exception):  # noqa: N818 - it is a request, not an error
    """Raised by a handler: run me again in ``delay`` seconds (a transient problem, e.g. the store
    is down). Counts as an attempt: after ``max_attempts`` the job fails with ``reason``."""

    def __init__(self, delay: float = 30, reason: str = ""):
        super().__init__(reason or f"retry in {delay} s")
        self.delay = max(0.0, float(delay))
        self.reason = str(reason)


class Interrupted(BaseException):
    """Stops a handler from ``ctx.progress``/``ctx.heartbeat``. A BaseException so that a handler's
    ``except Exception`` does not swallow it."""


class WorkerStopping(Interrupted):
    """The worker is shutting down (SIGTERM): the job goes back to the queue at once, where this
    or another worker resumes it."""


class JobLost(Interrupted):
    """The job is no longer this runner's: it was cancelled, or reclaimed after the lease ran out."""


def load_modules(app) -> None:
    """Import the handler modules named in ``JOBS_MODULES`` (once per process)."""
    names = app.config.get("JOBS_MODULES") or []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    with _load_lock:
        for name in names:
            if name not in _loaded_modules:
                importlib.import_module(name)
                _loaded_modules.add(name)


# --- small transactions of the runner's own -------------------------------------------------------

@contextmanager
def _write():
    """A short write transaction on a connection of its own (``BEGIN IMMEDIATE`` on SQLite)."""
    from portal.dbsetup import mark_write_transaction
    mark_write_transaction()
    with db.engine.begin() as conn:
        yield conn


def _lease(app) -> float:
    return float(app.config.get("JOBS_LEASE_SECONDS", 60))


def _mine(job_id: int, worker: str, attempt: int):
    return sa.and_(T.c.id == job_id, T.c.state == RUNNING, T.c.worker == worker, T.c.attempts == attempt)


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def worker_name(base: str | None = None) -> str:
    """A name unique to this process: ``host:pid-xxxx`` (or ``base-xxxx``)."""
    tag = "".join(random.choices(string.ascii_lowercase + string.digits, k=4))
    return f"{base[:100]}-{tag}" if base else f"{socket.gethostname()[:80]}:{os.getpid()}-{tag}"


# --- the handler's view of its job ---------------------------------------------------------------

class JobContext:
    """What a handler gets besides its payload: ``job_id``, ``attempt`` (1 on the first run; more
    after a retry or when resumed after a crashed worker), ``progress(text)``, ``heartbeat()``."""

    def __init__(self, app, job_id: int, kind: str, attempt: int, max_attempts: int, worker: str,
                 stop: threading.Event | None = None):
        self.app = app
        self.job_id = job_id
        self.kind = kind
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.worker = worker
        self._stop = stop
        self._lease = _lease(app)
        self._lock = threading.Lock()
        self._pending: str | None = None  # progress to be written by the keeper (see progress)
        self._beat = False  # a sign of life to be written by the keeper
        self._lost = False
        self._ended = threading.Event()
        self._wake = threading.Event()
        self._keeper: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """The worker is shutting down: a handler may check this between steps."""
        return bool(self._stop is not None and self._stop.is_set())

    def progress(self, text) -> None:
        """Show ``text`` (short, for people: "OCR 第 3/12 页") as the job's progress, note a sign of
        life and extend the lease — in a short transaction of its own: the handler's
        ``db.session`` work is neither committed nor disturbed.

        Call it between steps, after committing a step's results: it raises ``JobLost`` when the
        job was cancelled (or taken over) and ``WorkerStopping`` when the worker shuts down; the
        job is then resumed later from what was committed.
        """
        self._signal(_short(str(text), PROGRESS_MAX))

    def heartbeat(self) -> None:
        """A sign of life without new progress text (same checks as ``progress``)."""
        self._signal(None)

    def _signal(self, text: str | None) -> None:
        if self._lost:
            raise JobLost(self.job_id)
        if self._must_defer():
            # SQLite: the handler's session holds (or may hold) the database's write lock in this
            # very thread; writing here would wait for ourselves. The keeper writes it instead.
            with self._lock:
                if text is not None:
                    self._pending = text
                self._beat = True
            self._wake.set()
        elif not self._write_signal(text, handler=True):
            raise JobLost(self.job_id)
        if self.stopping:
            raise WorkerStopping(self.job_id)

    def _must_defer(self) -> bool:
        session = db.session()
        return session.get_bind().dialect.name == "sqlite" and session.in_transaction()

    def _write_signal(self, text: str | None, handler: bool) -> bool:
        now = utcnow()
        values: dict = {"lease_until": now + timedelta(seconds=self._lease)}
        if handler:
            values["heartbeat_at"] = now
        if text is not None:
            values["progress"] = text
        with _write() as conn:
            ok = conn.execute(sa.update(T).where(_mine(self.job_id, self.worker, self.attempt))
                              .values(**values)).rowcount == 1
        if not ok:
            self._lost = True
        return ok

    # the lease keeper: renews the lease while the handler runs, writes deferred progress
    def _start_keeper(self) -> None:
        self._keeper = threading.Thread(target=self._keep, name=f"job-{self.job_id}-lease", daemon=True)
        self._keeper.start()

    def _keep(self) -> None:
        interval = max(0.2, self._lease / 3)
        next_renewal = time.monotonic() + interval
        with self.app.app_context():
            while not self._ended.is_set() and not self._lost:
                self._wake.wait(max(0.0, next_renewal - time.monotonic()))
                self._wake.clear()
                if self._ended.is_set():
                    return
                with self._lock:
                    text, beat = self._pending, self._beat
                    self._pending, self._beat = None, False
                try:
                    self._write_signal(text, handler=beat)
                except Exception:  # noqa: BLE001 - the database may be briefly unreachable; try again
                    log.warning("job %s: could not renew its lease", self.job_id, exc_info=True)
                    with self._lock:
                        self._pending = self._pending or text
                        self._beat = self._beat or beat
                next_renewal = time.monotonic() + interval

    def _end(self) -> str | None:
        """Stop the keeper; the progress text it did not write yet."""
        self._ended.set()
        self._wake.set()
        if self._keeper is not None:
            self._keeper.join(timeout=60)
        with self._lock:
            return self._pending


# --- claim, run, outcome -----------------------------------------------------------------------

def due_ids(limit: int = 20) -> list[int]:
    now = utcnow()
    with db.engine.connect() as conn:
        return list(conn.scalars(sa.select(T.c.id).where(T.c.state == QUEUED, T.c.run_after <= now)
                                 .order_by(T.c.run_after, T.c.id).limit(limit)))


def _claim(app, job_id: int, worker: str):
    """Claim one job (atomic conditional UPDATE); its (kind, payload, attempts, max_attempts) or None."""
    now = utcnow()
    with _write() as conn:
        claimed = conn.execute(
            sa.update(T).where(T.c.id == job_id, T.c.state == QUEUED, T.c.run_after <= now)
            .values(state=RUNNING, attempts=T.c.attempts + 1, worker=worker, started_at=now,
                    heartbeat_at=now, lease_until=now + timedelta(seconds=_lease(app)))).rowcount == 1
        if not claimed:
            return None
        return conn.execute(sa.select(T.c.kind, T.c.payload, T.c.attempts, T.c.max_attempts)
                            .where(T.c.id == job_id)).one()


def run_one(app, job_id: int, worker: str | None = None, stop: threading.Event | None = None) -> bool:
    """Claim and run job ``job_id`` in this thread; False when it could not be claimed (already
    taken, finished, cancelled, not due yet, or unknown)."""
    worker = worker or worker_name()
    with app.app_context():
        load_modules(app)
        row = _claim(app, job_id, worker)
        if row is None:
            return False
        ctx = JobContext(app, job_id, row.kind, row.attempts, row.max_attempts, worker, stop)
        log.info("job %s (%s) attempt %s/%s started by %s", job_id, row.kind, row.attempts,
                 row.max_attempts, worker)
        ctx._start_keeper()
        outcome: dict | None = None
        try:
            fn = HANDLERS.get(row.kind)
            if fn is None:
                raise PortalError(_("No handler for jobs of kind %(kind)s.", kind=row.kind))
            fn(ctx, json.loads(row.payload or "{}"))
            db.session.commit()
            outcome = {"state": DONE}
        except WorkerStopping:
            db.session.rollback()
            outcome = _released()
        except JobLost:
            db.session.rollback()
            ctx._end()
            log.info("job %s: cancelled or taken over; this run's outcome is dropped", job_id)
        except (KeyboardInterrupt, SystemExit):
            db.session.rollback()
            _finish(ctx, _released())
            raise
        except Retry as exc:
            db.session.rollback()
            outcome = _retry_outcome(ctx, exc)
        except PortalError as exc:
            db.session.rollback()
            log.info("job %s failed: %s", job_id, exc.message)
            outcome = {"state": FAILED, "error": str(exc.message)}
        except Exception as exc:  # noqa: BLE001 - any handler error fails the job, with its traceback logged
            db.session.rollback()
            log.exception("job %s (%s) failed", job_id, row.kind)
            outcome = {"state": FAILED, "error": _short(f"{type(exc).__name__}: {exc}", 500)}
        finally:
            db.session.remove()
        if outcome is not None:
            _finish(ctx, outcome)
        return True


def _released() -> dict:
    """Back to the queue without counting the attempt (the worker was asked to stop)."""
    return {"state": QUEUED, "error": _("The worker stopped; resumed."), "uncount": True}


def _retry_outcome(ctx: JobContext, exc: Retry) -> dict:
    reason = exc.reason or _("temporary problem")
    if ctx.attempt >= ctx.max_attempts:
        return {"state": FAILED, "error": _("Gave up after %(n)d attempts: %(reason)s",
                                            n=ctx.attempt, reason=reason)}
    return {"state": QUEUED, "error": reason, "delay": exc.delay}


def _finish(ctx: JobContext, outcome: dict) -> None:
    pending = ctx._end()
    now = utcnow()
    values: dict = {"state": outcome["state"], "lease_until": None}
    if pending is not None:
        values["progress"] = pending
    if "error" in outcome:
        values["error"] = outcome["error"]
    if outcome["state"] == QUEUED:
        values.update(run_after=now + timedelta(seconds=outcome.get("delay", 0)), worker=None)
        if outcome.get("uncount"):
            values["attempts"] = T.c.attempts - 1
    else:
        values.update(finished_at=now, active_key=None)
        if outcome["state"] == DONE:
            values["error"] = ""
    with ctx.app.app_context(), _write() as conn:
        ok = conn.execute(sa.update(T).where(_mine(ctx.job_id, ctx.worker, ctx.attempt))
                          .values(**values)).rowcount == 1
    if ok:
        log.info("job %s → %s%s", ctx.job_id, outcome["state"],
                 f" ({outcome['error']})" if outcome.get("error") else "")
    else:
        log.warning("job %s: cancelled or taken over while running; outcome %s dropped",
                    ctx.job_id, outcome["state"])


def reclaim(app) -> int:
    """Running jobs whose lease ran out (their worker died): back to the queue, or failed when
    their attempts are used up. Returns how many were reclaimed."""
    with app.app_context():
        now = utcnow()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.select(T.c.id, T.c.attempts, T.c.max_attempts, T.c.worker).where(
                T.c.state == RUNNING, T.c.lease_until < now)).all()
        n = 0
        for row in rows:
            stale = sa.and_(T.c.id == row.id, T.c.state == RUNNING, T.c.lease_until < now,
                            T.c.attempts == row.attempts)
            if row.attempts >= row.max_attempts:
                values = {"state": FAILED, "finished_at": now, "active_key": None, "lease_until": None,
                          "error": _("The worker stopped during attempt %(n)d of %(max)d; given up.",
                                     n=row.attempts, max=row.max_attempts)}
            else:
                values = {"state": QUEUED, "run_after": now, "worker": None, "lease_until": None,
                          "error": _("The worker stopped; resumed.")}
            with _write() as conn:
                if conn.execute(sa.update(T).where(stale).values(**values)).rowcount == 1:
                    n += 1
                    log.warning("job %s: worker %s stopped (lease ran out) → %s", row.id, row.worker,
                                values["state"])
        return n


def run_pending(app, *, limit: int | None = None, worker: str | None = None,
                stop: threading.Event | None = None) -> int:
    """Run due jobs in this thread until none is due (or ``limit`` ran); returns how many ran.
    Reclaims jobs of dead workers first."""
    worker = worker or worker_name()
    reclaim(app)
    ran = 0
    while limit is None or ran < limit:
        if stop is not None and stop.is_set():
            break
        with app.app_context():
            ids = due_ids()
        if not ids:
            break
        progressed = False
        for job_id in ids:
            if run_one(app, job_id, worker, stop):
                ran += 1
                progressed = True
                break  # re-read: what is due (and its order) may have changed meanwhile
        if not progressed:
            continue  # others took them all: look again
    return ran


# --- the embedded runner: daemon threads in each portal process -----------------------------------

class Runner:
    """``JOBS_THREADS`` daemon threads that run due jobs when woken (after a commit that enqueued)
    and every ``JOBS_POLL_SECONDS`` (jobs enqueued by other processes, retries that became due,
    jobs of dead workers)."""

    def __init__(self, app, threads: int | None = None, name: str | None = None,
                 stop: threading.Event | None = None):
        self.app = app
        self.threads = max(1, int(threads or app.config.get("JOBS_THREADS", 1)))
        self.name = worker_name(name)
        self.stop_event = stop or threading.Event()
        self._events = [threading.Event() for _ in range(self.threads)]
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._exit_hook = False

    def start(self) -> Runner:
        with self._lock:
            if any(t.is_alive() for t in self._threads):
                return self
            self.stop_event.clear()
            with self.app.app_context():
                load_modules(self.app)
            self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True,
                                              name=f"jobs-runner-{i}") for i in range(self.threads)]
            for t in self._threads:
                t.start()
            if not self._exit_hook:
                # A process that exits (gunicorn restarting a worker, a deploy) releases its job at
                # the next step instead of leaving it for the lease to run out.
                atexit.register(self.stop, wait=EXIT_WAIT_SECONDS)
                self._exit_hook = True
        return self

    def wake(self) -> None:
        self.start()
        for e in self._events:
            e.set()

    def stop(self, wait: float | None = None) -> None:
        """Stop the threads: a running handler is stopped at its next step (its job goes back to
        the queue); wait for them at most ``wait`` seconds (None: as long as it takes)."""
        self.stop_event.set()
        for e in self._events:
            e.set()
        deadline = None if wait is None else time.monotonic() + wait
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _loop(self, i: int) -> None:
        poll = float(self.app.config.get("JOBS_POLL_SECONDS", 2))
        name = f"{self.name}/{i}" if self.threads > 1 else self.name
        event = self._events[i]
        while not self.stop_event.is_set():
            try:
                run_pending(self.app, worker=name, stop=self.stop_event)  # reclaims first
            except Exception:  # noqa: BLE001 - keep the thread alive; the jobs stay in the database
                log.exception("job runner: database trouble; trying again")
            event.wait(poll)
            event.clear()


_runners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_runners_lock = threading.Lock()


def runner_for(app) -> Runner:
    """This process's embedded runner for ``app``."""
    with _runners_lock:
        r = _runners.get(app)
        if r is None:
            r = _runners[app] = Runner(app)
        return r


# --- ``portal worker`` without Redis: poll the database ---------------------------------------------

def install_stop_signals(stop: threading.Event, on_stop=None) -> None:
    """SIGTERM/SIGINT: first ask the running handler to stop at its next step (its job goes back
    to the queue); a second signal exits at once (the job is reclaimed when its lease runs out)."""
    def first(signum, frame):
        log.warning("worker: stopping (signal %s); the running job is released at its next step",
                    signum)
        stop.set()
        if on_stop is not None:
            on_stop()
        signal.signal(signal.SIGTERM, second)
        signal.signal(signal.SIGINT, second)

    def second(signum, frame):
        log.warning("worker: stopping now (second signal)")
        raise SystemExit(1)

    signal.signal(signal.SIGTERM, first)
    signal.signal(signal.SIGINT, first)


def work(app, *, name: str | None = None, burst: bool = False, threads: int | None = None) -> int:
    """Run jobs until stopped (``burst``: until nothing is due). Returns how many ran."""
    stop = threading.Event()
    install_stop_signals(stop)
    with app.app_context():
        load_modules(app)
    if burst:
        return run_pending(app, worker=worker_name(name), stop=stop)
    r = Runner(app, threads=threads, name=name, stop=stop)
    log.info("worker %s: polling the database every %s s with %d thread(s)", r.name,
             app.config.get("JOBS_POLL_SECONDS", 2), r.threads)
    r.start()
    while r.alive():
        stop.wait(1)
        if stop.is_set():
            r.stop()
    return 0


def current_mode(app=None) -> str:
    """The runner mode in effect: thread | sync | manual | external. With ``REDIS_URL`` set,
    ``thread`` means ``external`` (web processes enqueue; ``portal worker`` processes run)."""
    app = app or current_app
    mode = str(app.config.get("JOBS_RUNNER") or "thread")
    if mode == "thread" and app.config.get("REDIS_URL"):
        return "external"
    return mode

