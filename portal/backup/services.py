"""Backups 备份: ``portal backup DEST``, ``portal backup --verify SRC``, ``portal restore SRC``.

A backup is a directory ``DEST/portal-backup-<UTC time>/`` (written under a temporary name and
renamed when complete)::

    manifest.json      format, times, portal version, Alembic revision, database dialect, register
                       head, rows per table, the referenced object versions, every file's SHA-256
                       and size; says what is NOT in it (master key, key vault)
    manifest.sha256    the manifest's own SHA-256 (``sha256sum -c manifest.sha256`` works)
    manifest.hmac      HMAC-SHA256 of the manifest under a key derived from the master key: an edit
                       by someone without the master key shows even when both hash files are redone
    db/<table>.jsonl.gz  every row of every table, one JSON object per line (bytes base64, times
                       ISO 8601): a logical dump, so SQLite backups restore into PostgreSQL and back
    objects/<key>/<version>  each referenced object version exactly as stored (ciphertext)

Consistency: all rows are read in ONE read transaction (SQLite: one snapshot of the WAL database;
PostgreSQL: REPEATABLE READ, READ ONLY), and exactly the object versions that snapshot refers to
are copied (document versions, staged intake files). Writes go on meanwhile; object versions are
never changed in place, only added or deleted, so a version deleted after the snapshot (a
destruction, intake clean-up) is the only hazard: the backup then starts again from a new snapshot.

Keys: the archives' data keys are in the dump, wrapped by their key-encryption keys in the key
vault (``portal.backup.keyvault``); neither the vault nor the master key is in a backup. A restored
archive whose KEK has been deleted from the vault since (destroyed) stays unreadable.

Rows sealed per archive (``portal.backup.sealing``): every row of the dump that belongs to an
archive (profile, sub-records, documents, versions with their texts, intake pages, requests …) is
sealed with that archive's key, so a destruction shuts its rows in every older backup as well; a
restore brings such an archive back as a tombstone only. Every archive gets a key before the snapshot.
"""
from __future__ import annotations

import base64
import contextlib
import getpass
import gzip
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import crypto
from portal.actor import Actor, cli_actor
from portal.backup.keyvault import vault
from portal.backup.models import BACKUP, FAILED, OK, RESTORE, RUNNING, VERIFY, BackupRun
from portal.backup.sealing import (
    NOT_SEALED,
    POLICIES,
    SCHEME,
    MissingKey,
    Opener,
    Sealer,
    blank,
    is_sealed_line,
    owners_of_line,
)
from portal.dbsetup import mark_write_transaction
from portal.errors import PortalError
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record

log = logging.getLogger(__name__)

FORMAT_NAME = "portal-backup"
FORMAT_VERSION = 2  # 2: rows sealed per archive (portal.backup.sealing)
PREFIX = "portal-backup-"
MANIFEST, MANIFEST_SHA, MANIFEST_HMAC = "manifest.json", "manifest.sha256", "manifest.hmac"
SKIPPED_TABLES = {"alembic_version"}  # the revision is in the manifest; the restore migrates to it
# Tables whose rows refer to object versions: (table, key column, version column).
OBJECT_REFERENCES = (("document_version", "store_key", "store_version"),
                     ("intake_item", "staged_key", "staged_version"))
WEEKLY = timedelta(days=8)  # policy 004 §18: weekly full backups; older than this = one missed
ATTEMPTS = 3
CHUNK = 1024 * 1024


class BackupFailed(PortalError):
    status = 422


class RetrySnapshot(Exception):
    """An object version of the snapshot vanished while it was being copied, or an archive of the
    snapshot has no key yet (made after the keys were)."""


# --- values of the logical dump -------------------------------------------------------------------

