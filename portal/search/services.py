"""Search: permission-exact hits with snippets, for the results page and the API.

``search(actor, SearchRequest)`` → ``SearchResults``. How a search runs:

1. The query is parsed (``portal.search.query``); a malformed one raises ``QueryError`` (422).
2. The database says which archives and documents this user may open *now*
   (``permissions.visible_clause`` / ``document_clause``, with the page's filters as SQL; ``allowed``
   keeps that set per process and reads only what changed since, see there); their ids become a
   set of Whoosh document numbers (``AllowSet``, per searcher, from the segments' uid columns).
   That set is checked inside the matcher before any positions are decoded, so an index entry
   the user may not open (or a stale one, or a deleted one) is never a hit, never counted and
   never snippeted.
3. Hits are counted up to a budget (``SEARCH_COUNT_BUDGET``, at least the requested page): the page
   is exact; past the budget the total is an estimate (``total_exact`` False, shown as 约 N).
   Sorting by date scans every hit.
4. Snippets are cut from the text of record in the database (never from the index), after the
   objects were loaded and checked again.
5. The search goes on the access register: query, filters, number of hits.
"""
from __future__ import annotations

import heapq
import sys
import threading
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from whoosh.columns import NumericColumn

from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import STAGES, Archive
from portal.auth import roles
from portal.errors import PortalError
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record_now
from portal.search import indexing, schema
from portal.search.analysis import UNIT_RE, AllowSet, ArchiveTokenizer, Item, fold, stem
from portal.search.query import Parsed, QueryError, groups_of, is_plain, parse

PER_PAGE = 20
MAX_PAGE = 50
SORTS = ("relevance", "date")
KINDS = (schema.KIND_ARCHIVE, schema.KIND_DOCUMENT)


class SearchUnavailable(PortalError):
    """The index cannot be read right now (it is being rebuilt)."""

    status = 503


# --- the request ----------------------------------------------------------------------------

def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(value) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


