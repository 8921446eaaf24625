"""The matcher behind every search, on an index of a few thousand entries in several segments
with deletions: it finds exactly the entries whose text contains the query, and the same entries
and scores whether the permission filter is a docnum set or an ``AllowSet`` (which reads postings
past Whoosh's deletion filter and skips inside posting blocks by binary search)."""
from __future__ import annotations

import random

import pytest
from whoosh import index

from portal.search import schema
from portal.search.analysis import AllowSet, ArchiveTokenizer, _skip_w3, clause_items, fold
from portal.search.query import parse

WORDS = ["客户", "档案", "管理", "制度", "合同", "违约", "责任", "海外", "建立", "與", "保密", "信息",
         "HT-2026-00", "archives", "年度", "2026年", "，", "。", " "]
QUERIES = ["客户档案", "档案管理制度", "违约责任", "海外客户档案建立", "信息", "2026年", "HT-2026",
           "archive", "保密 合同", "與", "客", "合同 违约 责任", '"管理制度"', "制度建立与管理"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(index, {uid: text} of the live entries) — three segments, the first two with deletions."""
    rng = random.Random(6)
    ix = index.create_in(str(tmp_path_factory.mktemp("ix")), schema.make_schema())
    texts: dict[int, str] = {}
    uid = 0
    for _segment in range(3):
        w = ix.writer()
        for _ in range(1500):
            uid += 1
            texts[uid] = _text(rng)
            w.add_document(key=f"d{uid}", uid=uid * 2 + 1, kind="document", text=texts[uid], uni=texts[uid])
        w.commit(merge=False)
    w = ix.writer()
    for dead in rng.sample(sorted(texts), 400):
        w.delete_by_term("key", f"d{dead}")
        del texts[dead]
    w.commit(merge=False)
    return ix, texts


def _run(searcher, q):
    out = []
    for sub, offset in searcher.leaf_searchers():
        m = q.matcher(sub)
        while m.is_active():
            out.append((m.id() + offset, m.score()))
            m.next()
    return out


def test_exact_matches_are_the_same_with_any_permission_filter(corpus):
    ix, texts = corpus
    rng = random.Random(7)
    with ix.searcher() as s:
        assert len(s.reader().leaf_readers()) == 3 and s.reader().has_deletions()
        uid_of = {}
        for sub, offset in s.leaf_searchers():
            col = sub.reader().column_reader("uid")
            for d in range(sub.reader().doc_count_all()):
                if not sub.reader().is_deleted(d):
                    uid_of[d + offset] = col[d] >> 1
        live = sorted(uid_of)
        allowed = sorted(rng.sample(live, len(live) * 2 // 5))
        allow_set = AllowSet(allowed, s.reader().doc_count_all(), live_only=True)  # no deleted entry
        for qtext in QUERIES:
            parsed = parse(qtext)
            plain = _run(s, parsed.whoosh(set(allowed)))
            fast = _run(s, parsed.whoosh(allow_set))
            assert fast == plain, qtext
            everything = [(d, sc) for d, sc in _run(s, parsed.whoosh(None)) if d in uid_of]
            assert [h for h in everything if h[0] in allow_set] == plain, qtext
            if " " not in qtext and '"' not in qtext:
                # one clause: exactly the live entries whose folded text contains it
                truth = {d for d in live if _contains(texts[uid_of[d]], qtext)}
                assert {d for d, _sc in everything} == truth, qtext


def _contains(text: str, clause: str) -> bool:
    """Substring truth as the index defines it: the clause's tokens occur consecutively."""
    items = clause_items(clause)
    if len(items) == 1 and items[0].field == "uni":
        return items[0].text in fold(text)
    tokens = ArchiveTokenizer("tail").token_spans(text)
    words = [t[0] for t in tokens]
    for i in range(len(words) - len(items) + 1):
        if all(words[i + k].startswith(it.text) if it.prefix else words[i + k] == it.text
               for k, it in enumerate(items)):
            return True
    return False


def test_binary_search_skip_lands_where_whoosh_skip_to_does(corpus):
    ix, _texts = corpus
    rng = random.Random(8)
    with ix.searcher() as s:
        for sub, _offset in s.leaf_searchers():
            reader = sub.reader()
            n = reader.doc_count_all()
            for term in ("客户", "档案", "制度", "信息", "与"):
                assert reader.doc_frequency("text", term) > 300  # several posting blocks
                targets = sorted(rng.sample(range(n + 50), 60))
                a = reader.postings("text", term)
                b = reader.postings("text", term)
                a, b = getattr(a, "child", a), getattr(b, "child", b)  # past the deletion filter
                for t in targets:
                    got = _skip_w3(a, t) if a.is_active() else -1
                    if b.is_active() and b.id() < t:
                        b.skip_to(t)
                    want = b.id() if b.is_active() else -1
                    assert got == want, (term, t)
                    if got < 0:
                        break
                    assert a.value_as("positions") == b.value_as("positions")


def test_token_spans_are_what_the_tokenizer_yields():
    rng = random.Random(9)
    for mode in ("tail", "bigram", "unigram"):
        tok = ArchiveTokenizer(mode)
        for _ in range(50):
            text = _text(rng) + " ＨＴ－２０２６ Archives 客戶檔案 a1b2 張"
            spans = tok.token_spans(text)
            assert spans == [(t.text, t.pos, t.startchar, t.endchar) for t in tok(text, positions=True, chars=True)]
            assert [pos for _t, pos, _s, _e in spans] == list(range(len(spans)))  # highlighting relies on it


def _spans_by_tokens(text, groups):
    """The highlighting reference: every clause matched against the whole text's tokens."""
    tokens = ArchiveTokenizer("tail").token_spans(text)
    spans = []
    for items in groups:
        if len(items) == 1 and items[0].field == "uni":
            spans += [(i, i + 1) for i, c in enumerate(fold(text)) if c == items[0].text]
            continue
        for pos in range(len(tokens) - len(items) + 1):
            window = tokens[pos:pos + len(items)]
            if all(t[0].startswith(it.text) if it.prefix else t[0] == it.text for it, t in zip(items, window, strict=True)):
                last = window[-1]
                spans.append((window[0][2], last[2] + len(items[-1].text) if items[-1].prefix else last[3]))
    merged = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def test_highlighted_spans_are_those_of_the_whole_text_tokens():
    from portal.search.services import match_spans
    rng = random.Random(10)
    words = WORDS + ["外", "-", "2026", "HT", "0037", "skies", "sky", "a1b2", "年度", "檔案", "外2026", "ＨＴ"]
    queries = QUERIES + ["外-2026", "2026-电商", "HT-2026-0037", "sky", "a1b2", "年", "2026", "海外-2026"]
    for _ in range(300):
        text = "".join(rng.choice(words) for _ in range(rng.randint(1, 80)))
        for qtext in rng.sample(queries, 6):
            groups = parse(qtext).positive
            assert match_spans(text, groups) == _spans_by_tokens(text, groups), (text, qtext)
