"""Candidate Chinese/English analyzers for Whoosh and the queries that go with them.

Every candidate sees the same *folded* text (``fold``): Traditional → Simplified (OpenCC ``t2s``),
full-width → half-width forms, ASCII lower case — all length-preserving, so character offsets
still point into the original text for highlighting. Every candidate treats Latin letters and
digits the same way (``[a-z0-9]+`` runs; words of letters are Porter-stemmed, numbers are not), so
``HT-2026-0042`` is the three tokens ``ht 2026 0042`` and is searchable whole (as a phrase) and in
parts. They differ in how a run of CJK characters becomes tokens:

``unigram``   one token per character; a query word is a phrase of characters.
``bigram``    Lucene-style overlapping bigrams (a one-character run is a unigram); a query word is
              a phrase of bigrams; a one-character query is answered from a second field ``uni``
              (each distinct character of the document once, no positions).
``jieba``     jieba's own Whoosh analyzer (``jieba.analyse.ChineseAnalyzer``, search mode), queried
              through Whoosh's ``QueryParser`` — what a first implementation would do.
``exact``     overlapping bigrams **plus a unigram for the last character of every run, at its own
              position** ("tail"): every character is the first character of exactly one token at
              its own position, so any substring of the folded text is a sequence of consecutive
              tokens. Queries are ``ExactQuery`` (below), a Whoosh query with its own matcher;
              one-character queries come from the ``uni`` field.
``exact-prefix``  the same ``content`` field without the ``uni`` field: a one-character query is
              a prefix query over the bigram field.

Query semantics shared by all candidates (what the ground truth in ``bench_analyzers`` checks): the
query is split into clauses at white space, ``"quoted text"`` is one clause; a document matches when
it contains every clause. A clause matches where its folded text occurs in the folded document, CJK
characters by substring, Latin/digit runs as whole tokens (words of letters modulo stemming),
punctuation between tokens free.
"""
from __future__ import annotations

import functools
import heapq
import math
import re
import unicodedata
from dataclasses import dataclass
from itertools import accumulate
from pickle import loads

from whoosh import fields, formats, query
from whoosh.analysis import Token, Tokenizer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.lang.porter import stem as porter_stem
from whoosh.matching import Matcher, NullMatcher, ReadTooFar, UnionMatcher
from whoosh.scoring import bm25
from whoosh.system import _INT_SIZE
from whoosh.util import make_binary_tree

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
UNIT_RE = re.compile(rf"([{CJK}]+)|([a-z0-9]+)")
CJK_RE = re.compile(rf"[{CJK}]")

# full-width ASCII forms and the ideographic space → ASCII; A–Z → a–z (both one char → one char)
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = 0x20
_FOLD.update({c: c + 32 for c in range(0x41, 0x5B)})
_FOLD.update({c + 0xFEE0: c + 32 for c in range(0x41, 0x5B)})  # Ａ → a


