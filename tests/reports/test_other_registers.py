"""PDF and Excel forms of the access register and the change log (issue 7), the borrowing
register's printout, the registers index and its header link."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from portal import printing

needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")


def _size(reader) -> tuple[int, int]:
    box = reader.pages[0].mediabox
    return round(float(box.width)), round(float(box.height))


@needs_pdf
def test_access_register_pdf(login, make_archive, register_entries):
    archive = make_archive(status="filed", name="查阅登记测试公司")
    client = login("archivist")
    client.get(f"/archives/{archive.id}")
    page = client.get("/register/print").get_data(as_text=True)
    assert "format=pdf" in page and "format=xlsx" in page
    response = client.get(f"/register/print?format=pdf&archive={archive.number}")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="access-register-')
    reader = PdfReader(io.BytesIO(response.data))
    assert _size(reader) == (842, 595)
    text = reader.pages[0].extract_text()
    assert "客户档案查阅登记簿" in "".join(text.split()) or "查阅登记" in text
    assert "第 1 页" in text
    flat = "".join(text.split())
    assert archive.number in flat and "档案管理员" in flat
    entry = register_entries(action="register_print")[-1]
    assert entry.detail.startswith("pdf ") and entry.username == "archivist"


def test_access_register_excel(login, make_archive, register_entries):
    archive = make_archive(status="filed", name="查阅登记测试公司")
    client = login("supervisor")
    client.get(f"/archives/{archive.id}")
    response = client.get("/register/print?format=xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="access-register-')
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert sheet["A1"].value == "客户档案查阅登记簿" or "查阅" in sheet["A1"].value
    header = next(r for r in rows if r[0] == "序号")
    assert "档案编号" in header and "处理结果" in header
    assert any(archive.number in r for r in rows)
    entry = register_entries(action="register_export")[-1]
    assert entry.detail.startswith("xlsx ") and entry.username == "supervisor"


@pytest.mark.parametrize("fmt", ["pdf", "xlsx"])
def test_access_register_forms_refused_to_others(login, register_entries, fmt):
    response = login("manager").get(f"/register/print?format={fmt}")
    assert response.status_code == 403
    assert register_entries(action="access_denied", username="manager")


@needs_pdf
def test_change_log_pdf(login, make_archive, user, register_entries):
    from portal.actor import Actor
    from portal.workflows import change_requests

    archive = make_archive(status="filed", name="变更登记测试公司")
    doc = _evidence(archive, user("staff_sales"))
    change_requests.propose(Actor(user("staff_sales"), "127.0.0.1"), archive, {"region": "东南亚"},
                            "客户迁址", doc.id)
    client = login("archivist")
    page = client.get("/requests/changes/print").get_data(as_text=True)
    assert "format=pdf" in page and "format=xlsx" in page
    response = client.get("/requests/changes/print?format=pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    assert _size(reader) == (842, 595)
    text = "".join(reader.pages[0].extract_text().split())
    assert "变更登记" in text and archive.number in text and "东南亚" in text and "第1页" in text
    assert register_entries(action="change_log_print")[-1].detail.startswith("PDF ")
    sheet = load_workbook(io.BytesIO(client.get("/requests/changes/print?format=xlsx").data)).active
    assert any(c.value == archive.number for row in sheet.iter_rows() for c in row)
    assert login("admin").get("/requests/changes/print?format=pdf").status_code == 403


def _evidence(archive, author):
    from PIL import Image

    from portal.actor import Actor
    from portal.documents import services as documents

    scan = io.BytesIO()
    Image.new("RGB", (40, 60), (230, 230, 230)).save(scan, format="PNG")
    scan.seek(0)
    return documents.upload(Actor(author, "127.0.0.1"), archive.id, scan, "变更依据.png",
                            documents.Details(doc_type="合同"))


@needs_pdf
def test_borrowing_register_pdf(login):
    response = login("head_sales").get("/borrowings/register/print?format=pdf")
    assert response.status_code == 200
    text = "".join(PdfReader(io.BytesIO(response.data)).pages[0].extract_text().split())
    assert "借阅登记簿" in text and "第1页" in text


def test_registers_index_per_role(login):
    archivist = login("archivist").get("/ledgers/").get_data(as_text=True)
    for title in ("客户档案台账", "档案移交登记簿", "/register/print?format=pdf", "/ledgers/archives/print?format=xlsx"):
        assert title in archivist, title
    staff = login("staff_sales").get("/ledgers/").get_data(as_text=True)
    assert "/ledgers/archives" not in staff and "/register/" not in staff
    assert "/requests/changes/" in staff and "/ledgers/handovers" in staff  # their own handovers
    assert "/ledgers/handovers/print" not in staff
    head = login("head_sales").get("/ledgers/").get_data(as_text=True)
    assert "/ledgers/archives" in head and "/borrowings/register" in head and "\"/register/print" not in head
    # the header link
    assert 'href="/ledgers/"' in login("supervisor").get("/ledgers/archives").get_data(as_text=True)


def test_registers_of_other_parts_use_their_own_permission_functions(app):
    from portal.reports import registers

    for spec in registers.SPECS:
        target = getattr(spec.allowed, "target", None)
        if target and spec.view in app.view_functions:
            assert registers.foreign_check(*target) is not None, (spec.key, target)
        if spec.print_endpoint and spec.view in app.view_functions:
            assert spec.print_endpoint in app.view_functions, spec.key
