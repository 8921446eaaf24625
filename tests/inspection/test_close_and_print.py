"""Closing an inspection, and its printed record (A4 PDF, Excel) — 档案抽查记录."""
from __future__ import annotations

import io
import shutil
import subprocess

import inspection_helpers as ih
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from portal import printing

needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")


def _checked_inspection(make_archive, user, login, *, finding=True):
    archives = ih.filed(make_archive, 3, prefix="记录", paper_room="二号库房")
    inspection = ih.draw(user, sample="100%", seed="record-seed-42")
    client = login("archivist")
    for i, archive in enumerate(archives):
        sample = ih.sample_of(inspection, archive)
        results = {"classification": ("nonconform", "含身份证号的材料标为三级")} if finding and i == 0 else {}
        assert client.post(f"/inspections/samples/{sample.id}/check",
                           data=ih.form_for(sample, results, paper_count="0")).status_code == 303
    return inspection, archives, client


def test_closing_needs_every_archive_checked_and_every_finding_assigned(make_archive, user, login,
                                                                          register_entries):
    archives = ih.filed(make_archive, 2)
    inspection = ih.draw(user, sample="100%")
    client = login("archivist")
    response = client.post(f"/inspections/{inspection.id}/close", data={})
    assert response.status_code == 409 and "还有 2 份抽中档案未检查完毕" in ih.text(response)
    for i, archive in enumerate(archives):
        sample = ih.sample_of(inspection, archive)
        client.post(f"/inspections/samples/{sample.id}/check",
                    data=ih.form_for(sample, {"profile": ("nonconform", "缺少法定代表人")} if i == 0 else {}))
    response = client.post(f"/inspections/{inspection.id}/close", data={})
    assert response.status_code == 409 and "还有 1 个问题未指派整改" in ih.text(response)
    check = next(c for c in ih.sample_of(inspection, archives[0]).checks if c.result == "nonconform")
    client.post(f"/inspections/findings/{check.id}/assign", data={"assignee": str(user("staff_sales").id),
                                                                  "days": "5"})
    assert login("supervisor").post(f"/inspections/{inspection.id}/close", data={}).status_code == 403
    response = client.post(f"/inspections/{inspection.id}/close", data={"note": "总体良好"})
    assert response.status_code == 303
    entry = register_entries(action="inspection_close")[-1]
    assert "checked 2, conforming 1, findings 1, rectifications open 1" in entry.detail
    page = ih.text(client.get(f"/inspections/{inspection.id}"))
    assert "已结束（整改未完成）" in page and "总体良好" in page
    assert client.post(f"/inspections/{inspection.id}/close", data={}).status_code == 409
    # the open rectification is tracked to its end: then the inspection reads plainly closed
    staff = login("staff_sales")
    rect_id = check.rectification.id
    staff.post(f"/inspections/rectifications/{rect_id}/done", data={"note": "已补录"})
    client.post(f"/inspections/rectifications/{rect_id}/close", data={})
    page = ih.text(client.get("/inspections/"))
    assert "已结束（整改未完成）" not in page and "已结束" in page


@needs_pdf
def test_inspection_record_pdf(make_archive, user, login, register_entries, tmp_path):
    inspection, archives, client = _checked_inspection(make_archive, user, login)
    html = ih.text(client.get(f"/inspections/{inspection.id}/print"))
    assert "format=pdf" in html and "format=xlsx" in html
    response = client.get(f"/inspections/{inspection.id}/print?format=pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in ("档案抽查记录", "record-seed-42", archives[0].number, inspection.population_hash[:16],
                     "2026年第4季度", "检查人（档案管理员）", "质量监督专员", "含身份证号的材料标为三级", "第 1 页"):
        assert expected in text.replace("\n", ""), expected
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)  # A4 landscape
    assert register_entries(action="ledger_print")[-1].detail.endswith("(pdf)")
    if shutil.which("pdftoppm"):
        (tmp_path / "r.pdf").write_bytes(response.data)
        subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "p")],
                       check=True)
        assert list(tmp_path.glob("p*.png"))


def test_inspection_record_excel_and_list(make_archive, user, login):
    inspection, archives, client = _checked_inspection(make_archive, user, login)
    response = client.get(f"/inspections/{inspection.id}/print?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert sheet["A1"].value.startswith("档案抽查记录")
    assert "随机种子：record-seed-42" in cells and archives[0].number in cells and "检查项目" in cells
    assert len([c for c in cells if c == "密级标注正确"]) == 3
    listing = client.get("/inspections/print?format=xlsx")
    rows = [[c.value for c in row] for row in load_workbook(io.BytesIO(listing.data)).active.iter_rows()]
    assert any(inspection.label in row for row in rows)


@needs_pdf
def test_inspection_list_pdf(make_archive, user, login):
    inspection, _archives, client = _checked_inspection(make_archive, user, login, finding=False)
    response = client.get("/inspections/print?format=pdf")
    assert response.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "季度档案抽查记录一览" in text and inspection.label in text
