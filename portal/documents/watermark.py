"""Visible watermarks on downloads and prints of confidential documents (policy 001 §4, 004 §16).

PDF: every page gets a stamp drawn with reportlab (Chinese through its built-in STSong-Light CID
font, so no font file is needed) merged by pypdf. Images: the text is drawn with Pillow, diagonally
and repeated; Chinese needs a CJK font (``WATERMARK_FONT`` or one found on the machine), otherwise
the stamp falls back to the login name and time in Latin letters.
"""
from __future__ import annotations

import io
import logging
import tempfile
from functools import lru_cache
from pathlib import Path

from portal.documents import filetypes

log = logging.getLogger(__name__)
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


def watermark(src, media_type: str, text: str, ascii_text: str, font_path: str | None = None):
    """A temporary file with the watermarked copy and its media type; ``src`` is a seekable file."""
    if media_type == filetypes.PDF:
        return watermark_pdf(src, text), media_type
    if media_type in filetypes.IMAGES:
        return watermark_image(src, media_type, text, ascii_text, font_path)
    return None, media_type  # Office documents cannot carry a drawn watermark


@lru_cache(maxsize=32)
def _pdf_stamp(width: float, height: float, text: str) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(width, height))
    c.setFillColorRGB(0.75, 0.1, 0.1, alpha=0.22)
    size = max(10.0, min(width, height) / 28)
    c.setFont("STSong-Light", size)
    c.saveState()
    c.translate(width / 2, height / 2)
    c.rotate(35)
    step = size * 6
    for row in range(-6, 7):
        c.drawCentredString(0, row * step, text)
    c.restoreState()
    # a plain line at the foot of the page, readable on every printout
    c.setFillColorRGB(0.55, 0.0, 0.0, alpha=0.8)
    c.setFont("STSong-Light", 8)
    c.drawString(24, 12, text)
    c.showPage()
    c.save()
    return out.getvalue()


def watermark_pdf(src, text: str):
    from pypdf import PdfReader, PdfWriter

    src.seek(0)
    reader = PdfReader(src, strict=False)
    if reader.is_encrypted:
        reader.decrypt("")
    writer = PdfWriter(clone_from=reader)
    for page in writer.pages:
        if page.get("/Rotate", 0):
            page.transfer_rotation_to_content()
        box = page.mediabox
        width, height = float(box.width), float(box.height)
        stamp = PdfReader(io.BytesIO(_pdf_stamp(round(width, 1), round(height, 1), text))).pages[0]
        page.merge_page(stamp)
    out = tempfile.TemporaryFile()
    writer.write(out)
    out.seek(0)
    return out


def find_font(configured: str | None) -> str | None:
    for candidate in ((configured,) if configured else ()) + FONT_CANDIDATES:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _draw(image, text: str, font_path: str | None):
    from PIL import Image, ImageDraw, ImageFont

    base = image.convert("RGBA")
    width, height = base.size
    size = max(14, min(width, height) // 30)
    font = ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default(size=size)
    layer = Image.new("RGBA", (width * 2, height * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    step_y = size * 5
    for y in range(0, height * 2, step_y):
        offset = (y // step_y) % 2 * size * 6
        draw.text((offset, y), ("   " + text) * 3, font=font, fill=(180, 20, 20, 70))
    layer = layer.rotate(30, expand=False)
    left, top = width // 2, height // 2
    base.alpha_composite(layer.crop((left, top, left + width, top + height)))
    foot = ImageDraw.Draw(base)
    foot.text((10, height - size - 10), text, font=font, fill=(140, 0, 0, 220))
    return base.convert("RGB")


def watermark_image(src, media_type: str, text: str, ascii_text: str, font_path: str | None = None):
    from PIL import Image, ImageSequence

    font = find_font(font_path)
    shown = text if font else ascii_text
    src.seek(0)
    image = Image.open(src)
    out = tempfile.TemporaryFile()
    if media_type == filetypes.TIFF:
        frames = [_draw(frame.copy(), shown, font) for frame in ImageSequence.Iterator(image)]
        frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    elif media_type == filetypes.PNG:
        _draw(image, shown, font).save(out, format="PNG")
    else:
        _draw(image, shown, font).save(out, format="JPEG", quality=90)
    out.seek(0)
    return out, media_type
