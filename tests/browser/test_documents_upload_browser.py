"""Uploading documents in headless Chromium: files chosen and dropped, client-side size check,
progress bar, outcomes, the archive's list, the detail page and history; and the plain form with
JavaScript off. Screenshots go to /tmp/screens/ (looked at by hand when the pages change).

Skipped when Debian's Chromium (/usr/bin/chromium) is not installed.
"""
from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import pytest
from test_browser import _console_errors, _login

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "documents"))
import doc_samples as samples  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path("/tmp/screens")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _drop(page, selector: str, name: str, data: bytes, mime: str) -> None:
    """Drop a file on ``selector`` as a user dragging it from the desktop would."""
    transfer = page.evaluate_handle("""([name, b64, mime]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: mime}));
        return dt;
    }""", [name, base64.b64encode(data).decode(), mime])
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def test_drag_and_drop_upload_with_progress(app, live_server, browser, make_archive):  # noqa: F811
    SCREENS.mkdir(exist_ok=True)
    app.config["DOCUMENT_MAX_BYTES"] = 1_500_000  # so that the client-side check shows
    archive = make_archive(status="filed", name="浏览器上传测试有限公司")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/archives/{archive.id}")
    page.click("#documents a.button:has-text('上传材料')")
    page.wait_for_url(f"**/archives/{archive.id}/documents/upload")
    page.locator("form.upload-enhanced").wait_for()  # upload.js is active (also after hx-boost)

    page.set_input_files("input[name=files]", [
        {"name": "销售合同.pdf", "mimeType": PDF, "buffer": samples.pdf(["销售合同 第一条 合作范围"], pages=2)},
        {"name": "空文件.pdf", "mimeType": PDF, "buffer": b""},
        {"name": "超大扫描件.pdf", "mimeType": PDF, "buffer": b"%PDF-1.4\n" + b"0" * 2_000_000},
    ])
    _drop(page, "#dropzone", "往来函件.docx", samples.docx(), DOCX)
    items = page.locator("#file-list li")
    assert items.count() == 4
    too_large = page.locator("#file-list li.too-large")
    assert too_large.count() == 1 and "超大扫描件.pdf" in too_large.inner_text()
    assert "每个文件上限为 1.4 MB" in too_large.inner_text()
    page.select_option("select[name=doc_type]", "往来函件")
    page.fill("input[name=source]", "电子邮件")
    page.screenshot(path=str(SCREENS / "upload-page.png"), full_page=True, caret="initial")

    # watch the progress text while the XMLHttpRequest sends the files
    page.evaluate("""() => {
        window.__progress = [];
        const text = document.querySelector('#upload-progress .progress-text');
        new MutationObserver(() => window.__progress.push(text.textContent))
            .observe(text, {childList: true, characterData: true, subtree: true});
    }""")
    page.evaluate("window.__notReloaded = true")
    page.click("form.upload-form button[type=submit].primary")
    page.locator("#upload-outcomes .outcome-list").wait_for()
    assert page.evaluate("window.__notReloaded") is True  # no page load: upload.js did it
    assert page.locator("#upload-progress").is_visible()
    assert page.locator("#upload-progress progress").evaluate("p => p.value") == 100
    texts = page.evaluate("window.__progress")
    assert any(t.startswith("正在上传") for t in texts), texts
    stored = page.locator(".outcome-stored")
    refused = page.locator(".outcome-refused")
    assert stored.count() == 2 and refused.count() == 1
    assert "空文件.pdf" in refused.inner_text() and "超大扫描件" not in page.locator("#upload-outcomes").inner_text()
    # the files sent leave the list; the one too large to send stays with its reason
    assert page.locator("#file-list li").count() == 1 and page.locator("#file-list li.too-large").count() == 1
    assert page.input_value("input[name=source]") == "电子邮件"  # the details stay
    page.screenshot(path=str(SCREENS / "upload-outcomes.png"), full_page=True, caret="initial")

    page.click("text=转到档案的材料列表")
    page.wait_for_url(f"**/archives/{archive.id}*")
    section = page.locator("#documents")
    section.scroll_into_view_if_needed()
    assert section.locator("tbody tr").count() == 2
    assert "浏览器上传测试有限公司-往来函件-" in section.inner_text()
    page.locator("#documents img.thumb").first.wait_for()
    assert page.locator("#documents img.thumb").first.evaluate("img => img.complete && img.naturalWidth > 0")
    section.screenshot(path=str(SCREENS / "archive-documents.png"), caret="initial")

    section.locator("td.doc-name a", has_text="销售合同").click()
    page.wait_for_url("**/documents/*")
    page.click("a.button:has-text('修改信息')")
    page.wait_for_url("**/edit")
    page.fill("input[name=title]", "2026年销售合同（签字版）")
    page.fill("input[name=doc_date]", "2026-01-15")
    page.click("form button[type=submit].primary")
    page.wait_for_url("**/documents/*")
    page.locator("#document-history .changes").wait_for()
    assert "2026年销售合同（签字版）" in page.locator("#document-history").inner_text()
    page.screenshot(path=str(SCREENS / "document-detail.png"), full_page=True, caret="initial")
    page.locator("#document-history").screenshot(path=str(SCREENS / "document-history.png"), caret="initial")
    assert not errors, errors  # CSP violations and script errors show up here


def test_plain_upload_form_with_javascript_off(live_server, browser, make_archive):  # noqa: F811
    archive = make_archive(status="filed", name="无脚本上传有限公司")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/archives/{archive.id}/documents/upload")
    assert page.locator("#file-list").is_hidden()
    page.set_input_files("input[name=files]", [
        {"name": "合同.pdf", "mimeType": PDF, "buffer": samples.pdf(["无脚本合同"])},
        {"name": "扫描件.png", "mimeType": "image/png", "buffer": samples.image("PNG")},
    ])
    page.select_option("select[name=doc_type]", "合同")
    page.click("form.upload-form button[type=submit].primary")
    page.wait_for_url(f"**/archives/{archive.id}#documents")
    assert "2 份材料已上传" in page.locator("#messages").inner_text()
    assert page.locator("#documents tbody tr").count() == 2
    context.close()
