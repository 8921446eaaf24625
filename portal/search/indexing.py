"""The index on disk, its single writer, its rebuild, and its health.

Layout of ``SEARCH_INDEX_DIR`` (default ``<instance>/search_index``)::

    CURRENT              name of the generation in use (replaced atomically)
    ix-<stamp>/          a Whoosh index (one generation); the previous one is kept until the next
                         rebuild so that searchers still reading it are not cut off
    REBUILDING           present while ``rebuild`` runs (its pid and start time)

Writes: every transaction that changes an archive, a sub-record, a document or a version adds
rows to ``search_outbox`` before it commits (``track``, a session ``after_flush`` hook). After the
commit the writer is woken (``after_commit``): in the embedded default a daemon thread per process
(``SEARCH_WRITER="thread"``), or synchronously right after the commit (``"sync"``, tests of search);
``"manual"`` leaves the rows for ``drain()`` (the other tests). ``drain`` takes Whoosh's
write lock of the current generation (one writer at a time across threads and processes), reads the
pending rows, re-reads each changed object's *current* state from the database, updates or deletes
its entries, commits the index, and only then marks the rows done. Because the state is read under
the lock, a later writer always sees a later state: two requests committing at once cannot lose an
update; a crash between index commit and marking re-applies the same state (idempotent).
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.archives.models import DESTROYED
from portal.models_base import utcnow
from portal.search import schema
from portal.search.analysis import NoLengthStatsCodec
from portal.search.models import ARCHIVE, ARCHIVE_ALL, DOCUMENT, SearchOutbox

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
REBUILDING = "REBUILDING"
KEEP_DONE = timedelta(days=1)
REPLAY_MARGIN = timedelta(minutes=2)
# Segments stay separate files (compound=False): a reader on a compound segment holds the whole
# file in memory (0.9 GB at 100,000 documents, per searcher, see bench/search/README.md); separate
# files are read through the OS page cache, shared by every process and thread.
_process_lock = threading.RLock()


class IndexUnavailable(Exception):
    """The index is missing or unreadable (a rebuild has been started)."""


# --- where the index lives -----------------------------------------------------------------

def index_root(app=None) -> Path:
    app = app or current_app
    configured = app.config.get("SEARCH_INDEX_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "search_index"


def current_dir(root: Path) -> Path | None:
    try:
        name = (root / CURRENT).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not name or "/" in name or not (root / name).is_dir():
        return None
    return root / name


def _set_current(root: Path, path: Path) -> None:
    tmp = root / f".{CURRENT}.{os.getpid()}"
    tmp.write_text(path.name)
    with open(tmp) as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / CURRENT)


def open_index(path: Path):
    from whoosh import index
    return index.open_dir(str(path))


def create_index(root: Path):
    from whoosh import index
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"ix-{utcnow():%Y%m%dT%H%M%S%f}-{os.getpid()}"
    path.mkdir()
    return index.create_in(str(path), schema.make_schema()), path


# --- tracking changes (in the committing transaction) ---------------------------------------

def _changed_keys(session: Session) -> set[tuple[str, int]]:
    from portal.archives.models import Archive
    from portal.archives.subrecords import KINDS
    from portal.documents.models import ArchiveKey, Document, DocumentVersion

    sub_models = tuple(k.model for k in KINDS)
    keys: set[tuple[str, int]] = set()

    def note(obj, deleted: bool) -> None:
        if isinstance(obj, Archive):
            if obj.id is not None:
                keys.add((ARCHIVE_ALL, obj.id))
        elif isinstance(obj, sub_models):
            if obj.archive_id is not None:
                keys.add((ARCHIVE, obj.archive_id))
        elif isinstance(obj, Document):
            if obj.id is not None:
                keys.add((DOCUMENT, obj.id))
        elif isinstance(obj, DocumentVersion):
            if obj.document_id is not None:
                keys.add((DOCUMENT, obj.document_id))
        elif isinstance(obj, ArchiveKey):
            if obj.archive_id is not None:
                keys.add((ARCHIVE_ALL, obj.archive_id))

    for obj in session.new:
        note(obj, False)
    for obj in session.deleted:
        note(obj, True)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            note(obj, False)
    return keys


def _after_flush(session: Session, flush_context) -> None:
    keys = _changed_keys(session)
    if not keys:
        return
    seen = session.info.setdefault("search_keys", set())
    fresh = keys - seen
    if not fresh:
        return
    seen.update(fresh)
    now = utcnow()
    session.connection().execute(SearchOutbox.__table__.insert(),
                                 [{"kind": k, "obj_id": i, "queued_at": now} for k, i in sorted(fresh)])
    session.info["search_dirty"] = True


def _after_commit(session: Session) -> None:
    session.info.pop("search_keys", None)
    if session.info.pop("search_dirty", False):
        try:
            app = current_app._get_current_object()
        except RuntimeError:  # outside the application (scripts): the next drain picks it up
            return
        mode = app.config.get("SEARCH_WRITER", "thread")
        if mode == "sync":
            try:
                drain(app)
            except Exception:  # noqa: BLE001 - the commit stands; the rows stay pending
                log.exception("search index update failed; the change stays queued")
        elif mode == "thread":
            worker(app).wake()
        # "manual": the rows wait for ``drain()`` / ``portal reindex`` (tests that do not search)


def _after_rollback(session: Session) -> None:
    session.info.pop("search_keys", None)
    session.info.pop("search_dirty", None)


def install() -> None:
    """Register the session hooks once per process."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, prev: _after_rollback(s))


