"""Real paragraphs from the customer-archive policies in ``../shared/seeds/`` for the search tests.

The seeds are scraped web pages: three are in Traditional script (000, 003, 004), two in
Simplified (001, 002). The scraped copies carry debris — pinyin annotations after some characters
(``規(guī)范``, ``負(fù)責``), GBK mojibake (``確??蛻粜畔``), page furniture (``已閱讀5頁``). The
passages below are cut verbatim, debris included where it occurs (documents extracted from such
pages look exactly like this); the tests only query words that the debris does not split.

``passage(name)`` reads the text from the seed file at test time and fails loudly when the seeds
are missing or no longer contain the passage, so a test can never silently run on other text.
"""
from __future__ import annotations

import functools
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"  # copies of ../shared/seeds

# name → (seed file prefix, first characters, last characters) of a verbatim passage
PASSAGES = {
    # Traditional, clean: confidentiality and security principles of 客戶專屬檔案管理制度
    "hant_privacy": ("000", "3.保密性原則:嚴格保護客戶隱私", "損壞或被非法獲取。"),
    # Traditional with pinyin debris: the archive keeper's duties (contains 客戶檔案管理員 twice)
    "hant_keeper": ("004", "第七條崗位責(zé)任客戶檔案管理員", "確保所負(fù)責(zé)客戶的檔案信息準(zhǔn)確完整。"),
    # Traditional with debris: purpose of the overseas customer archive policy (個人信息保護法)
    "hant_purpose": ("004", "第一條制定目的為規(guī)范公司海外客戶檔案的建立", "特制定本制度。"),
    # Simplified: custody of customer archives (授权的工作人员, 借阅)
    "hans_custody": ("002", "4.2 客户档案的保管应确保其安全可靠", "才略查阅和借阅客户档案。"),
    # Simplified: 客户档案 … 管理 but never 管理员 (the department, not the keeper)
    "hans_duties": ("002", "三、职责1. 客户档案管理部门", "不得随意泄露客户信息。"),
    # Simplified: the information keeper (管理员 without 客户档案 in front of it)
    "hans_keeper": ("001", "第八条各部门和个人在客户信息安全工作中承担以下责任", "不得泄露、篡改、非法使用客户信息。"),
    # Simplified: classification levels (一级信息 … 商业秘密)
    "hans_levels": ("001", "第四条客户信息分为以下类别", "不涉及公司秘密和个人隐私的公开信息。"),
    # Simplified: destruction, backup and complaints (for AND / OR / NOT)
    "hans_destroy": ("002", "5.2 客户档案销毁应执行严格的程序", "监督和确认销毁的完整性。"),
    "hans_backup": ("002", "4.3 档案保管- 客户档案应定期备份", "以防数据丢失。"),
    "hans_complaint": ("002", "(1)客户投诉电话、邮件、信函、社交媒体等渠道的投诉信息。", "(1)客户投诉电话、邮件、信函、社交媒体等渠道的投诉信息。"),
    # Simplified: maintenance rules of the archive (used as the "new" text after an edit)
    "hans_maintenance": ("002", "维护规定1. 所有客户档案必须按照法律和公司政策的要求进行维护。", "或与未经授权的第三方共享。"),
}


@functools.cache
def _seed(prefix: str) -> str:
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert matches, f"the search tests need the seed policies in {SEEDS}"
    return matches[0].read_text(encoding="utf-8")


def passage(name: str) -> str:
    """The verbatim passage ``name`` (see PASSAGES) from its seed file."""
    prefix, first, last = PASSAGES[name]
    text = _seed(prefix)
    start = text.find(first)
    assert start >= 0, f"seed {prefix}: {first!r} not found"
    end = text.find(last, start)
    assert end >= 0, f"seed {prefix}: {last!r} not found after {first!r}"
    return text[start:end + len(last)]


BREAKS = set(",，。;；:：、)）》")


def lines(text: str, width: int = 36) -> list[str]:
    """``text`` cut into PDF lines of at most ``width`` characters, after the last punctuation mark
    that fits (a word cut by a line end is two words in the extracted text, as in a real PDF)."""
    out: list[str] = []
    for paragraph in text.splitlines():
        while len(paragraph) > width:
            cut = max((i for i, ch in enumerate(paragraph[:width]) if ch in BREAKS), default=width - 1)
            out.append(paragraph[:cut + 1])
            paragraph = paragraph[cut + 1:]
        if paragraph:
            out.append(paragraph)
    return out
