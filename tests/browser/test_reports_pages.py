"""Registers 台账 and handovers 移交 in headless Chromium: the registers index, the archive ledger
with its htmx filters, a handover chosen by the giving person (htmx loads their archives), the
receiver's confirmation, the printouts — without CSP errors. Screenshots go to /tmp/screens/.

Skipped when Debian's Chromium (/usr/bin/chromium) is not installed.
"""
from __future__ import annotations

import os
import re

import pytest
from browser_helpers import console_errors, login, shot

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]


def _shot(page, name: str) -> None:
    shot(page, f"reports-{name}")


@pytest.fixture
def archives(make_archive):
    return [make_archive(status="filed", name="甲方贸易有限公司", phone="13812345678", paper_room="档案室 A",
                         paper_cabinet="3 号柜"),
            make_archive(status="filed", name="乙方电商有限公司", stage="terminated"),
            make_archive("staff_marketing", status="filed", name="丙方市场咨询公司", sensitivity=3)]


def test_ledger_and_registers_index(live_server, browser, archives):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = console_errors(page)
    login(page, live_server, "archivist")
    page.click("nav.mainnav details.navmenu > summary")  # the 档案监管 menu
    page.click("nav.mainnav a[href='/ledgers/']")
    page.wait_for_url("**/ledgers/")
    for title in ("客户档案台账", "查阅登记", "借阅登记", "变更登记", "档案移交登记簿"):
        assert title in page.inner_text("main"), title
    _shot(page, "index")
    page.goto(f"{live_server}/ledgers/archives")
    assert page.locator("#ledger-results tbody tr").count() == 3
    page.select_option("#f-stage", "terminated")
    page.wait_for_url("**stage=terminated*")
    page.locator("#ledger-results tbody tr").nth(0).wait_for()
    assert page.locator("#ledger-results tbody tr").count() == 1
    assert "乙方电商有限公司" in page.inner_text("#ledger-results")
    _shot(page, "ledger")
    page.goto(f"{live_server}/ledgers/archives/print")
    _shot(page, "ledger-print")
    assert not errors, errors


def test_hand_over_and_confirm_in_the_browser(live_server, browser, archives, user):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm question
    errors = console_errors(page)
    login(page, live_server, "head_sales")
    page.goto(f"{live_server}/ledgers/handovers/new")
    page.select_option("#giver", str(user("staff_sales").id))
    page.locator("#handover-step2 input[name=archive]").nth(1).wait_for()
    assert page.locator("#handover-step2 input[name=archive]:checked").count() == 2
    page.locator(f"input[name=archive][value='{archives[1].id}']").uncheck()
    page.locator(f"input[name=paper_{archives[0].id}]").check()
    page.fill(f"#count-{archives[0].id}", "2")
    page.select_option("#receiver", str(user("head_sales").id))
    page.select_option("#reason", "resigned")
    page.fill("#reason_text", "张小销离职，客户交由部门负责人跟进")
    _shot(page, "handover-new")
    page.click("#handover-step2 button.primary")
    page.wait_for_url(re.compile(r".*/ledgers/handovers/\d+$"))
    assert "待接收确认" in page.inner_text("main")
    assert archives[0].number in page.inner_text("main")
    assert archives[1].number not in page.inner_text("main")
    _shot(page, "handover-record")
    # the receiver (here the head themself) confirms from the record page
    page.fill("#note", "纸质资料 2 件已收到")
    page.click(".rpt-confirm-form button.primary")
    page.locator(".page-head .badge", has_text="已确认接收").wait_for()
    assert "已确认接收移交" in page.inner_text("#messages")
    record_url = page.url
    page.goto(record_url + "/print")
    _shot(page, "handover-print")
    page.goto(f"{live_server}/archives/{archives[0].id}")
    assert "移交记录" in page.inner_text("main")
    page.locator(".rpt-panel").scroll_into_view_if_needed()
    _shot(page, "archive-panel")
    page.goto(f"{live_server}/ledgers/handovers")
    _shot(page, "handovers")
    assert not errors, errors
