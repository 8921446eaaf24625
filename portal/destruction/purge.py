"""Executing a destruction: what is removed, in which order, and how a crash is survived.

Order (each step can be repeated; ``finish`` runs whatever is left):

1. ``begin`` — one transaction: the application becomes ``executing`` (executor, witness, paper
   method, time), each archive becomes ``destroyed`` at once (from this commit on it is out of
   every list, search, page and upload: ``get_archive`` answers 404) and its record ``executing``
   with the counts of what will go (documents, versions, pages, object versions and bytes in the
   store, staged intake files, intake pages, sub-records).
2. ``finish`` — the store first, outside any database transaction: every object version under
   ``archives/<id>/`` (MinIO/S3 versions included: versions are deleted one by one, no delete
   markers) and every staged intake file holding pages of the archive; then listed again — if
   anything remains, execution stops here (503) and can be resumed. Copies that the watched
   intake folder kept of received scans (``done/``, ``failed/``) are overwritten and removed.
3. The certificate 销毁清册 is rendered (PDF) — before the transaction, which stays short.
4. One database transaction (SQLite: ``PRAGMA secure_delete`` on, so freed pages are zeroed):
   the data key (``documents.services.destroy_data_key``: the KEK in the key vault goes, so every
   backup and replica of the wrapped key is useless), documents with their versions (texts, OCR,
   thumbnails) and history, intake pages and file names, the profile's fields and sub-records,
   change-request values and query-request texts, texts kept by other parts (``SCRUBBERS``); the
   record becomes ``done``, the application ``executed`` with its certificate; DESTRUCTION_EXECUTE
   is registered per archive. Deletions go through the ORM so the search outbox removes the index
   entries.
5. After the commit: the search index (every generation on disk) drops the archive's entries and
   rewrites the segments that held them (a Whoosh deletion only marks documents deleted); SQLite
   checkpoints and truncates its write-ahead log; PostgreSQL vacuums the tables touched.

What remains, by design: the tombstone (archive row: number, name if ``destruction_keep_name``,
filing and termination dates, department, type), the application, the records and the
certificate; the access register, append-only and hash-chained, keeps its entries (which name the
archive number and, in their details, e.g. the customer's name at creation and document titles) —
the law requires that record. PostgreSQL's own write-ahead log and earlier database backups keep
old row images until they age out; the documents in them stay unreadable (their key is gone).
"""
from __future__ import annotations

import hashlib
import logging
import os
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.actor import Actor
from portal.archives.forms import INT_CHOICES
from portal.archives.models import DESTROYED, Archive
from portal.archives.profile import SECTIONS
from portal.archives.subrecords import KINDS
from portal.auth.models import User
from portal.dbsetup import begin_write
from portal.destruction import retention_link
from portal.destruction.models import (
    ELECTRONIC_METHOD,
    R_DONE,
    R_EXECUTING,
    R_PENDING,
    S_APPROVED,
    S_EXECUTED,
    S_EXECUTING,
    DestructionApplication,
    DestructionRecord,
)
from portal.documents.models import Document, DocumentEvent, DocumentVersion
from portal.errors import InvalidState
from portal.extensions import db
from portal.intake.models import FINISHED, REJECTED, SOURCE_WATCH, SPLIT, IntakeItem, IntakePage
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record
from portal.storage import StoreUnavailable, store

log = logging.getLogger(__name__)

# Profile fields a tombstone keeps (classification, not personal data); the name is kept only when
# the setting allows, the termination date always (it is the tombstone's date).
KEPT_FIELDS = frozenset({"customer_type_id", "department_id", "stage", "importance", "sensitivity",
                         "terminated_on"})
NAME_FIELDS = ("name", "name_en")
TOUCHED_TABLES = ("archive", "archive_contact", "archive_cooperation", "archive_transaction",
                  "archive_communication", "archive_service", "archive_feedback", "archive_anniversary",
                  "archive_key", "document", "document_version", "document_event", "intake_item",
                  "intake_page", "change_request", "change_request_item", "query_request",
                  "query_request_document", "notification", "job", "search_outbox")
