"""The document viewer in headless Chromium: a PDF, a PNG, a multi-page TIFF, the purpose form of a
一级 document and the print page of an image — with screenshots in /tmp/screens/ to look at.

Skipped when Debian's Chromium (/usr/bin/chromium) is not installed.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path("/tmp/screens")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]






@pytest.fixture
def documents(make_archive, user):
    """A filed archive of 销售部 with a PDF, a PNG, a three-page TIFF and a 一级 PDF."""
    from PIL import Image, ImageDraw
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    from portal.actor import Actor
    from portal.documents import services

    def pdf(lines):
        if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        out = io.BytesIO()
        c = canvas.Canvas(out)
        c.setFont("STSong-Light", 14)
        for i, line in enumerate(lines):
            c.drawString(60, 780 - 22 * i, line)
        c.showPage()
        c.save()
        return out.getvalue()

    def png():
        img = Image.new("RGB", (500, 700), (245, 243, 235))
        draw = ImageDraw.Draw(img)
        draw.rectangle((30, 30, 470, 90), outline=(0, 0, 0), width=3)
        draw.text((45, 50), "SCAN 2026-03 RECEIPT", fill=(0, 0, 0))
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()

    def tiff():
        frames = [Image.new("L", (300, 420), shade) for shade in (250, 200, 150)]
        for number, frame in enumerate(frames, 1):
            ImageDraw.Draw(frame).text((20, 20), f"PAGE {number}", fill=0)
        out = io.BytesIO()
        frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
        return out.getvalue()

    archive = make_archive("staff_sales", status="filed", name="上海星河贸易有限公司")

    def add(by, data, name, **details):
        details.setdefault("doc_type", "合同")
        return services.upload(Actor(user(by), "127.0.0.1"), archive.id, io.BytesIO(data), name,
                               services.Details(**details))

    return {
        "pdf": add("staff_sales", pdf(["销售合同 第一条 合作范围", "第二条 付款方式：按季度结算"]), "合同.pdf",
                   title="2026年销售合同"),
        "png": add("staff_sales", png(), "回执.png", doc_type="往来函件", title="回执扫描件"),
        "tiff": add("staff_sales", tiff(), "多页.tif", doc_type="资质文件", title="营业执照（三页）"),
        "secret": add("archivist", pdf(["合作底价（绝密）"]), "底价.pdf", title="合作底价", sensitivity=1),
    }


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo12345")
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


def _console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _shot(page, name: str, full_page: bool = True) -> None:
    """Full-page shots resize the window, which leaves Chromium's PDF frame unpainted: PDF pages
    are shot as the window shows them."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / name), full_page=full_page, caret="initial")


def _pdf_painted(page) -> None:
    """Headless Chromium does show PDFs in the frame (its viewer extension loads into it); give it
    a moment to paint for the screenshot — nothing is asserted about the viewer itself."""
    for _ in range(50):
        if any(f.url.startswith("chrome-extension://") for f in page.frames):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(1500)


def test_viewer_shows_pdf_and_png_through_the_portal(live_server, browser, documents):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors = _console_errors(page)
    inline = []
    page.on("response", lambda r: inline.append((r.status, r.headers.get("content-type", "")))
            if "/inline/" in r.url else None)
    _login(page, live_server, "staff_sales")

    page.goto(f"{live_server}/documents/{documents['pdf'].id}/view")
    page.locator("h1", has_text="2026年销售合同").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.locator("iframe.viewer-frame").count() == 1
    assert (200, "application/pdf") in inline  # the frame's content came through the portal
    _pdf_painted(page)
    page.click("details.viewer-text summary")  # the text panel opens
    assert page.locator("details.viewer-text pre", has_text="付款方式").is_visible()
    _shot(page, "viewer-pdf.png", full_page=False)

    page.goto(f"{live_server}/documents/{documents['png'].id}/view")
    page.wait_for_load_state("networkidle")
    width = page.eval_on_selector("img.viewer-image", "img => img.naturalWidth")
    assert width == 500  # the image really loaded (ticket accepted, CSP allows it)
    _shot(page, "viewer-png.png")
    assert not errors, errors  # CSP violations and script errors show up here


def test_tiff_pages_turn_without_reloading(live_server, browser, documents):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/documents/{documents['tiff'].id}/view")
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__notReloaded = true")
    page.click(".page-select a:text-is('3')")
    # (functions, not expressions: polling an expression needs eval, which our CSP forbids)
    page.wait_for_function("() => document.getElementById('viewer-page').src.includes('page=3')")
    page.wait_for_function("() => document.getElementById('viewer-page').complete "
                           "&& document.getElementById('viewer-page').naturalWidth > 0")
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator(".page-select a[aria-current=page]").inner_text() == "3"
    _shot(page, "viewer-tiff.png")
    assert not errors, errors


def test_secret_document_asks_the_purpose_first(live_server, browser, documents):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "manager")
    page.goto(f"{live_server}/documents/{documents['secret'].id}/view")
    page.locator("input[name=purpose]").wait_for()
    assert page.locator("iframe").count() == 0
    _shot(page, "viewer-purpose.png")
    page.fill("input[name=purpose]", "核对合作底价")
    page.click("form.purpose-form button.primary")
    page.locator("iframe.viewer-frame").wait_for()
    assert page.locator(".viewer-notes", has_text="核对合作底价").count() == 1
    page.wait_for_load_state("networkidle")
    _pdf_painted(page)
    _shot(page, "viewer-secret.png", full_page=False)
    assert not errors, errors


def test_print_page_of_an_image(live_server, browser, documents):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = _console_errors(page)
    _login(page, live_server, "staff_sales")
    page.goto(f"{live_server}/documents/{documents['png'].id}/print")
    page.locator("button[data-print]").wait_for()
    assert page.eval_on_selector(".print-sheet img", "img => img.naturalWidth") == 500
    _shot(page, "print-image-screen.png")
    page.emulate_media(media="print")
    assert not page.locator("button[data-print]").is_visible()
    _shot(page, "print-image-print.png")
    assert not errors, errors
