"""The ``portal`` command: init, demo, run, user, token, register."""
from __future__ import annotations

import os
import sys
import time

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from portal.actor import cli_actor
from portal.auth import roles


def _create_app():
    from portal import create_app
    # Commands run no index-writer thread: what they change is indexed at their end (demo,
    # reindex) or by the server's writer, which polls the outbox.
    app = create_app({"SEARCH_WRITER": "manual"})
    if app.config.get("JOBS_RUNNER") == "thread":
        # Nor a job-runner thread (it would die with the command): jobs a command enqueues are
        # run by the server's runner threads or `portal worker`, which poll the database.
        app.config["JOBS_RUNNER"] = "external"
    return app


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main():
    """客户档案管理门户 — Customer Archive Portal."""


def register_cli(app) -> None:
    """Commands are attached to the app so ``flask --app portal`` sees them too."""
    for command in (init_command, demo_command, run_command, user_group, token_group, register_group,
                    verify_command, reindex_command, remind_command, intake_group):
        app.cli.add_command(command)
    from portal.jobs.cli import jobs_group, worker_command  # background jobs (issue 4)
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_group)
    from portal.backup.cli import backup_command, keys_group, restore_command  # backups (issue 7)
    for command in (backup_command, restore_command, keys_group):
        app.cli.add_command(command)
    from portal.destruction.cli import destruction_group  # destruction 销毁 (issue 7)
    app.cli.add_command(destruction_group)
    from portal.housekeeping.cli import housekeeping_command  # staging data housekeeping
    app.cli.add_command(housekeeping_command)


@click.command("init")
@click.option("--admin-user", envvar="PORTAL_ADMIN_USER", default="admin", show_default=True)
@click.option("--admin-password", envvar="PORTAL_ADMIN_PASSWORD", default=None)
@with_appcontext
def init_command(admin_user: str, admin_password: str | None):
    """Create or migrate the database, add reference data and the administrator."""
    from flask_migrate import upgrade

    from portal.auth import services
    from portal.auth.models import User
    from portal.extensions import db
    from portal.seed import department, seed_reference_data

    upgrade()
    seed_reference_data()
    if db.session.scalar(sa.select(User.id).where(User.username == admin_user)) is None:
        if not admin_password:
            admin_password = click.prompt(f"Password for {admin_user}", hide_input=True,
                                          confirmation_prompt=True)
        services.create_user(cli_actor(), username=admin_user, password=admin_password,
                             display_name="系统管理员", role=roles.ADMIN, clearance=roles.PUBLIC,
                             department_id=department("IT").id)
        click.echo(f"Administrator {admin_user} created.")
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("demo")
@click.option("--archives", default=50, show_default=True, help="How many demo archives.")
@with_appcontext
def demo_command(archives: int):
    """Load demo users (password from PORTAL_DEMO_PASSWORD) and demo archives."""
    from portal.demo import load_demo

    summary = load_demo(archives=archives, password=current_app.config["DEMO_PASSWORD"])
    click.echo(summary)
    from portal import jobs
    from portal.demo_intake import create_demo_intake
    if create_demo_intake():
        click.echo("Scan intake: a scanned batch with a cover sheet and a letter without archive number "
                   "sent; reading them (OCR) …")
        jobs.run_pending(current_app._get_current_object())
    # Retention reviews, a hold, destructions, handovers, an inspection, checks, a backup (issue 7)
    from portal.demo_oversight import create_demo_oversight
    click.echo(create_demo_oversight(current_app.config["DEMO_PASSWORD"]))
    from portal.search import indexing
    indexing.drain()  # builds the index when there is none yet
    click.echo("Search index up to date.")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's development server with reloader instead of gunicorn.")
def run_command(host: str, port: int, workers: int, dev: bool):
    """Serve the portal (gunicorn with threads; --dev for the development server)."""
    if dev:
        from portal import create_app
        from portal.search.indexing import worker
        app = create_app()
        worker(app).wake()
        from portal import jobs
        jobs.start(app)
        app.run(host=host, port=port, debug=True)
        return
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--threads", "4", "--access-logfile", "-",
            "--no-control-socket",  # gunicorn 27 shares one control socket between instances
            "portal.wsgi:app"]
    click.echo(f"Serving on http://{host}:{port}/")
    os.execv(sys.executable, argv)


@click.group("user")
def user_group():
    """Manage user accounts."""


@user_group.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(roles.ROLES), default=roles.STAFF, show_default=True)
@click.option("--clearance", type=click.IntRange(1, 3), default=2, show_default=True,
              help="1 = 一级 secret, 2 = 二级 internal, 3 = 三级 public")
