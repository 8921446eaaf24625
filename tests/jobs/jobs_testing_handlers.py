"""Job handlers for tests/jobs (imported by the tests, and by ``portal worker`` subprocesses through
``PORTAL_JOBS_MODULES``)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import jobs
from portal.errors import ValidationFailed
from portal.extensions import db

CALLS: list[tuple[str, int, int, dict]] = []  # (kind, job id, attempt, payload)
BROKEN: set[str] = set()  # payload "name"s whose handler fails
TRANSIENT: set[str] = set()  # payload "name"s whose handler asks to be retried
_lock = threading.Lock()


def _called(kind, ctx, payload) -> None:
    with _lock:
        CALLS.append((kind, ctx.job_id, ctx.attempt, payload))


@jobs.handler("test.echo")
def echo(ctx, payload):
    _called("test.echo", ctx, payload)
    if payload.get("sleep"):
        time.sleep(payload["sleep"])
    ctx.progress(f"echo {payload.get('n', '')}")


@jobs.handler("test.flaky")
def flaky(ctx, payload):
    _called("test.flaky", ctx, payload)
    name = payload["name"]
    if name in TRANSIENT:
        raise jobs.Retry(60, "store down")
    if name in BROKEN:
        raise ValidationFailed(_l("The scan is damaged."))
    ctx.progress("all pages read")


@jobs.handler("test.crash")
def crash(ctx, payload):
    _called("test.crash", ctx, payload)
    raise ValueError("bad value on page 3")


@jobs.handler("test.writes")
def writes(ctx, payload):
    """Writes in the handler's session, shows progress mid-way, then returns or raises."""
    from portal.admin.models import Setting
    _called("test.writes", ctx, payload)
    db.session.add(Setting(key=payload["key"], value="written by a job"))
    db.session.flush()
    ctx.progress("halfway")
    if payload.get("fail"):
        raise RuntimeError("failed after writing")


@jobs.handler("test.cancel_self")
def cancel_self(ctx, payload):
    """Steps; at step 2 a user (another app context = another request) cancels the job."""
    for step in range(1, 6):
        _called("test.cancel_self", ctx, {"step": step})
        if step == 2:
            with current_app.app_context():
                jobs.cancel(ctx.job_id)
                db.session.commit()
        ctx.progress(f"step {step}/5")


@jobs.handler("test.steps")
def steps(ctx, payload):
    """A resumable handler: keeps its checkpoint in ``payload["dir"]`` and logs each step there,
    sleeping ``payload["sleep"]`` seconds per step (runs in ``portal worker`` subprocesses)."""
    folder = Path(payload["dir"])
    checkpoint = folder / "checkpoint"
    done = int(checkpoint.read_text()) if checkpoint.exists() else 0
    total = int(payload["steps"])
    with (folder / "log").open("a") as log:
        log.write(f"start attempt={ctx.attempt} from={done}\n")
    for step in range(done + 1, total + 1):
        time.sleep(float(payload["sleep"]))
        with (folder / "log").open("a") as log:
            log.write(f"step {step} attempt={ctx.attempt}\n")
        tmp = folder / "checkpoint.tmp"
        tmp.write_text(str(step))
        tmp.replace(checkpoint)
        ctx.progress(f"step {step}/{total}")