WATCH_PREFIX = "watch:"


def archive_prefix(archive_id: int) -> str:
    return f"archives/{archive_id}/"


# --- what belongs to the archive ----------------------------------------------------------------

def _document_ids(archive_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(Document.id).where(Document.archive_id == archive_id)))


@dataclass
class IntakeShare:
    """The scan-intake items of an archive: its own items, and the received files (roots) that
    hold pages of it (whole, or as parts split at cover sheets)."""

    own: list[IntakeItem] = field(default_factory=list)
    roots: list[IntakeItem] = field(default_factory=list)

    def page_ranges(self, root: IntakeItem) -> list[tuple[int, int]] | None:
        """Pages of ``root`` that are the archive's: None = all of them."""
        parts = [i for i in self.own if i.parent_id == root.id]
        if any(i.id == root.id for i in self.own) and not root.parts:
            return None
        return [(p.page_from or 1, p.page_to or p.page_from or 1) for p in parts]


def intake_share(archive_id: int) -> IntakeShare:
    doc_ids = _document_ids(archive_id)
    cond = IntakeItem.archive_id == archive_id
    if doc_ids:
        cond = sa.or_(cond, IntakeItem.document_id.in_(doc_ids))
    own = list(db.session.scalars(sa.select(IntakeItem).where(cond).order_by(IntakeItem.id)))
    roots: dict[int, IntakeItem] = {}
    for item in own:
        roots.setdefault(item.root.id, item.root)
    return IntakeShare(own, [roots[k] for k in sorted(roots)])


def _staged_versions(roots: list[IntakeItem]):
    s = store()
    for root in roots:
        if root.staged_key:
            for obj in s.list_versions(root.staged_key):
                if obj.key == root.staged_key:
                    yield obj


# --- 1. begin --------------------------------------------------------------------------------------

def _count(rec: DestructionRecord) -> None:
    aid = rec.archive_id
    docs, versions, pages = db.session.execute(
        sa.select(sa.func.count(sa.distinct(Document.id)), sa.func.count(DocumentVersion.id),
                  sa.func.coalesce(sa.func.sum(DocumentVersion.page_count), 0))
        .select_from(Document).outerjoin(DocumentVersion, DocumentVersion.document_id == Document.id)
        .where(Document.archive_id == aid)).one()
    rec.documents, rec.versions, rec.pages = docs or 0, versions or 0, int(pages or 0)
    objects = [o for o in store().list_versions(archive_prefix(aid))]
    share = intake_share(aid)
    staged = list(_staged_versions(share.roots))
    rec.objects = len(objects)
    rec.intake_objects = len(staged)
    rec.bytes_removed = sum(o.size for o in objects) + sum(o.size for o in staged)
    rec.intake_pages = 0
    for root in share.roots:
        q = sa.select(sa.func.count()).select_from(IntakePage).where(IntakePage.item_id == root.id)
        ranges = share.page_ranges(root)
        if ranges is not None:
            if not ranges:
                continue
            q = q.where(sa.or_(*(IntakePage.number.between(a, b) for a, b in ranges)))
        rec.intake_pages += db.session.scalar(q) or 0
    rec.subrecords = sum(db.session.scalar(sa.select(sa.func.count()).select_from(k.model)
                                           .where(k.model.archive_id == aid)) or 0 for k in KINDS)


def begin(actor: Actor, app_id: int, witness: User, paper_method: str) -> None:
    """Mark the application executing and its archives destroyed (committed), counting what goes."""
    app = db.session.get(DestructionApplication, app_id)
    begin_write(app)
    if app.status == S_EXECUTING:
        db.session.commit()
        return
    if app.status != S_APPROVED:
        raise InvalidState(_l("This destruction application is %(status)s; there is nothing to execute.",
                              status=app.status_label))
    for rec in app.records:  # a hold placed while the passwords were checked
        if retention_link.is_held(rec.archive_id):
            db.session.commit()
            retention_link.require_not_held(actor, rec.archive)
    now = utcnow()
    app.status = S_EXECUTING
    app.executor_id, app.witness_id = actor.user.id, witness.id
    app.paper_method, app.execution_started_at = paper_method, now
    for rec in app.records:
        if rec.state != R_PENDING:
            continue
        _count(rec)
        rec.state = R_EXECUTING
        rec.method = ELECTRONIC_METHOD + (f"；纸质档案：{paper_method}" if paper_method else "")
        archive = rec.archive
        archive.status = DESTROYED  # out of every list, search and page from this commit on
    db.session.commit()