@functools.cache
def _t2s():
    import opencc
    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Fold ``text`` for matching: Traditional → Simplified, full-width → half-width, A–Z → a–z.

    Keeps the length (one character stays one character) so that token offsets point into the
    original text. OpenCC converts phrase by phrase; in the rare case a conversion changes the
    length, the text is converted character by character instead.
    """
    text = text.translate(_FOLD)
    if not CJK_RE.search(text):
        return text
    converted = _t2s().convert(text)
    if len(converted) == len(text):
        return converted
    convert = _t2s().convert
    return "".join(c2 if len(c2 := convert(c)) == 1 else c for c in text)


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """Porter stem of a lower-case Latin word; numbers and mixed tokens stay as they are."""
    return porter_stem(word) if word.isalpha() else word


def units(text: str) -> list[tuple[bool, str, int, int]]:
    """Split folded text into (is_cjk, text, start, end) runs: CJK runs and ``[a-z0-9]+`` runs."""
    return [(m.group(1) is not None, m.group(0), m.start(), m.end()) for m in UNIT_RE.finditer(text)]


# --------------------------------------------------------------------------------------------
# Tokenizers (index and query side)


class ArchiveTokenizer(Tokenizer):
    """Folds, then emits Latin/digit tokens (stemmed) and CJK tokens in the given ``cjk`` mode.

    ``cjk``: ``unigram`` | ``bigram`` | ``tail`` (bigrams + last-character unigram, see module
    doc) | ``charset`` (each distinct CJK character once, nothing else: for an existence field).
    Positions are consecutive over the emitted tokens; ``startchar``/``endchar`` index the
    original text.
    """

    def __init__(self, cjk: str = "tail"):
        if cjk not in ("unigram", "bigram", "tail", "charset"):
            raise ValueError(f"unknown CJK mode {cjk!r}")
        self.cjk = cjk

    def __eq__(self, other):
        return type(other) is type(self) and other.cjk == self.cjk

    def __hash__(self):
        return hash((type(self), self.cjk))

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        text = fold(value) if tokenize else value
        cjk = self.cjk
        if cjk == "charset":
            for c in set(CJK_RE.findall(text)):
                t.text = c
                t.boost = 1.0
                t.stopped = False
                yield t
            return
        pos = start_pos
        for m in UNIT_RE.finditer(text):
            run = m.group(1)
            start = m.start()
            if run is None:  # a Latin/digit run
                t.text = stem(m.group(0))
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = m.group(0)
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar, t.endchar = start_char + start, start_char + m.end()
                pos += 1
                yield t
                continue
            n = len(run)
            if cjk == "unigram" or n == 1:
                grams = [(i, run[i], 1) for i in range(n)]
            else:
                grams = [(i, run[i:i + 2], 2) for i in range(n - 1)]
                if cjk == "tail":
                    grams.append((n - 1, run[-1], 1))
            for i, gram, size in grams:
                t.text = gram
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = gram
                if positions:
                    t.pos = pos + i
                if chars:
                    t.startchar = start_char + start + i
                    t.endchar = t.startchar + size
                yield t
            pos += len(grams)

    # -- fast paths used by the formats below: no Token objects, no generator per token
    def positions_map(self, value: str) -> dict[str, list[int]]:
        """term → positions, exactly what ``__call__(value, positions=True)`` yields, grouped."""
        out: dict[str, list[int]] = {}
        get = out.setdefault
        cjk = self.cjk
        pos = 0
        for m in UNIT_RE.finditer(fold(value)):
            run = m.group(1)
            if run is None:
                get(stem(m.group(0)), []).append(pos)
                pos += 1
                continue
            n = len(run)
            if cjk == "unigram" or n == 1:
                grams = run
            else:
                grams = [run[i:i + 2] for i in range(n - 1)]
                if cjk == "tail":
                    grams.append(run[-1])
            for i, gram in enumerate(grams, pos):
                get(gram, []).append(i)
            pos += len(grams)
        return out

    def term_set(self, value: str) -> set[str]:
        """The distinct CJK characters (what ``charset`` mode yields)."""
        return set(CJK_RE.findall(fold(value)))


class FastPositions(formats.Positions):
    """``Positions`` that takes term → positions from the analyzer in one call (≈ 2× faster adds)."""

    def word_values(self, value, analyzer, **kwargs):
        if not hasattr(analyzer, "positions_map"):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        fb = self.field_boost
        encode = self.encode
        for word, poslist in analyzer.positions_map(value).items():
            yield (word, len(poslist), len(poslist) * fb, encode(poslist))


    def decode_positions(self, valuestring):
        return list(accumulate(loads(valuestring[_INT_SIZE:] + b".")))


class FastExistence(formats.Existence):
    """``Existence`` that takes the set of terms from the analyzer in one call."""

    def word_values(self, value, analyzer, **kwargs):
        if not hasattr(analyzer, "term_set"):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        fb = self.field_boost
        for word in analyzer.term_set(value):
            yield (word, 1, fb, b"")


class NoLengthStatsCodec(W3Codec):
    """Whoosh's default codec without per-block length statistics.

    At commit Whoosh looks up the field length of the document of every posting (a seek and read
    in the lengths column) to store min/max lengths per posting block; they only tighten the
    upper bound that ``optimize=True`` uses to skip blocks of single-term scored queries. Without
    them the bound is looser (still an upper bound, results identical) and the commit is ≈ 25 %
    cheaper. Pass as ``ix.writer(codec=NoLengthStatsCodec())``.
    """

    length_stats = False


def jieba_analyzer():
    """jieba's Whoosh analyzer (``jieba.analyse.ChineseAnalyzer``: search-mode tokens, lower case,
    stop words, Porter stems) on folded text, so that Traditional finds Simplified.

    Like the original, token positions are character offsets and a word is also split into its
    dictionary sub-words (``客户档案管理员`` → ``客户 档案 管理 管理员 客户档案管理员``…).
    """
    from jieba.analyse.analyzer import STOP_WORDS
    from whoosh.analysis import LowercaseFilter, StemFilter, StopFilter
    return (JiebaFoldTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=1)
            | StemFilter(stemfn=porter_stem, ignore=None, cachesize=50000))


class JiebaFoldTokenizer(Tokenizer):
    """``jieba.analyse.ChineseTokenizer`` applied to ``fold(text)``."""

    def __call__(self, value, **kwargs):
        import logging

        import jieba
        from jieba.analyse.analyzer import ChineseTokenizer
        jieba.setLogLevel(logging.WARNING)
        yield from ChineseTokenizer()(fold(value), **kwargs)


# --------------------------------------------------------------------------------------------
# Candidates


@dataclass(frozen=True)
class Candidate:
    name: str
    cjk: str  # content tokenizer mode, or "jieba"
    unifield: bool  # a ``uni`` existence field answers one-character queries
    engine: str  # default query engine: "fast" (ExactQuery), "stock" (Phrase/Term), "qparser"
    about: str


CANDIDATES = {
    c.name: c for c in (
        Candidate("unigram", "unigram", False, "stock", "CJK unigrams, query words as phrases of characters"),
        Candidate("bigram", "bigram", True, "stock",
                  "CJK overlapping bigrams (phrase of bigrams) + unigram field for 1-char queries"),
        Candidate("jieba", "jieba", False, "qparser", "jieba search-mode tokens, Whoosh QueryParser"),
        Candidate("exact", "tail", True, "fast",
                  "bigrams + tail unigrams, ExactQuery matcher, unigram field for 1-char queries"),
        Candidate("exact-prefix", "tail", False, "fast",
                  "bigrams + tail unigrams, ExactQuery matcher, 1-char queries as bigram prefix"),
    )
}


def schema_for(candidate: Candidate) -> fields.Schema:
    """The bench schema: the searchable text plus what a results page and the filters need."""
    if candidate.cjk == "jieba":
        content = fields.TEXT(analyzer=jieba_analyzer())
    else:
        content = fields.TEXT(analyzer=ArchiveTokenizer(candidate.cjk))
        content.format = FastPositions()
    extra = {}
    if candidate.unifield:
        # scorable: Whoosh 2.7 looks up a field's length column for every posting at commit and,
        # for a field without one, stat()s the missing column file once per posting
        extra["uni"] = fields.FieldType(FastExistence(), ArchiveTokenizer("charset"), scorable=True)
    return fields.Schema(
        # shift_step=bits: one term per value (no trie terms: these fields need equality, not ranges)
        id=fields.NUMERIC(int, bits=32, shift_step=32, stored=True, unique=True, sortable=True),
        archive_id=fields.NUMERIC(int, bits=32, shift_step=32, stored=True),
        department=fields.NUMERIC(int, bits=8, shift_step=8, stored=True, sortable=True),
        sensitivity=fields.NUMERIC(int, bits=8, shift_step=8, stored=True, sortable=True),
        kind=fields.ID(stored=True),
        title=fields.STORED(),
        content=content,
        **extra,
    )


def doc_fields(doc, candidate: Candidate) -> dict:
    values = dict(id=doc.id, archive_id=doc.archive_id, department=doc.department,
                  sensitivity=doc.sensitivity, kind=doc.kind, title=doc.title, content=doc.content)
    if candidate.unifield:
        values["uni"] = doc.content
    return values


# --------------------------------------------------------------------------------------------
# Query strings → clauses


QUOTED_RE = re.compile(r'"([^"]*)"|(\S+)')


def clauses(qstring: str) -> list[str]:
    """Split a user query into clauses: ``"quoted text"`` or a white-space separated word."""
    out = []
    for m in QUOTED_RE.finditer(unicodedata.normalize("NFC", qstring).translate(_FOLD)):
        text = m.group(1) if m.group(1) is not None else m.group(2)
        if text.strip():
            out.append(text)
    return out


@dataclass(frozen=True)
class Item:
    """One position of a clause: a term, or any term starting with ``text`` (``prefix``)."""
    field: str
    text: str
    prefix: bool = False


def clause_items(clause: str, candidate: Candidate) -> list[Item]:
    """The tokens of one clause at consecutive positions (for unigram/bigram/tail indexes).

    For ``tail`` (the ``exact`` candidates) the rules that keep substring semantics:
    a CJK run followed by another unit is emitted like the index does (bigrams + tail); the last
    CJK run of the clause drops its tail (the document may go on with more CJK), and if that run
    is a single character inside a longer clause it becomes a prefix item (``2026年`` must find
    ``2026年度``). A clause that is one CJK character alone is a term of the ``uni`` field, or a
    prefix of the bigram field.
    """
    us = units(fold(clause))
    mode = candidate.cjk
    if len(us) == 1 and us[0][0] and len(us[0][1]) == 1:  # one CJK character
        c = us[0][1]
        if candidate.unifield:
            return [Item("uni", c)]
        if mode == "unigram":
            return [Item("content", c)]
        return [Item("content", c, prefix=True)]
    items: list[Item] = []
    for k, (is_cjk, run, _start, _end) in enumerate(us):
        last = k == len(us) - 1
        if not is_cjk:
            items.append(Item("content", stem(run)))
        elif mode == "unigram":
            items.extend(Item("content", c) for c in run)
        elif len(run) == 1:
            if mode == "tail" and last:
                items.append(Item("content", run, prefix=True))
            else:
                items.append(Item("content", run))
        else:
            items.extend(Item("content", run[i:i + 2]) for i in range(len(run) - 1))
            if mode == "tail" and not last:
                items.append(Item("content", run[-1]))
    return items


def build_query(qstring: str, candidate: Candidate, engine: str | None = None, allow=None, parser=None):
    """The Whoosh query for ``qstring``.

    ``engine``: ``fast`` → one ``ExactQuery`` for the whole conjunction (``allow``, a set of global
    docnums, is checked inside the matcher before any positions are decoded); ``stock`` → Whoosh's
    own ``Phrase``/``Sequence``/``Term``/``Prefix`` under an ``And``; ``qparser`` → Whoosh's
    ``QueryParser`` on the content field (the jieba candidate).
    """
    engine = engine or candidate.engine
    if engine == "qparser":
        return parser.parse(qstring)
    groups = [clause_items(c, candidate) for c in clauses(qstring)]
    groups = [g for g in groups if g]
    if not groups:
        return query.NullQuery
    if engine == "fast":
        return ExactQuery(groups, allow=allow)
    parts = []
    for items in groups:
        leaves = [query.Prefix(i.field, i.text) if i.prefix else query.Term(i.field, i.text) for i in items]
        if len(leaves) == 1:
            parts.append(leaves[0])
        elif any(i.prefix for i in items):
            parts.append(query.Sequence(leaves))
        else:
            parts.append(query.Phrase("content", [i.text for i in items]))
    return parts[0] if len(parts) == 1 else query.And(parts)


# --------------------------------------------------------------------------------------------
# ExactQuery: a conjunction of exact token sequences with its own matcher


class ExactQuery(query.Query):
    """Documents containing every clause, each clause a sequence of items at consecutive positions.

    Why not ``And([Phrase…])``: Whoosh's phrase matcher intersects the postings in the order given,
    then builds ``Span`` objects for every position of every term of every candidate document and
    tests them pairwise — for common bigrams (客户, 档案, 管理) that is most of the time of a search.
    This matcher instead

    * intersects the postings of *all* items of *all* clauses at once, rarest first (leapfrog with
      ``skip_to``, which skips whole posting blocks);
    * drops a candidate that the ``allow`` set (global docnums the user may see) does not contain
      before decoding any positions;
    * checks each clause with plain integer sets: ``∩ {p - offset}`` over its items, smallest
      position list first.

    The score is the sum of the items' BM25F scores (like ``And``). A prefix item matches any
    term that starts with its text (its postings are the union of those terms').
    """

    def __init__(self, groups: list[list[Item]], allow=None, boost: float = 1.0):
        self.groups = [list(g) for g in groups]
        self.allow = allow
        self.boost = boost

    def __repr__(self):
        return f"ExactQuery({self.groups!r}, allow={'…' if self.allow is not None else None})"

    def __eq__(self, other):
        return type(other) is type(self) and other.groups == self.groups and other.allow is self.allow

    def __hash__(self):
        return hash(tuple(tuple(g) for g in self.groups))

    def is_leaf(self):
        return True

    def has_terms(self):
        return True

    def terms(self, phrases=True):
        for g in self.groups:
            for item in g:
                if not item.prefix:
                    yield (item.field, item.text)

    def estimate_size(self, ixreader):
        sizes = [ixreader.doc_frequency(i.field, i.text) for g in self.groups for i in g if not i.prefix]
        return min(sizes) if sizes else ixreader.doc_count_all()

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        leaves: dict[Item, tuple[Matcher, list[Matcher] | None, int]] = {}
        for group in self.groups:
            for item in group:
                if item in leaves:
                    continue
                if item.prefix:
                    words = list(reader.expand_prefix(item.field, item.text))
                    subs = [m for w in words
                            if (m := query.Term(item.field, w).matcher(searcher, context)).is_active()]
                    if not subs:
                        return NullMatcher()
                    union = subs[0] if len(subs) == 1 else make_binary_tree(UnionMatcher, subs)
                    size = sum(reader.doc_frequency(item.field, w) for w in words)
                    leaves[item] = (union, subs, size)
                else:
                    m = query.Term(item.field, item.text).matcher(searcher, context)
                    if not m.is_active():
                        return NullMatcher()
                    leaves[item] = (m, None, reader.doc_frequency(item.field, item.text))
        offset = 0
        parent = searcher.parent() if searcher.parent else None
        if parent is not None:
            offset = parent._offset_for_subsearcher(searcher)
        checks = [[(k, leaves[item]) for k, item in enumerate(g)] for g in self.groups if len(g) > 1]
        order = sorted(leaves.values(), key=lambda leaf: leaf[2])
        return ExactMatcher([leaf[0] for leaf in order], checks, self.allow, offset, self.boost)


def _positions(leaf) -> list[int]:
    matcher, subs, _size = leaf
    if subs is None:
        return matcher.value_as("positions")
    d = matcher.id()
    out = []
    for m in subs:
        if m.is_active() and m.id() == d:
            out.extend(m.value_as("positions"))
    return out


class ExactMatcher(Matcher):
    """Leapfrog intersection + allow set + integer-set position check (see ExactQuery)."""

    def __init__(self, leaves, checks, allow, offset, boost=1.0):
        self._leaves = leaves
        self._checks = checks
        self._allow = allow
        self._offset = offset
        self._boost = boost
        self._id = -1
        self._active = all(m.is_active() for m in leaves)
        if self._active:
            self._find(0)

    # -- matching
    def _find(self, target: int) -> None:
        leaves, allow, offset = self._leaves, self._allow, self._offset
        n = len(leaves)
        while True:
            d, agree, i = target, 0, 0
            while agree < n:
                m = leaves[i]
                if m.id() < d:
                    m.skip_to(d)
                    if not m.is_active():
                        self._active = False
                        return
                md = m.id()
                if md > d:
                    d, agree = md, 1
                else:
                    agree += 1
                i = i + 1 if i + 1 < n else 0
            if (allow is None or d + offset in allow) and self._verify():
                self._id = d
                return
            target = d + 1

    def _verify(self) -> bool:
        for check in self._checks:
            lists = sorted(((k, _positions(leaf)) for k, leaf in check), key=lambda kp: len(kp[1]))
            k0, p0 = lists[0]
            starts = {p - k0 for p in p0}
            for k, ps in lists[1:]:
                starts.intersection_update([p - k for p in ps])
                if not starts:
                    return False
        return True

    # -- Matcher protocol
    def is_active(self):
        return self._active

    def id(self):
        return self._id

    def next(self):
        if not self._active:
            raise ReadTooFar
        self._find(self._id + 1)

    def skip_to(self, id):
        if not self._active:
            raise ReadTooFar
        if id > self._id:
            self._find(id)

    def reset(self):
        for m in self._leaves:
            m.reset()
        self._active = all(m.is_active() for m in self._leaves)
        if self._active:
            self._find(0)

    def copy(self):
        raise NotImplementedError("ExactMatcher is not copied by the collectors the portal uses")

    def replace(self, minquality=0):
        return self if self._active else NullMatcher()

    def supports_block_quality(self):
        return False

    def supports(self, astype):
        return False

    def weight(self):
        return sum(m.weight() for m in self._leaves)

    def score(self):
        return self._boost * sum(m.score() for m in self._leaves)

    def children(self):
        return list(self._leaves)

    def is_leaf(self):
        return False


# --------------------------------------------------------------------------------------------
# exact_search: the same conjunction evaluated a block of postings at a time


@dataclass
class ExactResult:
    docnums: list[int]  # the top ``limit`` hits (global docnums), best first
    total: int  # number of matching documents (estimated when ``exact`` is False)
    exact: bool  # whether ``total`` is exact (every candidate verified)
    candidates: int  # documents that contain every token (before the position check)
    verified: int  # candidates whose positions were checked


class SearchCache:
    """Per-searcher data that ``exact_search`` reuses: field lengths for BM25 (read once)."""

    def __init__(self, searcher):
        self.searcher = searcher
        self._lengths: dict[str, list[int]] = {}

    def lengths(self, fieldname: str) -> list[int]:
        if fieldname not in self._lengths:
            reader = self.searcher.reader()
            dfl = reader.doc_field_length
            self._lengths[fieldname] = [dfl(d, fieldname, 0) or 0 for d in range(reader.doc_count_all())]
        return self._lengths[fieldname]


def _read_blocks(m, offset: int, ids_only: bool):
    """All postings of a W3 leaf matcher, a block at a time: (global ids, weights, values) per block.

    Uses the block layout of Whoosh's default codec (``whoosh.codec.whoosh3.W3LeafMatcher``):
    one ``pickle.loads`` per block of up to 128 postings instead of Python calls per posting.
    """
    while m.is_active():
        if m._data is None:
            m._read_data()
        raw_ids, weights, values = m._data[0], m._data[1], m._data[2]
        ids = [d + offset for d in accumulate(raw_ids)] if offset else list(accumulate(raw_ids))
        if ids_only:
            yield ids, None, None
        else:
            n = len(ids)
            if weights is None:
                weights = (1.0,) * n
            elif isinstance(weights, float):
                weights = (weights,) * n
            yield ids, weights, values if values is not None else (b"",) * n
        m._next_block()


class _Leaf:
    """One distinct item of the query: its postings restricted to the candidates, per global docnum."""

    __slots__ = ("item", "df", "terms", "weights", "values", "idf", "avgfl")

    def __init__(self, item: Item, terms: list[str], df: int):
        self.item, self.terms, self.df = item, terms, df
        self.weights: dict[int, float] = {}
        self.values: dict[int, object] = {}

    def read(self, searcher, candidates: set | None, need_values: bool, need_weights: bool) -> set:
        """Docnums of this leaf (∩ ``candidates`` if given), filling weights/values for them."""
        field = self.item.field
        found: set[int] = set()
        ids_only = not (need_values or need_weights)
        sparse = candidates is not None and len(candidates) * 4 < self.df
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            for term in self.terms:
                if (field, term) not in reader:
                    continue
                m = reader.postings(field, term)
                if sparse:  # few candidates: skip to each of them (skips whole blocks)
                    local = sorted(d - offset for d in candidates if offset <= d < offset + reader.doc_count_all())
                    for d in local:
                        if not m.is_active():
                            break
                        m.skip_to(d)
                        if m.is_active() and m.id() == d:
                            self._keep(d + offset, m.weight() if need_weights else None,
                                       m.value() if need_values else None)
                            found.add(d + offset)
                    continue
                for ids, weights, values in _read_blocks(m, offset, ids_only):
                    if candidates is not None:
                        keep = [k for k, d in enumerate(ids) if d in candidates]
                        ids = [ids[k] for k in keep]
                        if not ids_only:
                            weights = [weights[k] for k in keep]
                            values = [values[k] for k in keep]
                    found.update(ids)
                    if not ids_only:
                        for d, w, v in zip(ids, weights, values, strict=True):
                            self._keep(d, w if need_weights else None, v if need_values else None)
        return found

    def _keep(self, d, weight, value):
        if weight is not None:
            self.weights[d] = self.weights.get(d, 0.0) + weight
        if value is not None:
            if len(self.terms) == 1:
                self.values[d] = value
            else:  # a prefix: the positions of all its terms
                self.values.setdefault(d, []).append(value)

    def positions(self, d: int, decode) -> list[int]:
        v = self.values[d]
        if isinstance(v, list):
            out = []
            for one in v:
                out.extend(decode(one))
            return out
        return decode(v)


def exact_search(searcher, groups: list[list[Item]], allow=None, limit: int | None = 20, scored: bool = True,
                 max_verify: int | None = None, cache: SearchCache | None = None) -> ExactResult:
    """Evaluate ``ExactQuery(groups)`` a block at a time; exact hits, exact or estimated total.

    1. Candidates: documents (in ``allow``) containing every item — the rarest item's postings
       read block by block into a set, ∩ ``allow``, then each further item read the same way or,
       when the candidates are few, by ``skip_to`` per candidate.
    2. Ranking of the candidates: BM25F (Whoosh's defaults, B=0.75, K1=1.2) summed over the items,
       from the weights read in step 1 and the cached field lengths; or docnum order.
    3. Position check (clauses of more than one item) in rank order. With ``max_verify`` the check
       stops once ``limit`` hits are found and ``max_verify`` candidates were checked; the total is
       then estimated from the share of checked candidates that matched (``exact=False``).
    """
    reader = searcher.reader()
    cache = cache or SearchCache(searcher)
    leaves: dict[Item, _Leaf] = {}
    for group in groups:
        for item in group:
            if item in leaves:
                continue
            if item.prefix:
                terms = [t.decode("utf-8") if isinstance(t, bytes) else t
                         for t in reader.expand_prefix(item.field, item.text)]
            else:
                terms = [item.text] if (item.field, item.text) in reader else []
            if not terms:
                return ExactResult([], 0, True, 0, 0)
            leaves[item] = _Leaf(item, terms, sum(reader.doc_frequency(item.field, t) for t in terms))
    positional = {item for g in groups if len(g) > 1 for item in g}
    candidates = allow
    for leaf in sorted(leaves.values(), key=lambda lf: lf.df):
        candidates = leaf.read(searcher, candidates, leaf.item in positional, scored)
        if not candidates:
            return ExactResult([], 0, True, 0, 0)
    n_candidates = len(candidates)
    if scored:
        n_docs = reader.doc_count_all()
        for leaf in leaves.values():
            leaf.idf = math.log(n_docs / (leaf.df + 1)) + 1.0
            leaf.avgfl = searcher.avg_field_length(leaf.item.field) or 1.0
        lengths = {f: cache.lengths(f) for f in {leaf.item.field for leaf in leaves.values()}}

        def score(d):
            return sum(bm25(lf.idf, lf.weights.get(d, 1.0), lengths[lf.item.field][d], lf.avgfl, 0.75, 1.2)
                       for lf in leaves.values())
        ranked = sorted(candidates, key=lambda d: (-score(d), d))
    else:
        ranked = sorted(candidates)
    checks = [[(k, leaves[item]) for k, item in enumerate(g)] for g in groups if len(g) > 1]
    if not checks:
        top = ranked if limit is None else ranked[:limit]
        return ExactResult(top, n_candidates, True, n_candidates, 0)
    decode = FastPositions().decode_positions
    hits: list[int] = []
    verified = checked = 0
    want = limit if limit is not None else n_candidates
    for d in ranked:
        if max_verify is not None and checked >= max_verify and len(hits) >= want:
            break
        checked += 1
        ok = True
        for check in checks:
            lists = sorted(((k, leaf.positions(d, decode)) for k, leaf in check), key=lambda kp: len(kp[1]))
            k0, p0 = lists[0]
            starts = {p - k0 for p in p0}
            for k, ps in lists[1:]:
                starts.intersection_update([p - k for p in ps])
                if not starts:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            verified += 1
            if len(hits) < want:
                hits.append(d)
    if checked == n_candidates:
        return ExactResult(hits, verified, True, n_candidates, checked)
    estimate = round(verified / checked * n_candidates) if checked else n_candidates
    return ExactResult(hits, estimate, False, n_candidates, checked)


def exact_page(searcher, groups: list[list[Item]], allow=None, limit: int | None = 20, scored: bool = False,
               max_verify: int | None = 500, allow_sorted: list[int] | None = None) -> ExactResult:
    """First page of ``ExactQuery(groups)`` in index order, stopping early; total exact or estimated.

    Drives ``ExactMatcher`` directly instead of a Whoosh collector (which would visit every match):
    the scan stops once ``limit`` hits are found and ``max_verify`` hits were counted. The total is
    then estimated from how many allowed documents the scan had passed (``allow_sorted``: the
    allowed docnums, sorted; without ``allow`` the docnum itself). With ``scored`` the page holds
    the best BM25F scores among the hits counted, not among all hits. Cost is bounded by
    ``max_verify`` whatever the size of the index; ``limit=None`` or ``max_verify=None`` scans all.
    """
    from bisect import bisect_right
    q = ExactQuery(groups, allow=allow)
    found: list[tuple[float, int]] = []
    count = 0
    stopped_at = None
    for sub, offset in searcher.leaf_searchers():
        m = q.matcher(sub)
        while m.is_active():
            d = m.id() + offset
            count += 1
            if scored:
                found.append((-m.score(), d))
            elif limit is None or len(found) < limit:
                found.append((0.0, d))
            if max_verify is not None and limit is not None and count >= max_verify and count >= limit:
                stopped_at = d
                break
            m.next()
        if stopped_at is not None:
            break
    top = [d for _s, d in (heapq.nsmallest(limit, found) if scored and limit is not None else sorted(found))]
    if stopped_at is None:
        return ExactResult(top, count, True, count, count)
    if allow is not None:
        allowed = allow_sorted if allow_sorted is not None else sorted(allow)
        passed = bisect_right(allowed, stopped_at) / max(len(allowed), 1)
    else:
        passed = (stopped_at + 1) / max(searcher.doc_count_all(), 1)
    return ExactResult(top, round(count / passed) if passed else count, False, count, count)
