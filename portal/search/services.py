"""Search: permission-exact hits with snippets, for the results page and the API.

``search(actor, SearchRequest)`` → ``SearchResults``. How a search runs:

1. The query is parsed (``portal.search.query``); a malformed one raises ``QueryError`` (422).
2. The database says which archives and documents this user may open *now*
   (``permissions.visible_clause`` / ``document_clause``, with the page's filters as SQL); their ids
   become a set of Whoosh document numbers through a per-searcher map. That set is checked inside
   the matcher before any positions are decoded, so an index entry the user may not open (or a
   stale one) is never a hit, never counted and never snippeted.
3. Hits are counted up to a budget (``SEARCH_COUNT_BUDGET``, at least the requested page): the page
   is exact; past the budget the total is an estimate (``total_exact`` False, shown as 约 N).
   Sorting by date scans every hit.
4. Snippets are cut from the text of record in the database (never from the index), after the
   objects were loaded and checked again.
5. The search goes on the access register: query, filters, number of hits.
"""
from __future__ import annotations

import heapq
import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import current_app, url_for

from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import STAGES, Archive
from portal.auth import roles
from portal.errors import PortalError
from portal.extensions import db
from portal.register import actions
from portal.register.services import record_now
from portal.search import indexing, schema
from portal.search.analysis import ArchiveTokenizer, Item, fold
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

class _SearcherState:
    def __init__(self, path, searcher):
        self.path = path
        self.searcher = searcher
        self._uidmap: dict[int, int] | None = None

    def uidmap(self) -> dict[int, int]:
        if self._uidmap is None:
            reader = self.searcher.reader()
            if reader.doc_count_all() == 0:
                self._uidmap = {}  # an index without segments (EmptyReader) has no columns
                return self._uidmap
            column = reader.column_reader("uid")
            is_deleted = reader.is_deleted
            has_deletions = reader.has_deletions()
            self._uidmap = {column[d]: d for d in range(reader.doc_count_all())
                            if not (has_deletions and is_deleted(d))}
        return self._uidmap


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

def allowed_uids(user, req: SearchRequest) -> list[int]:
    """Index uids of the archives and documents ``user`` may open that pass the filters."""
    from portal.documents.models import Document
    out: list[int] = []
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
        out.extend(i * 2 for i in db.session.scalars(sa.select(Archive.id).where(*conds)))
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
        out.extend(i * 2 + 1 for i in db.session.scalars(
            sa.select(Document.id).join(Archive, Archive.id == Document.archive_id).where(*conds)))
    return out


# --- running a query ------------------------------------------------------------------------

def _scan(searcher, parsed: Parsed, allow: set[int], need: int, budget: int | None, sort: str):
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
    uidmap = state.uidmap()
    allow = {d for u in allowed_uids(user, req) if (d := uidmap.get(u)) is not None}
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
    allowed_sorted = sorted(allow)
    passed = bisect_right(allowed_sorted, stopped_at) / max(len(allowed_sorted), 1)
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
    column = state.searcher.reader().column_reader("uid")
    wanted = [(schema.split_uid(column[d]), score) for score, d in page]
    archive_ids = [i for (k, i), _s in wanted if k == schema.KIND_ARCHIVE]
    doc_ids = [i for (k, i), _s in wanted if k == schema.KIND_DOCUMENT]
    archives = {a.id: a for a in db.session.scalars(sa.select(Archive).where(Archive.id.in_(archive_ids)))}
    docs = {}
    if doc_ids:
        rows = db.session.execute(
            sa.select(Document, DocumentVersion.text).where(Document.id.in_(doc_ids))
            .outerjoin(DocumentVersion, sa.and_(DocumentVersion.document_id == Document.id,
                                                DocumentVersion.number == Document.current_version)))
        docs = {doc.id: (doc, text) for doc, text in rows}
    hits = []
    for (kind, obj_id), score in wanted:
        if kind == schema.KIND_ARCHIVE:
            archive = archives.get(obj_id)
            if archive is None or not perm.can_view(user, archive):
                continue  # deleted since the index was read: never shown
            text = schema.archive_text(archive, db.session)
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
    """Character spans of ``text`` where a query clause matches (merged, in order)."""
    tokens = [(t.text, t.pos, t.startchar, t.endchar)
              for t in _tokenizer(text, positions=True, chars=True)]
    by_pos = {pos: (tx, s, e) for tx, pos, s, e in tokens}
    spans: list[tuple[int, int]] = []
    folded = None
    for items in groups:
        if len(items) == 1 and items[0].field == "uni":
            folded = folded if folded is not None else fold(text)
            c = items[0].text
            start = folded.find(c)
            while start >= 0:
                spans.append((start, start + 1))
                start = folded.find(c, start + 1)
            continue
        for tx, pos, s, _e in tokens:
            if not _item_matches(items[0], tx):
                continue
            end = None
            for k, item in enumerate(items):
                tok = by_pos.get(pos + k)
                if tok is None or not _item_matches(item, tok[0]):
                    end = None
                    break
                end = tok[1] + len(item.text) if item.prefix else tok[2]
            if end is not None:
                spans.append((s, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


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
           "filter_choices", "snippet", "match_spans", "allowed_uids", "groups_of"]