# --- 2. the store ------------------------------------------------------------------------------

class PurgeIncomplete(StoreUnavailable):
    """Object versions of the archive are still in the store after deletion."""


def purge_store(archive_id: int) -> list[str]:
    """Delete every version under the archive's prefix and its staged intake files; list again to
    prove none remains; remove the watched folder's copies. Returns notes for the record."""
    s = store()
    share = intake_share(archive_id)
    roots = [(r.staged_key, r) for r in share.roots if r.staged_key]
    for obj in list(s.list_versions(archive_prefix(archive_id))):
        s.delete_version(obj.key, obj.version_id)
    for key, _root in roots:
        for obj in list(s.list_versions(key)):
            if obj.key == key:
                s.delete_version(obj.key, obj.version_id)
    left = [f"{o.key}@{o.version_id}" for o in s.list_versions(archive_prefix(archive_id))]
    for key, _root in roots:
        left += [f"{o.key}@{o.version_id}" for o in s.list_versions(key) if o.key == key]
    if left:
        log.error("destruction of archive %s: %d object versions remain: %s", archive_id, len(left), left[:5])
        raise PurgeIncomplete(_l("The document store still holds %(n)s versions of this archive after "
                                 "deleting them. Nothing else was changed; run the execution again.",
                                 n=len(left)))
    return _purge_watched_copies(share)


