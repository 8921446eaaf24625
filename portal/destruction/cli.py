"""``portal destruction …``: finish an interrupted execution, list applications, compact SQLite."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext


@click.group("destruction")
def destruction_group():
    """Destruction 销毁: applications and their execution."""


@destruction_group.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only applications not yet executed or closed.")
@with_appcontext
def destruction_list(only_open: bool):
    """The applications with their state (newest first)."""
    from portal.destruction.models import LOCKING, DestructionApplication
    from portal.extensions import db

    q = sa.select(DestructionApplication).order_by(DestructionApplication.created_at.desc())
    if only_open:
        q = q.where(DestructionApplication.status.in_(LOCKING))
    for app in db.session.scalars(q):
        numbers = ", ".join(r.archive_number for r in app.records)
        click.echo(f"{app.number}\t{app.status}\t{app.grounds}\t{numbers}")


@destruction_group.command("resume")
@click.argument("number")
@with_appcontext
def destruction_resume(number: str):
    """Finish the execution of application NUMBER (e.g. XH-2026-001) that was interrupted after the
    executor and the witness had authenticated (a crash, the store unreachable). Idempotent."""
    from portal.actor import cli_actor
    from portal.destruction import services
    from portal.destruction.models import DestructionApplication
    from portal.extensions import db

    app = db.session.scalar(sa.select(DestructionApplication).where(DestructionApplication.number == number))
    if app is None:
        raise click.ClickException(f"no destruction application {number}")
    executor = app.executor
    done = services.resume(cli_actor(executor), app.id)
    click.echo(f"{done.number}: {done.status} ({len(done.records)} archives)")


@destruction_group.command("compact")
@with_appcontext
def destruction_compact():
    """SQLite: VACUUM the database once, so that free pages left before ``secure_delete`` was on
    (databases made by earlier versions) keep nothing; then truncate the write-ahead log. Blocks
    writers while it runs (about 1–2 s per 100 MB). PostgreSQL: VACUUM of the tables destruction
    touches (runs after every execution anyway)."""
    from portal.destruction import purge
    from portal.extensions import db

    engine = db.engine
    db.session.remove()
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.execute("VACUUM")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    else:
        purge.compact_database(None)
    click.echo("compacted")
