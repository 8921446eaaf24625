"""PDF and Excel output of the printable registers (portal.printing)."""
from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from portal import printing


def pdf_fonts(data: bytes) -> set[str]:
    """Names of the fonts embedded in a PDF."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            names.add(str(ref.get_object().get("/BaseFont")))
    return names


needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")


@needs_pdf
def test_register_pdf_is_a4_with_chinese_text_in_a_cjk_font(login):
    client = login("archivist")
    response = client.get("/borrowings/register/print?format=pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="borrowing-register-')
    reader = PdfReader(io.BytesIO(response.data))
    box = reader.pages[0].mediabox
    # A4 landscape: 297 × 210 mm in points
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)
    text = reader.pages[0].extract_text()
    assert "纸质客户档案借阅登记簿" in text or "借阅" in text
    assert "第 1 页 / 共 1 页" in text
    assert any("CJK" in name or "WenQuanYi" in name for name in pdf_fonts(response.data))


@needs_pdf
@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs poppler-utils")
def test_register_pdf_renders_to_a_page_image(login, tmp_path):
    client = login("archivist")
    data = client.get("/borrowings/register/print?format=pdf").data
    (tmp_path / "r.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "p")],
                   check=True)
    assert sorted(p.name for p in tmp_path.glob("p*.png"))


@needs_pdf
def test_a_large_register_pdf_is_made_in_a_child_process_with_chinese_fonts(app, login, monkeypatch):
    """Pages over PDF_CHILD_MIN_CHARS go to ``portal.pdfrender`` in a process of its own (its memory
    goes back to the system): the same A4 PDF with Chinese text, and the web process does not
    render (WeasyPrint, imported once by the engine check, is not used again)."""
    import sys

    assert printing.pdf_problem() is None  # the engine check (imports WeasyPrint once per process)
    app.config["PDF_CHILD_MIN_CHARS"] = 0
    calls = []
    real = printing._render_in_child
    monkeypatch.setattr(printing, "_render_in_child", lambda *a: calls.append(a[0][:20]) or real(*a))
    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    response = login("archivist").get("/borrowings/register/print?format=pdf")
    assert response.status_code == 200 and len(calls) == 1
    assert "weasyprint" not in sys.modules
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "借阅" in text and "第 1 页 / 共 1 页" in text
    assert any("CJK" in name or "WenQuanYi" in name for name in pdf_fonts(response.data))


@needs_pdf
@pytest.mark.parametrize("limit", [{"PDF_MEMORY_MB": 60}, {"PDF_MEMORY_MB": 100}, {"PDF_TIMEOUT_SECONDS": 0.05}])
def test_a_pdf_over_the_memory_or_time_limit_is_refused_with_what_to_do(app, login, limit):
    app.config.update(PDF_CHILD_MIN_CHARS=0, **limit)
    client = login("archivist")
    response = client.get("/borrowings/register/print?format=pdf")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "此 PDF 过大" in page and "导出为 Excel" in page
    assert client.get("/borrowings/register/print?format=xlsx").status_code == 200  # the way out works


def test_pdf_refused_with_a_reason_when_no_chinese_font(login, monkeypatch):
    monkeypatch.setitem(printing._problem_cache, "problem", "no font")
    client = login("archivist")
    response = client.get("/borrowings/register/print?format=pdf")
    assert response.status_code == 503
    assert "no font" in response.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 200  # a missing font degrades PDFs, not the portal
    assert health.get_json()["components"]["pdf"]["ok"] is False


def test_register_excel_through_the_print_toolbar(login):
    client = login("archivist")
    page = client.get("/borrowings/register/print").get_data(as_text=True)
    assert "format=pdf" in page and "format=xlsx" in page
    response = client.get("/borrowings/register/print?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["A1"].value


def test_workbook_keeps_formulas_as_text():
    data = printing.workbook("标题", ["甲", "乙"], [["=1+1", 3]], lines=["筛选：全部"],
                             signatures=["档案管理员"])
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["A1"].value == "标题"
    assert sheet["A4"].value == "'=1+1" and sheet["B4"].value == 3
    assert sheet.print_title_rows == "$3:$3"


def test_workbook_looks_like_the_printed_register():
    """What someone opening the file in Excel sees: a bold grey header row repeated on every page,
    every table cell boxed and wrapped, A4 landscape, the signature line under the table."""
    rows = [[f"海外-2026-电商-{i:03d}", f"客户{i}"] for i in range(1, 301)]
    data = printing.workbook("客户档案台账", ["档案编号", "客户名称"], rows, lines=["筛选：全部"],
                             signatures=["档案管理员"])
    sheet = load_workbook(io.BytesIO(data)).active
    header = sheet["A3"]
    assert header.value == "档案编号" and header.font.bold and header.fill.fgColor.rgb.endswith("EEEEEE")
    for cell in (sheet["A4"], sheet["B303"]):
        assert cell.border.left.style == cell.border.bottom.style == "thin"
        assert cell.alignment.wrap_text and cell.alignment.vertical == "top" and not cell.font.bold
    assert sheet["B303"].value == "客户300"
    assert sheet["A305"].value.startswith("档案管理员") and sheet["A305"].border.left.style is None
    assert sheet.print_title_rows == "$3:$3" and sheet.page_setup.orientation == "landscape"
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4  # 9: A4


@needs_pdf
def test_making_a_pdf_does_not_let_damaged_images_through(login):
    """WeasyPrint switches Pillow to accept truncated images process-wide; the portal undoes it,
    or a damaged scan uploaded after any PDF export would be accepted."""
    from PIL import Image, ImageFile
    client = login("archivist")
    assert client.get("/borrowings/register/print?format=pdf").status_code == 200
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400), "white").save(buffer, "JPEG")
    cut = io.BytesIO(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    with pytest.raises(OSError):
        Image.open(cut).load()
