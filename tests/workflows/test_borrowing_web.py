"""Borrowing pages: the form (input kept on errors), a loan's page with the actions of whoever is
to act, 409 for a decision taken twice, the desk with lazy overdue reminders, `portal remind`,
the inbox sources, the archive page's panel, and the borrowing register (scope, print, Excel)."""
from __future__ import annotations

import io
from datetime import date

import loan_helpers as lh
import pytest
from openpyxl import load_workbook

from portal import notifications as notes
from portal.extensions import db
from portal.workflows import borrowing, borrowing_inbox
from portal.workflows.borrowing_models import PENDING_HEAD, Loan

MONDAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def monday(monkeypatch):
    lh.set_today(monkeypatch, MONDAY)


@pytest.fixture
def filed(make_archive):
    return [make_archive(status="filed", name="甲方贸易有限公司"),
            make_archive(status="filed", name="乙方电商有限公司")]


def test_apply_through_the_form(app, login, filed, register_entries):
    client = login("staff_sales")
    page = client.get(f"/borrowings/new?archives={filed[0].id}").get_data(as_text=True)
    assert "申请借阅纸质档案" in page and filed[0].number in page and "checked" in page
    response = client.post("/borrowings/new", data={
        "archives": [str(filed[0].id), str(filed[1].id)], "purpose": "核对合同条款",
        "period_days": "5", "pickup_date": "2026-11-24", "action": "apply"})
    assert response.status_code == 303
    loan = db.session.get(Loan, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert loan.status == PENDING_HEAD and len(loan.items) == 2
    assert len(register_entries(action="borrow_apply")) == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "待部门负责人审批" in page and "李销售经理" in page  # who decides next


def test_form_errors_keep_the_input(app, login, filed):
    client = login("staff_sales")
    response = client.post("/borrowings/new", data={
        "archives": [str(filed[0].id)], "purpose": "核对合同条款", "period_days": "9",
        "pickup_date": "2026-11-24", "action": "apply"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "借阅期限最长 7 个工作日" in page
    assert "核对合同条款" in page and 'value="9"' in page and 'value="2026-11-24"' in page
    assert f'value="{filed[0].id}" checked' in page  # the chosen archive stays ticked


def test_search_as_you_type_offers_only_what_the_user_may_open(app, login, filed, make_archive):
    make_archive(by="staff_marketing", status="filed", name="甲方市场部客户", sensitivity=3)
    client = login("staff_sales")
    html = client.get("/borrowings/archive-search?q=甲方", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "甲方贸易有限公司" in html and "甲方市场部客户" not in html
    assert "<html" not in html
    # without JavaScript: the search button posts the form and shows the same results on the page
    page = login("staff_sales").post("/borrowings/new", data={"q": "乙方", "action": "search",
                                                               "purpose": "保留的目的"}).get_data(as_text=True)
    assert "乙方电商有限公司" in page and "保留的目的" in page


def test_decision_pages_and_409_on_a_second_decision(app, login, user, filed):
    loan = lh.apply(user, filed)
    head = login("head_sales")
    page = head.get(f"/borrowings/{loan.id}").get_data(as_text=True)
    assert "审批（部门负责人）" in page
    assert head.get("/borrowings/approvals").get_data(as_text=True).count(f"#{loan.id}") == 1
    response = head.post(f"/borrowings/{loan.id}/reject", data={"reason": ""})
    assert response.status_code == 422 and "请填写驳回理由" in response.get_data(as_text=True)
    assert head.post(f"/borrowings/{loan.id}/approve", data={"note": "同意"}).status_code == 303
    again = head.post(f"/borrowings/{loan.id}/approve", data={"note": "同意"})
    assert again.status_code == 409
    assert "现待档案管理员审核" in again.get_data(as_text=True)
    # another department's head may not even look
    assert login("head_marketing").get(f"/borrowings/{loan.id}").status_code == 403


def test_lend_refused_while_out_names_the_holder(app, login, user, filed):
    first = lh.lent(user, filed[:1])
    second = lh.approved(user, filed[:1], by="head_sales", head="manager")
    response = login("archivist").post(f"/borrowings/{second.id}/lend", data={"handover_note": "1 册"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "张小销" in page and first.due_date.isoformat() in page and "归还之前不能再次出借" in page


def test_desk_sends_overdue_reminders_once_a_day(app, login, user, filed, monkeypatch, register_entries):
    loan = lh.lent(user, filed[:1], days=2)  # due Wednesday 2026-11-25
    lh.set_today(monkeypatch, date(2026, 11, 27))  # Friday: 2 working days late
    desk = login("archivist")
    page = desk.get("/borrowings/desk").get_data(as_text=True)
    assert "已逾期" in page and "今日已对 1 笔逾期借阅发出提醒" in page
    staff_texts = [n.text for n in notes.notifications_of(user("staff_sales"))]
    head_texts = [n.text for n in notes.notifications_of(user("head_sales"))]
    assert any("已逾期" in t and "2026-11-25" in t for t in staff_texts)
    assert any("张小销" in t and "已逾期" in t for t in head_texts)
    desk.get("/borrowings/desk")  # the same day again: nothing new
    assert len(register_entries(action="borrow_remind")) == 1
    # the CLI is idempotent too, and reminds again the next working day
    runner = app.test_cli_runner()
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 0 and "0 reminded now" in result.output
    lh.set_today(monkeypatch, date(2026, 11, 30))
    result = runner.invoke(args=["remind"])
    assert "1 reminded now" in result.output
    assert len(register_entries(action="borrow_remind")) == 2
    assert [e.action for e in db.session.get(Loan, loan.id).events].count("borrow_remind") == 2


def test_inbox_sources_with_working_day_deadlines(app, user, filed, monkeypatch):
    loan = lh.apply(user, filed[:1])
    items = borrowing_inbox.first_decisions(user("head_sales"))
    assert [i.url for i in items] == [f"/borrowings/{loan.id}"]
    # applied today (Beijing): the head decides within 1 working day
    assert items[0].deadline == borrowing.workcal.deadline(loan.created_at, 1) and not items[0].late
    assert borrowing_inbox.first_decisions(user("head_marketing")) == []
    assert borrowing_inbox.first_decisions(user("staff_sales")) == []
    borrowing.approve(lh.as_(user("head_sales")), loan)
    assert [i.action_label for i in borrowing_inbox.archivist_work(user("archivist"))] == ["待您审批"]
    borrowing.approve(lh.as_(user("archivist")), loan)
    borrowing.lend(lh.as_(user("archivist")), loan)
    lh.set_today(monkeypatch, date(2026, 12, 2))
    mine = borrowing_inbox.my_loans_due(user("staff_sales"))
    assert len(mine) == 1 and mine[0].late and mine[0].deadline == loan.due_date
    assert any(i.late for i in borrowing_inbox.archivist_work(user("archivist")))


def test_archive_page_shows_the_paper_file_and_the_button(app, login, user, filed):
    client = login("staff_sales")
    page = client.get(f"/archives/{filed[0].id}").get_data(as_text=True)
    assert "借阅纸质档案" in page and "在库" in page
    lh.lent(user, filed[:1], by="head_sales", head="manager")
    page = client.get(f"/archives/{filed[0].id}").get_data(as_text=True)
    assert "由 李销售经理 借出" in page


def test_register_scope_print_and_excel(app, login, user, filed, make_archive, register_entries):
    sales_loan = lh.lent(user, filed[:1])
    marketing_archive = make_archive(by="staff_marketing", status="filed", name="市场部客户", sensitivity=3)
    marketing_loan = lh.apply(user, [marketing_archive], by="staff_marketing")
    archivist = login("archivist")
    page = archivist.get("/borrowings/register").get_data(as_text=True)
    assert f"#{sales_loan.id}" in page and f"#{marketing_loan.id}" in page
    # a department head sees only their department's loans
    page = login("head_marketing").get("/borrowings/register").get_data(as_text=True)
    assert f"#{marketing_loan.id}" in page and f"#{sales_loan.id}" not in page
    # staff are refused (and the refusal is registered)
    assert login("staff_sales").get("/borrowings/register").status_code == 403
    assert register_entries(action="access_denied", username="staff_sales")
    # filters: status, borrower, archive, department
    page = archivist.get("/borrowings/register?status=lent").get_data(as_text=True)
    assert f"#{sales_loan.id}" in page and f"#{marketing_loan.id}" not in page
    page = archivist.get("/borrowings/register?borrower=刘小市").get_data(as_text=True)
    assert f"#{marketing_loan.id}" in page and f"#{sales_loan.id}" not in page
    page = archivist.get(f"/borrowings/register?archive={filed[0].number}").get_data(as_text=True)
    assert f"#{sales_loan.id}" in page and f"#{marketing_loan.id}" not in page
    # the printout: Chinese title, signature columns, registered
    printed = archivist.get("/borrowings/register/print?status=lent").get_data(as_text=True)
    assert "客户纸质档案借阅登记簿" in printed and "借阅人签字" in printed and "档案管理员签字" in printed
    assert register_entries(action="borrow_register_print")
    # Excel
    response = archivist.get("/borrowings/register/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "客户纸质档案借阅登记簿"
    header = next(r for r in rows if r[0] == "借阅单号")
    assert "借阅人签字" in header and "档案管理员签字" in header
    ids = [r[0] for r in rows[rows.index(header) + 1:]]
    assert sorted(ids) == sorted([sales_loan.id, marketing_loan.id])
    assert register_entries(action="borrow_register_export")


def test_my_loans_and_the_archivists_redirect(app, login, user, filed):
    loan = lh.lent(user, filed[:1])
    page = login("staff_sales").get("/borrowings/").get_data(as_text=True)
    assert f"#{loan.id}" in page and "借出中" in page
    response = login("archivist").get("/borrowings/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/borrowings/desk")


def test_api_like_web_refusals_for_other_roles(app, login, user, filed, register_entries):
    loan = lh.apply(user, filed[:1])
    assert login("staff_marketing").get(f"/borrowings/{loan.id}").status_code == 403
    assert login("staff_sales").get("/borrowings/desk").status_code == 403
    assert login("staff_sales").get("/borrowings/approvals").status_code == 403
    assert login("admin").get("/borrowings/new").status_code == 403
    assert login("archivist").post(f"/borrowings/{loan.id}/withdraw").status_code == 403
    assert db.session.get(Loan, loan.id).status == PENDING_HEAD


def test_a_dead_mail_server_does_not_break_an_application(app, login, filed):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=dead_port, SMTP_DOMAIN="example.com", SMTP_TIMEOUT=2)
    response = login("staff_sales").post("/borrowings/new", data={
        "archives": [str(filed[0].id)], "purpose": "邮件服务器宕机时申请", "period_days": "2",
        "pickup_date": "2026-11-24", "action": "apply"})
    assert response.status_code == 303
    assert db.session.query(Loan).count() == 1
