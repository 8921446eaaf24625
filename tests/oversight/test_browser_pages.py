"""The KPI dashboard and the monthly checks in headless Chromium: no CSP violation or script error,
the charts drawn, a check confirmed through htmx (the row replaced in place). Screenshots go to
/tmp/screens/oversight-*.png. Skipped when Debian's Chromium (/usr/bin/chromium) is not installed."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from oversight_helpers import beijing, filed, set_today
from test_kpi import dataset  # noqa: F401 — the KPI data set fixture

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path("/tmp/screens")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]


def _open(chromium, base: str, username: str):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo12345")
    page.click("button.primary")
    page.wait_for_url(f"{base}/**")
    return page, errors


def test_dashboard_in_the_browser(live_server, browser, dataset):  # noqa: F811
    page, errors = _open(browser, live_server, "manager")
    page.click("nav.mainnav details.navmenu > summary")  # the 档案监管 menu
    page.click("nav.mainnav >> text=考核指标")
    page.wait_for_selector("svg.kpi-chart")
    assert page.locator("svg.kpi-chart").count() >= 10
    assert page.locator("#c-filing-dept-t").text_content() == "各部门建档及时率"
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / "oversight-dashboard.png"), full_page=True)
    assert not errors, errors


def test_monthly_check_through_htmx(live_server, browser, app, make_archive, monkeypatch):
    set_today(monkeypatch, date(2026, 10, 27))
    archive = filed(make_archive, "staff_sales", name="浏览器检查公司", contract=None,
                    filed_at=beijing(date(2026, 9, 10)))
    page, errors = _open(browser, live_server, "staff_sales")
    page.click("nav.mainnav details.navmenu > summary")  # the 档案监管 menu
    page.click("nav.mainnav >> text=月度检查")
    row = page.locator(f"#check-{archive.id}")
    row.locator("input[name=note]").fill("已核对纸质档案")
    row.locator("button").click()
    page.wait_for_selector(f"#check-{archive.id}.check-done")
    assert "已核对纸质档案" in page.locator(f"#check-{archive.id}").text_content()
    assert page.locator("#checks-all form").count() == 0  # nothing left to confirm (updated out of band)
    page.screenshot(path=str(SCREENS / "oversight-checks.png"), full_page=True)
    assert not errors, errors
