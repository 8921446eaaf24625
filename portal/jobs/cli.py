"""``portal worker`` (runs background jobs) and ``portal jobs`` (lists them; retry, cancel)."""
from __future__ import annotations

import logging
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from portal.jobs.models import STATES


def _log_to_stderr() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("portal.jobs").setLevel(logging.INFO)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run what is due, then exit.")
@click.option("--name", default=None, help="A name for this worker (shown on running jobs).")
@click.option("--threads", default=None, type=int,
              help="Jobs run at once (default JOBS_THREADS; without Redis only).")
@click.option("--watch", "watch_dir", default=None, envvar="PORTAL_INTAKE_WATCH_DIR",
              help="Also take the files a scanner drops into this folder into intake (portal intake watch).")
@click.option("--watch-as", "watch_user", default=None, envvar="PORTAL_INTAKE_WATCH_USER",
              help="The user the watched folder's files are received for (e.g. archivist).")
@with_appcontext
def worker_command(burst: bool, name: str | None, threads: int | None, watch_dir: str | None,
                   watch_user: str | None):
    """Run background jobs until stopped (SIGTERM/Ctrl+C: the running job goes back to the queue
    at its next step; a second signal exits at once and the job is resumed after its lease).

    Without REDIS_URL the worker polls the database every JOBS_POLL_SECONDS; with it, an RQ
    worker receives job ids from Redis and a reconcile pass re-pushes jobs Redis lost."""
    from portal.jobs import redisq, runner

    _log_to_stderr()
    app = current_app._get_current_object()
    if watch_dir and not burst:
        _start_watcher(app, watch_dir, watch_user)
    if app.config.get("REDIS_URL"):
        ran = redisq.work(app, name=name, burst=burst)
    else:
        ran = runner.work(app, name=name, burst=burst, threads=threads)
    if burst:
        click.echo(f"{ran} job(s) run.")


def _start_watcher(app, folder: str, username: str | None) -> None:
    """The watched intake folder, in a daemon thread of this worker."""
    import threading

    import sqlalchemy as sa

    from portal.auth.models import User
    from portal.extensions import db
    from portal.intake.watch import Watcher

    if not username:
        raise click.ClickException("--watch needs --watch-as USER (or PORTAL_INTAKE_WATCH_USER)")
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.ClickException(f"no active user {username!r}")
    watcher = Watcher(folder, user.id)
    db.session.remove()

    def run() -> None:
        with app.app_context():
            watcher.run()

    threading.Thread(target=run, name="intake-watch", daemon=True).start()
    click.echo(f"watching {folder} for {username}")


@click.group("jobs", invoke_without_command=True)
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--kind", default=None, help="Only jobs of this kind.")
@click.option("--limit", default=30, show_default=True, type=int)
@with_appcontext
@click.pass_context
def jobs_group(ctx, state: str | None, kind: str | None, limit: int):
    """List recent background jobs with their state, progress and error."""
    if ctx.invoked_subcommand is not None:
        return
    from portal.extensions import db
    from portal.jobs.models import Job

    query = sa.select(Job).order_by(Job.id.desc()).limit(limit)
    if state:
        query = query.where(Job.state == state)
    if kind:
        query = query.where(Job.kind == kind)
    rows = list(db.session.scalars(query))
    if not rows:
        click.echo("No jobs.")
        return
    click.echo(f"{'id':>6}  {'kind':<18} {'state':<9} {'try':>5}  {'created (UTC)':<19}  progress / error")
    for job in rows:
        note = job.progress
        if job.error:
            note = f"{note} — {job.error}" if note else job.error
        if job.state == "running" and job.worker:
            note = f"{note} [{job.worker}]"
        click.echo(f"{job.id:>6}  {job.kind[:18]:<18} {job.state:<9} {job.attempts:>2}/{job.max_attempts:<2}  "
                   f"{job.created_at:%Y-%m-%d %H:%M:%S}  {note}")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@with_appcontext
def jobs_retry(job_id: int):
    """Queue a failed job again."""
    _change("retry", job_id)


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
@with_appcontext
def jobs_cancel(job_id: int):
    """Cancel a queued or running job (a running one stops at its next step)."""
    _change("cancel", job_id)


def _change(action: str, job_id: int) -> None:
    from portal import jobs
    from portal.errors import PortalError
    from portal.extensions import db

    try:
        job = getattr(jobs, action)(job_id)
        db.session.commit()
    except PortalError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    click.echo(f"Job {job.id}: {job.state}.")