@click.option("--department", "department_code", default=None, help="Department code, e.g. SAL.")
@click.option("--name", "display_name", default="")
@with_appcontext
def user_create(username, password, role, clearance, department_code, display_name):
    """Create a user account."""
    from portal.auth import services
    from portal.errors import PortalError
    from portal.seed import department

    dept = department(department_code) if department_code else None
    if department_code and dept is None:
        raise click.BadParameter(f"no department with code {department_code}")
    try:
        services.create_user(cli_actor(), username=username, password=password, role=role,
                             clearance=clearance, department_id=dept.id if dept else None,
                             display_name=display_name)
    except PortalError as exc:
        raise click.ClickException(str(exc.message)) from exc
    click.echo(f"User {username} created.")


@click.group("token")
def token_group():
    """API tokens."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True)
@click.option("--days", default=None, type=int, help="Validity in days (default from configuration).")
@with_appcontext
def token_create(username, name, days):
    """Create an API token for USERNAME and print it (shown only once)."""
    from portal.auth import services
    from portal.auth.models import User
    from portal.extensions import db

    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username}")
    click.echo(services.create_token(cli_actor(), user, name=name, days=days))


@click.group("register")
def register_group():
    """The access register."""


@register_group.command("verify")
@with_appcontext
def register_verify():
    """Re-check the hash chain; exit status 1 and the first broken entry if altered."""
    from portal.register.services import verify

    result = verify()
    if result.ok:
        click.echo(f"OK: {result.checked} entries, chain intact.")
        return
    click.echo(f"BROKEN at entry {result.first_bad_seq}: {result.problem} "
               f"({result.checked} entries before it are intact).", err=True)
    sys.exit(1)


@click.command("verify")
@click.option("--no-contents", is_flag=True,
              help="Only check that each stored version exists with its recorded size (fast); "
                   "do not read, decrypt and re-hash the contents.")
@with_appcontext
def verify_command(no_contents: bool):
    """Re-check every stored document version against its fixity (SHA-256 and SM3) and list
    missing, altered and orphaned objects. The result goes on the access register (fixity check).
    Exit status 1 when anything was found or the store could not be checked, 0 otherwise."""
    from portal.documents.services import record_verification, verify_store
    from portal.register import actions
    from portal.register.services import record_now
    from portal.storage import StoreUnavailable, store

    object_store = store()
    ok, where = object_store.health()
    how = "existence and size only" if no_contents else "contents decrypted and re-hashed"
    click.echo(f"Verifying the document store: {where} — {how}.")
    started = time.monotonic()
    last_shown = [started]

    def progress(report) -> None:
        now = time.monotonic()
        if now - last_shown[0] >= 5:
            last_shown[0] = now
            click.echo(f"  … {report.checked} versions checked, {_megabytes(report.bytes_checked)} read",
                       err=True)

    from portal.backup.keyvault import VaultUnavailable

    try:
        cleared = object_store.clear_incomplete("archives/")
        report = verify_store(contents=not no_contents, progress=progress)
    except (StoreUnavailable, VaultUnavailable) as exc:
        detail = exc.detail.get("detail") or exc.message
        what = "key vault" if isinstance(exc, VaultUnavailable) else "document store"
        click.echo(f"FAILED: the {what} could not be read: {detail}", err=True)
        record_now(cli_actor(), actions.FIXITY_CHECK, result="failed",
                   detail=f"store unavailable: {str(detail)[:200]}")
        sys.exit(1)
    record_verification(cli_actor(), report)

    click.echo(f"Checked {report.checked} version(s) ({_megabytes(report.bytes_checked)} read) "
               f"in {time.monotonic() - started:.1f} s.")
    sections = (
        ("Missing", "the database refers to them, the store does not have them", report.missing),
        ("Altered", "contents or size differ from the fixity recorded at upload", report.altered),
        ("Orphaned", "objects in the store that no document version refers to", report.orphaned),
        ("Unreadable", "the archive's encryption key was destroyed (expected after destruction)",
         report.unreadable),
    )
    for title, meaning, items in sections:
        click.echo(f"{title}: {len(items)}" + (f" — {meaning}" if items else ""))
        for item in items:
            click.echo(f"  {item}")
    if cleared:
        click.echo(f"Removed {cleared} incomplete upload(s) left by interrupted writes.")
    click.echo("Recorded in the access register (fixity check). The register's own hash chain is "
               "checked by “portal register verify”.")
    if report.ok:
        click.echo("OK: every stored version is present and intact.")
        return
    click.echo(f"PROBLEMS FOUND: {len(report.missing)} missing, {len(report.altered)} altered, "
               f"{len(report.orphaned)} orphaned. Orphans may include an upload still in progress: "
               "run again to confirm.", err=True)
    sys.exit(1)


def _megabytes(n: int) -> str:
    return f"{n / 1048576:.1f} MB"


@click.command("reindex")
@click.option("--batch", default=500, show_default=True, help="Rows read from the database at a time.")
@click.option("--procs", default=None, type=int,
              help="Writer processes (default SEARCH_WRITER_PROCS); each holds at most --limitmb of pool.")
@click.option("--limitmb", default=128, show_default=True, type=int)
@with_appcontext
def reindex_command(batch: int, procs: int | None, limitmb: int):
    """Rebuild the full-text index from the database; the old index serves searches until the new
    one is complete."""
    import resource
    import time

    from portal.extensions import db
    from portal.register import actions
    from portal.register.services import record_now
    from portal.search import indexing

    t0 = time.monotonic()
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == "commit":
            click.echo(f"[{now - t0:7.1f} s] writing the index …")
        elif now - last[0] >= 2 or done == total:
            last[0] = now
            click.echo(f"[{now - t0:7.1f} s] {stage}: {done}/{total}")

    report = indexing.rebuild(batch=batch, procs=procs, limitmb=limitmb, progress=progress)
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    click.echo(f"Index rebuilt: {report.archives} archives, {report.documents} documents, "
               f"{report.replayed} changes replayed, {report.seconds:.1f} s, peak memory {peak:.0f} MB "
               f"(largest process), {report.path}")
    record_now(None, actions.SEARCH_REINDEX,
               detail=f"archives={report.archives}; documents={report.documents}; seconds={report.seconds:.0f}")
    db.session.remove()


@click.command("remind")
@with_appcontext
def remind_command():
    """Remind borrowers (and their heads) of overdue loans: once per loan per day (cron-safe).
    Then notify the responsible staff of birthdays, anniversaries, follow-ups and monthly checks
    due, the archivist of retention reviews due, and assignee and archivist of inspection
    rectifications past their deadline: once per item and occasion (e-mailed when SMTP is
    configured). Schedule: deploy/systemd/portal-remind.timer or deploy/cron/portal-remind.

    The archivist's lending desk does the loans when it is opened, so this is optional for them.
    """
    from portal.actor import Actor
    from portal.oversight import reminders
    from portal.workflows.borrowing_inbox import overdue_loans, send_reminders

    count = send_reminders(Actor(None, "cli", "cli"))
    click.echo(f"{len(overdue_loans())} overdue loan(s); {count} reminded now "
               f"(the others were reminded earlier today).")
    sent = reminders.send_reminders(Actor(None, "cli", "cli"))
    click.echo(f"{sent} reminder(s) sent now (birthdays, anniversaries, follow-ups, monthly checks, "
               f"retention reviews, overdue rectifications; each only once).")


@click.group("intake")
def intake_group():
    """Scan intake: the watched folder."""


@intake_group.command("watch")
@click.argument("folder", type=click.Path(file_okay=False, path_type=str))
@click.option("--as", "username", required=True, envvar="PORTAL_INTAKE_WATCH_USER",
              help="The user the files are received for (their permissions apply; e.g. the archivist).")
@click.option("--archive", default=None, help="Archive number for every file (else cover sheets or the queue decide).")
@click.option("--type", "doc_type", default="", help="Document type for every file.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between scans of the folder.")
@click.option("--once", is_flag=True, help="Scan until the folder is quiet, then exit (for cron and tests).")
@with_appcontext
def intake_watch(folder: str, username: str, archive: str | None, doc_type: str, interval: float, once: bool):
    """Take files a scanner drops into FOLDER into intake, once they are completely written; move
    them to FOLDER/done or FOLDER/failed (with a .reason.txt) afterwards."""
    from portal.auth.models import User
    from portal.extensions import db
    from portal.intake.watch import Watcher

    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.ClickException(f"no active user {username!r}")
    watcher = Watcher(folder, user.id, archive=archive, doc_type=doc_type)

    def report(outcome) -> None:
        if outcome.item_id:
            click.echo(f"{outcome.name}: intake item {outcome.item_id} → {outcome.moved_to}")
        else:
            click.echo(f"{outcome.name}: refused: {outcome.error} → {outcome.moved_to}", err=True)

    if not once:
        click.echo(f"watching {folder} for {username} (Ctrl-C stops)")
        try:
            watcher.run(interval=interval, on_outcome=report)
        except KeyboardInterrupt:
            pass
        return
    watcher.recover()
    deadline = time.monotonic() + 300
    while True:
        for outcome in watcher.scan_once():
            report(outcome)
        db.session.remove()
        if not watcher.seen:  # nothing left that could still be taken
            return
        if time.monotonic() > deadline:
            raise click.ClickException("files still changing after 5 minutes: " + ", ".join(sorted(watcher.seen)))
        time.sleep(min(interval, 0.3))
