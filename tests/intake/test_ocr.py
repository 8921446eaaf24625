"""OCR of scanned-looking pages (``portal.intake.ocr``): what an archivist would notice — the page's
sentences come out, in order, whether the page was fed crooked, sideways or upside down, or
carries a red company seal; Traditional text matches once folded as search folds it.

Pages are small (five lines on a blank 300-dpi A4 page: about 2 s each here) to keep the OCR
total of this file near 20 s; bench/bench_ocr.py measures full pages.
"""
from __future__ import annotations

import shutil

import pytest
import scans

from portal.intake import ocr


def _lines(script: str = "simplified", start: int = 0, n: int = 5) -> list[str]:
    return scans.seed_lines(script, n, 24, start)


def _in_order(lines: list[str], text: str) -> bool:
    """Each line's first characters are found in the text, in the lines' order."""
    flat, at = scans.normalise(text), 0
    for line in lines:
        at = flat.find(scans.normalise(line)[:8], at)
        if at < 0:
            return False
    return True


def test_a_simplified_page_reads_right_line_by_line():
    lines = _lines(start=3)
    result = ocr.ocr_image(scans.render_page(lines))
    assert result.engine == "rapidocr"
    assert scans.char_accuracy("\n".join(lines), result.text) >= 0.95
    assert _in_order(lines, result.text)
    assert len(result.text.splitlines()) == len(lines)
    assert (result.rotation, round(abs(result.skew))) == (0, 0)
    assert result.confidence > 0.8
    assert [line.text for line in result.lines] == result.text.splitlines()  # boxes in reading order


def test_a_traditional_page_matches_once_folded_as_search_folds():
    lines = _lines("traditional", start=5)
    result = ocr.ocr_image(scans.render_page(lines))
    # the model writes some Traditional characters in their Simplified form: search folds both
    assert scans.char_accuracy("".join(lines), result.text, fold=True) >= 0.9
    found = scans.normalise(result.text, fold=True)
    for phrase in ("档案的建立", "联系方式", "交易明细", "服务记录"):  # what a search would ask for
        assert phrase in found


@pytest.mark.parametrize("turned", [90, 180])
def test_a_page_fed_sideways_or_upside_down_is_turned_upright(turned):
    lines = _lines(start=20)
    result = ocr.ocr_image(scans.render_page(lines, rotate=turned))
    assert result.rotation == turned
    assert scans.char_accuracy("".join(lines), result.text) >= 0.95
    assert _in_order(lines, result.text)
    width, height = result.size
    assert height > width  # the boxes refer to the upright (portrait) page


def test_a_crooked_noisy_scan_is_straightened():
    lines = _lines(start=40)
    result = ocr.ocr_image(scans.render_page(lines, skew=4.0, noise=0.3))
    assert abs(result.skew - 4.0) < 0.5
    assert result.rotation == 0
    assert scans.char_accuracy("".join(lines), result.text) >= 0.95
    assert _in_order(lines, result.text)


def test_a_red_seal_over_the_text_does_not_wreck_it():
    lines = _lines(start=60)
    result = ocr.ocr_image(scans.render_page(lines, seal=True))
    assert scans.char_accuracy("".join(lines), result.text) >= 0.93
    assert _in_order(lines, result.text)


def test_a_blank_page_gives_no_text():
    result = ocr.ocr_image(scans.blank_page(dpi=100).convert("L"))
    assert (result.text, result.confidence, result.lines) == ("", 0.0, [])


def test_engines_on_offer():
    assert ocr.engines()[0] == "rapidocr"
    assert ("tesseract" in ocr.engines()) == ocr._tesseract_ready()
    with pytest.raises(ValueError):
        ocr.ocr_image(scans.blank_page(dpi=50), engine="abbyy")


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("tesseract"), reason="tesseract is not installed")
def test_tesseract_reads_an_upside_down_page_when_installed():
    if "tesseract" not in ocr.engines():
        pytest.skip("tesseract has no chi_sim data here")
    lines = _lines(start=80, n=3)
    result = ocr.ocr_image(scans.render_page(lines, rotate=180), engine="tesseract")
    assert (result.engine, result.rotation) == ("tesseract", 180)
    assert scans.char_accuracy("".join(lines), result.text, fold=True) >= 0.9
