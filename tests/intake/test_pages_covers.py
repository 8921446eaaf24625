"""Pages of received files (``portal.intake.pages``) and cover sheets (``portal.intake.covers``):
text-layer pages are taken as text and not rendered, image pages are; broken, password-protected
and oversized files are refused with a clear reason; parts are cut with the right pages; a
scanned cover sheet is recognised (crooked, noisy, upside down) and an invoice's QR code is not.
No OCR here."""
from __future__ import annotations

import io
import re

import doc_samples as samples
import pypdfium2
import pytest
import scans
from pypdf import PdfReader

from portal.documents.inspect import Unacceptable
from portal.intake import covers, pages
from portal.intake.pages import PageTooLarge

PDF, PNG, JPEG, TIFF = "application/pdf", "image/png", "image/jpeg", "image/tiff"


@pytest.fixture
def save(tmp_path):
    def _save(data: bytes, name: str) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)
    return _save


def _page(lines: int = 3, start: int = 0, **options):
    return scans.render_page(scans.seed_lines("simplified", lines, 24, start), **options)


# --- pages ------------------------------------------------------------------------------------

def test_text_layer_pages_are_taken_as_text_and_image_pages_are_rendered(save):
    text_lines = scans.seed_lines("simplified", 3, 24, 11)
    path = save(scans.mixed_pdf([text_lines, _page(), scans.seed_lines("traditional", 2, 24, 4)]), "mixed.pdf")
    assert pages.page_count(path, PDF) == 3
    first, scan, third = pages.iter_pages(path, PDF, dpi=150)
    assert (first.number, first.has_text, first.image) == (1, True, None)
    assert scans.normalise(text_lines[0])[:10] in scans.normalise(first.text)
    assert (first.width_px, first.height_px) == (1241, 1754)  # A4 at 150 dpi, not rendered
    assert (scan.number, scan.has_text, scan.text) == (2, False, "")
    assert scan.image.mode == "RGB" and scan.image.size == (scan.width_px, scan.height_px)
    assert abs(scan.image.width - 1240) <= 2
    assert third.has_text and third.image is None


def test_reading_resumes_at_a_page_and_text_pages_render_when_asked(save):
    path = save(scans.text_pdf([["第一章总则第一条为加强客户信息安全管理"], ["第二条本制度适用于公司所有部门和个人"],
                                ["第三条客户信息安全管理工作遵循以下原则"]]), "three.pdf")
    numbers = [(p.number, p.has_text, p.image) for p in pages.iter_pages(path, PDF, start=2)]
    assert numbers == [(2, True, None), (3, True, None)]
    rendered = next(pages.iter_pages(path, PDF, dpi=50, render_text_pages=True))
    assert rendered.has_text and rendered.image is not None and rendered.image.size == (414, 585)


def test_a_page_with_a_few_characters_only_counts_as_a_scan(save):
    path = save(scans.text_pdf([["第1页"]]), "stamp.pdf")
    page = next(pages.iter_pages(path, PDF, dpi=30))
    assert (page.has_text, page.text) == (False, "")
    assert page.image is not None


def test_image_files_are_pages_multi_page_tiff_several(save):
    image = _page(2)
    tiff = save(scans.tiff([image, image.convert("L"), image]), "batch.tif")
    assert pages.page_count(tiff, TIFF) == 3
    read = list(pages.iter_pages(tiff, TIFF, start=2))
    assert [(p.number, p.has_text, p.image.mode) for p in read] == [(2, False, "L"), (3, False, "RGB")]
    assert read[0].image.size == image.size == (read[0].width_px, read[0].height_px)
    for data, name, media_type in ((scans.png(image), "scan.png", PNG), (scans.jpeg(image), "scan.jpg", JPEG)):
        path = save(data, name)
        assert pages.page_count(path, media_type) == 1
        (only,) = pages.iter_pages(path, media_type)
        assert only.image.size == image.size