def _overwrite_and_remove(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        remaining = size
        zeros = b"\0" * (1024 * 1024)
        while remaining > 0:
            n = min(remaining, len(zeros))
            fh.write(zeros[:n])
            remaining -= n
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _watched_folders(client_addr: str) -> list[Path]:
    """The watched folder an item came from. Its path is kept in ``client_addr`` ("watch:<path>",
    64 characters at most): when it was cut short, the folders whose path begins with what is kept
    (and that have a ``done/`` folder, at most two levels further down) are candidates — a copy
    is only ever removed when its SHA-256 matches the received file."""
    path = client_addr[len(WATCH_PREFIX):]
    folder = Path(path)
    if folder.is_dir() and (len(client_addr) < 64 or (folder / "done").is_dir()):
        return [folder]
    if len(client_addr) < 64 or not folder.parent.is_dir():
        return []
    found = []
    try:
        starts = [p for p in folder.parent.iterdir() if p.is_dir() and p.name.startswith(folder.name)]
    except OSError:
        return []
    for start in starts[:20]:
        level = [start]
        for _depth in range(3):
            found += [d for d in level if (d / "done").is_dir() or (d / "failed").is_dir()]
            level = [c for d in level for c in _subdirs(d)][:50]
    return found


def _subdirs(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                and p.name not in ("done", "failed")]
    except OSError:
        return []


def _purge_watched_copies(share: IntakeShare) -> list[str]:
    """A file taken from a watched folder is moved to its ``done/`` (or ``failed/``) folder; those
    copies are plaintext scans of the customer's papers. Found by name and SHA-256."""
    notes = []
    for root in share.roots:
        if root.source != SOURCE_WATCH or not (root.client_addr or "").startswith(WATCH_PREFIX):
            continue
        folders = _watched_folders(root.client_addr)
        if not folders:
            notes.append(f"watched folder {root.client_addr[len(WATCH_PREFIX):]} not reachable: remove the copy "
                         f"of received file sha256 {root.sha256[:16]}… from its done/ folder by hand")
            continue
        removed = 0
        for where in (f / sub for f in folders for sub in ("done", "failed")):
            if not where.is_dir():
                continue
            for path in where.iterdir():
                if not path.is_file() or not path.name.endswith(f"-{root.filename}"):
                    continue
                try:
                    if _sha256_of(path) != root.sha256:
                        continue
                    _overwrite_and_remove(path)
                    removed += 1
                    with suppress(FileNotFoundError):
                        reason = Path(f"{path}.reason.txt")
                        if reason.exists():
                            _overwrite_and_remove(reason)
                except OSError as exc:
                    notes.append(f"watched-folder copy in {where} could not be removed ({exc.__class__.__name__})")
        if removed:
            notes.append(f"{removed} watched-folder copies removed from {', '.join(str(f) for f in folders)}")
    return notes


# --- 4. the database -------------------------------------------------------------------------------

def _blank_profile(archive: Archive, keep_name: bool) -> None:
    for section in SECTIONS:
        for f in section.fields:
            if f.name in KEPT_FIELDS or (keep_name and f.name in NAME_FIELDS):
                continue
            if f.type == "date" or (f.type == "choice" and f.choices in INT_CHOICES):
                setattr(archive, f.name, None)
            else:
                setattr(archive, f.name, "")
    archive.contract_signed_on = None
    archive.review_note = ""


def _scrub_intake(share: IntakeShare, note: str, own_note: str) -> None:
    """Pages read from the archive's scans, the staged files (already gone from the store), file
    names and titles; parts of a shared scan that belong to other archives and still wait are
    rejected with ``note`` (their pages went with the file)."""
    ours = {i.id for i in share.own}
    for root in share.roots:
        ranges = share.page_ranges(root)
        if ranges is None:
            db.session.execute(sa.delete(IntakePage).where(IntakePage.item_id == root.id))
        elif ranges:
            db.session.execute(sa.delete(IntakePage).where(
                IntakePage.item_id == root.id, sa.or_(*(IntakePage.number.between(a, b) for a, b in ranges))))
        root.staged_key = root.staged_version = None
        root.wrapped_key = None
        for part in root.parts:
            if part.id not in ours and part.state not in (*FINISHED, SPLIT):
                part.state = REJECTED
                part.reason = note
        if root.parts and all(p.id in ours for p in root.parts):
            root.filename = f"#{root.id}"
    for item in share.own:
        item.document_id = None
        item.filename = f"#{item.id}"
        item.title = ""
        item.cover_number = ""
        item.reason = ""
        if item.state not in (*FINISHED, SPLIT):  # still waiting: its file went with the archive
            item.state = REJECTED
            item.reason = own_note
        if item.job is not None:
            item.job.progress = ""
            item.job.error = ""


def _scrub_requests(archive: Archive, doc_ids: list[int]) -> None:
    from portal.workflows.requests import ChangeRequest, QueryRequest, query_request_document

    for req in db.session.scalars(sa.select(ChangeRequest).where(ChangeRequest.archive_id == archive.id)):
        req.reason = req.head_note = req.service_note = req.reject_reason = ""
        req.evidence_document_id = None
        for item in req.items:
            item.old_value = item.new_value = ""
    for req in db.session.scalars(sa.select(QueryRequest).where(QueryRequest.archive_id == archive.id)):
        req.purpose = req.scope_note = req.archivist_note = req.manager_note = req.reject_reason = ""
        req.archive_ref = archive.number or f"#{archive.id}"
        req.asked_document_id = None
    if doc_ids:
        db.session.execute(sa.delete(query_request_document).where(
            query_request_document.c.document_id.in_(doc_ids)))
        db.session.execute(sa.update(QueryRequest).where(QueryRequest.asked_document_id.in_(doc_ids))
                           .values(asked_document_id=None))
        from portal.workflows.requests import ChangeRequest as CR
        db.session.execute(sa.update(CR).where(CR.evidence_document_id.in_(doc_ids))
                           .values(evidence_document_id=None))


def _scrub_notifications(archive: Archive, name: str) -> None:
    """Notifications name archives by number (and some by the customer's name); when names are not
    kept, the name is replaced by the number in every notification text that holds it."""
    from portal.notifications import Notification

    if len(name) < 2:
        return
    db.session.execute(sa.update(Notification).where(Notification.text.contains(name))
                       .values(text=sa.func.replace(Notification.text, name, archive.number or "")))


def scrub_database(actor: Actor, app: DestructionApplication, rec: DestructionRecord, keep_name: bool,
                   notes: list[str]) -> None:
    """Everything of the archive in the database, in the caller's transaction."""
    from portal.destruction.services import SCRUBBERS
    from portal.documents.services import destroy_data_key

    archive = db.session.get(Archive, rec.archive_id)
    name = archive.name
    doc_ids = _document_ids(archive.id)
    share = intake_share(archive.id)
    _scrub_intake(share, str(_l("The scanned file was destroyed with another archive's material "
                                "(destruction %(number)s); scan these pages again.", number=app.number)),
                  str(_l("The archive was destroyed (destruction %(number)s).", number=app.number)))
    _scrub_requests(archive, doc_ids)
    db.session.flush()  # nothing refers to the documents any more
    if doc_ids:
        db.session.execute(sa.delete(DocumentEvent).where(DocumentEvent.document_id.in_(doc_ids)))
        for doc in db.session.scalars(sa.select(Document).where(Document.id.in_(doc_ids))):
            db.session.delete(doc)  # with its versions: texts, OCR, thumbnails (search outbox notes it)
    for kind in KINDS:
        for row in db.session.scalars(sa.select(kind.model).where(kind.model.archive_id == archive.id)):
            db.session.delete(row)
    _blank_profile(archive, keep_name)
    archive.status = DESTROYED
    if not keep_name:
        _scrub_notifications(archive, name)
        rec.customer_name = ""
    for fn in SCRUBBERS:
        fn(actor, archive, keep_name)
    db.session.flush()
    destroyed = destroy_data_key(actor, archive.id)
    rec.key_destroyed = bool(destroyed) or _key_gone(archive.id)
    rec.notes = "\n".join(notes)[:4000]
    rec.state = R_DONE
    rec.done_at = utcnow()
    rec.active_archive_id = None
    record(actor, actions.DESTRUCTION_EXECUTE, archive=archive, detail=(
        f"{app.number}: {rec.documents} documents, {rec.versions} versions, {rec.objects} object versions "
        f"and {rec.intake_objects} staged files ({rec.bytes_removed} bytes) removed; key destroyed: "
        f"{'yes' if rec.key_destroyed else 'none existed'}; witness {app.witness.username if app.witness else ''}; "
        f"paper: {app.paper_method or '-'}"))


def _key_gone(archive_id: int) -> bool:
    from portal.documents.models import ArchiveKey

    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive_id))
    return row is not None and row.wrapped_key is None


