"""Quarterly inspection 抽查 in headless Chromium: the archivist draws a sample, checks an archive
(htmx keeps the entries on a validation error), assigns the rectification; the responsible staff
member reports it done from the inbox; the archivist verifies it; the record prints — without CSP
errors. Screenshots go to /tmp/screens/inspection-*.png.

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
    shot(page, f"inspection-{name}")


@pytest.fixture
def archives(make_archive):
    return [make_archive(status="filed", name=f"抽查样本{i}贸易有限公司", paper_room="档案室 A",
                         paper_cabinet=f"{i} 号柜") for i in range(1, 4)]


def test_draw_check_rectify_in_the_browser(live_server, browser, archives):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm questions
    errors = console_errors(page)
    login(page, live_server, "archivist")
    page.click("nav.mainnav details.navmenu > summary")  # the 档案监管 menu
    page.click("nav.mainnav a[href='/inspections/']")
    page.wait_for_url("**/inspections/")
    page.click("a.button.primary[href='/inspections/new']")
    page.wait_for_url("**/inspections/new")
    assert page.input_value("#d-seed")  # a random seed is proposed and shown
    page.fill("#d-sample", "2")
    page.fill("#d-seed", "browser-seed-1")
    _shot(page, "draw")
    page.click("form.insp-draw-form button.primary")
    page.wait_for_url(re.compile(r".*/inspections/\d+$"))
    main = page.inner_text("main")
    assert "browser-seed-1" in main and "复现抽样" in main
    inspection_url = page.url
    _shot(page, "show")

    page.locator("a.insp-check-link").first.click()
    page.wait_for_url("**/inspections/samples/*")
    for key in ("paper", "profile", "materials", "naming", "classification", "procedures"):
        page.check(f"input[name=result_{key}][value=conform]")
    page.check("input[name=result_paper][value=nonconform]")  # a finding without its note …
    page.fill("#c-paper-count", "3")
    page.click("form.insp-check-form button.primary")
    page.locator("#checklist .flash-error").wait_for()  # … comes back in place (htmx), entries kept
    assert page.input_value("#c-paper-count") == "3"
    assert page.is_checked("input[name=result_paper][value=nonconform]")
    page.fill("#c-note-paper", "纸质档案少一份补充协议")
    _shot(page, "checklist")
    first_sample = page.url
    page.click("form.insp-check-form button[value=next]")
    page.wait_for_url(lambda url: url != first_sample and "/inspections/samples/" in url)
    page.locator("#messages", has_text="检查清单已保存").wait_for()
    for key in ("paper", "profile", "materials", "naming", "classification", "procedures"):
        page.check(f"input[name=result_{key}][value=conform]")
    page.click("form.insp-check-form button[value=next]")
    page.wait_for_url(re.compile(r".*/inspections/\d+$"))

    page.locator("form.insp-assign-form button.primary").click()
    page.locator("#messages", has_text="整改已指派给").wait_for()
    _shot(page, "findings")

    staff = browser.new_page(viewport={"width": 1280, "height": 900})
    staff_errors = console_errors(staff)
    login(staff, live_server, "staff_sales")
    staff.goto(f"{live_server}/inbox/")
    staff.click("a:has-text('纸质与电子档案一致')")
    staff.wait_for_url("**/inspections/rectifications/*")
    staff.fill("#r-note", "已补入补充协议原件")
    _shot(staff, "rectification-staff")
    staff.click("button:has-text('报告完成')")
    staff.locator(".page-head .badge", has_text="已报告完成，待复查").wait_for()

    page.goto(f"{live_server}/inbox/")
    page.click("a:has-text('纸质与电子档案一致')")
    page.wait_for_url("**/inspections/rectifications/*")
    page.click("button:has-text('复查通过，关闭')")
    page.locator(".page-head .badge", has_text="已复查关闭").wait_for()
    page.goto(inspection_url)
    page.fill("#c-note", "本季度抽查总体良好")
    page.click("button:has-text('结束抽查')")
    page.locator(".page-head .badge", has_text="已结束").wait_for()
    page.goto(inspection_url + "/print")
    assert "档案抽查记录" in page.inner_text("main")
    _shot(page, "record-print")
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.inspection.models import InspectionSample
    db.session.commit()
    first = db.session.scalars(sa.select(InspectionSample.archive_id).order_by(InspectionSample.position)).first()
    page.goto(f"{live_server}/archives/{first}")
    page.locator("#inspection-panel").scroll_into_view_if_needed()
    _shot(page, "archive-panel")
    # the 422 of the checklist without its note is on purpose (Chromium logs it); nothing else may fail
    assert not [e for e in errors if "status of 422" not in e], errors
    assert not staff_errors, staff_errors