# --- merging -------------------------------------------------------------------------------

MERGE_FACTOR = 10


def tiered_merge(writer, segments):
    """Whoosh merge policy for the live writer: segments are grouped in tiers by size (1–9, 10–99,
    100–999 … documents); when a tier holds ``MERGE_FACTOR`` segments they are merged into one of
    the next tier. Every document is rewritten about log10(N) times in its life, and a commit never
    rewrites a large segment because of a one-document change — Whoosh's default policy did, often
    enough that one commit in seven took 1–6 s (bench/README.md, Search). At most
    ``MERGE_FACTOR - 1`` segments per tier stay, so searches open a bounded number of segments.
    """
    import math

    from whoosh.reading import SegmentReader

    tiers: dict[int, list] = {}
    for seg in segments:
        live = seg.doc_count()
        tiers.setdefault(int(math.log10(max(live, 1))), []).append(seg)
    for tier in sorted(tiers):
        group = tiers[tier]
        if len(group) >= MERGE_FACTOR:
            for seg in group:
                reader = SegmentReader(writer.storage, writer.schema, seg)
                writer.add_reader(reader)
                reader.close()
            return [seg for seg in segments if seg not in group]
    return segments


# --- applying changes -----------------------------------------------------------------------

def _entries_for(session: Session, kind: str, obj_id: int):
    """(deletions, additions) for one outbox key, from the current database state."""
    from portal.archives.models import Archive
    from portal.documents.models import ArchiveKey, Document, DocumentVersion

    deletes: list[tuple[str, str]] = []
    adds: list[dict] = []

    def destroyed(archive_id: int) -> bool:
        return bool(session.scalar(sa.select(sa.func.count()).select_from(ArchiveKey).where(
            ArchiveKey.archive_id == archive_id, ArchiveKey.destroyed_at.is_not(None))))

    def document_adds(query) -> None:
        rows = session.execute(query.outerjoin(DocumentVersion, sa.and_(
            DocumentVersion.document_id == Document.id,
            DocumentVersion.number == Document.current_version)).add_columns(DocumentVersion.text))
        for doc, text in rows:
            adds.append(schema.document_entry(doc, text))

    if kind in (ARCHIVE, ARCHIVE_ALL):
        archive = session.get(Archive, obj_id)
        # a destroyed archive (portal.destruction) leaves nothing in the index, not even its name
        gone = archive is None or archive.status == DESTROYED or destroyed(obj_id)
        deletes.append(("key", schema.key(schema.KIND_ARCHIVE, obj_id)))
        if not gone:
            adds.append(schema.archive_entry(archive, session))
        if kind == ARCHIVE_ALL:
            deletes.append(("archive", str(obj_id)))  # the archive's documents (and itself)
            if not gone:
                document_adds(sa.select(Document).where(Document.archive_id == obj_id))
    elif kind == DOCUMENT:
        deletes.append(("key", schema.key(schema.KIND_DOCUMENT, obj_id)))
        doc = session.get(Document, obj_id)
        if doc is not None and not destroyed(doc.archive_id):
            document_adds(sa.select(Document).where(Document.id == obj_id))
    return deletes, adds


def apply_keys(writer, session: Session, keys) -> int:
    n = 0
    for kind, obj_id in keys:
        deletes, adds = _entries_for(session, kind, obj_id)
        for field, value in deletes:
            writer.delete_by_term(field, value)
        for entry in adds:
            writer.add_document(**entry)
            n += 1
    return n


