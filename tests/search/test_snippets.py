"""Snippets of long texts: the marked words are the matched text of record, wherever it sits."""
from __future__ import annotations

from portal.search.query import parse
from portal.search.services import snippet


def marked(parts):
    return [t for t, hit in parts if hit]


def test_a_match_deep_in_a_long_text_is_marked_in_the_original_script(app):
    filler = "本合同条款由双方协商确定。" * 600  # ≈ 7,800 characters before the match
    text = filler + "乙方應指定客戶檔案管理員負責保管。" + filler
    parts = snippet(text, parse("客户档案管理员"))
    assert marked(parts) == ["客戶檔案管理員"]
    assert parts[0] == ("…", False) and parts[-1] == ("…", False)
    assert len("".join(t for t, _ in parts)) < 200


def test_english_stems_and_numbers_are_marked_in_long_text(app):
    text = "General terms apply. " * 400 + "The customer archives of contract HT-2026-0037 were audited."
    parts = snippet(text, parse("archive HT-2026-0037"))
    assert marked(parts) == ["archives", "HT-2026-0037"]


def test_text_without_a_match_starts_from_the_beginning(app):
    parts = snippet("甲方" * 2000, parse("乙方"))
    assert marked(parts) == [] and parts[0][0].startswith("甲方甲方")
