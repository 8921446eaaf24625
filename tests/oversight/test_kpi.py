"""The KPI dashboard 考核指标: figures on a constructed data set, read the way a manager reads the
page (tables next to the charts), department heads limited to their department, refusals, the SVG
charts (CSP: no style attributes), PDF and Excel."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, datetime

import lxml.html
import pytest
from openpyxl import load_workbook
from oversight_helpers import beijing, change_request, filed, loan, set_today
from pypdf import PdfReader

from portal import printing
from portal.extensions import db
from portal.oversight import kpi

TODAY = date(2026, 10, 20)  # a Tuesday after the 2026 National Day week (Oct 1–7; Oct 10 a make-up day)


def by_class(node, cls: str, tag: str = "*") -> list:
    return node.xpath(f".//{tag}[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]")


def table(page: str, caption: str) -> dict[str, list[str]]:
    """The rows of the table captioned ``caption``: first cell → the other cells' text."""
    doc = lxml.html.fromstring(page)
    for t in doc.iter("table"):
        cap = t.find("caption")
        if cap is not None and cap.text_content().strip() == caption:
            rows = {}
            for tr in t.iter("tr"):
                cells = [c.text_content().strip() for c in tr if c.tag in ("td", "th")]
                if cells and tr.getparent().tag != "thead":
                    rows[cells[0]] = cells[1:]
            return rows
    raise AssertionError(f"no table captioned {caption!r}")


@pytest.fixture
def dataset(app, make_archive, monkeypatch):
    """Archives with contracts around the National Day week, change requests on time and late,
    loans overdue and not, and a submitted archive waiting past the head's deadline."""
    set_today(monkeypatch, TODAY)
    a = {}
    # 销售部 (staff_sales): contract Tue 29 Sep → 5 working days: 30 Sep, 8, 9, 10 (Sat, make-up), 12 Oct.
    a["on_time"] = filed(make_archive, "staff_sales", name="及时甲公司", contract=date(2026, 9, 29),
                         filed_at=beijing(date(2026, 10, 12), 17, 30))
    # filed 01:00 Beijing on 13 Oct (still 12 Oct in UTC): one working day late
    a["late"] = filed(make_archive, "staff_sales", name="逾期乙公司", contract=date(2026, 9, 29),
                      filed_at=datetime(2026, 10, 12, 17, 0))
    # contract Fri 9 Oct → deadline Thu 15 Oct; not filed by today → late
    a["unfiled"] = make_archive("staff_sales", status="approved", name="未归档丙公司",
                                contract_signed_on=date(2026, 10, 9))
    # 市场部 (staff_marketing): contract Wed 30 Sep → deadline Tue 13 Oct, filed that day
    a["mkt_on_time"] = filed(make_archive, "staff_marketing", name="市场丁公司", contract=date(2026, 9, 30),
                             filed_at=beijing(date(2026, 10, 13), 9), sensitivity=3)
    # contract Wed 14 Oct → deadline Wed 21 Oct: still within it (not counted)
    a["mkt_pending"] = make_archive("staff_marketing", status="draft", name="市场戊公司",
                                    contract_signed_on=date(2026, 10, 14), sensitivity=3)

    # change requests: 2 working days (head + archivist), 3 with the customer-service head
    change_request(a["on_time"], "staff_sales", proposed=beijing(date(2026, 9, 29)),
                   applied=beijing(date(2026, 10, 8), 15))                       # deadline 8 Oct: on time
    change_request(a["on_time"], "staff_sales", proposed=beijing(date(2026, 9, 30)),
                   applied=beijing(date(2026, 10, 10), 11))                      # deadline 9 Oct: late
    change_request(a["on_time"], "staff_sales", proposed=beijing(date(2026, 10, 12)),
                   status="rejected")                                            # not counted
    change_request(a["mkt_on_time"], "staff_marketing", proposed=beijing(date(2026, 10, 12)),
                   applied=beijing(date(2026, 10, 15)), important=True)          # deadline 15 Oct: on time
    change_request(a["mkt_on_time"], "staff_marketing", proposed=beijing(date(2026, 10, 14)),
                   status="pending_head")                                        # deadline 16 Oct, open: late
    change_request(a["mkt_on_time"], "staff_marketing", proposed=beijing(date(2026, 10, 19)),
                   status="pending_head")                                        # deadline 21 Oct: not yet due

    # loans
    loan(a["on_time"], "staff_sales", due=date(2026, 10, 15))                    # overdue now (销售部)
    loan(a["mkt_on_time"], "staff_marketing", due=date(2026, 9, 18), status="returned",
         returned=beijing(date(2026, 9, 21)))                                    # came back late (Sept)
    loan(a["late"], "staff_sales", due=date(2026, 9, 25), status="returned",
         returned=beijing(date(2026, 9, 25), 16))                                # on time
    loan(a["mkt_on_time"], "staff_marketing", due=date(2026, 10, 22))            # not due yet

    # a submitted archive waiting for the head since Wed 14 Oct (2 working days → 16 Oct): late
    a["submitted"] = make_archive("staff_sales", status="submitted", name="待审己公司")
    a["submitted"].submitted_at = beijing(date(2026, 10, 14))
    db.session.commit()
    return a