def _lock_current(app, root: Path, timeout: float):
    """(index, writer) on the current generation, holding its write lock; None when busy."""
    from whoosh.index import LockError
    deadline = time.monotonic() + timeout
    while True:
        path = current_dir(root)
        if path is None:
            raise IndexUnavailable("no index")
        ix = open_index(path)
        try:
            writer = ix.writer(timeout=0.0, compound=False)
        except LockError:
            writer = None
        if writer is not None:
            if current_dir(root) == path:
                return ix, writer
            writer.cancel()  # a rebuild switched generations meanwhile
            continue
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def drain(app=None, batch: int = 200, timeout: float = 5.0) -> int:
    """Apply pending outbox rows to the current index; returns how many rows were applied."""
    app = app or current_app._get_current_object()
    root = index_root(app)
    applied = 0
    with _process_lock, app.app_context():
        from portal.extensions import db
        if current_dir(root) is None:
            if not (root / REBUILDING).exists():
                ensure_index(app)
            return 0
        while True:
            locked = _lock_current(app, root, timeout)
            if locked is None:
                log.info("search index busy; pending changes stay queued")
                return applied
            ix, writer = locked
            with Session(db.engine) as session:
                rows = session.execute(
                    sa.select(SearchOutbox.id, SearchOutbox.kind, SearchOutbox.obj_id)
                    .where(SearchOutbox.done_at.is_(None)).order_by(SearchOutbox.id).limit(batch)).all()
                if not rows:
                    writer.cancel()
                    return applied
                keys = sorted({(r.kind, r.obj_id) for r in rows})
                try:
                    apply_keys(writer, session, keys)
                    session.rollback()  # end the read before the index commit
                    writer.commit(mergetype=tiered_merge)
                except BaseException:
                    writer.cancel()
                    raise
                ids = [r.id for r in rows]
                session.execute(sa.update(SearchOutbox).where(SearchOutbox.id.in_(ids))
                                .values(done_at=utcnow()))
                session.execute(sa.delete(SearchOutbox).where(
                    SearchOutbox.done_at < utcnow() - KEEP_DONE))
                session.commit()
            applied += len(rows)


# --- building and rebuilding ----------------------------------------------------------------

@dataclass
class RebuildReport:
    path: Path
    archives: int
    documents: int
    replayed: int
    seconds: float


