"""Chinese/English analysis for the archive index, and the exact query that goes with it.

The design and its measurements are in bench/search/README.md. In short: the text is *folded*
(``fold``: Traditional → Simplified with OpenCC ``t2s``, full-width → half-width, A–Z → a–z, all
length-preserving, so offsets still point into the original for highlighting). Latin letters and
digits become ``[a-z0-9]+`` tokens (words Porter-stemmed), so ``HT-2026-0042`` is ``ht 2026 0042``
and is searchable whole (as a sequence) and in parts. A run of CJK characters becomes overlapping
bigrams **plus a unigram for its last character at its own position** ("tail"): every character
is then the first character of exactly one token at its own position, so any substring of the
folded text is a sequence of consecutive tokens, found exactly — ``客户档案管理员`` finds only text
containing that phrase, never its sub-words ANDed. One-character queries (``张``) use a second
field, ``uni``: each distinct character of a document once, no positions.

The schema pickles these classes by module path: do not move them without rebuilding the index.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pickle import loads

from whoosh import formats, query
from whoosh.analysis import Token, Tokenizer
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher
from whoosh.lang.porter import stem as porter_stem
from whoosh.matching import FilterMatcher, Matcher, NullMatcher, ReadTooFar
from whoosh.scoring import BM25FScorer
from whoosh.system import _INT_SIZE

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

    def token_spans(self, value: str) -> list[tuple[str, int, int, int]]:
        """(text, position, startchar, endchar) of every token, exactly what
        ``__call__(value, positions=True, chars=True)`` yields (highlighting: no Token objects)."""
        out = []
        add = out.append
        cjk = self.cjk
        pos = 0
        for m in UNIT_RE.finditer(fold(value)):
            run = m.group(1)
            start = m.start()
            if run is None:
                add((stem(m.group(0)), pos, start, m.end()))
                pos += 1
                continue
            n = len(run)
            if cjk == "unigram" or n == 1:
                for i in range(n):
                    add((run[i], pos + i, start + i, start + i + 1))
                pos += n
                continue
            for i in range(n - 1):
                add((run[i:i + 2], pos + i, start + i, start + i + 2))
            pos += n - 1
            if cjk == "tail":
                add((run[-1], pos, start + n - 1, start + n))
                pos += 1
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


def clause_items(clause: str, field: str = "text", uni: str | None = "uni") -> list[Item]:
    """The tokens of one clause at consecutive positions, as the ``tail`` tokenizer indexes them.

    The rules that keep substring semantics: a CJK run followed by another unit is emitted like the
    index does (bigrams + tail); the last CJK run of the clause drops its tail (the document may go
    on with more CJK), and if that run is a single character inside a longer clause it becomes a
    prefix item (``2026年`` must find ``2026年度``). A clause that is one CJK character alone is a
    term of the ``uni`` field (or, without one, a prefix of the bigram field).
    """
    us = units(fold(clause))
    if len(us) == 1 and us[0][0] and len(us[0][1]) == 1:  # one CJK character
        c = us[0][1]
        return [Item(uni, c)] if uni else [Item(field, c, prefix=True)]
    items: list[Item] = []
    for k, (is_cjk, run, _start, _end) in enumerate(us):
        last = k == len(us) - 1
        if not is_cjk:
            items.append(Item(field, stem(run)))
        elif len(run) == 1:
            items.append(Item(field, run, prefix=last))
        else:
            items.extend(Item(field, run[i:i + 2]) for i in range(len(run) - 1))
            if not last:
                items.append(Item(field, run[-1]))
    return items


class ExactQuery(query.Query):
    """Documents containing every clause, each clause a sequence of items at consecutive positions.

    Why not ``And([Phrase…])``: Whoosh's phrase matcher intersects the postings in the order given,
    then builds ``Span`` objects for every position of every term of every candidate document and
    tests them pairwise — for common bigrams (客户, 档案, 管理) that is most of the time of a search.
    This matcher instead

    * intersects the postings of *all* items of *all* clauses at once, rarest first (leapfrog with
      a skip that passes whole posting blocks and binary-searches inside one);
    * drops a candidate that the ``allow`` set (global docnums the user may see: a set, or an
      ``AllowSet`` to jump to the next allowed one) does not contain before the common items'
      postings move and before decoding any positions;
    * checks each clause with plain integer sets: ``∩ {p - offset}`` over its items, item by item
      in rarity order as they reach the candidate (see ``ExactMatcher``).

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
        # deleted documents are never in an AllowSet: its postings need no deletion filter
        unwrap = isinstance(self.allow, AllowSet) and self.allow.live_only
        leaves: dict[Item, _Leaf] = {}
        for group in self.groups:
            for item in group:
                if item in leaves:
                    continue
                if item.prefix:
                    words = list(reader.expand_prefix(item.field, item.text))
                    subs = [_unwrapped(m, unwrap) for w in words
                            if (m := query.Term(item.field, w).matcher(searcher, context)).is_active()]
                    if not subs:
                        return NullMatcher()
                    size = sum(reader.doc_frequency(item.field, w) for w in words)
                    leaves[item] = _Leaf(_Union(subs), size, item.field)
                else:
                    m = query.Term(item.field, item.text).matcher(searcher, context)
                    if not m.is_active():
                        return NullMatcher()
                    leaves[item] = _Leaf(_unwrapped(m, unwrap), reader.doc_frequency(item.field, item.text),
                                         item.field)
        offset = 0
        parent = searcher.parent() if searcher.parent else None
        if parent is not None:
            offset = parent._offset_for_subsearcher(searcher)
        order = sorted(leaves.values(), key=lambda leaf: leaf.size)
        for g, group in enumerate(gr for gr in self.groups if len(gr) > 1):
            for k, item in enumerate(group):
                leaves[item].checks.append((g, k))
        return ExactMatcher(order, sum(len(gr) > 1 for gr in self.groups), self.allow, offset, self.boost)