def _secure_delete(value) -> int | None:
    """SQLite: set ``PRAGMA secure_delete`` on this connection (freed pages and cells are overwritten
    with zeros); returns the previous value to restore (Debian's SQLite has it on by default, other
    builds do not). None on other databases."""
    if db.session.get_bind().dialect.name != "sqlite":
        return None
    previous = db.session.execute(sa.text("PRAGMA secure_delete")).scalar()
    db.session.execute(sa.text(f"PRAGMA secure_delete = {int(value)}"))
    return previous


def finish(actor: Actor, app_id: int) -> DestructionApplication:
    """Steps 2–5 for every archive still executing (idempotent; see the module doc)."""
    from portal.destruction import certificate
    from portal.destruction.services import keep_name as keep_name_setting

    app = db.session.get(DestructionApplication, app_id)
    if app.status == S_EXECUTED:
        return app
    if app.status != S_EXECUTING:
        raise InvalidState(_l("This destruction application is %(status)s; there is nothing to execute.",
                              status=app.status_label))
    pending = [rec.id for rec in app.records if rec.state == R_EXECUTING]
    archive_ids = [rec.archive_id for rec in app.records]
    notes: dict[int, list[str]] = {}
    for rec in app.records:
        if rec.id in pending:
            notes[rec.id] = purge_store(rec.archive_id)
    db.session.rollback()  # end the read snapshot: no lock was held while the store worked
    keep = keep_name_setting()
    executed_at = utcnow()
    pdf = certificate.render(db.session.get(DestructionApplication, app_id), executed_at, keep)
    app = db.session.get(DestructionApplication, app_id)
    begin_write(app)
    if app.status == S_EXECUTED:  # finished meanwhile by a concurrent run
        db.session.commit()
        return app
    previous = _secure_delete(1)
    try:
        for rec in app.records:
            if rec.state == R_EXECUTING:
                scrub_database(actor, app, rec, keep, notes.get(rec.id, []))
        app.status = S_EXECUTED
        app.executed_at = executed_at
        app.certificate_pdf = pdf
        app.certificate_sha256 = hashlib.sha256(pdf).hexdigest()
        _tell_done(app)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if previous is not None and previous != 1:
            with suppress(Exception):
                _secure_delete(previous)
                db.session.commit()
    after_commit(current_app._get_current_object(), archive_ids)
    return db.session.get(DestructionApplication, app_id)