def _iter_batches(session: Session, model, batch: int):
    last = 0
    while True:
        ids = list(session.scalars(sa.select(model.id).where(model.id > last).order_by(model.id).limit(batch)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def rebuild(app=None, batch: int = 500, procs: int | None = None, limitmb: int = 128,
            progress: Callable[[str, int, int], None] | None = None) -> RebuildReport:
    """Build a complete new generation from the database, then switch to it.

    The old generation keeps serving searches (and receiving updates) until the new one is
    complete; changes committed meanwhile are replayed onto the new one under the old one's write
    lock, so nothing is lost at the switch. Memory is bounded by ``batch`` (rows read at a time)
    and ``limitmb`` (Whoosh's pool per writer process).
    """
    from portal.archives.models import Archive
    from portal.documents.models import ArchiveKey, Document, DocumentVersion
    from portal.extensions import db

    app = app or current_app._get_current_object()
    root = index_root(app)
    root.mkdir(parents=True, exist_ok=True)
    started = utcnow()
    t0 = time.monotonic()
    marker = root / REBUILDING
    marker.write_text(f"{os.getpid()} {started.isoformat()}")
    procs = procs or int(app.config.get("SEARCH_WRITER_PROCS", 1))
    try:
        with app.app_context():
            ix, path = create_index(root)
            kwargs = dict(limitmb=limitmb, codec=NoLengthStatsCodec(), compound=False)
            if procs > 1:
                kwargs.update(procs=procs, multisegment=True)
            writer = ix.writer(**kwargs)
            counts = {"archives": 0, "documents": 0}
            try:
                with Session(db.engine) as session:
                    destroyed = set(session.scalars(sa.select(ArchiveKey.archive_id)
                                                    .where(ArchiveKey.destroyed_at.is_not(None))))
                    total_a = session.scalar(sa.select(sa.func.count()).select_from(Archive))
                    total_d = session.scalar(sa.select(sa.func.count()).select_from(Document))
                    for ids in _iter_batches(session, Archive, batch):
                        subs = schema.subrecords_of(session, ids)
                        for archive in session.scalars(sa.select(Archive).where(Archive.id.in_(ids))):
                            if archive.id not in destroyed and archive.status != DESTROYED:
                                writer.add_document(**schema.archive_entry(archive, session, subs[archive.id]))
                                counts["archives"] += 1
                        session.expunge_all()
                        if progress:
                            progress("archives", counts["archives"], total_a)
                    for ids in _iter_batches(session, Document, batch):
                        rows = session.execute(
                            sa.select(Document, DocumentVersion.text).where(Document.id.in_(ids))
                            .outerjoin(DocumentVersion, sa.and_(
                                DocumentVersion.document_id == Document.id,
                                DocumentVersion.number == Document.current_version)))
                        for doc, text in rows:
                            if doc.archive_id not in destroyed:
                                writer.add_document(**schema.document_entry(doc, text))
                                counts["documents"] += 1
                        session.expunge_all()
                        if progress:
                            progress("documents", counts["documents"], total_d)
                if progress:
                    progress("commit", 0, 0)
                writer.commit()
            except BaseException:
                writer.cancel()
                shutil.rmtree(path, ignore_errors=True)
                raise
            replayed = _switch(app, root, ix, path, started)
        _remove_old_generations(root, keep={path.name})
        return RebuildReport(path, counts["archives"], counts["documents"], replayed,
                             time.monotonic() - t0)
    finally:
        marker.unlink(missing_ok=True)


def _switch(app, root: Path, new_ix, new_path: Path, started) -> int:
    """Replay what changed since ``started`` onto the new generation and make it current."""
    from portal.extensions import db
    old_path = current_dir(root)
    old_lock = None
    with _process_lock:
        if old_path is not None:
            try:
                old_lock = open_index(old_path).lock("WRITELOCK")
                old_lock.acquire(blocking=True)  # the old generation's writer waits from here on
            except Exception:  # noqa: BLE001 - an unreadable old generation has no writer to stop
                old_lock = None
        try:
            with Session(db.engine) as session:
                rows = session.execute(sa.select(SearchOutbox.id, SearchOutbox.kind, SearchOutbox.obj_id).where(
                    sa.or_(SearchOutbox.done_at.is_(None),
                           SearchOutbox.queued_at >= started - REPLAY_MARGIN))).all()
                if rows:
                    writer = new_ix.writer(compound=False)
                    try:
                        apply_keys(writer, session, sorted({(r.kind, r.obj_id) for r in rows}))
                        writer.commit()
                    except BaseException:
                        writer.cancel()
                        raise
                    session.execute(sa.update(SearchOutbox).where(SearchOutbox.id.in_([r.id for r in rows]))
                                    .values(done_at=utcnow()))
                session.execute(sa.delete(SearchOutbox).where(SearchOutbox.done_at < utcnow() - KEEP_DONE))
                session.commit()
            _set_current(root, new_path)
            return len(rows)
        finally:
            if old_lock is not None:
                old_lock.release()


def _remove_old_generations(root: Path, keep: set[str]) -> None:
    """Keep the current generation and the one before it (searchers may still read it)."""
    gens = sorted((p for p in root.glob("ix-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    olds = [p for p in gens if p.name not in keep]
    for p in olds[:-1]:
        shutil.rmtree(p, ignore_errors=True)


def ensure_index(app=None) -> None:
    """Make sure an index exists: build it when missing or unreadable (in the writer thread in the
    embedded default, else at once)."""
    app = app or current_app._get_current_object()
    state = index_state(app)
    if state in ("ok", "rebuilding"):
        return
    log.warning("search index %s: rebuilding from the database", state)
    if app.config.get("SEARCH_WRITER", "thread") == "thread":
        worker(app).request_rebuild()
    else:
        rebuild(app)


def index_state(app=None) -> str:
    """ok | missing | corrupt | rebuilding (no usable index while a rebuild runs)."""
    app = app or current_app._get_current_object()
    root = index_root(app)
    path = current_dir(root)
    if path is None:
        return "rebuilding" if _rebuild_running(root) else "missing"
    try:
        ix = open_index(path)
        with ix.searcher() as s:
            s.doc_count()
            probe(s)
    except Exception as exc:  # noqa: BLE001 - any failure to read means the index is unusable
        log.warning("search index unreadable: %r", exc)
        return "rebuilding" if _rebuild_running(root) else "corrupt"
    return "ok"


def probe(searcher) -> None:
    """Raise if a segment's files are damaged in a way that opening the index does not notice.

    Opening reads the table of contents and the term files only: a truncated posting or column
    file shows up at the first search (an error page) or not at all (a ``uid`` column cut short
    reads as its default value: every hit silently lost). So read the last ``uid`` value and the
    postings of the last ``uni`` terms that have their own postings (``uni`` is the last field of
    the posting file; a term in one document only is stored inline in the term file).
    """
    for sub, _offset in searcher.leaf_searchers():
        reader = sub.reader()
        n = reader.doc_count_all()
        if not n:
            continue
        uid = reader.column_reader("uid")[n - 1]
        if not 0 < uid < 2 ** 63:
            raise ValueError(f"implausible uid {uid}: the uid column is damaged")
        term = _last_posted_term(reader, "uni")
        if term is not None:
            list(reader.postings("uni", term).all_ids())


# Where to start reading a field's terms to reach its last ones without listing all of them
# (≈ 1,000 distinct characters per segment: listing them all took 2 ms per segment, per searcher).
_TAIL_STARTS = ("\uf900", "\u9f00", "\u9000", "\u8000", "\u6000", "\u4e00", "")


def _last_posted_term(reader, fieldname: str):
    """The field's last term (in index order) that has postings of its own (in more than one
    document), or None."""
    if reader.doc_count_all() < 2:
        return None
    below = None  # terms from here on were looked at already
    for start in _TAIL_STARTS:
        tail = []
        for name, text in reader.terms_from(fieldname, start):
            if name != fieldname or (below is not None and text >= below):
                break
            tail.append(text)
        for term in reversed(tail):
            if reader.doc_frequency(fieldname, term) > 1:
                return term
        below = start.encode("utf-8")
    return None


def _rebuild_running(root: Path) -> bool:
    marker = root / REBUILDING
    try:
        pid = int(marker.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        marker.unlink(missing_ok=True)  # a rebuild that died
        return False
    except PermissionError:
        return True
    return True


def health(app=None) -> dict:
    from portal.extensions import db
    app = app or current_app._get_current_object()
    state = index_state(app)
    out: dict = {}
    if state in ("missing", "corrupt"):
        out["found"] = state  # reported, and repaired: at once, or by the writer thread
        ensure_index(app)
        state = index_state(app)
    out.update(ok=state == "ok", state=state)
    try:
        pending, oldest = db.session.execute(
            sa.select(sa.func.count(), sa.func.min(SearchOutbox.queued_at))
            .where(SearchOutbox.done_at.is_(None))).one()
        out["pending"] = pending
        if oldest is not None:
            age = (utcnow() - oldest).total_seconds()
            out["oldest_pending_seconds"] = int(age)
            if age > int(app.config.get("SEARCH_STALL_SECONDS", 300)):
                out["ok"] = False
                out["error"] = "stalled"
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        out["pending_error"] = exc.__class__.__name__
    if state == "ok":
        root = index_root(app)
        from whoosh.index import LockError
        try:
            w = open_index(current_dir(root)).writer(timeout=0.0)
            w.cancel()
            out["writer"] = "idle"
        except LockError:
            out["writer"] = "busy"
    return out


# --- the embedded writer thread -------------------------------------------------------------

class Worker:
    """A daemon thread per process that drains the outbox when woken (and every few seconds, to
    pick up changes committed by other processes, e.g. the command line)."""

    def __init__(self, app):
        self.app = app
        self.event = threading.Event()
        self.rebuild_wanted = False
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def _ensure_started(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="search-index-writer", daemon=True)
                self.thread.start()

    def wake(self) -> None:
        self._ensure_started()
        self.event.set()

    def request_rebuild(self) -> None:
        self.rebuild_wanted = True
        self.wake()

    def _run(self) -> None:
        interval = float(self.app.config.get("SEARCH_POLL_SECONDS", 5))
        while True:
            self.event.wait(interval)
            self.event.clear()
            try:
                if self.rebuild_wanted:
                    self.rebuild_wanted = False
                    with self.app.app_context():
                        if index_state(self.app) in ("missing", "corrupt"):
                            rebuild(self.app)
                drain(self.app)
            except Exception:  # noqa: BLE001 - keep the thread alive; rows stay pending
                log.exception("search index writer failed; retrying")
                time.sleep(min(interval, 5))


_workers: dict[int, Worker] = {}


def worker(app) -> Worker:
    w = _workers.get(id(app))
    if w is None:
        w = _workers.setdefault(id(app), Worker(app))
    return w