def _unwrapped(m, unwrap: bool):
    """The posting matcher without Whoosh's deletion filter, when the allow set does that job."""
    if (unwrap and type(m) is FilterMatcher and m._exclude and m.boost == 1.0
            and m.child.is_active()):
        return m.child
    return m


class AllowSet:
    """The global docnums a user may see, for ``ExactQuery(allow=…)``: one byte per docnum for the
    test inside the matcher, and the sorted docnums, to jump to the next allowed one and to
    estimate totals. ``live_only``: the set never holds a deleted document (the matcher then reads
    postings without Whoosh's deletion filter, the allow test filters them)."""

    __slots__ = ("docs", "bits", "live_only")

    def __init__(self, docs, size: int, live_only: bool = False):
        self.docs = docs  # sorted, e.g. array("l")
        bits = bytearray(size)
        for d in docs:
            bits[d] = 1
        self.bits = bytes(bits)
        self.live_only = live_only

    def __contains__(self, d) -> bool:
        return 0 <= d < len(self.bits) and self.bits[d] == 1

    def __len__(self) -> int:
        return len(self.docs)

    def __iter__(self):
        return iter(self.docs)

    def next_from(self, d: int) -> int:
        """The first allowed docnum >= ``d``, -1 if none."""
        i = bisect_left(self.docs, d)
        return self.docs[i] if i < len(self.docs) else -1

    def count_upto(self, d: int) -> int:
        """How many allowed docnums are <= ``d``."""
        return bisect_right(self.docs, d)


def _skip_w3(m, target: int) -> int:
    """``m.skip_to(target)`` for Whoosh's W3 posting matcher, then its id (-1 when exhausted).

    Whoosh skips whole blocks by their maximum id but then walks the block one posting at a time
    (three method calls each); this binary-searches the block's decoded ids instead. It reads the
    W3 block layout (``_ids``, ``_i``, ``_maxid``, ``_goto``): whoosh-reloaded is pinned < 2.8 and
    tests/search/test_search_core.py compares it with ``skip_to``.
    """
    ids = m._ids
    if ids is None:
        m._read_ids()
        ids = m._ids
    i = m._i
    if ids[i] >= target:
        return ids[i]
    if target > m._maxid:
        while True:
            if m._lastblock:
                m._atend = True
                return -1
            m._goto(m._nextoffset)
            if target <= m._maxid:
                break
        m._read_ids()
        ids = m._ids
        i = 0
    i = bisect_left(ids, target, i)
    m._i = i
    return ids[i]


def _skip_any(m, target: int) -> int:
    if m.id() < target:
        m.skip_to(target)
        if not m.is_active():
            return -1
    return m.id()


_END = 1 << 62


class _Union:
    """A prefix item's postings: every term that starts with it (``2026年`` → 年度, 年份 …), each
    skipped with ``_skip_w3``; scored like Whoosh's binary tree of ``UnionMatcher``s."""

    def __init__(self, subs):
        self.subs = subs
        self.skips = [_skip_w3 if type(m) is W3LeafMatcher else _skip_any for m in subs]
        self.scorers = [sc if type(sc := getattr(m, "scorer", None)) is BM25FScorer and type(m) is W3LeafMatcher
                        else None for m in subs]
        self.reset_ids()

    def reset_ids(self):
        self.ids = [m.id() if m.is_active() else _END for m in self.subs]
        self._id = min(self.ids)

    def is_active(self):
        return self._id < _END

    def id(self):
        return self._id

    def skip_to(self, target: int) -> None:
        ids = self.ids
        for i, m in enumerate(self.subs):
            if ids[i] < target:
                got = self.skips[i](m, target)
                ids[i] = got if got >= 0 else _END
        self._id = min(ids)

    def reset(self):
        for m in self.subs:
            m.reset()
        self.reset_ids()

    def at(self):
        d = self._id
        return [m for m, i in zip(self.subs, self.ids, strict=True) if i == d]

    def weight(self):
        return sum(m.weight() for m in self.at())

    def score(self, length=None):
        d, ids, subs, scorers = self._id, self.ids, self.subs, self.scorers

        def tree(lo, hi):  # the shape of whoosh.util.make_binary_tree
            if hi - lo == 1:
                if ids[lo] != d:
                    return None
                sc = scorers[lo]
                if sc is None or length is None:
                    return subs[lo].score()
                return sc._score(subs[lo].weight(), length)
            mid = lo + (hi - lo) // 2
            a, b = tree(lo, mid), tree(mid, hi)
            return b if a is None else a if b is None else a + b

        return tree(0, len(subs)) or 0.0