@dataclass
class SearchRequest:
    q: str = ""
    kind: str = ""  # "" | archive | document
    customer_type: int | None = None
    stage: str = ""
    region: str = ""
    department: int | None = None
    doc_type: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sensitivity: int | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_args(cls, args) -> SearchRequest:
        """From query-string arguments; unknown or malformed values are dropped, not errors
        (the form echoes what was understood)."""
        kind = args.get("kind", "")
        sort = args.get("sort", "relevance")
        stage = args.get("stage", "")
        sensitivity = _int(args.get("sensitivity"))
        page = _int(args.get("page")) or 1
        per_page = _int(args.get("per_page")) or PER_PAGE
        return cls(
            q=(args.get("q") or "").strip(),
            kind=kind if kind in KINDS else "",
            customer_type=_int(args.get("customer_type")),
            stage=stage if stage in STAGES else "",
            region=(args.get("region") or "").strip()[:100],
            department=_int(args.get("department")),
            doc_type=(args.get("doc_type") or "").strip()[:40],
            date_from=_date(args.get("date_from")),
            date_to=_date(args.get("date_to")),
            sensitivity=sensitivity if sensitivity in roles.LEVELS else None,
            sort=sort if sort in SORTS else "relevance",
            page=min(max(page, 1), MAX_PAGE),
            per_page=min(max(per_page, 1), 100),
        )

    def filters(self) -> dict[str, str]:
        """The filters in force, as query-string values (for links and the register)."""
        out = {}
        for name in ("kind", "customer_type", "stage", "region", "department", "doc_type",
                     "date_from", "date_to", "sensitivity"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    def args(self, **override) -> dict[str, str]:
        out = {"q": self.q, **self.filters()}
        if self.sort != "relevance":
            out["sort"] = self.sort
        if self.page != 1:
            out["page"] = str(self.page)
        out.update({k: str(v) for k, v in override.items() if v is not None})
        return out


# --- results --------------------------------------------------------------------------------

@dataclass
class Hit:
    kind: str
    id: int
    title: str
    archive: Archive
    document: object | None
    snippet: list[tuple[str, bool]]  # (text, matched) parts
    day: date | None
    score: float

    @property
    def url(self) -> str:
        if self.kind == schema.KIND_ARCHIVE:
            return url_for("archives.show", archive_id=self.id)
        return url_for("documents.detail", doc_id=self.id)

    @property
    def snippet_html(self) -> str:
        from markupsafe import Markup, escape
        return Markup("").join(Markup("<mark>%s</mark>") % t if hit else escape(t) for t, hit in self.snippet)

    @property
    def snippet_text(self) -> str:
        return "".join(t for t, _ in self.snippet)


@dataclass
class SearchResults:
    request: SearchRequest
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    total_exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, min(MAX_PAGE, -(-self.total // self.request.per_page)))

    @property
    def has_next(self) -> bool:
        return self.request.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.request.page > 1


# --- searchers (one per thread, refreshed when the index changes) ---------------------------

# Each segment's uid column as an array (docnum → uid), shared by every searcher of the process:
# a segment's files never change once written (deletions live in the table of contents), so a new
# searcher after a commit reads only the new, small segments' columns.
_SEGMENT_UIDS_MAX = 64
_segment_uids: OrderedDict[tuple[str, str], array] = OrderedDict()
_segment_lock = threading.Lock()


def _segment_uid_array(path, reader) -> array:
    """docnum → uid of one segment (deleted documents included), read once per process."""
    key = (str(path), reader.segment().segment_id())
    with _segment_lock:
        cached = _segment_uids.get(key)
        if cached is not None:
            _segment_uids.move_to_end(key)
            return cached
    n = reader.doc_count_all()
    column = reader.column_reader("uid", translate=False)
    translate = reader.schema["uid"].from_column_value
    out = array("Q")
    if isinstance(column, NumericColumn.Reader) and column._typecode == "Q":
        # big-endian unsigned 64-bit values, one read; a missing tail means the default
        count = min(column._count, n)
        out.frombytes(bytes(column._dbfile.get(column._basepos, count * 8)))
        if sys.byteorder == "little":
            out.byteswap()
        out.extend([column._default] * (n - count))
    if len(out) != n or any(translate(column[d]) != out[d] for d in {0, n // 2, n - 1}):
        out = array("Q", (translate(column[d]) for d in range(n)))
    with _segment_lock:
        _segment_uids[key] = out
        while len(_segment_uids) > _SEGMENT_UIDS_MAX:
            _segment_uids.popitem(last=False)
    return out


class _SearcherState:
    def __init__(self, path, searcher):
        self.path = path
        self.searcher = searcher
        self._doc_uids: array | None = None
        self._allow: OrderedDict[tuple, tuple[_Allowed, AllowSet]] = OrderedDict()
        self._lock = threading.Lock()

    def doc_uids(self) -> array:
        """Global docnum → uid of this searcher; 0 (never a uid) for deleted documents."""
        if self._doc_uids is None:
            out = array("Q")
            for sub, offset in self.searcher.leaf_searchers():
                reader = sub.reader()
                if reader.doc_count_all() == 0:
                    continue  # an index without segments (EmptyReader) has no columns
                assert offset == len(out)
                seg = _segment_uid_array(self.path, reader)
                start = len(out)
                out.extend(seg)
                if reader.has_deletions():
                    for d in reader.deleted_docs_set:
                        out[start + d] = 0
            self._doc_uids = out
        return self._doc_uids

    def allow_set(self, allowed: _Allowed) -> AllowSet:
        """The global docnums of ``allowed``'s uids in this searcher (cached per allowed set)."""
        with self._lock:
            hit = self._allow.get(allowed.key)
            if hit is not None and hit[0] is allowed:
                self._allow.move_to_end(allowed.key)
                return hit[1]
        uids = allowed.uids
        doc_uids = self.doc_uids()
        last = {u: d for d, u in enumerate(doc_uids) if u in uids}  # an uid indexed twice: the last
        result = AllowSet(array("l", sorted(last.values())), len(doc_uids), live_only=True)  # no 0 uid
        with self._lock:
            self._allow[allowed.key] = (allowed, result)
            while len(self._allow) > _ALLOWED_PER_SEARCHER:
                self._allow.popitem(last=False)
        return result


_local = threading.local()


def _state() -> _SearcherState:
    app = current_app._get_current_object()
    root = indexing.index_root(app)
    path = indexing.current_dir(root)
    cached: _SearcherState | None = getattr(_local, "state", None)
    if path is None:
        indexing.ensure_index(app)
        path = indexing.current_dir(root)
        if path is None:
            raise SearchUnavailable(_unavailable_message())
    try:
        if cached is not None and cached.path == path and cached.searcher.up_to_date():
            return cached
        if cached is not None:
            cached.searcher.close()
        # A new searcher, never ``Searcher.refresh()``: whoosh-reloaded 2.7.5 reuses the open
        # segment readers with their old deletion sets and keeps segments merged away, so a
        # refreshed searcher still finds deleted entries and grows a leaf reader per commit
        # (tests/search/test_search_index.py::test_destroying_the_archive_key_removes_its_documents).
        cached = _SearcherState(path, indexing.open_index(path).searcher())
        indexing.probe(cached.searcher)
    except Exception as exc:  # noqa: BLE001 - a damaged index: rebuild and say so
        current_app.logger.warning("search index unreadable (%r): rebuilding", exc)
        _local.state = None
        indexing.ensure_index(app)
        if app.config.get("SEARCH_WRITER") != "thread" and indexing.index_state(app) == "ok":
            return _state()
        raise SearchUnavailable(_unavailable_message()) from exc
    _local.state = cached
    return cached


def _unavailable_message():
    from flask_babel import lazy_gettext as _l
    return _l("The search index is being rebuilt. Please try again in a few minutes; archives and "
              "documents can still be opened from the archive list.")


# --- what the user may see -----------------------------------------------------------------

def _allowed_queries(user, req: SearchRequest) -> list[tuple[str, sa.Select]]:
    """(kind, SELECT of uids) of the archives and documents ``user`` may open that pass the filters:
    the exact permission clauses (``visible_clause``, ``document_clause``) with the filters as SQL."""
    from portal.documents.models import Document
    out = []
    archive_conds = [perm.visible_clause(user)]
    if req.customer_type:
        archive_conds.append(Archive.customer_type_id == req.customer_type)
    if req.stage:
        archive_conds.append(Archive.stage == req.stage)
    if req.region:
        archive_conds.append(Archive.region == req.region)
    if req.department:
        archive_conds.append(Archive.department_id == req.department)
    document_only = bool(req.doc_type)
    if req.kind in ("", schema.KIND_ARCHIVE) and not document_only:
        conds = list(archive_conds)
        if req.sensitivity:
            conds.append(Archive.sensitivity == req.sensitivity)
        day = sa.func.coalesce(Archive.filed_at, Archive.created_at)
        if req.date_from:
            conds.append(day >= req.date_from)
        if req.date_to:
            conds.append(day < date.fromordinal(req.date_to.toordinal() + 1))
        out.append((schema.KIND_ARCHIVE, sa.select(Archive.id * 2).where(*conds)))
    if req.kind in ("", schema.KIND_DOCUMENT):
        conds = [*archive_conds, perm.document_clause(user)]
        if req.doc_type:
            conds.append(Document.doc_type == req.doc_type)
        if req.sensitivity:
            conds.append(Document.sensitivity == req.sensitivity)
        day = sa.func.coalesce(Document.doc_date, sa.func.date(Document.created_at))
        if req.date_from:
            conds.append(day >= req.date_from)
        if req.date_to:
            conds.append(day <= req.date_to)
        out.append((schema.KIND_DOCUMENT,
                    sa.select(Document.id * 2 + 1).join(Archive, Archive.id == Document.archive_id).where(*conds)))
    return out


def allowed_uids(user, req: SearchRequest) -> list[int]:
    """Index uids of the archives and documents ``user`` may open that pass the filters, read from
    the database now (``run`` uses the cached ``allowed(user, req)``)."""
    conn = db.session.connection()  # Core rows: no ORM bookkeeping for ≈ 50,000 integers
    out: list[int] = []
    for _kind, stmt in _allowed_queries(user, req):
        out.extend(conn.execute(stmt).scalars())
    return out


# The allowed set of a (user, filters) is kept per process and reused while nothing it depends on
# has changed. What it depends on, and how a change is noticed:
# * the user's id, role, clearance and department — part of the cache key;
# * the filters — part of the key;
# * archives and documents (their level, department, responsible, author, archive, type, dates
#   …) — every change to them adds ``search_outbox`` rows in its own transaction (the index
#   hook), so the newest outbox id and the number of rows queued since shortly before the set was
#   read tell whether anything was committed since (the count catches, on PostgreSQL, a
#   transaction that took its id earlier but committed later). The rows name what changed: the
#   set is brought up to date by reading only those archives and documents again, through the
#   same permission clauses (or entirely, when that cannot be exact: an archive deleted, many
#   changes, a late commit);
# * the user's live query authorisations (``grant_filter``: approved and not expired, with their
#   scope, floor and ticked documents) — read on every search (a few indexed rows) and compared;
#   a grant that expires drops out of that list, so the set is read again.
# Anything else (a change written past the ORM, a new condition in the permission clauses that
# reads another table) must be added here. ``SEARCH_ALLOWED_CACHE_SECONDS`` (300) bounds the time
# until a set is read entirely again in any case (a change made past the portal, e.g. in SQL, shows
# in search after at most that long); 0 turns the cache off.
_ALLOWED_PER_SEARCHER = 8
_ALLOWED_MAX = 64  # sets per process, and at most this many uids in them all (≈ 60 bytes each):
_ALLOWED_MAX_UIDS = 1_000_000
_IN_FLIGHT = timedelta(minutes=2)  # transactions that queued rows before a set was read
_PATCH_MAX = 500  # more changed objects than this: read the whole set again


@dataclass(eq=False)
class _Allowed:
    key: tuple
    uids: frozenset[int]
    outbox_max: int | None
    since: datetime  # outbox rows queued from then on are counted …
    since_count: int  # … that many when the set was read
    grants: tuple
    made: float = field(default_factory=time.monotonic)  # when it was last read entirely


def _cache_key(user, req: SearchRequest) -> tuple:
    return (user.id, user.role, user.clearance, user.department_id, req.kind, req.customer_type,
            req.stage, req.region, req.department, req.doc_type, req.date_from, req.date_to,
            req.sensitivity)


def _outbox_state(since: datetime) -> tuple[int | None, int]:
    from portal.search.models import SearchOutbox
    ob = SearchOutbox.__table__.c
    newest = sa.select(sa.func.max(ob.id)).scalar_subquery()
    recent = sa.select(sa.func.count()).select_from(SearchOutbox.__table__).where(ob.queued_at >= since) \
        .scalar_subquery()
    row = db.session.connection().execute(sa.select(newest, recent)).one()
    return row[0], row[1]


def _grants(user) -> tuple:
    """The user's live query authorisations, as they bear on what the user may open."""
    if user.role not in (roles.STAFF, roles.DEPT_HEAD, *roles.ALL_DEPARTMENT_ROLES):
        return ()
    from portal.workflows.requests import QueryRequest, grant_filter, query_request_document
    conn = db.session.connection()
    rows = [tuple(r) for r in conn.execute(
        sa.select(QueryRequest.id, QueryRequest.archive_id, QueryRequest.scope, QueryRequest.doc_floor,
                  QueryRequest.expires_at).where(grant_filter(user.id)).order_by(QueryRequest.id))]
    if not rows:
        return ()
    ticked = [tuple(r) for r in conn.execute(
        sa.select(query_request_document.c.request_id, query_request_document.c.document_id)
        .where(query_request_document.c.request_id.in_([r[0] for r in rows]))
        .order_by(query_request_document.c.request_id, query_request_document.c.document_id))]
    return tuple(rows), tuple(ticked)


def _allowed_cache(app) -> tuple[OrderedDict, threading.Lock]:
    cache = app.extensions.get("search_allowed")
    if cache is None:
        cache = app.extensions.setdefault("search_allowed", (OrderedDict(), threading.Lock()))
    return cache


def allowed(user, req: SearchRequest) -> _Allowed:
    """The uids ``user`` may open with ``req``'s filters: from the per-process cache when nothing
    they depend on has changed since they were read, patched when only some archives and
    documents have, else read from the database (see above)."""
    app = current_app._get_current_object()
    ttl = float(app.config.get("SEARCH_ALLOWED_CACHE_SECONDS", 300))
    key = _cache_key(user, req)
    cache, lock = _allowed_cache(app)
    grants = _grants(user)
    with lock:
        entry = cache.get(key)
    fresh = None
    if entry is not None and time.monotonic() - entry.made < ttl and entry.grants == grants:
        outbox_max, since_count = _outbox_state(entry.since)
        if (outbox_max, since_count) == (entry.outbox_max, entry.since_count):
            fresh = entry
        else:
            fresh = _patched(entry, user, req, outbox_max, since_count)
    if fresh is None:
        since = utcnow() - _IN_FLIGHT
        outbox_max, since_count = _outbox_state(since)  # first: a later change makes the entry stale
        fresh = _Allowed(key, frozenset(allowed_uids(user, req)), outbox_max, since, since_count, grants)
    if ttl > 0 and fresh is not entry:
        with lock:
            cache[key] = fresh
            cache.move_to_end(key)
            total = sum(len(e.uids) for e in cache.values())
            while len(cache) > 1 and (len(cache) > _ALLOWED_MAX or total > _ALLOWED_MAX_UIDS):
                _key, dropped = cache.popitem(last=False)
                total -= len(dropped.uids)
    elif fresh is entry:
        with lock:
            if cache.get(key) is entry:
                cache.move_to_end(key)
    return fresh


def _patched(entry: _Allowed, user, req: SearchRequest, outbox_max, since_count) -> _Allowed | None:
    """``entry`` brought up to date by reading again the archives and documents that the outbox
    rows committed since name; None when that cannot be exact (read the whole set)."""
    from portal.documents.models import Document
    from portal.search.models import ARCHIVE, ARCHIVE_ALL, DOCUMENT, SearchOutbox
    if entry.outbox_max is None or outbox_max is None:
        return None
    ob = SearchOutbox.__table__.c
    conn = db.session.connection()
    rows = conn.execute(sa.select(ob.kind, ob.obj_id).where(ob.id > entry.outbox_max)
                        .limit(_PATCH_MAX + 1)).all()
    # every row queued since the window opened must be one of these: else a transaction that
    # took an older id committed meanwhile (PostgreSQL) and its change is not among the rows
    if not rows or len(rows) > _PATCH_MAX or since_count - entry.since_count != len(rows):
        return None
    archive_ids = {i for kind, i in rows if kind in (ARCHIVE, ARCHIVE_ALL)}
    doc_ids = {i for kind, i in rows if kind == DOCUMENT}
    if any(kind not in (ARCHIVE, ARCHIVE_ALL, DOCUMENT) for kind, _i in rows):
        return None
    if archive_ids:
        present = set(conn.execute(sa.select(Archive.id).where(Archive.id.in_(archive_ids))).scalars())
        if present != archive_ids:
            return None  # an archive deleted: its documents went with it, unnamed
    # what may have changed: those archives, every document they hold now, those documents
    stale = {i * 2 for i in archive_ids} | {i * 2 + 1 for i in doc_ids}
    if archive_ids:
        stale.update(i * 2 + 1 for i in conn.execute(
            sa.select(Document.id).where(Document.archive_id.in_(archive_ids))).scalars())
    now: set[int] = set()
    for kind, stmt in _allowed_queries(user, req):
        if kind == schema.KIND_ARCHIVE:
            if not archive_ids:
                continue
            stmt = stmt.where(Archive.id.in_(archive_ids))
        else:
            stmt = stmt.where(sa.or_(Document.archive_id.in_(archive_ids or [-1]),
                                     Document.id.in_(doc_ids or [-1])))
        now.update(conn.execute(stmt).scalars())
    return _Allowed(entry.key, (entry.uids - stale) | now, outbox_max, entry.since, since_count,
                    entry.grants, entry.made)


# --- running a query ------------------------------------------------------------------------

def _scan(searcher, parsed: Parsed, allow: AllowSet, need: int, budget: int | None, sort: str):
    """Count hits (up to ``budget``, at least ``need``); returns (found, count, stopped_at)."""
    plain = is_plain(parsed)
    q = parsed.whoosh(allow)
    found: list[tuple[float, int]] = []
    count = 0
    stopped_at = None
    for sub, offset in searcher.leaf_searchers():
        m = q.matcher(sub)
        while m.is_active():
            d = m.id() + offset
            if plain or d in allow:
                count += 1
                found.append((m.score(), d))
                if budget is not None and count >= max(budget, need):
                    stopped_at = d
                    break
            m.next()
        if stopped_at is not None:
            break
    return found, count, stopped_at


def run(user, req: SearchRequest, parsed: Parsed | None = None):
    """(ordered page of (docnum, score), total, exact, searcher state) — no register entry."""
    parsed = parsed or parse(req.q)
    state = _state()
    searcher = state.searcher
    allow = state.allow_set(allowed(user, req))
    need = req.page * req.per_page
    if not allow:
        return [], 0, True, state
    budget = None if req.sort == "date" else max(int(current_app.config.get("SEARCH_COUNT_BUDGET", 500)), need)
    found, count, stopped_at = _scan(searcher, parsed, allow, need, budget, req.sort)
    if req.sort == "date":
        days = searcher.reader().column_reader("day")
        ordered = sorted(found, key=lambda sd: (-days[sd[1]], -sd[0], sd[1]))
    else:
        ordered = heapq.nlargest(need, found, key=lambda sd: (sd[0], -sd[1]))
    page = ordered[need - req.per_page:need]
    if stopped_at is None:
        return page, count, True, state
    passed = allow.count_upto(stopped_at) / len(allow)
    return page, max(count, round(count / passed)) if passed else count, False, state


def search(actor: Actor, req: SearchRequest, register: bool = True) -> SearchResults:
    user = actor.user
    try:
        parsed = parse(req.q)
        page, total, exact, state = run(user, req, parsed)
    except QueryError as exc:
        if register:
            record_now(actor, actions.SEARCH, detail=_register_detail(req, None), result="failed")
        raise exc
    hits = _hits(user, state, page, parsed)
    results = SearchResults(req, hits, total, exact)
    if register:
        record_now(actor, actions.SEARCH, detail=_register_detail(req, results))
    return results


def _register_detail(req: SearchRequest, results: SearchResults | None) -> str:
    parts = [f"q={req.q[:300]}"]
    parts += [f"{k}={v}" for k, v in req.filters().items()]
    if req.sort != "relevance":
        parts.append(f"sort={req.sort}")
    if req.page != 1:
        parts.append(f"page={req.page}")
    if results is not None:
        parts.append(f"hits={'' if results.total_exact else '~'}{results.total}")
    return "; ".join(parts)


# --- hits and snippets ----------------------------------------------------------------------

def _hits(user, state: _SearcherState, page, parsed: Parsed) -> list[Hit]:
    from portal.documents.models import Document, DocumentVersion
    if not page:
        return []
    doc_uids = state.doc_uids()
    wanted = [(schema.split_uid(doc_uids[d]), score) for score, d in page]
    archive_ids = [i for (k, i), _s in wanted if k == schema.KIND_ARCHIVE]
    doc_ids = [i for (k, i), _s in wanted if k == schema.KIND_DOCUMENT]
    docs = {}
    if doc_ids:
        rows = db.session.execute(
            sa.select(Document, DocumentVersion.text).where(Document.id.in_(doc_ids))
            .outerjoin(DocumentVersion, sa.and_(DocumentVersion.document_id == Document.id,
                                                DocumentVersion.number == Document.current_version)))
        docs = {doc.id: (doc, text) for doc, text in rows}
    # the archives of the hits and of the documents' archives in one query (``doc.archive`` then
    # comes from the identity map), the archives' sub-records in one query per kind
    wanted_archives = set(archive_ids) | {doc.archive_id for doc, _text in docs.values()}
    archives = {a.id: a for a in db.session.scalars(sa.select(Archive).where(Archive.id.in_(wanted_archives)))}
    subrecords = schema.subrecords_of(db.session, [i for i in archive_ids if i in archives])
    hits = []
    for (kind, obj_id), score in wanted:
        if kind == schema.KIND_ARCHIVE:
            archive = archives.get(obj_id)
            if archive is None or not perm.can_view(user, archive):
                continue  # deleted since the index was read: never shown
            text = schema.archive_text(archive, db.session, subrecords[obj_id])
            hits.append(Hit(kind, obj_id, archive.name, archive, None, snippet(text, parsed), _day(archive.filed_at or archive.created_at),
                            score))
        else:
            row = docs.get(obj_id)
            if row is None or not perm.can_view_document(user, row[0]):
                continue
            doc, text = row
            # the document's own text first: the title and type are on the result line already
            parts = snippet(text or "", parsed) if text else []
            if not any(hit for _t, hit in parts):
                parts = snippet(schema.document_text(doc, text), parsed)
            hits.append(Hit(kind, obj_id, doc.title, doc.archive, doc, parts,
                            doc.doc_date or _day(doc.created_at), score))
    return hits


def _day(value) -> date | None:
    if value is None:
        return None
    return value.date() if hasattr(value, "date") else value


_tokenizer = ArchiveTokenizer("tail")


def match_spans(text: str, groups: list[list[Item]]) -> list[tuple[int, int]]:
    """Character spans of ``text`` where a query clause matches (merged, in order).

    A clause can only start where its first token does: a CJK first token is a substring of the
    folded text (every character of a CJK run starts one token), so the text is tokenized only
    from each place it occurs, as far as the clause reaches. A clause that starts with a Latin
    word (its stem may differ from the text, ``sky`` → ``ski``) is matched on the whole text's
    tokens."""
    folded = fold(text)
    tokens = texts = None
    spans: list[tuple[int, int]] = []
    for items in groups:
        first = items[0]
        if len(items) == 1 and first.field == "uni":
            start = folded.find(first.text)
            while start >= 0:
                spans.append((start, start + 1))
                start = folded.find(first.text, start + 1)
            continue
        n = len(items)
        if not first.text.isalpha() or not first.text.isascii():
            # CJK or digits: the token starting where the first token's text occurs
            latin = first.text.isascii()
            start = folded.find(first.text)
            while start >= 0:
                if not latin or start == 0 or not _ALNUM(folded[start - 1]):
                    found = _tokens_at(folded, start, n)
                    if len(found) == n and all(_item_matches(item, tok[0]) for item, tok in zip(items, found,
                                                                                               strict=True)):
                        last = found[-1]
                        spans.append((found[0][1], last[1] + len(items[-1].text) if items[-1].prefix else last[2]))
                start = folded.find(first.text, start + 1)
            continue
        if tokens is None:
            tokens = _tokenizer.token_spans(text)  # the token at position p is tokens[p]
            texts = [t[0] for t in tokens]
        starts, p = [], -1
        try:
            while True:
                p = texts.index(first.text, p + 1)
                starts.append(p)
        except ValueError:
            pass
        for pos in starts:
            if pos + n > len(tokens):
                break
            for k in range(1, n):
                if not _item_matches(items[k], texts[pos + k]):
                    break
            else:
                last = tokens[pos + n - 1]
                spans.append((tokens[pos][2], last[2] + len(items[-1].text) if items[-1].prefix else last[3]))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _ALNUM(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _tokens_at(folded: str, start: int, n: int) -> list[tuple[str, int, int]]:
    """Up to ``n`` tokens (text, startchar, endchar) of folded text from ``start``, where a token
    starts (inside a CJK run, or at the start of a Latin/digit run): what the tokenizer yields
    from there over the whole text."""
    out: list[tuple[str, int, int]] = []
    for m in UNIT_RE.finditer(folded, start):
        run = m.group(1)
        s = m.start()
        if run is None:
            out.append((stem(m.group(0)), s, m.end()))
        else:
            size = len(run)
            for k in range(size - 1):
                out.append((run[k:k + 2], s + k, s + k + 2))
                if len(out) == n:
                    return out
            out.append((run[-1], s + size - 1, s + size))
        if len(out) >= n:
            return out
    return out


def _item_matches(item: Item, token_text: str) -> bool:
    return token_text.startswith(item.text) if item.prefix else token_text == item.text


REGION = 800


def _anchor(item: Item) -> str:
    # a Latin word's stem may differ from the text in its ending, never in its first characters
    return item.text if not item.text.isascii() else item.text[:3]


def snippet(text: str, parsed: Parsed, width: int = 160) -> list[tuple[str, bool]]:
    """A window of ``text`` around the first matches, as (text, matched) parts."""
    text = " ".join(text.split())
    spans = None
    if len(text) > 4 * REGION:
        # long text: tokenize only a region around the first place a clause's first token occurs
        # (found by plain search in the folded text); the whole text only if that finds nothing
        folded = fold(text)
        hits = [p for items in parsed.positive if items and (p := folded.find(_anchor(items[0]))) >= 0]
        if hits:
            start = max(0, min(hits) - REGION // 4)
            region = text[start:start + REGION]
            spans = [(s + start, e + start) for s, e in match_spans(region, parsed.positive)] or None
    if spans is None:
        spans = match_spans(text, parsed.positive)
    if not spans:
        cut = text[:width]
        return [(cut + ("…" if len(text) > width else ""), False)] if cut else []
    # the window with the most matched spans among those starting a little before a span
    best_start, best_n = 0, -1
    for s, _e in spans[:50]:
        start = max(0, s - 30)
        n = sum(1 for s2, e2 in spans if s2 >= start and e2 <= start + width)
        if n > best_n:
            best_start, best_n = start, n
    start, end = best_start, min(len(text), best_start + width)
    parts: list[tuple[str, bool]] = []
    if start > 0:
        parts.append(("…", False))
    cursor = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > cursor:
            parts.append((text[cursor:s], False))
        parts.append((text[s:e], True))
        cursor = e
    if cursor < end:
        parts.append((text[cursor:end], False))
    if end < len(text):
        parts.append(("…", False))
    return parts


# --- filter choices for the page and the API -------------------------------------------------

def filter_choices(user) -> dict[str, list[tuple[str, str]]]:
    """The values each filter offers this user (departments only those they may see)."""
    from portal.admin.models import CustomerType
    from portal.archives.forms import FIXED_CHOICES
    from portal.auth.models import Department
    from portal.documents.services import document_types

    visible = perm.visible_clause(user)
    dept_ids = set(db.session.scalars(sa.select(Archive.department_id).where(visible).distinct()))
    departments = [(str(d.id), d.name) for d in db.session.scalars(sa.select(Department).order_by(Department.id))
                   if d.id in dept_ids]
    regions = [r for r in db.session.scalars(sa.select(Archive.region).where(visible, Archive.region != "")
                                             .distinct().order_by(Archive.region))]
    return {
        "kind": [(schema.KIND_ARCHIVE, "archive"), (schema.KIND_DOCUMENT, "document")],
        "customer_type": [(str(t.id), t.name) for t in db.session.scalars(sa.select(CustomerType).order_by(CustomerType.id))],
        "stage": [(value, str(label)) for value, label in FIXED_CHOICES["stage"]],
        "region": [(r, r) for r in regions],
        "department": departments,
        "doc_type": [(t, t) for t in document_types()],
        "sensitivity": [(str(level), str(roles.LEVEL_LABELS[level])) for level in roles.LEVELS
                        if level >= user.clearance],
    }


__all__ = ["SearchRequest", "SearchResults", "Hit", "QueryError", "SearchUnavailable", "search", "run",
           "filter_choices", "snippet", "match_spans", "allowed", "allowed_uids", "groups_of"]