def test_figures_as_the_manager_reads_them(dataset, login):
    client = login("manager")
    response = client.get("/oversight/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    filing = table(page, "各部门建档及时率")
    assert filing["销售部"] == ["3", "1", "2", "0", "33.3%"]
    assert filing["市场部"] == ["1", "1", "0", "1", "100%"]
    by_month = table(page, "按合同月份的建档及时率")
    assert by_month["2026-09"] == ["3", "2", "1", "0", "66.7%"]
    assert by_month["2026-10"] == ["1", "0", "1", "1", "0%"]
    assert by_month["2026-08"] == ["0", "0", "0", "0", "—"]
    assert "逾期乙公司" in page and "未归档丙公司" in page  # the late ones, drilled down

    updates = table(page, "各部门更新及时率")
    assert updates["销售部"] == ["2", "1", "1", "0", "50%"]
    assert updates["市场部"] == ["2", "1", "1", "1", "50%"]

    loans = table(page, "各部门当前逾期借阅")
    assert loans["销售部"] == ["1", "1"]
    assert loans["市场部"] == ["0", "1"]
    per_month = table(page, "按到期月份的逾期借阅")
    assert per_month["2026-09"] == ["1"] and per_month["2026-10"] == ["1"]

    pending = table(page, "按流程的超期待审批")
    assert pending["建档"][-1] == "1"  # the submitted archive, past the head's 2 working days
    assert pending["变更申请"][-1] == "1"  # the change waiting since 14 Oct

    summary = by_class(lxml.html.fromstring(page), "kpi-tile-value")
    assert [s.text_content() for s in summary][:2] == ["50%", "50%"]


def test_filing_rule_counts_working_days_across_national_day(app, make_archive, monkeypatch):
    set_today(monkeypatch, TODAY)
    on_time = filed(make_archive, "staff_sales", contract=date(2026, 9, 29),
                    filed_at=beijing(date(2026, 10, 12), 23, 59))
    late = filed(make_archive, "staff_sales", contract=date(2026, 9, 29), filed_at=beijing(date(2026, 10, 13), 0, 1))
    from portal.auth.models import User
    manager = db.session.scalar(db.select(User).where(User.username == "manager"))
    board = kpi.dashboard(manager, kpi.default_period(TODAY))
    rows = {r.archive.id: r for r in board.filing_rows}
    assert rows[on_time.id].deadline == date(2026, 10, 12)
    assert (rows[on_time.id].outcome, rows[on_time.id].working_days) == ("ok", 5)
    assert (rows[late.id].outcome, rows[late.id].working_days) == ("late", 6)


def test_a_department_head_sees_only_their_department(dataset, login, register_entries):
    client = login("head_marketing")
    page = client.get("/oversight/").get_data(as_text=True)
    filing = table(page, "各部门建档及时率")
    assert list(filing) == ["市场部"]
    assert "销售部" not in page and "逾期乙公司" not in page
    # a department asked for in the address does not widen the view
    sales_id = dataset["on_time"].department_id
    page = client.get(f"/oversight/?department={sales_id}").get_data(as_text=True)
    assert "销售部" not in page and list(table(page, "各部门建档及时率")) == ["市场部"]
    assert len(register_entries(action="kpi_view", username="head_marketing")) == 2


def test_department_filter_and_period(dataset, login):
    client = login("supervisor")
    sales_id = dataset["on_time"].department_id
    page = client.get(f"/oversight/?department={sales_id}&from=2026-09&to=2026-10").get_data(as_text=True)
    assert list(table(page, "各部门建档及时率")) == ["销售部"]
    assert list(table(page, "按合同月份的建档及时率")) == ["2026-09", "2026-10"]
    page = client.get("/oversight/?year=2026").get_data(as_text=True)
    assert list(table(page, "按合同月份的建档及时率"))[0] == "2026-01"
    assert "2026年" in page


def test_bad_period_is_refused_with_the_form_kept(dataset, login):
    client = login("manager")
    response = client.get("/oversight/?from=2026-13&to=2026-10")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请按 YYYY-MM 格式填写月份" in page
    assert 'value="2026-13"' in page  # what was typed stays in the form
    response = client.get("/oversight/?from=2026-10&to=2026-01")
    assert response.status_code == 422


@pytest.mark.parametrize("username", ["staff_sales", "staff_marketing", "admin"])
def test_staff_and_admin_are_refused_and_registered(app, login, username, register_entries):
    client = login(username)
    before = len(register_entries(action="access_denied", username=username))
    assert client.get("/oversight/").status_code == 403
    assert client.get("/oversight/?format=pdf").status_code == 403
    assert len(register_entries(action="access_denied", username=username)) == before + 2
    assert not register_entries(action="kpi_view", username=username)
    assert 'href="/oversight/"' not in client.get("/inbox/").get_data(as_text=True)


def test_each_view_is_registered_once(dataset, login, register_entries):
    client = login("archivist")
    client.get("/oversight/")
    client.get("/oversight/?format=xlsx")
    entries = register_entries(action="kpi_view", username="archivist")
    assert len(entries) == 2
    assert {e.detail.split(";")[0] for e in entries} == {"html", "xlsx"}


def test_charts_are_svg_with_department_names_and_no_inline_style(dataset, login):
    page = login("manager").get("/oversight/").get_data(as_text=True)
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(svgs) >= 10
    dept_chart = next(s for s in svgs if "c-filing-dept-t" in s)
    assert "销售部" in dept_chart and "市场部" in dept_chart
    assert "<title" in dept_chart and "<desc" in dept_chart
    assert 'role="img"' in dept_chart
    for svg in svgs:
        assert "style=" not in svg and "<style" not in svg and "<script" not in svg
    assert " style=" not in page and "<style" not in page  # the page as a whole (CSP)


def test_excel_holds_the_figures(dataset, login):
    response = login("manager").get("/oversight/?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "考核指标看板"
    assert ["建档及时率", "按部门", "销售部", 3, 1, 2, 0, "33.3%"] in rows
    assert ["逾期借阅", "按到期月份", "2026-09", "", "", "", "", 1] in [
        [("" if v is None else v) for v in r] for r in rows]


needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")


@needs_pdf
@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs poppler-utils")
def test_dashboard_pdf_renders_with_its_charts(dataset, login, tmp_path):
    response = login("manager").get("/oversight/?format=pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 portrait
    text = "".join(p.extract_text() for p in reader.pages)
    assert "考核指标" in text and "建档及时率" in text
    assert "销售部" in text  # the chart labels and the tables
    assert f"共 {len(reader.pages)} 页" in text
    (tmp_path / "k.pdf").write_bytes(response.data)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "k.pdf"), str(tmp_path / "p")], check=True)
    assert len(list(tmp_path.glob("p*.png"))) == len(reader.pages)


