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
from dataclasses import dataclass
from itertools import accumulate
from pickle import loads

from whoosh import formats, query
from whoosh.analysis import Token, Tokenizer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.lang.porter import stem as porter_stem
from whoosh.matching import Matcher, NullMatcher, ReadTooFar, UnionMatcher
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