class _Leaf:
    """One item's postings in an ``ExactMatcher``."""

    __slots__ = ("m", "size", "field", "skip", "bm25", "checks")

    def __init__(self, m, size: int, field: str):
        self.m = m
        self.size = size
        self.field = field
        fast = type(m) is W3LeafMatcher
        self.skip = _skip_w3 if fast else _skip_any
        scorer = getattr(m, "scorer", None) if fast else None
        self.bm25 = scorer if type(scorer) is BM25FScorer else None
        self.checks: list[tuple[int, int]] = []  # (clause, position in the clause) of this item

    def positions(self) -> list[int]:
        if type(self.m) is not _Union:
            return self.m.value_as("positions")
        out = []
        for m in self.m.at():
            out.extend(m.value_as("positions"))
        return out


class ExactMatcher(Matcher):
    """Leapfrog intersection + allow set + integer-set position check (see ExactQuery).

    Items are taken rarest first. The two rarest lead: their postings are intersected, the
    candidate is tested against the allow set; then each item in turn is moved to the candidate
    and its positions are intersected with its clause's so far, so that a candidate fails at the
    first item that does not continue the sequence. The common items come last: they are the
    expensive ones (every posting block they enter is decompressed and unpickled with all its
    position lists), and are moved only to candidates that survived the cheap tests.
    """

    def __init__(self, leaves: list[_Leaf], nchecks: int, allow, offset, boost=1.0):
        self._leaves = leaves
        n = 2 if len(leaves) > 1 else 1
        self._drivers = leaves[:n]
        self._rest = leaves[n:]
        self._nchecks = nchecks
        self._allow = allow
        self._bits = allow.bits if isinstance(allow, AllowSet) else None
        self._offset = offset
        self._boost = boost
        self._id = -1
        self._active = all(leaf.m.is_active() for leaf in leaves)
        if self._active:
            self._find(0)

    # -- matching
    def _find(self, target: int) -> None:
        drivers, rest, offset, bits = self._drivers, self._rest, self._offset, self._bits
        allow, nchecks = self._allow, self._nchecks
        nd = len(drivers)
        while True:
            d, agree, i = target, 0, 0
            while agree < nd:
                leaf = drivers[i]
                md = leaf.skip(leaf.m, d)
                if md < 0:
                    self._active = False
                    return
                if md > d:
                    d, agree = md, 1
                else:
                    agree += 1
                i = i + 1 if i + 1 < nd else 0
            if bits is not None:
                if not bits[d + offset]:
                    nxt = allow.next_from(d + offset + 1)
                    if nxt < 0:
                        self._active = False
                        return
                    target = nxt - offset
                    continue
            elif allow is not None and d + offset not in allow:
                target = d + 1
                continue
            starts = [None] * nchecks if nchecks else None
            target = d + 1
            for leaf in drivers:
                if leaf.checks and not _narrow(leaf, starts):
                    break
            else:
                for leaf in rest:
                    md = leaf.skip(leaf.m, d)
                    if md < 0:
                        self._active = False
                        return
                    if md > d:
                        target = md
                        break
                    if leaf.checks and not _narrow(leaf, starts):
                        break
                else:
                    self._id = d
                    return

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
        for leaf in self._leaves:
            leaf.m.reset()
        self._active = all(leaf.m.is_active() for leaf in self._leaves)
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
        return sum(leaf.m.weight() for leaf in self._leaves)

    def score(self):
        # BM25F of each item, as Whoosh's leaf matchers compute it, but the field length of the
        # document (a read from the lengths column) once per field instead of once per item
        d = self._id
        total = 0.0
        lengths: dict[str, float] = {}
        for leaf in self._leaves:
            m = leaf.m
            scorer = leaf.bm25
            if scorer is None and type(m) is not _Union:
                total += m.score()
                continue
            length = lengths.get(leaf.field)
            if length is None:
                sc = scorer or next((s for s in m.scorers if s is not None), None)
                length = lengths[leaf.field] = sc.dfl(d) if sc is not None else None
            total += m.score(length) if scorer is None else scorer._score(m.weight(), length)
        return self._boost * total

    def children(self):
        return [leaf.m for leaf in self._leaves]

    def is_leaf(self):
        return False


def _narrow(leaf: _Leaf, starts: list) -> bool:
    """Intersect the clause start positions so far with this item's; False when none is left."""
    ps = leaf.positions()
    for g, k in leaf.checks:
        cur = starts[g]
        if cur is None:
            starts[g] = {p - k for p in ps}
        else:
            cur.intersection_update([p - k for p in ps])
            if not cur:
                return False
    return True
