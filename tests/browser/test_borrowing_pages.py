"""Borrowing, notifications and the working-day calendar in headless Chromium: the apply form
with search-as-you-type, a loan's page, the desk, the register (and its A4 printout as PDF),
the admin calendar, without CSP errors. Screenshots go to /tmp/screens/ for a human look.

Skipped when Debian's Chromium (/usr/bin/chromium) is not installed.
"""
from __future__ import annotations

import os
import re
import sys
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflows"))
import loan_helpers as lh  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path("/tmp/screens")
LOAN_PAGE = re.compile(r".*/borrowings/\d+$")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo12345")
    page.click("button.primary")
    page.wait_for_url(f"{base}/**")


def _console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return errors


def _shot(page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    # caret/animations as they are: Playwright's defaults inject styles that CSP reports
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True, caret="initial", animations="allow")


@pytest.fixture
def archives(make_archive, monkeypatch):
    lh.set_today(monkeypatch, date(2026, 11, 23))
    return [make_archive(status="filed", name="甲方贸易有限公司", paper_room="档案室 A",
                         paper_cabinet="3 号柜"),
            make_archive(status="filed", name="乙方电商有限公司")]


def test_apply_decide_lend_in_the_browser(live_server, browser, archives, user):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/archives/{archives[0].id}")
    page.click("#paper-loan a.button.primary")
    page.wait_for_url("**/borrowings/new?archives=*")
    # htmx swaps the boosted page in and then wires its elements: type only once the search box is
    # wired, or the keystrokes go by before anyone listens (a race that fails on a fast machine)
    page.wait_for_function("() => { const q = document.querySelector('#archive-q');"
                           " return q && q['htmx-internal-data'] && q['htmx-internal-data'].initHash; }")
    # search as you type: the ticked archive stays, the other one is offered
    page.fill("#archive-q", "乙方")
    page.locator(".picker-results", has_text="乙方电商有限公司").wait_for()
    assert page.locator(".picker-selected input:checked").count() == 1
    page.locator(".picker-results input[type=checkbox]").check()
    page.fill("#purpose", "核对合同条款与付款记录")
    page.fill("#period_days", "5")
    _shot(page, "borrowing-apply")
    page.click("button[value=apply]")
    page.wait_for_url(LOAN_PAGE)
    assert "待部门负责人审批" in page.inner_text("h1")
    _shot(page, "borrowing-detail-applied")
    loan_url = page.url

    for username in ("head_sales", "archivist"):
        other = browser.new_page(viewport={"width": 1280, "height": 900})
        other_errors = _console_errors(other)
        _login(other, live_server, username)
        other.goto(loan_url)
        if username == "head_sales":
            _shot(other, "borrowing-detail-head")
        other.click("form[action$='/approve'] button")
        other.locator(".flash-success").wait_for()
        if username == "archivist":
            other.fill("#handover-note", "2 册，共 86 页")
            other.click("form[action$='/lend'] button")
            other.locator("h1", has_text="借出中").wait_for()
            assert "2026-11-30" in other.inner_text("main")
            _shot(other, "borrowing-detail-lent")
            other.goto(f"{live_server}/borrowings/desk")
            _shot(other, "borrowing-desk")
        errors.extend(other_errors)
        other.close()
    page.goto(f"{live_server}/archives/{archives[0].id}")
    assert "由 张小销 借出" in page.inner_text("#paper-loan")
    page.locator("#paper-loan").scroll_into_view_if_needed()
    _shot(page, "borrowing-archive-panel")
    assert not errors, errors


def test_desk_register_and_printout(live_server, browser, archives, user, monkeypatch):
    overdue = lh.lent(user, archives[:1], days=2)
    lh.approved(user, archives[:1], by="head_sales", head="manager")  # queued behind it
    lh.apply(user, archives[1:], by="supervisor")
    lh.set_today(monkeypatch, date(2026, 11, 27))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "archivist")
    page.goto(f"{live_server}/borrowings/desk")
    assert page.locator("#overdue", has_text=f"#{overdue.id}").count() == 1
    assert page.locator("#queue", has_text="李销售经理").count() == 1
    _shot(page, "borrowing-desk-overdue")
    page.goto(f"{live_server}/borrowings/register")
    page.select_option("#f-status", "overdue")
    page.wait_for_url("**status=overdue*")
    page.locator("#ledger-results", has_text=f"#{overdue.id}").wait_for()
    _shot(page, "borrowing-register")
    page.goto(f"{live_server}/borrowings/register/print")
    _shot(page, "borrowing-register-print")
    page.emulate_media(media="print")
    page.pdf(path=str(SCREENS / "borrowing-register.pdf"), prefer_css_page_size=True, print_background=True)
    assert (SCREENS / "borrowing-register.pdf").stat().st_size > 10_000
    assert not errors, errors


def test_admin_calendar_and_notifications(live_server, browser, archives, user):
    lh.apply(user, archives[:1])  # a notification for head_sales
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "admin")
    page.goto(f"{live_server}/admin/calendar")
    assert "2027 年尚无官方节假日安排" in page.inner_text(".calendar-warning")
    _shot(page, "calendar-2026")
    page.goto(f"{live_server}/admin/calendar?year=2027")
    page.fill("#cal-day", "2027-01-01")
    page.fill("#cal-name", "元旦")
    page.click(".calendar-form button.primary")
    page.locator(".flash-success").wait_for()
    assert page.locator(".calendar-warning").count() == 0
    _shot(page, "calendar-2027")
    page.goto(f"{live_server}/admin/borrowing-rules")
    _shot(page, "borrowing-rules")
    head = browser.new_page(viewport={"width": 1280, "height": 800})
    head_errors = _console_errors(head)
    _login(head, live_server, "head_sales")
    assert head.locator(".nav-count").inner_text() == "1"
    head.goto(f"{live_server}/notifications/")
    _shot(head, "notifications")
    head.locator(".notification form button").click()  # mark read, swapped in place by htmx
    head.locator(".notification:not(.unread)").wait_for()
    assert not errors and not head_errors, errors + head_errors


def test_apply_form_without_javascript(live_server, browser, archives):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/borrowings/new")
    page.fill("#archive-q", "甲方")
    page.click("button[value=search]")
    page.locator(".picker-results input[type=checkbox]").first.check()
    page.fill("#purpose", "无脚本借阅")
    page.fill("#period_days", "3")
    page.click("button[value=apply]")
    page.wait_for_url(LOAN_PAGE)
    assert "无脚本借阅" in page.inner_text("main")
    context.close()