def test_an_owner_password_alone_does_not_stop_reading(save):
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, encrypt=pdfencrypt.StandardEncryption("", ownerPassword="owner", canPrint=1))
    pdf.drawString(72, 720, "Contract HT-2026-0042 signed copy")
    pdf.showPage()
    pdf.save()
    path = save(out.getvalue(), "owner.pdf")
    (page,) = pages.iter_pages(path, PDF)
    assert page.has_text and "HT-2026-0042" in page.text


@pytest.mark.parametrize("case", ["truncated", "garbage", "password", "not-an-image", "broken-image", "kind"])
def test_broken_and_protected_files_are_refused_with_a_reason(save, case):
    good = scans.text_pdf([["第一章总则第一条为加强客户信息安全管理工作"]])
    data, name, media_type, words = {
        "truncated": (samples.truncated(good), "cut.pdf", PDF, "incomplete"),
        "garbage": (b"%PDF-1.4\nnot a pdf at all\n%%EOF\n", "bad.pdf", PDF, "damaged"),
        "password": (scans.text_pdf([["机密"]], encrypt_password="secret"), "locked.pdf", PDF, "password"),
        "not-an-image": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "bad.png", PNG, "damaged"),
        "broken-image": (samples.truncated(scans.jpeg(_page(2)), 0.3), "cut.jpg", JPEG, "damaged or incomplete"),
        "kind": (b"PK\x03\x04", "file.docx", "application/vnd.openxmlformats", "not accepted"),
    }[case]
    path = save(data, name)
    with pytest.raises(Unacceptable) as refused:
        pages.page_count(path, media_type)
        list(pages.iter_pages(path, media_type))
    assert words in str(refused.value.message)
    assert refused.value.status == 422


def test_a_page_over_the_pixel_limit_is_refused_before_it_is_decoded(save):
    path = save(scans.mixed_pdf([["第一章总则第一条为加强客户信息安全管理工作"], _page(2)]), "big.pdf")
    read = pages.iter_pages(path, PDF, dpi=300, max_pixels=2_000_000)
    assert next(read).has_text  # a text page is not rendered: no limit to pass
    with pytest.raises(PageTooLarge) as refused:
        next(read)
    message = str(refused.value.message)
    assert re.search(r"Page 2 .*24\d\d × 35\d\d pixels", message) and "2.0 million" in message
    assert isinstance(refused.value, Unacceptable)

    bomb = save(samples.png_bomb(20_000, 20_000), "bomb.png")  # 400 million pixels claimed
    with pytest.raises(PageTooLarge) as refused:
        list(pages.iter_pages(bomb, PNG, max_pixels=40_000_000))
    assert "20000 × 20000" in str(refused.value.message)
    huge = save(samples.png_bomb(), "huge.png")  # 10 billion, and no limit given: Pillow's own limit
    assert pages.page_count(huge, PNG) == 1  # the header alone
    with pytest.raises(PageTooLarge, match="100000 × 100000"):
        next(pages.iter_pages(huge, PNG))


def test_a_part_of_a_pdf_has_the_pages_asked_for_with_their_text(save, tmp_path):
    path = save(scans.text_pdf([["第一页的内容是客户档案管理制度"], ["第二页的内容是合同条款"],
                                ["第三页的内容是往来函件"]]), "three.pdf")
    out = tmp_path / "part.pdf"
    pages.build_part(path, PDF, [3, 1], out)
    reader = PdfReader(out)
    assert [p.extract_text().strip()[:3] for p in reader.pages] == ["第三页", "第一页"]
    with pypdfium2.PdfDocument(str(out)) as pdf:
        assert len(pdf) == 2