def test_completeness_of_a_half_filled_archive(app, make_archive, login, monkeypatch):
    set_today(monkeypatch, TODAY)
    archive = filed(make_archive, "staff_sales", kind="individual", name="半填写", name_en="Half", gender="female",
                    birth_date=date(1980, 5, 3), phone="13800001111", email="half@example.com",
                    contract=date(2026, 9, 1), filed_at=None)
    score, missing = kpi.completeness(archive)
    names = [f.name for f in missing]
    assert score == 50  # 12 of the 24 fields an active individual's archive needs
    assert len(kpi.required_fields(archive)) == 24
    assert "occupation" in names and "paper_room" in names and "contacts" not in names
    assert "id_number" not in names  # personal data beyond what the policy requires is not asked for
    page = login("staff_sales").get(f"/archives/{archive.id}").get_data(as_text=True)
    assert "50%" in page and "职业" in page
    board = login("manager").get("/oversight/").get_data(as_text=True)
    section = lxml.html.fromstring(board).get_element_by_id("kpi-completeness")
    least = by_class(section, "kpi-list", "table")[0].xpath(".//tbody/tr")
    assert any("半填写" in row.text_content() and "50%" in row.text_content() for row in least)


def test_archive_names_hidden_from_readers_below_their_level(app, make_archive, login, monkeypatch):
    set_today(monkeypatch, TODAY)
    secret = make_archive("staff_sales", status="approved", name="机密庚公司", sensitivity=2,
                          contract_signed_on=date(2026, 9, 1))
    secret.sensitivity = 1
    db.session.commit()
    page = login("supervisor").get("/oversight/").get_data(as_text=True)  # clearance 2
    assert "机密庚公司" not in page
    assert secret.label in page  # counted and listed by its number only


def test_late_steps_of_other_workflows_come_from_the_deciders_inboxes(app, login, monkeypatch):
    """Destruction (and any workflow with an inbox source) counts once, as its deciders see it."""
    from portal.workflows import inbox

    set_today(monkeypatch, TODAY)

    def destruction_source(user):
        if user.username not in ("manager", "head_service"):
            return []
        return [inbox.InboxItem(kind="destruction", kind_label="销毁", title="XH-2026-001 · 测试",
                                url="/destruction/1", action_label="审批", requested_by="档案管理员",
                                requested_at=datetime(2026, 10, 1), deadline=date(2026, 10, 9), late=True)]

    monkeypatch.setattr(inbox, "SOURCES", [*inbox.SOURCES, destruction_source])
    page = login("manager").get("/oversight/").get_data(as_text=True)
    pending = table(page, "按流程的超期待审批")
    assert pending["销毁"] == ["1", "1"]  # in two inboxes, counted once: 客户服务部's column, total
    assert table(page, "各部门建档及时率") == {"客户服务部": ["0", "0", "0", "0", "—"]}  # its head's department
    assert "XH-2026-001" in page
    # a department head of another department does not see it
    assert "XH-2026-001" not in login("head_sales").get("/oversight/").get_data(as_text=True)
