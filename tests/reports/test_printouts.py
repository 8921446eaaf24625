"""Every printout of the registers part, made from realistic data, renders to page images
(pdftoppm) with Chinese text on every page. The PDFs and PNGs are left in /tmp/screens/ for a
human look (names ``reports-<register>-<page>.png``)."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_handovers import form_data
from test_ledger import _bulk_filed
from test_other_registers import _evidence

from portal import printing
from portal.actor import Actor
from portal.workflows import change_requests

SCREENS = Path("/tmp/screens")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not printing.cjk_fonts() or not shutil.which("pdftoppm"),
                                 reason="needs a CJK font and poppler-utils")]
PRINTOUTS = {"ledger": "/ledgers/archives/print?format=pdf", "access": "/register/print?format=pdf",
             "changes": "/requests/changes/print?format=pdf", "borrowing": "/borrowings/register/print?format=pdf",
             "handover": "/ledgers/handovers/{id}/print?format=pdf", "handovers": "/ledgers/handovers/print?format=pdf"}


def test_every_printout_renders_with_chinese_on_every_page(login, user, make_archive):
    long_name = make_archive("staff_sales", status="filed", name="深圳市前海跨境电子商务供应链管理有限公司",
                             phone="13812345678", paper_room="一号库房", paper_cabinet="A柜", paper_shelf="3层",
                             paper_box="12盒", contract_signed_on=date(2026, 1, 5))
    ended = make_archive("staff_sales", status="filed", name="乙方电商有限公司", stage="terminated",
                         terminated_on=date(2026, 6, 30))
    _bulk_filed(user, 40)
    doc = _evidence(long_name, user("staff_sales"))
    change_requests.propose(Actor(user("staff_sales"), "127.0.0.1"), long_name,
                            {"region": "东南亚", "name": "深圳市前海跨境电子商务供应链管理集团有限公司"},
                            "客户更名并迁址，附工商变更通知书", doc.id)
    client = login("archivist")
    client.post("/ledgers/handovers/new", data=form_data(
        [long_name, ended], giver=user("staff_sales"), receiver=user("head_sales"), paper=[(long_name, 3)],
        reason="other", reason_text="张小销调往海外分公司，原负责客户交由部门负责人跟进，纸质资料当面点交"))
    from portal.extensions import db
    from portal.reports.models import Handover
    handover_id = db.session.scalar(db.select(Handover.id))
    SCREENS.mkdir(exist_ok=True)
    for name, url in PRINTOUTS.items():
        response = client.get(url.format(id=handover_id))
        assert response.status_code == 200, (url, response.status_code)
        pdf = SCREENS / f"reports-{name}.pdf"
        pdf.write_bytes(response.data)
        for old in SCREENS.glob(f"reports-{name}-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(SCREENS / f"reports-{name}")], check=True)
        reader = PdfReader(io.BytesIO(response.data))
        assert len(list(SCREENS.glob(f"reports-{name}-*.png"))) == len(reader.pages), name
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text()
            assert f"第 {number} 页" in text, (name, number)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in text.replace("第", "").replace("页", "")), name
