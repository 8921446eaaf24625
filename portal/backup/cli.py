"""``portal backup``, ``portal restore`` and ``portal keys`` (registered in portal/cli.py)."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


def _echo(text: str) -> None:
    click.echo(text)


def _fail(message) -> None:
    click.echo(f"FAILED: {message}", err=True)
    sys.exit(1)


@click.command("backup")
@click.argument("location", type=click.Path(file_okay=False))
@click.option("--verify", "verify_only", is_flag=True,
              help="Check the backup at LOCATION (a backup folder, or a folder of backups: its newest) "
                   "without restoring: every hash, every referenced object, the register chain.")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="After a successful backup, keep only the N newest backups in LOCATION.")
@click.option("--as", "username", envvar="PORTAL_BACKUP_USER", default=None,
              help="The portal user running it (for the backup register); the OS user otherwise.")
@with_appcontext
def backup_command(location: str, verify_only: bool, keep: int | None, username: str | None):
    """Write a consistent backup into a new folder under LOCATION (database as a portable dump,
    object versions exactly as stored, a manifest of hashes) — or, with --verify, check one.
    The master key and the key vault are never in a backup. Exit status 1 on any problem."""
    from portal.backup import services
    from portal.errors import PortalError

    if verify_only:
        if keep:
            _fail("--keep goes with writing a backup, not with --verify")
        try:
            check = services.verify_backup(location, username=username, progress=_echo)
        except PortalError as exc:
            _fail(exc.message)
        m = check.manifest or {}
        click.echo(f"Backup {check.path}")
        if m:
            click.echo(f"  made {m.get('created_at')} on {m.get('host')} by portal {m.get('portal_version')}, "
                       f"revision {m.get('alembic_revision')}, {m.get('database_dialect')} database, "
                       f"{m.get('store_kind')} store")
            head = m.get("register_head") or {}
            click.echo(f"  register head: seq {head.get('seq')} {head.get('hash')}")
        click.echo(f"  manifest sha256 {check.manifest_hash}")
        click.echo(f"  {check.summary()}")
        click.echo(f"Archive keys absent from the live key vault: {check.keys_absent} (destroyed since the "
                   f"backup: unreadable by design"
                   + (f"; {check.keys_unknown} of them NOT recorded as destroyed in this vault: wrong vault?"
                      if check.keys_unknown else "")
                   + f"); destroyed before it: {check.keys_destroyed_in_backup}"
                   + (f"; wrapped by the master key alone (made before the vault): {check.keys_legacy}"
                      if check.keys_legacy else ""))
        click.echo(f"Rows sealed per archive: {check.sealed_rows} rows of {check.sealed_archives} archives; "
                   f"archives whose sealed rows the live vault cannot open: {len(check.unopenable_archives)} "
                   "(destroyed since the backup: a restore brings them back as tombstones only) — "
                   "information, not a problem.")
        for note in check.notes:
            click.echo(f"Note: {note}")
        click.echo("Recorded in the backup register and the access register.")
        if check.ok:
            click.echo("OK: every file is present and matches the manifest.")
            return
        click.echo(f"PROBLEMS FOUND ({len(check.problems)}):", err=True)
        for problem in check.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    try:
        result = services.create_backup(location, username=username, keep=keep, progress=_echo)
    except PortalError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    click.echo(f"OK: {result.path}")
    click.echo(f"  {result.tables} tables, {result.rows} rows, {result.archives} archives, "
               f"{result.documents} documents, {result.objects} object versions ({result.bytes} bytes), "
               f"register seq {result.register_seq}")
    click.echo(f"  rows sealed with their archive's key: {result.sealed_rows} rows of {result.sealed_archives} "
               f"archives" + (f" ({result.made_keys} archive keys made first)" if result.made_keys else ""))
    click.echo(f"  manifest sha256 {result.manifest_hash}")
    click.echo("Not in the backup: the master key and the key vault — keep them apart (README, 备份与恢复).")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--as", "username", envvar="PORTAL_BACKUP_USER", default=None,
              help="The portal user (of the restored instance) to record as having restored it.")
@with_appcontext
def restore_command(source: str, username: str | None):
    """Restore the backup folder SOURCE into this instance, which must be EMPTY (a fresh database
    after `portal init`, an empty document store) and use the same master key and key vault.
    Every hash is checked before and after; the register chain is verified; the search index is
    rebuilt. Exit status 1 (nothing changed) when the backup or the instance is not fit."""
    from portal.backup import services
    from portal.errors import PortalError

    try:
        result = services.restore_backup(source, username=username, progress=_echo)
    except PortalError as exc:
        _fail(exc.message)
    click.echo(f"OK: restored {result.path.name} (manifest sha256 {result.manifest_hash}).")
    click.echo(f"  {result.tables} tables, {result.rows} rows, {result.objects} object versions "
               f"({result.bytes} bytes); access register verified ({result.register_checked} entries); "
               f"search index {result.search}")
    if result.tombstones:
        click.echo(f"  Restored as tombstones only — destroyed after this backup was made, their keys are "
                   f"gone: {', '.join(number for _id, number in sorted(result.tombstones))}. Their rows stayed "
                   "sealed: no profile, sub-records, documents, versions or texts came back. The record of "
                   "their destruction is in the destruction register (销毁登记簿) of the instance that "
                   "carried it out.")
    if result.mapping_file:
        click.echo(f"  Object version ids changed in the store (the rows were updated); old → new: "
                   f"{result.mapping_file}")


@click.group("keys")
def keys_group():
    """The key vault: archive data keys wrapped by per-archive key-encryption keys."""


@keys_group.command("migrate")
@with_appcontext
def keys_migrate():
    """Move data keys wrapped by the master key alone (made before the key vault) under a KEK in
    the vault, so that destroying them also defeats backups made from now on."""
    from portal.documents.services import migrate_keys

    moved = migrate_keys()
    click.echo(f"{moved} data key(s) moved into the key vault.")


@keys_group.command("status")
@with_appcontext
def keys_status():
    """How many archive keys are in the vault, destroyed, legacy — and vault files no row uses."""
    import sqlalchemy as sa

    from portal.backup.keyvault import vault
    from portal.documents.models import ArchiveKey
    from portal.extensions import db

    v = vault()
    ok, where = v.health()
    click.echo(("OK: " if ok else "PROBLEM: ") + where)
    rows = db.session.execute(sa.select(ArchiveKey.archive_id, ArchiveKey.wrapped_key.is_(None),
                                        ArchiveKey.vault_key_id)).all()
    used = {r.vault_key_id for r in rows if r.vault_key_id}
    destroyed = sum(1 for r in rows if r[1])
    legacy = sum(1 for r in rows if not r[1] and not r.vault_key_id)
    absent = [kid for kid in used if not v.exists() or not v.has(kid)]
    missing = len(absent)
    unknown = len(v.missing(absent)) if v.exists() else missing
    unused = [e for e in v.entries() if e.kek_id not in used]
    click.echo(f"Archive keys: {len(rows)} — in the vault {len(used) - missing}, destroyed {destroyed}, "
               f"legacy (master key alone) {legacy}, KEK missing from the vault {missing}"
               + (f" ({missing - unknown} destroyed in this vault, from rows of an older database; "
                  f"{unknown} never in this vault: the wrong or an outdated vault?)" if missing else "") + ".")
    click.echo(f"Vault entries no archive key refers to: {len(unused)} (e.g. a restored older database; "
               "they keep nothing readable by themselves).")
    if missing or not ok:
        sys.exit(1)
