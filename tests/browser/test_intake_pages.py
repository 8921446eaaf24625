"""Scan intake in headless Chromium: the cover sheet is printed from the archive page (the
browser's print-to-PDF), the PDF page is turned into a 300-dpi PNG as a scanner would deliver it,
scanned back in with a page of text behind it, sent through the intake page — and the part is
filed to that archive while the intake list updates by itself. Screenshots go to
/tmp/screens/intake_*.png.

Skipped when Debian's Chromium (/usr/bin/chromium) is not installed.
"""
from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from test_browser import _console_errors, _login

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "intake"))
import scans  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path("/tmp/screens")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]


@pytest.fixture
def store_config():
    return {"SEARCH_WRITER": "sync"}


def _shot(page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"intake_{name}.png"), full_page=True, caret="initial")


def _pdf_to_png_image(pdf: bytes, dpi: int = 300):
    import pypdfium2 as pdfium

    from portal.documents.inspect import pdfium_lock

    with pdfium_lock:
        doc = pdfium.PdfDocument(pdf)
        assert len(doc) == 1, "the cover sheet prints on one A4 page"
        image = doc[0].render(scale=dpi / 72).to_pil().convert("RGB")
        doc.close()
    # as a scanner delivers it: a PNG file, read back
    out = io.BytesIO()
    image.save(out, format="PNG")
    from PIL import Image
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def test_printed_cover_sheet_scanned_back_in_routes_the_pages_behind_it(app, live_server, browser, make_archive,
                                                                       run_jobs_in_thread):
    from portal.extensions import db
    from portal.intake.models import FILED, IntakeItem

    archive = make_archive("staff_sales", status="filed", name="封面回扫测试有限公司")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/archives/{archive.id}")
    page.get_by_role("link", name="打印封面分隔页").click()
    page.get_by_role("link", name="合同", exact=True).click()
    expect(page.locator(".cover-sheet h1")).to_have_text("封面分隔页")
    expect(page.locator(".cover-number")).to_have_text(archive.number)
    _shot(page, "cover_sheet")
    pdf = page.pdf(format="A4", print_background=True)
    cover = _pdf_to_png_image(pdf)
    cover.save(SCREENS / "intake_cover_printed.png")

    # the scanned batch: the printed sheet (a little crooked) and one page of the contract
    lines = scans.seed_lines("simplified", 3, 24, 21)
    batch = scans.image_pdf([cover.rotate(1.2, fillcolor="white", expand=False),
                             scans.render_page(lines, noise=0.2)])
    page.goto(f"{live_server}/intake")
    expect(page.get_by_role("heading", name="扫描收件")).to_be_visible()
    page.set_input_files("input[name=files]", files=[{"name": "回扫批次.pdf", "mimeType": "application/pdf",
                                                       "buffer": batch}])
    page.get_by_role("button", name="发送到收件").click()
    expect(page.locator(".flash-success")).to_contain_text("已收到 1 个文件")
    expect(page.locator("#intake-items")).to_contain_text("回扫批次.pdf")
    _shot(page, "list_queued")
    run_jobs_in_thread()  # the runner works while the page polls
    # the list empties itself once the batch is read, split and filed (HTMX polling)
    expect(page.locator("#intake-items")).to_contain_text("当前没有正在处理的文件", timeout=90_000)
    page.goto(f"{live_server}/intake?view=done")
    expect(page.locator("#intake-items")).to_contain_text("已按封面分隔页拆分")
    expect(page.locator("#intake-items")).to_contain_text("已归档")
    expect(page.locator("#intake-items")).to_contain_text(archive.number)
    _shot(page, "list_done")

    db.session.commit()  # a fresh snapshot: the runner thread committed meanwhile
    part = db.session.query(IntakeItem).filter(IntakeItem.parent_id.isnot(None)).one()
    assert part.state == FILED and part.archive_id == archive.id and part.doc_type == "合同"
    assert (part.page_from, part.page_to) == (2, 2)  # the cover page dropped

    page.goto(f"{live_server}/intake/{part.parent_id}")
    expect(page.locator(".intake-pages")).to_contain_text("封面分隔页")
    _shot(page, "item")
    page.goto(f"{live_server}/intake/{part.id}")
    page.get_by_role("link", name=f"材料 {part.document_id}").first.click()
    expect(page.locator("body")).to_contain_text("文字已识别（OCR）")
    _shot(page, "document")
    assert not errors, errors


def test_the_queue_on_a_phone_screen_and_a_decision(app, live_server, browser, make_archive, send,
                                                    run_jobs):
    archive = make_archive("staff_sales", status="filed", name="手机屏幕客户")
    item = send("staff_sales", scans.text_pdf([[scans.FILLER + "无档案号的一页"]]), "手机扫描.pdf")
    run_jobs()
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors = _console_errors(page)
    _login(page, live_server, "archivist")
    page.goto(f"{live_server}/intake?view=queue")
    expect(page.locator("#intake-items")).to_contain_text("手机扫描.pdf")
    _shot(page, "queue_phone")
    page.get_by_role("link", name="手机扫描.pdf").click()
    expect(page).to_have_url(f"{live_server}/intake/{item.id}")
    page.fill("input[name=archive]", archive.number)
    page.select_option("select[name=doc_type]", "合同")
    _shot(page, "assign_phone")
    page.get_by_role("button", name="分派并归档").click()
    expect(page.locator(".flash-success")).to_contain_text("已分派")
    run_jobs()
    page.reload()
    expect(page.locator("#item-state")).to_contain_text("已归档", timeout=15_000)
    _shot(page, "assigned_phone")
    assert item.id and not errors, errors


@pytest.fixture
def run_jobs_in_thread(app):
    """Run the due jobs in a background thread (as the portal's runner thread would), until done."""
    import threading

    from portal import jobs

    threads = []

    def _start():
        def work():
            with app.app_context():
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    if not jobs.run_pending(app):
                        time.sleep(0.3)
                        if not jobs.run_pending(app):
                            return
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)

    yield _start
    for thread in threads:
        thread.join(timeout=120)


@pytest.fixture
def run_jobs(app):
    from portal import jobs

    return lambda: jobs.run_pending(app)


@pytest.fixture
def send(app, user):
    from portal.actor import Actor
    from portal.intake import services

    def _send(by, data, filename, **kw):
        return services.receive(Actor(user(by), "127.0.0.1"), io.BytesIO(data), filename, **kw)

    return _send