def test_a_part_of_image_pages_is_a_pdf_of_those_images(save, tmp_path):
    image = _page(2)
    tiff = save(scans.tiff([image, scans.blank_page(dpi=100), image.convert("L")]), "batch.tif")
    out = tmp_path / "part.pdf"
    pages.build_part(tiff, TIFF, [1, 3], out)
    reader = PdfReader(out, strict=True)
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595.4) < 1 and abs(float(box.height) - 841.7) < 1  # A4 at its 300 dpi
    with pypdfium2.PdfDocument(str(out)) as pdf:
        assert len(pdf) == 2
    read = list(pages.iter_pages(str(out), PDF, dpi=100))
    assert [p.has_text for p in read] == [False, False]
    assert all(abs(p.image.width - 827) <= 1 and abs(p.image.height - 1169) <= 1 for p in read)

    jpeg_data = scans.jpeg(image)
    jpeg = save(jpeg_data, "scan.jpg")
    pages.build_part(jpeg, JPEG, [1], out)
    assert jpeg_data in out.read_bytes()  # embedded as it was: no second lossy compression


# --- cover sheets -----------------------------------------------------------------------------

def test_payload_round_trip_and_foreign_codes_are_not_ours():
    text = covers.payload("海外-2026-电商-001", "往来函件")
    assert text == "KHDA-COVER|1|海外-2026-电商-001|往来函件"
    assert covers.parse(text) == covers.CoverCode("海外-2026-电商-001", "往来函件")
    for foreign in ("01,10,044032100111,20458771,1280.00,20260315,71946231563840157720,7C5B",
                    "https://u.wechat.com/abc", "KHDA-COVER|2|海外-2026-电商-001|合同", "KHDA-COVER|1|海外-2026-电商-001",
                    "KHDA-COVER|1||合同", "xKHDA-COVER|1|A|B", "", None):
        assert covers.parse(foreign) is None
    with pytest.raises(ValueError):
        covers.payload("A|B", "合同")
    with pytest.raises(ValueError):
        covers.payload("", "合同")


def test_the_qr_svg_is_safe_inline_markup_that_scans_back():
    import zxingcpp
    from PIL import Image

    text = covers.payload("个人-2025-0007", "合同")
    svg = covers.qr_svg(text)
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "style=" not in svg and "<script" not in svg.lower() and " on" not in svg
    image = Image.open(io.BytesIO(covers.qr_png(text))).convert("L")
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [text]


@pytest.mark.parametrize("options", [{"skew": 3.0, "noise": 0.4}, {"rotate": 180, "noise": 0.2}, {"rotate": 90}])
def test_a_scanned_cover_sheet_is_recognised(options):
    page = scans.cover_page("海外-2026-电商-001", "往来函件", "海拓贸易有限公司", **options)
    assert covers.find_cover(page) == covers.CoverCode("海外-2026-电商-001", "往来函件")


def test_a_cover_sheet_scanned_at_200_dpi_in_grey_is_recognised():
    page = scans.cover_page("零售-2026-0042", "合同", "深圳市海拓零售有限公司", dpi=200, skew=-2.0, noise=0.3)
    assert covers.find_cover(page.convert("L")) == covers.CoverCode("零售-2026-0042", "合同")


def test_an_invoice_qr_code_or_another_version_is_not_a_cover():
    import zxingcpp

    invoice = scans.invoice_page(skew=1.0, noise=0.2)
    assert zxingcpp.read_barcodes(invoice)  # it does carry codes …
    assert covers.find_cover(invoice) is None  # … just not ours
    assert covers.find_cover(scans.qr_page("KHDA-COVER|2|海外-2026-电商-001|合同")) is None
    assert covers.find_cover(_page(3)) is None


def test_a_born_digital_cover_is_found_in_its_text(save):
    text = covers.payload("海外-2026-电商-001", "合同")
    path = save(scans.text_pdf([["客户档案封面分隔页", "档案编号：海外-2026-电商-001", text]]), "cover.pdf")
    (page,) = pages.iter_pages(path, PDF)
    assert page.has_text
    assert covers.find_cover_in_text(page.text) == covers.CoverCode("海外-2026-电商-001", "合同")
    assert covers.find_cover_in_text("KHDA-COVER | 1 | 个人-2025-0007 | 往来函件\n第二行") == \
        covers.CoverCode("个人-2025-0007", "往来函件")
    assert covers.find_cover_in_text("客户档案管理制度 KHDA-COVER 说明") is None
    assert covers.find_cover_in_text("") is None
