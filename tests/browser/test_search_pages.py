"""The search page in headless Chromium: the header box, in-place filtering (htmx) with a shareable
address, pages, the help, messages, a narrow phone screen, and the whole thing with JavaScript off.
Screenshots go to /tmp/screens/search_*.png (looked at by hand when the pages change).

Skipped when Debian's Chromium (/usr/bin/chromium) is not installed.
"""
from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect
from test_browser import _console_errors, _login

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "documents"))
import doc_samples as samples  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path("/tmp/screens")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]

# ../shared/seeds/002_*.txt (Simplified), verbatim.
SIMPLIFIED = ("三、职责1. 客户档案管理部门:负责客户档案的收集、整理、归档、保管、查询和销毁等工作。"
              "2. 各部门负责人:负责本部门客户档案的管理工作,确保档案的完整、准确、安全和高效利用。")


@pytest.fixture
def store_config():
    return {"SEARCH_WRITER": "sync"}  # index right after each commit, as tests/search does


@pytest.fixture
def corpus(make_archive, user):
    import io

    from portal.actor import Actor
    from portal.documents import services

    def upload(archive, data, name, **details):
        return services.upload(Actor(user("staff_sales"), "127.0.0.1"), archive.id, io.BytesIO(data), name,
                               services.Details(**details))

    archive = make_archive("staff_sales", status="filed", name="星河跨境电商有限公司", region="东南亚",
                           business_scope="客户档案管理外包服务 跨境电商 家居用品")
    docs = [upload(archive, samples.docx([SIMPLIFIED, f"补充条款第{i}条"]), f"制度{i}.docx",
                   title=f"客户档案管理职责（第{i}版）", doc_type="合同", doc_date=date(2026, 1, i + 1))
            for i in range(1, 4)]
    return {"archive": archive, "docs": docs}


def _shot(page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"search_{name}.png"), full_page=True, caret="initial")


def test_header_box_then_filters_and_pages_in_place(live_server, browser, corpus):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.fill("#header-q", "客戶檔案管理")  # Traditional
    page.press("#header-q", "Enter")
    page.wait_for_url("**/search?q=*")
    results = page.locator("#search-results")
    results.locator("li.search-hit").first.wait_for()
    assert results.locator("li.search-hit").count() == 4  # the archive and its three documents
    assert "共 4 条结果" in results.locator(".results-total").inner_text()
    assert results.locator("mark", has_text="客户档案管理").count() >= 4  # Simplified text, highlighted
    assert page.input_value("#search-q") == "客戶檔案管理"
    _shot(page, "results_desktop")

    page.evaluate("window.__notReloaded = true")
    page.select_option("#s-kind", "document")
    page.wait_for_url("**kind=document*")
    expect(page.locator("#search-results li.search-hit")).to_have_count(3)
    assert page.evaluate("window.__notReloaded") is True  # only the results region was replaced
    query = parse_qs(urlparse(page.url).query)
    assert query == {"q": ["客戶檔案管理"], "kind": ["document"]}  # short and shareable

    page.select_option("#s-sort", "date")
    page.wait_for_url("**sort=date*")
    expect(page.locator("#search-results .hit-title").first).to_contain_text("第3版")
    assert page.evaluate("window.__notReloaded") is True

    page.click("details.search-help summary")
    assert page.locator("details.search-help li").first.is_visible()
    _shot(page, "filtered_help_desktop")

    page.goto(f"{live_server}/search?q=客户档案&kind=document&per_page=2")
    page.evaluate("window.__notReloaded = true")
    page.click("#search-results .pagination a[rel=next]")
    page.wait_for_url("**page=2*")
    expect(page.locator("#search-results li.search-hit")).to_have_count(1)
    assert page.evaluate("window.__notReloaded") is True
    assert parse_qs(urlparse(page.url).query)["kind"] == ["document"]
    assert not errors, errors  # CSP violations and script errors show up here


def test_malformed_query_shows_the_message_in_place(live_server, browser, corpus):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/search?q=客户档案")
    page.evaluate("window.__notReloaded = true")
    page.fill("#search-q", '"客户档案')
    page.press("#search-q", "Enter")
    alert = page.locator("#search-results [role=alert]")
    alert.wait_for()
    assert "引号未闭合" in alert.inner_text()
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#search-form").is_visible()  # the page, not an error page
    _shot(page, "error_desktop")
    assert not [e for e in errors if "422" not in e], errors  # the 422 itself is logged by Chromium


def test_narrow_screen(live_server, browser, corpus):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    box = page.locator("#header-q").bounding_box()
    assert box["width"] > 150  # the header box has a usable width on a phone
    page.fill("#header-q", "家居用品")
    page.press("#header-q", "Enter")
    page.wait_for_url("**/search?q=*")
    page.locator("#search-results li.search-hit").first.wait_for()
    # nothing wider than the screen: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not errors, errors
    # Screenshots last: Playwright hides the caret with an inline <style>, which the CSP reports.
    _shot(page, "results_narrow")
    page.goto(f"{live_server}/")
    _shot(page, "header_narrow")


def test_search_works_with_javascript_off(live_server, browser, corpus):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _login(page, live_server, "staff_sales")
    page.fill("#header-q", "客户档案")
    page.press("#header-q", "Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator("#search-results li.search-hit").count() == 4
    page.select_option("#s-kind", "archive")
    page.click(".search-filter-actions button[type=submit]")
    page.wait_for_url("**kind=archive*")
    assert page.locator("#search-results li.search-hit").count() == 1
    assert page.locator("#search-results .hit-title").inner_text() == "星河跨境电商有限公司"
    context.close()