def _tell_done(app: DestructionApplication) -> None:
    from portal import notifications
    from portal.destruction.services import application_url
    from portal.workflows.requests import in_language_of

    told = set()
    for user in (app.applicant, app.service, app.manager, *(p.approver for p in app.department_parts)):
        if user is None or user.id in told or user.id == app.executor_id:
            continue
        told.add(user.id)
        with in_language_of(user):
            notifications.notify(user, _("Destruction %(number)s was executed; the certificate is in the "
                                         "destruction register.", number=app.number), application_url(app.id))


# --- 5. after the commit -------------------------------------------------------------------------

def after_commit(app, archive_ids: list[int]) -> None:
    """Index, write-ahead log and free space: best effort (logged), never undoing the destruction."""
    try:
        purge_index(app, archive_ids)
    except Exception:  # noqa: BLE001
        log.exception("destruction: search index purge failed (the outbox still removes the entries)")
    try:
        compact_database(app)
    except Exception:  # noqa: BLE001
        log.exception("destruction: database compaction failed")


def expunge_deletes(writer, segments):
    """Whoosh merge policy: rewrite every segment that has deleted documents (without them), so
    that a deleted entry's terms leave the files instead of being only marked deleted."""
    from whoosh.reading import SegmentReader

    keep = []
    for seg in segments:
        if seg.has_deletions():
            reader = SegmentReader(writer.storage, writer.schema, seg)
            writer.add_reader(reader)
            reader.close()
        else:
            keep.append(seg)
    return keep


def purge_index(app, archive_ids: list[int]) -> int:
    """Remove the archives' entries (profile and documents) from every index generation on disk
    and rewrite the segments that held them. Returns how many generations were purged."""
    from whoosh.index import LockError

    from portal.search import indexing, schema

    root = indexing.index_root(app)
    done = 0
    if not root.is_dir():
        return 0
    with indexing._process_lock:  # noqa: SLF001 (the index's own writer lock within this process)
        for path in sorted(p for p in root.glob("ix-*") if p.is_dir()):
            try:
                ix = indexing.open_index(path)
                writer = ix.writer(timeout=30.0, compound=False)
            except LockError:
                log.warning("search index %s busy: destroyed entries are removed by the outbox", path.name)
                continue
            except Exception:  # noqa: BLE001 (an unreadable old generation)
                log.warning("search index %s unreadable; skipped", path.name)
                continue
            try:
                for aid in archive_ids:
                    writer.delete_by_term("archive", str(aid))
                    writer.delete_by_term("key", schema.key(schema.KIND_ARCHIVE, aid))
                writer.commit(mergetype=expunge_deletes)
            except BaseException:
                writer.cancel()
                raise
            done += 1
    return done


def compact_database(app, tables=TOUCHED_TABLES) -> None:
    """SQLite: checkpoint and truncate the write-ahead log (old page images of changed rows go);
    PostgreSQL: VACUUM ``tables`` (also used by ``portal.housekeeping`` for the intake tables)."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            existing = set(sa.inspect(conn).get_table_names())
            present = [t for t in tables if t in existing]
            if present:
                conn.exec_driver_sql("VACUUM " + ", ".join(f'"{t}"' for t in present))
