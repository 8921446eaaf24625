"""The archive ledger 档案台账: who reads which part, filters, print / PDF / Excel, the register."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader

from portal import printing
from portal.extensions import db

needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")


@pytest.fixture
def archives(make_archive):
    """Filed archives of two departments and one draft."""
    sales = make_archive("staff_sales", status="filed", name="台账销售甲公司", phone="13812345678",
                         paper_room="一号库房", paper_cabinet="A柜")
    marketing = make_archive("staff_marketing", status="filed", name="台账市场乙公司", sensitivity=3,
                             stage="terminated")
    draft = make_archive("staff_sales", status="draft", name="台账草稿丙公司")
    return {"sales": sales, "marketing": marketing, "draft": draft}


def test_archivist_sees_every_filed_archive_and_no_drafts(login, archives):
    page = login("archivist").get("/ledgers/archives").get_data(as_text=True)
    assert "台账销售甲公司" in page and "台账市场乙公司" in page
    assert "台账草稿丙公司" not in page
    assert archives["sales"].number in page


def test_department_head_sees_only_their_department(login, archives):
    client = login("head_sales")
    page = client.get("/ledgers/archives").get_data(as_text=True)
    assert "台账销售甲公司" in page and "台账市场乙公司" not in page
    # asking for another department's part changes nothing
    marketing = archives["marketing"].department_id
    page = client.get(f"/ledgers/archives?department={marketing}").get_data(as_text=True)
    assert "台账市场乙公司" not in page
    data = client.get("/ledgers/archives/print?format=xlsx").data
    values = [c.value for row in load_workbook(io.BytesIO(data)).active.iter_rows() for c in row]
    assert "台账销售甲公司" in values and "台账市场乙公司" not in values


@pytest.mark.parametrize("username", ["staff_sales", "staff_marketing", "admin"])
def test_staff_and_administrator_are_refused_on_the_register(login, archives, username, register_entries):
    client = login(username)
    for url in ("/ledgers/archives", "/ledgers/archives/print", "/ledgers/archives/print?format=pdf",
                "/ledgers/archives/print?format=xlsx"):
        before = len(register_entries(action="access_denied", username=username))
        response = client.get(url)
        assert response.status_code == 403, url
        assert "台账销售甲公司" not in response.get_data(as_text=True)
        assert len(register_entries(action="access_denied", username=username)) == before + 1
    assert not register_entries(action="ledger_print", username=username)


def test_filters(login, archives):
    client = login("archivist")
    page = client.get("/ledgers/archives?stage=terminated").get_data(as_text=True)
    assert "台账市场乙公司" in page and "台账销售甲公司" not in page
    page = client.get("/ledgers/archives?q=销售甲").get_data(as_text=True)
    assert "台账销售甲公司" in page and "台账市场乙公司" not in page
    dept = archives["sales"].department_id
    page = client.get(f"/ledgers/archives?department={dept}").get_data(as_text=True)
    assert "台账销售甲公司" in page and "台账市场乙公司" not in page
    year = archives["sales"].filed_at.year
    assert "台账销售甲公司" in client.get(f"/ledgers/archives?year={year}").get_data(as_text=True)
    assert "台账销售甲公司" not in client.get(f"/ledgers/archives?year={year - 3}").get_data(as_text=True)
    ctype = archives["sales"].customer_type_id
    assert "台账销售甲公司" in client.get(f"/ledgers/archives?type={ctype}").get_data(as_text=True)
    page = client.get("/ledgers/archives?year=abc&stage=nonsense").get_data(as_text=True)
    assert "台账销售甲公司" in page  # bad filters are ignored, with a message
    assert "过滤条件有误" in page or "忽略" in page


def test_personal_data_stays_masked(app, login, archives):
    # phones need clearance 1 here: the supervisor (2) sees them masked, the archivist (1) in full
    app.config["FIELD_CLEARANCE"] = {**app.config["FIELD_CLEARANCE"], "phone": 1}
    assert "138****5678" in login("supervisor").get("/ledgers/archives").get_data(as_text=True)
    assert "13812345678" in login("archivist").get("/ledgers/archives").get_data(as_text=True)
    data = login("supervisor").get("/ledgers/archives/print?format=xlsx").data
    values = [c.value for row in load_workbook(io.BytesIO(data)).active.iter_rows() for c in row]
    assert "138****5678" in values and "13812345678" not in values


def test_print_page_and_register_entries(login, archives, register_entries):
    client = login("archivist")
    client.get("/ledgers/archives")
    assert not register_entries(action="ledger_print")  # browsing is not registered
    page = client.get("/ledgers/archives/print").get_data(as_text=True)
    assert "客户档案台账" in page and "档案管理员" in page and "质量监督专员" in page
    assert "format=pdf" in page and "format=xlsx" in page
    client.get("/ledgers/archives/print?format=xlsx")
    entries = register_entries(action="ledger_print", username="archivist")
    assert len(entries) == 2
    assert "archive ledger print" in entries[0].detail and "archive ledger Excel" in entries[1].detail


def test_excel_has_title_header_row_and_rows(login, archives):
    response = login("archivist").get("/ledgers/archives/print?format=xlsx&stage=active")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="archive-ledger-')
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["A1"].value == "客户档案台账"
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = next(r for r in rows if r[0] == "档案编号")
    assert "客户名称" in header and "纸质档案存放位置" in header
    numbers = [r[0] for r in rows]
    assert archives["sales"].number in numbers and archives["marketing"].number not in numbers
    row = next(r for r in rows if r[0] == archives["sales"].number)
    assert "一号库房 / A柜" in row


@needs_pdf
def test_pdf_is_a4_landscape_with_title_number_and_page_numbers(login, archives, register_entries):
    response = login("archivist").get("/ledgers/archives/print?format=pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)
    text = reader.pages[0].extract_text()
    assert "客户档案台账" in text
    assert archives["sales"].number.split("-")[-1] in text
    assert "第 1 页" in text
    assert "archive ledger PDF" in register_entries(action="ledger_print")[-1].detail


def _bulk_filed(user, n: int) -> None:
    """``n`` filed archives straight through the ORM (the services are tested elsewhere)."""
    from portal.admin.models import CustomerType
    from portal.archives.models import Archive

    owner = user("staff_sales")
    ctype = db.session.scalar(sa.select(CustomerType).where(CustomerType.code == "电商"))
    start = datetime(2026, 3, 1, 2, 0)
    for i in range(n):
        db.session.add(Archive(
            number=f"批量-2026-电商-{i + 1:03d}", kind="organisation", status="filed", sensitivity=2,
            name=f"批量台账客户{i + 1:03d}有限公司", customer_type_id=ctype.id, stage="active",
            department_id=owner.department_id, responsible_id=owner.id, created_by_id=owner.id,
            filed_at=start + timedelta(hours=i), paper_room="二号库房", paper_cabinet=f"B{i % 9}柜"))
    db.session.commit()


@needs_pdf
def test_a_long_ledger_spans_pages_with_the_header_row_repeated(login, user):
    _bulk_filed(user, 120)
    response = login("archivist").get("/ledgers/archives/print?format=pdf&q=批量台账")
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) >= 3
    second = reader.pages[1].extract_text()
    assert "第 2 页" in second
    second = "".join(second.split())  # a heading may wrap inside its cell
    for heading in ("档案编号", "客户名称", "归档日期", "纸质档案存放位置", "密级"):
        assert heading in second, heading
    last = reader.pages[-1].extract_text()
    assert "批量-2026-电商-120" in "".join("".join(p.extract_text().split()) for p in reader.pages)
    assert "档案管理员" in last  # the signature lines end the printout