def encode(value):
    """A database value as JSON: tagged objects for what JSON has no type for."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else {"$f": repr(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, time):
        return {"$t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, timedelta):
        return {"$td": value.total_seconds()}
    if isinstance(value, uuid.UUID):
        return {"$u": str(value)}
    if isinstance(value, (dict, list)):
        return {"$j": value}
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


def decode(value):
    if not isinstance(value, dict):
        return value
    (tag, raw), = value.items()
    return {
        "$b": lambda v: base64.b64decode(v),
        "$dt": datetime.fromisoformat,
        "$d": date.fromisoformat,
        "$t": time.fromisoformat,
        "$dec": Decimal,
        "$td": lambda v: timedelta(seconds=v),
        "$u": uuid.UUID,
        "$j": lambda v: v,
        "$f": float,
    }[tag](raw)


# --- files ----------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def object_file(key: str, version: str) -> str:
    """Where an object version lives inside a backup (relative path)."""
    safe = version if re.fullmatch(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*", version or "") else \
        "v-" + (version or "").encode().hex()
    return f"objects/{key}/{safe}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath))


def manifest_mac(manifest_bytes: bytes) -> str:
    from portal.documents.services import master_key

    key = hmac.new(master_key(), b"portal-backup-manifest-v1", hashlib.sha256).digest()
    return hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()


def portal_version() -> str:
    try:
        from importlib.metadata import version
        return version("customer-archive-portal")
    except Exception:  # noqa: BLE001
        return "unknown"


def who(username: str | None) -> tuple[Actor, str]:
    """(actor, name) of the person running a command: ``--as`` a portal user, or the OS user."""
    from portal.auth.models import User

    if username:
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise BackupFailed(_l("There is no portal user “%(name)s”.", name=username))
        return cli_actor(user), user.username
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001
        name = "unknown"
    return cli_actor(), f"os:{name}"[:80]


# --- the snapshot ---------------------------------------------------------------------------------

@contextlib.contextmanager
def snapshot() -> Iterator[sa.Connection]:
    """A connection in ONE read-only transaction: every read sees the same committed state."""
    from portal import dbsetup

    engine = db.engine
    # A write flag left pending in this context would make the snapshot BEGIN IMMEDIATE on SQLite
    # and hold the write lock for the whole backup; a backup only reads.
    dbsetup._next_is_write.set(False)  # noqa: SLF001
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn
    else:
        with engine.connect() as conn, conn.begin():
            # BEGIN (deferred) + the first read fixes the snapshot in WAL mode for the whole transaction.
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
            yield conn


def reflect(conn) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(conn)
    return metadata


def table_order(metadata: sa.MetaData) -> list[sa.Table]:
    """Tables in an order that satisfies foreign keys (parents first)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # cycles are resolved by the loader
        return [t for t in metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def _rows(conn, table: sa.Table) -> Iterator[dict]:
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execute(sa.select(table).order_by(*order).execution_options(stream_results=True,
                                                                                 yield_per=1000))
    for row in result.mappings():
        yield dict(row)


# --- keys of the rows sealed per archive ----------------------------------------------------------

def _unwrap_or_none(row) -> bytes | None:
    """The data key of an ``archive_key`` row; None when its KEK is gone from the vault (destroyed).
    A vault that is not there at all raises (VaultUnavailable): nothing may be written unsealed."""
    from portal.documents.services import unwrap_data_key
    from portal.storage import ObjectMissing

    try:
        return unwrap_data_key(row)
    except ObjectMissing:
        return None


def ensure_archive_keys(batch: int = 500) -> int:
    """Give every archive that has none its data key (under a new KEK in the vault), in batches:
    a backup seals each archive's rows with its key. Archives destroyed already get none. Returns
    how many were made. (``documents.services.data_key(create=True)`` makes one key per transaction;
    this makes the KEKs of a batch, then its rows in one transaction.)"""
    from sqlalchemy.exc import IntegrityError

    from portal.archives.models import DESTROYED, Archive
    from portal.dbsetup import begin_write
    from portal.documents.models import ArchiveKey
    from portal.documents.services import data_key, master_key

    ids = db.session.scalars(sa.select(Archive.id).where(
        Archive.status != DESTROYED,
        ~sa.exists().where(ArchiveKey.archive_id == Archive.id)).order_by(Archive.id)).all()
    db.session.rollback()
    if not ids:
        return 0
    master = master_key()
    v = vault()
    made = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        created = []
        try:
            for archive_id in chunk:
                kek_id, kek = v.create(master, archive_id)
                created.append((archive_id, kek_id, crypto.wrap(kek, crypto.new_data_key())))
            begin_write()
            taken = set(db.session.scalars(sa.select(ArchiveKey.archive_id).where(
                ArchiveKey.archive_id.in_(chunk))))
            for archive_id, kek_id, wrapped in created:
                if archive_id not in taken:
                    db.session.add(ArchiveKey(archive_id=archive_id, master_key_id=crypto.key_id(master),
                                              wrapped_key=wrapped, vault_key_id=kek_id))
            db.session.commit()
        except IntegrityError:  # an upload made one of them at the same moment: one by one
            db.session.rollback()
            for _archive_id, kek_id, _wrapped in created:
                v.delete(kek_id)
            for archive_id in chunk:
                had = db.session.scalar(sa.select(sa.func.count()).select_from(ArchiveKey)
                                        .where(ArchiveKey.archive_id == archive_id))
                db.session.rollback()
                with contextlib.suppress(PortalError):
                    data_key(archive_id, create=True)
                made += not had
            continue
        except BaseException:
            db.session.rollback()
            for _archive_id, kek_id, _wrapped in created:
                with contextlib.suppress(Exception):
                    v.delete(kek_id)
            raise
        for archive_id, kek_id, _wrapped in created:
            if archive_id in taken:
                v.delete(kek_id)  # made meanwhile by an upload; ours was never used
            else:
                made += 1
    return made


# --- backup ---------------------------------------------------------------------------------------

@dataclass
class BackupResult:
    path: Path
    manifest_hash: str
    rows: int
    tables: int
    archives: int
    documents: int
    objects: int
    bytes: int
    register_seq: int
    attempts: int = 1
    migrated_keys: int = 0
    made_keys: int = 0
    sealed_rows: int = 0
    sealed_archives: int = 0
    withheld_archives: int = 0
    pruned: list[Path] = field(default_factory=list)


def _begin_run(kind: str, location: str, actor: Actor, name: str) -> int:
    db.session.rollback()
    mark_write_transaction()
    run = BackupRun(kind=kind, username=name, user_id=actor.user.id if actor.user else None,
                    host=socket.gethostname()[:200], location=str(location)[:1000], result=RUNNING,
                    started_at=utcnow())
    db.session.add(run)
    db.session.commit()
    return run.id


def _finish_run(run_id: int | None, actor: Actor, name: str, action: str, *, ok: bool, detail: str,
                error: str = "", **values) -> None:
    db.session.rollback()
    mark_write_transaction()
    run = db.session.get(BackupRun, run_id) if run_id else None
    if run is None:
        run = BackupRun(kind={actions.BACKUP_RUN: BACKUP, actions.BACKUP_VERIFY: VERIFY,
                              actions.BACKUP_RESTORE: RESTORE}[action],
                        username=name, user_id=actor.user.id if actor.user else None,
                        host=socket.gethostname()[:200], started_at=values.pop("started_at", utcnow()))
        db.session.add(run)
    values.pop("started_at", None)
    for key, value in values.items():
        setattr(run, key, value)
    run.finished_at = utcnow()
    run.result = OK if ok else FAILED
    run.error = error[:4000]
    record(actor, action, result="ok" if ok else "failed", username=None if actor.user else name,
           detail=(detail + (f" — {error}" if error else ""))[:2000])
    db.session.commit()


def create_backup(dest: str | os.PathLike, *, username: str | None = None, keep: int | None = None,
                  progress: Callable[[str], None] | None = None) -> BackupResult:
    """Write a complete, consistent backup into a new folder under ``dest``."""
    from portal.documents.services import migrate_keys

    say = progress or (lambda _text: None)
    actor, name = who(username)
    dest = Path(dest)
    run_id = None
    started = utcnow()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        if not os.access(dest, os.W_OK):
            raise BackupFailed(_l("Cannot write into %(path)s.", path=str(dest)))
        # Every data key under a KEK first: a backup must never hold a key the master key alone opens.
        migrated = migrate_keys()
        if migrated:
            say(f"Moved {migrated} legacy data key(s) into the key vault first.")

        def snapshot_taken() -> None:
            # Recorded once the snapshot exists, so the backup does not contain its own "running" row.
            nonlocal run_id
            if run_id is None:
                run_id = _begin_run(BACKUP, str(dest), actor, name)

        made_keys = 0
        for attempt in range(1, ATTEMPTS + 1):
            # Every archive needs its key: its rows are sealed with it (portal.backup.sealing).
            made = ensure_archive_keys()
            made_keys += made
            if made:
                say(f"Made keys for {made} archive(s) that had none (their rows are sealed with them).")
            try:
                result = _write_backup(dest, say, snapshot_taken)
                break
            except RetrySnapshot as exc:
                if attempt == ATTEMPTS:
                    raise BackupFailed(_l("Object versions kept vanishing while they were copied, or "
                                          "archives kept appearing without a key (%(what)s); nothing was "
                                          "kept. Run the backup again.", what=str(exc))) from exc
                say(f"{exc}: starting again from a new snapshot.")
        result.attempts = attempt
        result.migrated_keys = migrated
        result.made_keys = made_keys
        if keep:
            result.pruned = prune(dest, keep, protect=result.path)
            for path in result.pruned:
                say(f"Removed the older backup {path.name} (--keep {keep}).")
    except Exception as exc:
        message = exc.message if isinstance(exc, PortalError) else f"{type(exc).__name__}: {exc}"
        _finish_run(run_id, actor, name, actions.BACKUP_RUN, ok=False, detail=f"backup into {dest}",
                    error=str(message), started_at=started, location=str(dest)[:1000])
        raise
    _finish_run(run_id, actor, name, actions.BACKUP_RUN, ok=True,
                detail=(f"backup {result.path.name}: {result.tables} tables, {result.rows} rows, "
                        f"{result.objects} objects ({result.bytes} bytes), register seq "
                        f"{result.register_seq}, manifest sha256 {result.manifest_hash}"),
                location=str(result.path)[:1000], manifest_hash=result.manifest_hash, rows=result.rows,
                tables=result.tables, archives=result.archives, documents=result.documents,
                objects=result.objects, bytes=result.bytes,
                notes=f"attempts {result.attempts}" + (f"; pruned {len(result.pruned)}" if result.pruned else ""))
    return result


def _write_backup(dest: Path, say, snapshot_taken: Callable[[], None]) -> BackupResult:
    from portal.storage import ObjectMissing, store

    s = store()
    created = datetime.now(UTC)
    stamp = created.strftime("%Y%m%dT%H%M%SZ")
    final = dest / f"{PREFIX}{stamp}"
    n = 1
    while final.exists():
        n += 1
        final = dest / f"{PREFIX}{stamp}-{n}"
    work = dest / f".{final.name}.partial-{secrets.token_hex(4)}"
    (work / "db").mkdir(parents=True)
    files: dict[str, dict] = {}
    tables: dict[str, dict] = {}
    objects: list[dict] = []
    counts = {"rows": 0, "bytes": 0}
    try:
        with snapshot() as conn:
            dialect = conn.dialect.name
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            snapshot_taken()
            head = conn.execute(sa.text("SELECT last_seq, last_hash FROM register_head WHERE id = 1")).first()
            metadata = reflect(conn)
            try:
                sealer = Sealer(conn, metadata, _unwrap_or_none)
            except MissingKey as exc:
                raise RetrySnapshot(str(exc)) from exc
            refs: dict[str, dict] = {}  # table -> {(key, version): archives sealing the row}
            key_ids: set[str] = set()
            key_stats = {"archive_keys": 0, "destroyed": 0, "legacy": 0, "in_vault": 0}
            for table in table_order(metadata):
                rel = f"db/{table.name}.jsonl.gz"
                rows = 0
                ref = next(((k, v) for t, k, v in OBJECT_REFERENCES if t == table.name), None)
                with gzip.open(work / rel, "wb", compresslevel=6) as out:
                    for row in _rows(conn, table):
                        written = sealer.write(table.name, row, encode)
                        out.write(json.dumps(written.line, ensure_ascii=False,
                                             separators=(",", ":")).encode() + b"\n")
                        rows += 1
                        if ref and row.get(ref[0]) and row.get(ref[1]) and not written.withheld:
                            refs.setdefault(table.name, {}).setdefault((row[ref[0]], row[ref[1]]), set()) \
                                .update(written.archives)
                        if table.name == "archive_key":
                            key_stats["archive_keys"] += 1
                            if row.get("wrapped_key") is None:
                                key_stats["destroyed"] += 1
                            elif row.get("vault_key_id"):
                                key_stats["in_vault"] += 1
                            else:
                                key_stats["legacy"] += 1
                            if row.get("master_key_id"):
                                key_ids.add(row["master_key_id"])
                tables[table.name] = {"rows": rows, "file": rel}
                counts["rows"] += rows
            stats = sealer.stats
            sealed_rows = sum(stats.sealed_rows.values())
            say(f"Database: {len(tables)} tables, {counts['rows']} rows read from one snapshot; "
                f"{sealed_rows} rows of {len(stats.sealed_archives)} archives sealed with their archive's key"
                + (f", {len(stats.withheld_archives)} archive(s) being destroyed written as tombstones"
                   if stats.withheld_archives else "") + ".")
            archives = tables.get("archive", {}).get("rows", 0)
            documents = tables.get("document", {}).get("rows", 0)
            # Objects: exactly the versions the snapshot refers to, copied byte for byte.
            seen = set()
            for table_name, pairs in refs.items():
                for key, version in sorted(pairs):
                    owners = sorted(pairs[(key, version)])
                    if (key, version) in seen:
                        continue
                    seen.add((key, version))
                    rel = object_file(key, version)
                    target = work / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    digest = hashlib.sha256()
                    size = 0
                    try:
                        with open(target, "wb") as out:
                            for chunk in s.get(key, version):
                                out.write(chunk)
                                digest.update(chunk)
                                size += len(chunk)
                    except ObjectMissing as exc:
                        raise RetrySnapshot(f"{key}@{version}") from exc
                    objects.append({"table": table_name, "key": key, "version": version, "file": rel,
                                    "sha256": digest.hexdigest(), "size": size, "archives": owners})
                    files[rel] = {"sha256": digest.hexdigest(), "size": size}
                    counts["bytes"] += size
            say(f"Objects: {len(objects)} versions copied ({counts['bytes']} bytes).")
        for name in tables.values():
            rel = name["file"]
            files[rel] = {"sha256": sha256_file(work / rel), "size": (work / rel).stat().st_size}
        from portal.documents.services import master_key
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": final.name,
            "created_at": created.isoformat(timespec="seconds"),
            "portal_version": portal_version(),
            "alembic_revision": revision,
            "database_dialect": dialect,
            "store_kind": s.kind,
            "host": socket.gethostname(),
            "register_head": {"seq": head.last_seq if head else 0, "hash": head.last_hash if head else ""},
            "tables": tables,
            "counts": {"tables": len(tables), "rows": counts["rows"], "archives": archives,
                       "documents": documents, "objects": len(objects), "object_bytes": counts["bytes"]},
            "keys": {**key_stats, "master_key_ids": sorted(key_ids),
                     "current_master_key_id": crypto.key_id(master_key())},
            "sealing": {
                "scheme": SCHEME,
                "sealed_rows": dict(sorted(stats.sealed_rows.items())),
                "sealed_archives": len(stats.sealed_archives),
                "withheld_rows": dict(sorted(stats.withheld_rows.items())),
                "withheld_archives": sorted(stats.withheld_archives),
                "tombstones": len(sealer.plain_tombstones),
                "not_sealed": NOT_SEALED,
            },
            "objects": objects,
            "files": dict(sorted(files.items())),
            "not_included": {
                "master_key": "The master key is not in the backup. Keep it apart from the backups; "
                              "without it nothing in this backup can be decrypted.",
                "key_vault": "The key vault (one key-encryption key per archive) is not in the backup. "
                             "A restore uses the live vault: archives whose key was destroyed after "
                             "this backup stay unreadable.",
                "search_index": "Rebuilt from the database on restore.",
            },
        }
        data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=False).encode()
        (work / MANIFEST).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        (work / MANIFEST_SHA).write_text(f"{digest}  {MANIFEST}\n")
        (work / MANIFEST_HMAC).write_text(manifest_mac(data) + "\n")
        _fsync_tree(work)
        os.rename(work, final)
        _fsync(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    say(f"Backup written: {final}")
    return BackupResult(final, digest, counts["rows"], len(tables), archives, documents, len(objects),
                        counts["bytes"], manifest["register_head"]["seq"], sealed_rows=sealed_rows,
                        sealed_archives=len(stats.sealed_archives),
                        withheld_archives=len(stats.withheld_archives))


def backups_in(dest: Path) -> list[Path]:
    """Complete backups in ``dest``, oldest first."""
    if not dest.is_dir():
        return []
    return sorted(p for p in dest.iterdir()
                  if p.is_dir() and p.name.startswith(PREFIX) and (p / MANIFEST).is_file())


def prune(dest: Path, keep: int, protect: Path | None = None) -> list[Path]:
    """Remove all but the ``keep`` newest complete backups (never ``protect``)."""
    existing = backups_in(dest)
    doomed = [p for p in existing[:-keep] if p != protect] if keep > 0 else []
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def resolve_source(src: str | os.PathLike) -> Path:
    """A backup folder, or a folder of backups (its newest complete one)."""
    path = Path(src)
    if (path / MANIFEST).is_file() or (path / MANIFEST_SHA).is_file():
        return path
    found = backups_in(path)
    if found:
        return found[-1]
    raise BackupFailed(_l("%(path)s is not a backup (no manifest.json) and holds no backup.", path=str(path)))


# --- verification ---------------------------------------------------------------------------------

@dataclass
class Check:
    path: Path
    manifest: dict | None = None
    manifest_hash: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    keys_absent: int = 0
    keys_unknown: int = 0  # absent and not recorded as destroyed in this vault: the wrong vault?
    keys_destroyed_in_backup: int = 0
    keys_legacy: int = 0
    absent_archives: list[int] = field(default_factory=list)
    sealed_rows: int = 0
    sealed_archives: int = 0
    unopenable_archives: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        m = self.manifest or {}
        c = m.get("counts", {})
        return (f"{self.path.name}: {self.files_checked} files ({self.bytes_checked} bytes) checked, "
                f"{len(self.problems)} problem(s); {c.get('tables', 0)} tables, {c.get('rows', 0)} rows, "
                f"{c.get('objects', 0)} objects; keys absent from the vault: {self.keys_absent}; "
                f"{self.sealed_rows} rows of {self.sealed_archives} archives sealed, "
                f"{len(self.unopenable_archives)} archive(s) whose rows the live vault cannot open")


def check_backup(path: Path, *, progress: Callable[[str], None] | None = None) -> Check:
    """Every hash, every file, every referenced object, the dumped register chain."""
    say = progress or (lambda _text: None)
    check = Check(path)
    if not path.is_dir():
        check.problems.append(f"{path}: not a folder")
        return check
    try:
        data = (path / MANIFEST).read_bytes()
    except OSError:
        check.problems.append(f"{MANIFEST}: missing")
        return check
    check.manifest_hash = hashlib.sha256(data).hexdigest()
    try:
        recorded = (path / MANIFEST_SHA).read_text().split()[0]
    except (OSError, IndexError):
        check.problems.append(f"{MANIFEST_SHA}: missing or empty")
        recorded = ""
    if recorded and recorded != check.manifest_hash:
        check.problems.append(f"{MANIFEST}: SHA-256 {check.manifest_hash} differs from {MANIFEST_SHA} "
                              f"({recorded}) — the manifest was changed")
    try:
        mac = (path / MANIFEST_HMAC).read_text().strip()
    except OSError:
        mac = ""
        check.problems.append(f"{MANIFEST_HMAC}: missing")
    if mac and not hmac.compare_digest(mac, manifest_mac(data)):
        check.problems.append(f"{MANIFEST}: not authenticated by this instance's master key "
                              "(changed, or written under another master key)")
    try:
        manifest = json.loads(data)
    except ValueError:
        check.problems.append(f"{MANIFEST}: not valid JSON")
        return check
    check.manifest = manifest
    if manifest.get("format") != FORMAT_NAME or manifest.get("format_version") != FORMAT_VERSION:
        check.problems.append(f"{MANIFEST}: unknown format {manifest.get('format')!r} "
                              f"v{manifest.get('format_version')!r}")
        return check
    files = manifest.get("files") or {}
    for rel, meta in files.items():
        target = path / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            check.problems.append(f"{rel}: path outside the backup")
            continue
        if not target.is_file():
            check.problems.append(f"{rel}: missing")
            continue
        size = target.stat().st_size
        if size != meta.get("size"):
            check.problems.append(f"{rel}: size {size}, the manifest says {meta.get('size')}")
            continue
        digest = sha256_file(target)
        check.files_checked += 1
        check.bytes_checked += size
        if digest != meta.get("sha256"):
            check.problems.append(f"{rel}: SHA-256 differs from the manifest (altered)")
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            rel = (Path(dirpath) / name).relative_to(path).as_posix()
            if rel not in files and rel not in (MANIFEST, MANIFEST_SHA, MANIFEST_HMAC):
                check.problems.append(f"{rel}: not listed in the manifest")
    say(f"Files: {check.files_checked} checked against the manifest.")
    for name, meta in (manifest.get("tables") or {}).items():
        if meta.get("file") not in files:
            check.problems.append(f"table {name}: its file is not in the manifest")
    if any(p.startswith("db/") for p in check.problems):
        return check  # a damaged dump cannot be read further
    # Every referenced object present (rows of the dump against the object list).
    listed = {(o["key"], o["version"]) for o in manifest.get("objects") or []}
    for o in manifest.get("objects") or []:
        if o.get("file") not in files:
            check.problems.append(f"object {o['key']}@{o['version']}: not in the file list")
    for table, key_col, version_col in OBJECT_REFERENCES:
        if table not in (manifest.get("tables") or {}):
            continue
        for row in read_table(path, manifest, table):
            key, version = row.get(key_col), row.get(version_col)
            if key and version and (key, version) not in listed:
                check.problems.append(f"{table} {row.get('id')}: object {key}@{version} is not in the backup")
    rows_counted = {name: sum(1 for _ in read_table(path, manifest, name)) for name in manifest["tables"]}
    for name, meta in manifest["tables"].items():
        if rows_counted[name] != meta.get("rows"):
            check.problems.append(f"table {name}: {rows_counted[name]} rows, the manifest says {meta.get('rows')}")
    _check_register(path, manifest, check)
    _check_keys(path, manifest, check)
    _check_sealed(path, manifest, check)
    return check


def read_lines(path: Path, manifest: dict, name: str) -> Iterator[dict]:
    """The dump's lines of a table as written (sealed lines still sealed, values still encoded)."""
    rel = manifest["tables"][name]["file"]
    with gzip.open(path / rel, "rb") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_table(path: Path, manifest: dict, name: str) -> Iterator[dict]:
    """The table's rows, decoded; of a sealed row only its primary key and clear columns."""
    for line in read_lines(path, manifest, name):
        if is_sealed_line(line):
            line = {**(line.get("_pk") or {}), **(line.get("_clear") or {})}
        yield {k: decode(v) for k, v in line.items()}


def open_keys(path: Path, manifest: dict) -> dict[int, bytes]:
    """Data keys of the backup's archives that the live vault still opens (archive id -> key)."""
    from types import SimpleNamespace

    if "archive_key" not in manifest.get("tables", {}):
        return {}
    keys = {}
    for row in read_table(path, manifest, "archive_key"):
        if row.get("wrapped_key") is None:
            continue
        key = _unwrap_or_none(SimpleNamespace(**row))
        if key is not None:
            keys[row["archive_id"]] = key
    return keys


def _check_sealed(path: Path, manifest: dict, check: Check) -> None:
    """Rows sealed per archive: how many, of how many archives, and whose the live vault cannot open
    (destroyed since the backup: a restore makes them tombstones) — information, not a problem."""
    openable = set()
    if "archive_key" in manifest.get("tables", {}) and vault().exists():
        v = vault()
        for row in read_table(path, manifest, "archive_key"):
            if row.get("wrapped_key") is not None and (not row.get("vault_key_id") or v.has(row["vault_key_id"])):
                openable.add(row["archive_id"])
    sealed, shut = set(), set()
    for name in manifest.get("tables") or {}:
        if name not in POLICIES:
            continue
        for line in read_lines(path, manifest, name):
            if not is_sealed_line(line):
                continue
            owners = owners_of_line(line)
            check.sealed_rows += 1
            sealed.update(owners)
            if line.get("_sealed") is None:  # written without content: its key was gone already
                shut.update(owners)
            else:
                shut.update(a for a in owners if a not in openable)
    check.sealed_archives = len(sealed)
    check.unopenable_archives = sorted(shut)


def _check_register(path: Path, manifest: dict, check: Check) -> None:
    """The access register in the dump: its hash chain intact and ending at the recorded head."""
    from types import SimpleNamespace

    from portal.register.models import GENESIS_HASH
    from portal.register.services import entry_hash

    if "register_entry" not in manifest.get("tables", {}):
        return
    prev, seq = GENESIS_HASH, 0
    for row in sorted(read_table(path, manifest, "register_entry"), key=lambda r: r["seq"]):
        seq += 1
        entry = SimpleNamespace(**row)
        if row["seq"] != seq or row["prev_hash"] != prev or entry_hash(entry, prev) != row["hash"]:
            check.problems.append(f"register_entry seq {row['seq']}: the register's hash chain is broken")
            return
        prev = row["hash"]
    head = manifest.get("register_head") or {}
    if head.get("seq") != seq or (seq and head.get("hash") != prev):
        check.problems.append("register_head: the manifest's register head does not match the entries")


def _check_keys(path: Path, manifest: dict, check: Check) -> None:
    """How many of the backup's archive keys the live vault no longer has (information)."""
    if "archive_key" not in manifest.get("tables", {}):
        return
    v = vault()
    present = v.exists()
    for row in read_table(path, manifest, "archive_key"):
        if row.get("wrapped_key") is None:
            check.keys_destroyed_in_backup += 1
        elif not row.get("vault_key_id"):
            check.keys_legacy += 1
        elif not present or not v.has(row["vault_key_id"]):
            check.keys_absent += 1
            check.absent_archives.append(row["archive_id"])
            if present and not v.destroyed(row["vault_key_id"]):
                check.keys_unknown += 1
    if not present:
        check.notes.append(f"The key vault {v.path} is not there: every archive key counts as absent.")
    elif check.keys_unknown:
        check.notes.append(f"{check.keys_unknown} archive key(s) are neither in the key vault {v.path} nor recorded "
                           "there as destroyed: not the portal's vault, or an older copy of it.")


def verify_backup(src: str | os.PathLike, *, username: str | None = None,
                  progress: Callable[[str], None] | None = None) -> Check:
    """``portal backup --verify``: check a backup without restoring it; registered."""
    actor, name = who(username)
    started = utcnow()
    try:
        path = resolve_source(src)
    except BackupFailed as exc:
        _finish_run(None, actor, name, actions.BACKUP_VERIFY, ok=False, detail=f"verify {src}",
                    error=str(exc.message), started_at=started, location=str(src)[:1000])
        raise
    check = check_backup(path, progress=progress)
    m = check.manifest or {}
    c = m.get("counts", {})
    _finish_run(None, actor, name, actions.BACKUP_VERIFY, ok=check.ok, detail=f"verify {check.summary()}",
                error="; ".join(check.problems[:20]), started_at=started, location=str(path)[:1000],
                manifest_hash=check.manifest_hash, tables=c.get("tables", 0), rows=c.get("rows", 0),
                archives=c.get("archives", 0), documents=c.get("documents", 0),
                objects=c.get("objects", 0), bytes=check.bytes_checked,
                notes=f"keys absent from the vault: {check.keys_absent}")
    return check


# --- restore --------------------------------------------------------------------------------------

@dataclass
class RestoreResult:
    path: Path
    manifest_hash: str
    tables: int = 0
    rows: int = 0
    objects: int = 0
    bytes: int = 0
    version_map: dict = field(default_factory=dict)
    destroyed_since: list[int] = field(default_factory=list)  # archive ids whose keys are gone
    tombstones: list[tuple[int, str]] = field(default_factory=list)  # (id, number) restored as tombstones
    skipped_objects: int = 0
    left_out: dict = field(default_factory=dict)  # table -> rows not restored (their archive's key is gone)
    register_checked: int = 0
    search: str = ""
    revision: str = ""
    replaced: int = 0
    mapping_file: str = ""


def emptiness_problems() -> list[str]:
    """Why this instance is not empty enough to restore into (nothing = it is)."""
    from portal.archives.models import Archive
    from portal.documents.models import ArchiveKey, Document
    from portal.intake.models import IntakeItem
    from portal.register.models import RegisterEntry
    from portal.storage import store

    found = []
    for model, what in ((Archive, _l("%(n)s archives")), (Document, _l("%(n)s documents")),
                        (ArchiveKey, _l("%(n)s archive keys")), (IntakeItem, _l("%(n)s intake items"))):
        n = db.session.scalar(sa.select(sa.func.count()).select_from(model))
        if n:
            found.append(str(what) % {"n": n})
    n = db.session.scalar(sa.select(sa.func.count()).select_from(RegisterEntry)
                          .where(RegisterEntry.archive_id.is_not(None)))
    if n:
        found.append(str(_l("%(n)s register entries about archives", n=n)))
    db.session.rollback()
    s = store()
    for prefix in ("archives/", "intake/"):
        if next(iter(s.list_versions(prefix)), None) is not None:
            found.append(str(_l("files under %(prefix)s in the document store", prefix=prefix)))
    return found


def _script_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    return [rev.revision for rev in script.walk_revisions()]


def _current_revision() -> str | None:
    inspector = sa.inspect(db.engine)
    if not inspector.has_table("alembic_version"):
        return None
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _drop_everything() -> None:
    """An empty instance at another revision: drop its tables (the restore recreates them)."""
    metadata = sa.MetaData()
    metadata.reflect(db.engine)
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Everything the migrations made in the schema: views, tables, then the functions
            # (the register's trigger function), enum types and sequences left over.
            for (name,) in conn.execute(sa.text("SELECT table_name FROM information_schema.views "
                                                "WHERE table_schema = current_schema()")):
                conn.exec_driver_sql(f'DROP VIEW IF EXISTS "{name}" CASCADE')
            for table in metadata.tables.values():
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table.name}" CASCADE')
            for (signature,) in conn.execute(sa.text(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                    "WHERE d.objid = p.oid AND d.deptype = 'e')")):
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
            for (name,) in conn.execute(sa.text(
                    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE n.nspname = current_schema() AND t.typtype = 'e'")):
                conn.exec_driver_sql(f'DROP TYPE IF EXISTS "{name}" CASCADE')
            for (name,) in conn.execute(sa.text("SELECT sequence_name FROM information_schema.sequences "
                                                "WHERE sequence_schema = current_schema()")):
                conn.exec_driver_sql(f'DROP SEQUENCE IF EXISTS "{name}" CASCADE')
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in reversed(metadata.sorted_tables):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table.name}"')
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def restore_backup(src: str | os.PathLike, *, username: str | None = None,
                   progress: Callable[[str], None] | None = None) -> RestoreResult:
    """``portal restore SRC``: into an EMPTY instance only; every hash checked first and after."""
    from flask_migrate import upgrade

    say = progress or (lambda _text: None)
    started = utcnow()
    path = Path(src)
    if _current_revision() is None:
        upgrade()  # a brand-new database: migrate it first, so that the run can be recorded
    actor, name = who(None)
    try:
        if not (path / MANIFEST).is_file():
            raise BackupFailed(_l("%(path)s is not a backup folder (no manifest.json).", path=str(path)))
        check = check_backup(path, progress=say)
        if not check.ok:
            raise BackupFailed(_l("The backup failed its check; nothing was restored: %(problems)s",
                                  problems="; ".join(check.problems[:10])))
        manifest = check.manifest
        found = emptiness_problems()
        if found:
            raise BackupFailed(_l("This instance is not empty (%(found)s). A backup is restored only "
                                  "into a new, empty instance: a fresh database after “portal init” and "
                                  "an empty document store; nothing was changed.", found=", ".join(found)))
        _check_keys_usable(manifest, check)
        revisions = _script_revisions()
        wanted = manifest["alembic_revision"]
        if wanted not in revisions:
            raise BackupFailed(_l("The backup was made at database revision %(rev)s, which this portal "
                                  "version does not know (a newer portal made it). Restore with that "
                                  "version.", rev=wanted))
        result = RestoreResult(path, check.manifest_hash, revision=wanted)
        if _current_revision() != wanted:
            say(f"Migrating the empty database to the backup's revision {wanted}.")
            db.session.remove()
            _drop_everything()
            upgrade(revision=wanted)
        opener = Opener(open_keys(path, manifest))
        put = _put_objects(path, manifest, result, say, opener)
        try:
            _load_rows(path, manifest, result, say, opener)
        except BaseException:
            _remove_versions(put)
            raise
        head = revisions[0]
        if wanted != head:
            say(f"Migrating the restored database from {wanted} to {head}.")
            db.session.remove()
            upgrade()
        _after_load(path, manifest, result, check, say)
        result.mapping_file = _write_version_map(path, result)
        if result.mapping_file:
            say(f"Object version ids: old → new written to {result.mapping_file}.")
    except Exception as exc:
        message = exc.message if isinstance(exc, PortalError) else f"{type(exc).__name__}: {exc}"
        try:
            _finish_run(None, actor, name, actions.BACKUP_RESTORE, ok=False, detail=f"restore {path}",
                        error=str(message), started_at=started, location=str(path)[:1000])
        except Exception:  # noqa: BLE001 (a half-migrated database cannot take the record)
            log.exception("could not record the failed restore")
        raise
    try:
        actor, name = who(username)
    except BackupFailed:
        actor, name = who(None)
        name = f"{name} (--as {username}: not a user of the restored instance)"[:80]
    c = manifest.get("counts", {})
    _finish_run(None, actor, name, actions.BACKUP_RESTORE, ok=True,
                detail=(f"restored {path.name}: {result.tables} tables, {result.rows} rows, "
                        f"{result.objects} objects, register verified ({result.register_checked} entries)"
                        + (f"; restored as tombstones (destroyed after the backup, keys gone): "
                           f"{', '.join(number for _id, number in sorted(result.tombstones))}"
                           if result.tombstones else "")),
                started_at=started, location=str(path)[:1000], manifest_hash=result.manifest_hash,
                tables=result.tables, rows=result.rows, archives=c.get("archives", 0),
                documents=c.get("documents", 0), objects=result.objects, bytes=result.bytes,
                notes=f"search: {result.search}"
                      + (f"; tombstones: {len(result.tombstones)}" if result.tombstones else "")
                      + (f"; version ids old → new: {result.mapping_file}" if result.mapping_file else ""))
    return result


def _write_version_map(path: Path, result: RestoreResult) -> str:
    """The store gave new version ids (S3 always; local too): keep old → new next to the instance,
    so that anything outside the portal that named a version (an audit note) can be followed."""
    changed = [{"key": key, "backup_version": old, "restored_version": new}
               for (key, old), new in sorted(result.version_map.items()) if old != new]
    if not changed:
        return ""
    target = Path(current_app.instance_path) / f"restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-versions.json"
    target.write_text(json.dumps({"backup": path.name, "manifest_sha256": result.manifest_hash,
                                  "versions": changed}, ensure_ascii=False, indent=1))
    return str(target)


def _check_keys_usable(manifest: dict, check: Check) -> None:
    from portal.documents.services import master_key

    keys = manifest.get("keys") or {}
    current = crypto.key_id(master_key())
    if keys.get("master_key_ids") and current not in keys["master_key_ids"]:
        raise BackupFailed(_l("The backup's data keys were made under another master key (%(ids)s; this "
                              "instance has %(current)s). Configure the master key the backup was made "
                              "with (PORTAL_MASTER_KEY); nothing was changed.",
                              ids=", ".join(keys["master_key_ids"]), current=current))
    in_vault = keys.get("in_vault", 0)
    if in_vault and not vault().exists():
        raise BackupFailed(_l("The key vault %(path)s is not there. Configure the vault the portal uses "
                              "(PORTAL_KEY_VAULT) before restoring; nothing was changed.", path=str(vault().path)))
    if in_vault and check.keys_absent >= in_vault:
        raise BackupFailed(_l("None of the backup's %(n)s archive keys is in the key vault %(path)s: "
                              "probably the wrong vault (PORTAL_KEY_VAULT). Nothing was changed.",
                              n=in_vault, path=str(vault().path)))
    if check.keys_unknown:
        raise BackupFailed(_l("%(n)s of the backup's archive keys are neither in the key vault %(path)s nor "
                              "recorded there as destroyed: this is not the portal's vault, or an older copy of "
                              "it. Restoring would turn those archives into tombstones. Nothing was changed.",
                              n=check.keys_unknown, path=str(vault().path)))


def _put_objects(path: Path, manifest: dict, result: RestoreResult, say,
                 opener: Opener) -> list[tuple[str, str]]:
    from portal.storage import store

    s = store()
    s.ensure_ready()
    put = []
    try:
        for o in manifest.get("objects") or []:
            if not all(a in opener.keys for a in o.get("archives") or ()):
                result.skipped_objects += 1  # an archive destroyed since: its files stay out
                continue
            file = path / o["file"]
            with open(file, "rb") as handle:
                stored = s.put(o["key"], handle, o["size"])
            put.append((o["key"], stored.version_id))
            result.version_map[(o["key"], o["version"])] = stored.version_id
            result.objects += 1
            result.bytes += o["size"]
    except BaseException:
        _remove_versions(put)
        raise
    say(f"Objects: {result.objects} versions put into the store ({result.bytes} bytes)"
        + (f"; {result.skipped_objects} of archives destroyed since the backup left out" if result.skipped_objects
           else "") + ".")
    return put


def _remove_versions(put: list[tuple[str, str]]) -> None:
    from portal.storage import store

    for key, version in put:
        try:
            store().delete_version(key, version)
        except Exception:  # noqa: BLE001
            log.warning("could not remove %s@%s after a failed restore", key, version)


def _reseal_thumbnail(row: dict, new_version: str, data_keys: dict[int, bytes], archive_of_doc: dict):
    sealed = row.get("thumbnail")
    if sealed is None:
        return None
    key = data_keys.get(archive_of_doc.get(row["document_id"]))
    if key is None:
        return sealed
    try:
        png = crypto.open_sealed(key, sealed, f"thumb:{row['store_key']}:{row['store_version']}".encode())
    except crypto.DecryptionFailed:
        return sealed  # unreadable before already: left as it was
    return crypto.seal(key, png, f"thumb:{row['store_key']}:{new_version}".encode())


@dataclass
class _Loading:
    """What the loader learns on its way through the tables (parents come before children)."""

    opener: Opener
    result: RestoreResult
    left_out: dict = field(default_factory=dict)  # (table, column) -> values of rows left out
    numbers: dict = field(default_factory=dict)  # archive id -> number
    archive_of_doc: dict = field(default_factory=dict)
    lost_items: set = field(default_factory=set)  # intake items whose scanned file went with an archive


def _decoded(values: dict) -> dict:
    return {k: decode(v) for k, v in values.items()}


def _tombstone(table: sa.Table, known: dict, ctx: _Loading) -> dict:
    """A row of an archive whose key is gone: its clear columns, every other column blank."""
    from portal.intake.models import FINISHED, REJECTED, SPLIT

    policy = POLICIES[table.name]
    pk = {c.name for c in table.primary_key.columns}
    row = {c.name: blank(c) for c in table.columns}
    row.update({k: v for k, v in known.items() if k in policy.clear or k in pk})
    if table.name == "archive":
        row["status"] = "destroyed"
        ctx.result.tombstones.append((row["id"], row.get("number") or f"#{row['id']}"))
    elif table.name == "intake_item":
        row["filename"] = f"#{row['id']}"
        ctx.lost_items.add(row["id"])
        if row.get("state") not in (*FINISHED, SPLIT):
            row["state"] = REJECTED
            row["reason"] = str(_l("The archive was destroyed after the backup this instance was restored "
                                   "from; its scanned pages are not restored."))
    elif table.name == "query_request" and row.get("archive_id") is not None:
        row["archive_ref"] = ctx.numbers.get(row["archive_id"]) or f"#{row['archive_id']}"
    return row


def _restore_row(table: sa.Table, line: dict, ctx: _Loading) -> tuple[dict | None, dict]:
    """(row to insert or None, what is known of it). A sealed row opens with the live key; without
    the key (destroyed since the backup) it becomes a tombstone or is left out (``POLICIES``)."""
    if not is_sealed_line(line):
        row = _decoded(line)
        return row, row
    if ctx.opener.can_open(line):
        try:
            row = _decoded(ctx.opener.open(table.name, line))
        except crypto.DecryptionFailed as exc:
            raise BackupFailed(_l("A sealed row of table %(table)s does not open with its archive's key "
                                  "(%(what)s): the backup was altered. Nothing was restored.",
                                  table=table.name, what=str(exc))) from exc
        return row, row
    known = _decoded({**(line.get("_pk") or {}), **(line.get("_clear") or {})})
    policy = POLICIES.get(table.name)
    if policy is not None and policy.tombstone:
        return _tombstone(table, known, ctx), known
    return None, known


def _load_rows(path: Path, manifest: dict, result: RestoreResult, say, opener: Opener) -> None:
    from portal.intake.models import FINISHED, REJECTED, SPLIT

    db.session.remove()
    engine = db.engine
    metadata = sa.MetaData()
    metadata.reflect(engine)
    wanted = set(manifest["tables"])
    present = {name for name in metadata.tables if name not in SKIPPED_TABLES}
    if wanted != present:
        raise BackupFailed(_l("The backup's tables differ from this database's at the same revision "
                              "(only in the backup: %(a)s; only here: %(b)s).",
                              a=", ".join(sorted(wanted - present)) or "-", b=", ".join(sorted(present - wanted)) or "-"))
    ordered = table_order(metadata)
    ctx = _Loading(opener, result)
    # Columns other rows refer to: the values of rows left out are remembered, so that a row referring
    # to one gets NULL there — or, where the reference is required, is left out as well.
    referenced = {}
    for table in ordered:
        for fk in table.foreign_keys:
            referenced.setdefault(fk.column.table.name, set()).add(fk.column.name)
    mark_write_transaction()
    with engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if not pg:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        else:
            conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
        # The rows are put back as they were: no trigger fires meanwhile (the register's append-only
        # triggers would refuse to clear what `portal init` wrote; they are back before the commit).
        triggers = _suspend_triggers(conn)
        for table in reversed(ordered):
            result.replaced += conn.execute(table.delete()).rowcount or 0
        deferred_updates = _cyclic_columns(metadata, ordered) if pg else {}
        for table in ordered:
            later = deferred_updates.get(table.name, [])
            batch, pending = [], []
            pk = [c.name for c in table.primary_key.columns]
            fks = [(fk.parent.name, (fk.column.table.name, fk.column.name), fk.parent.nullable)
                   for fk in table.foreign_keys]
            keep_values = referenced.get(table.name, set())
            for line in read_lines(path, manifest, table.name):
                row, known = _restore_row(table, line, ctx)
                if row is not None:
                    for column, target, nullable in fks:
                        value = row.get(column)
                        if value is not None and value in ctx.left_out.get(target, ()):
                            if not nullable:
                                row = None
                                break
                            row[column] = None
                if row is None:
                    result.left_out[table.name] = result.left_out.get(table.name, 0) + 1
                    for column in keep_values:
                        if known.get(column) is not None:
                            ctx.left_out.setdefault((table.name, column), set()).add(known[column])
                    continue
                if table.name == "archive":
                    ctx.numbers[row["id"]] = row.get("number")
                elif table.name == "document":
                    ctx.archive_of_doc[row["id"]] = row["archive_id"]
                elif table.name == "document_version" and row.get("store_key"):
                    new = result.version_map[(row["store_key"], row["store_version"])]
                    row["thumbnail"] = _reseal_thumbnail(row, new, opener.keys, ctx.archive_of_doc)
                    row["store_version"] = new
                elif table.name == "intake_item":
                    if row.get("staged_key") and row.get("staged_version"):
                        row["staged_version"] = result.version_map[(row["staged_key"], row["staged_version"])]
                    if row.get("parent_id") in ctx.lost_items and row["id"] not in ctx.lost_items:
                        # a part of a scanned batch whose file went with a destroyed archive
                        ctx.lost_items.add(row["id"])
                        if row.get("state") not in (*FINISHED, SPLIT):
                            row["state"] = REJECTED
                            row["reason"] = str(_l("The scanned file was destroyed with another archive's "
                                                   "material after the backup; scan these pages again."))
                if later:
                    held = {c: row[c] for c in later if row.get(c) is not None}
                    if held:
                        pending.append(({c: row[c] for c in pk}, held))
                        row = {**row, **{c: None for c in held}}
                batch.append(row)
                if len(batch) >= 1000:
                    conn.execute(table.insert(), batch)
                    result.rows += len(batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
                result.rows += len(batch)
            if pending:
                deferred_updates.setdefault("__after__", []).append((table, pending))
            result.tables += 1
        for table, pending in deferred_updates.get("__after__", []):
            for ident, held in pending:
                conn.execute(table.update().where(*(table.c[k] == v for k, v in ident.items())).values(**held))
        if pg:
            _reset_sequences(conn, ordered)
        _resume_triggers(conn, triggers)
    left = sum(result.left_out.values())
    say(f"Database: {result.tables} tables, {result.rows} rows loaded ({result.replaced} rows of the "
        "empty instance — users, settings, its set-up register entries — replaced)"
        + (f"; {left} rows of archives destroyed since the backup left out "
           f"({', '.join(f'{k} {v}' for k, v in sorted(result.left_out.items()))})" if left else "") + ".")


def _suspend_triggers(conn) -> list:
    if conn.dialect.name == "postgresql":
        tables = conn.execute(sa.text(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal "
            "AND n.nspname = current_schema()")).scalars().all()
        for name in tables:
            conn.exec_driver_sql(f'ALTER TABLE "{name}" DISABLE TRIGGER USER')
        return list(tables)
    triggers = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
    for name, _sql in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    return list(triggers)


def _resume_triggers(conn, suspended: list) -> None:
    if conn.dialect.name == "postgresql":
        for name in suspended:
            conn.exec_driver_sql(f'ALTER TABLE "{name}" ENABLE TRIGGER USER')
        return
    for _name, sql in suspended:
        conn.exec_driver_sql(sql)


def _cyclic_columns(metadata: sa.MetaData, ordered: list[sa.Table]) -> dict[str, list[str]]:
    """Nullable foreign-key columns that point at a table loaded later or at their own table
    (PostgreSQL checks foreign keys per statement): loaded as NULL, filled in afterwards."""
    position = {t.name: i for i, t in enumerate(ordered)}
    out: dict[str, list[str]] = {}
    for table in ordered:
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if target in position and position[target] >= position[table.name] and fk.parent.nullable:
                out.setdefault(table.name, []).append(fk.parent.name)
    return out


def _reset_sequences(conn, tables: list[sa.Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": column.name}).scalar()
            if seq:
                conn.execute(sa.text(f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") FROM '
                                     f'"{table.name}"), 1), (SELECT MAX("{column.name}") FROM '
                                     f'"{table.name}") IS NOT NULL)'), {"s": seq})


def _after_load(path: Path, manifest: dict, result: RestoreResult, check: Check, say) -> None:
    from portal.documents.models import ArchiveKey
    from portal.register.services import verify
    from portal.storage import store

    db.session.remove()
    # 1. Every object re-read from the store and compared with the backup's hash.
    s = store()
    reread = 0
    for o in manifest.get("objects") or []:
        new = result.version_map.get((o["key"], o["version"]))
        if new is None:
            continue  # left out: its archive was destroyed after the backup
        reread += 1
        digest = hashlib.sha256()
        for chunk in s.get(o["key"], new):
            digest.update(chunk)
        if digest.hexdigest() != o["sha256"]:
            raise BackupFailed(_l("The store returned %(key)s differently from the backup (hash differs) "
                                  "after the restore.", key=o["key"]))
    say(f"Objects: {reread} re-read from the store, every hash matches.")
    # 2. Archives whose key was destroyed after the backup (KEK gone from the live vault): their rows
    #    stayed sealed, so they came back as tombstones; their key rows say destroyed.
    gone = sorted(set(check.absent_archives) | {archive_id for archive_id, _number in result.tombstones})
    if gone:
        mark_write_transaction()
        for row in db.session.scalars(sa.select(ArchiveKey).where(ArchiveKey.archive_id.in_(gone))):
            row.wrapped_key = None
            row.vault_key_id = None
            row.destroyed_at = row.destroyed_at or utcnow()
        db.session.commit()
        result.destroyed_since = gone
    if result.tombstones:
        say(f"Archives destroyed after this backup, restored as tombstones only (number, dates, status "
            f"destroyed; no profile, sub-records, documents or texts — their keys are gone): "
            f"{', '.join(number for _id, number in sorted(result.tombstones))}. Their destruction is "
            "recorded in the destruction register (销毁登记簿) of the instance that carried it out.")
    # 3. The register chain.
    verdict = verify()
    db.session.rollback()
    if not verdict.ok:
        raise BackupFailed(_l("The restored access register does not verify (entry %(seq)s: %(problem)s).",
                              seq=verdict.first_bad_seq, problem=verdict.problem))
    result.register_checked = verdict.checked
    say(f"Access register: {verdict.checked} entries, hash chain intact.")
    # 4. The search index, rebuilt from the restored rows.
    try:
        from portal.search.indexing import rebuild
        report = rebuild(current_app._get_current_object())
        result.search = f"rebuilt ({getattr(report, 'archives', '')} archives, {getattr(report, 'documents', '')} documents)"
    except Exception as exc:  # noqa: BLE001 (the data are restored; the index can be rebuilt later)
        log.exception("search index rebuild after restore failed")
        result.search = f"not rebuilt ({type(exc).__name__}): run “portal reindex”"
    say(f"Search index: {result.search}.")


# --- the register page and /healthz ---------------------------------------------------------------

def last_success() -> BackupRun | None:
    return db.session.scalar(sa.select(BackupRun).where(BackupRun.kind == BACKUP, BackupRun.result == OK)
                             .order_by(BackupRun.finished_at.desc()).limit(1))


def backup_age() -> timedelta | None:
    run = last_success()
    if run is None or run.finished_at is None:
        return None
    return utcnow() - run.finished_at


def health() -> dict:
    """The ``backup`` component of /healthz (not required: a missed backup degrades nothing live)."""
    try:
        age = backup_age()
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        return {"ok": False, "required": False, "error": exc.__class__.__name__}
    if age is None:
        return {"ok": False, "required": False, "last": None, "error": "no successful backup yet"}
    hours = round(age.total_seconds() / 3600, 1)
    return {"ok": age <= WEEKLY, "required": False, "age_hours": hours,
            **({"error": "last successful backup older than 8 days"} if age > WEEKLY else {})}


def runs_query(kind: str = "", result: str = "") -> sa.Select:
    q = sa.select(BackupRun)
    if kind:
        q = q.where(BackupRun.kind == kind)
    if result:
        q = q.where(BackupRun.result == result)
    return q.order_by(BackupRun.started_at.desc(), BackupRun.id.desc())

