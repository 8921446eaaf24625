"""Scanned-looking input for the intake tests and the OCR benchmark, made on the fly.

Chinese text from the seed texts (``tests/fixtures/seeds``: 000, 003 and 004 are Traditional,
001 and 002 Simplified) is drawn with the vendored CJK font (``tests/fixtures/fonts``, no system
font needed) on a 300-dpi A4 page, then made to look scanned: turned, skewed, a red round seal
(公章) over the text, paper tone, blur and speckle noise. Cover sheets carry the portal's QR code.
The pages are wrapped as image-only PDFs or multi-page TIFFs; ``text_pdf`` makes born-digital
PDFs (text layer).

    import scans
    lines = scans.seed_lines("simplified", 6)
    page = scans.render_page(lines, skew=4, noise=0.3, seal=True)
    data = scans.image_pdf([scans.cover_page("海外-2026-电商-001", "合同", "海拓贸易"), page])
    scans.char_accuracy("\\n".join(lines), ocr_text)  # 1.0 = every character right
"""
from __future__ import annotations

import functools
import io
import math
import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = FIXTURES / "seeds"
FONT = FIXTURES / "fonts" / "NotoSansCJKsc-seeds.otf"
SCRIPTS = {"simplified": ("001", "002"), "traditional": ("000", "003", "004")}
A4_INCHES = (8.27, 11.69)

_PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ]+\)")  # "規(guī)範" debris of the scraped pages
_CJK = re.compile(r"[\u3400-\u9fff]")
_SENTENCE = re.compile(r"[^。；！？]*[。；！？]")
_BAD = ("http", "?", "\ufffd", "![", "PAGE", "下載", "下载", "閱讀", "阅读", "版權", "版权", "本站", "文檔",
        "文档页数", "格式:", "大小:", "評論", "提交")


@functools.cache
def _sentences(script: str) -> tuple[str, ...]:
    """Clean sentences of the seed texts of one script ("simplified" or "traditional")."""
    sentences = []
    for prefix in SCRIPTS[script]:
        for path in sorted(SEEDS.glob(f"{prefix}_*.txt")):
            for line in path.read_text(encoding="utf-8").splitlines():
                for sentence in _SENTENCE.findall(_PINYIN.sub("", line)):
                    sentence = sentence.strip(" •·\t").replace(" ", "")
                    if (len(_CJK.findall(sentence)) >= 8 and not re.search(r"[A-Za-z]", sentence)
                            and not any(bad in sentence for bad in _BAD)):
                        sentences.append(sentence)
    return tuple(sentences)


def seed_lines(script: str = "simplified", n: int = 6, width_chars: int = 32, start: int = 0) -> list[str]:
    """``n`` lines of at most ``width_chars`` characters of real policy text in ``script``
    ("simplified" or "traditional"), from sentence ``start`` on (wrapping around)."""
    sentences = _sentences(script)
    text, index = "", start
    while len(text) < n * width_chars:
        text += sentences[index % len(sentences)]
        index += 1
    return [text[i * width_chars:(i + 1) * width_chars] for i in range(n)]


def full_page_lines(script: str = "simplified", start: int = 0) -> list[str]:
    """A full A4 page of 12-pt text (34 lines of 34 characters, about 1,150 characters)."""
    return seed_lines(script, 34, 34, start)


@functools.cache
def font(px: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(FONT), px)


def blank_page(dpi: int = 300):
    from PIL import Image

    return Image.new("RGB", (round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)), "white")


def render_page(lines: list[str], *, skew: float = 0.0, rotate: int = 0, noise: float = 0.0,
                seal: bool = False, dpi: int = 300, size_pt: float = 12, top_inch: float = 1.0,
                seed: int = 0):
    """A scanned-looking A4 page (RGB) with ``lines`` drawn from the top-left margin.

    ``skew``: degrees the paper lay crooked on the scanner (counter-clockwise positive);
    ``rotate``: 0/90/180/270, degrees the page was turned counter-clockwise (fed sideways or upside
    down); ``noise`` 0..1: paper tone, blur, speckles and grain; ``seal``: a red round company
    seal over the first lines' right half.
    """
    from PIL import Image, ImageDraw

    page = blank_page(dpi)
    draw = ImageDraw.Draw(page)
    px = round(size_pt * dpi / 72)
    left, top, pitch = round(dpi * 1.0), round(dpi * top_inch), round(px * 1.75)
    for i, line in enumerate(lines):
        draw.text((left, top + i * pitch), line, font=font(px), fill=(20, 20, 20))
    if seal:
        stamp_seal(page, (left + round(px * len(max(lines, key=len)) * 0.62), top + pitch * 2), dpi=dpi)
    if skew:
        page = page.rotate(skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor="white")
    if noise:
        page = add_noise(page, noise, seed=seed)
    if rotate % 360:
        page = page.rotate(rotate % 360, expand=True)
    return page


def stamp_seal(page, center: tuple[int, int], *, dpi: int = 300, name: str = "客户档案管理有限公司") -> None:
    """A red round seal (公章: ring, star, the company name around the top), printed over ``page``
    like ink: multiplied, so text under it stays dark and paper turns red."""
    from PIL import Image, ImageChops, ImageDraw

    radius = round(dpi * 0.82)  # a 42 mm official seal
    size = radius * 2 + 8
    layer = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(layer)
    red = (215, 38, 45)
    c = size // 2
    ring = max(6, radius // 18)
    draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=red, width=ring)
    star_r = radius * 0.3
    points = []
    for k in range(10):
        r = star_r if k % 2 == 0 else star_r * 0.4
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((c + r * math.cos(angle), c + r * math.sin(angle)))
    draw.polygon(points, fill=red)
    glyph_px = round(radius * 0.26)
    span = math.radians(230)
    for k, char in enumerate(name):
        angle = -math.pi / 2 - span / 2 + span * (k + 0.5) / len(name)  # clockwise from the left
        tile = Image.new("L", (glyph_px * 2, glyph_px * 2), 0)
        ImageDraw.Draw(tile).text((glyph_px, glyph_px), char, font=font(glyph_px), fill=255, anchor="mm",
                                  stroke_width=max(1, glyph_px // 30), stroke_fill=255)
        tile = tile.rotate(-math.degrees(angle) - 90, resample=Image.Resampling.BICUBIC)  # top outwards
        r = radius - ring - glyph_px * 0.7
        x, y = c + r * math.cos(angle) - glyph_px, c + r * math.sin(angle) - glyph_px
        layer.paste(Image.new("RGB", tile.size, red), (round(x), round(y)), tile)
    box = (center[0] - c, center[1] - c)
    region = page.crop((box[0], box[1], box[0] + size, box[1] + size))
    page.paste(ImageChops.multiply(region, layer), box)


def add_noise(page, amount: float = 0.3, *, seed: int = 0):
    """Paper tone, a slight blur, grain and speckles, as a cheap office scanner gives them."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    page = page.filter(ImageFilter.GaussianBlur(0.5 + amount))
    pixels = np.asarray(page, dtype=np.float32)
    pixels = pixels * (0.93 - 0.05 * amount) + 6  # paper is not white
    pixels += (rng.standard_normal(pixels.shape[:2], dtype=np.float32) * (6 + 22 * amount))[..., None]
    speckles = rng.random(pixels.shape[:2]) < 0.0015 * amount
    pixels[speckles] = rng.integers(0, 90, int(speckles.sum()))[:, None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def cover_page(archive_number: str, doc_type: str, customer_name: str, *, dpi: int = 300,
               skew: float = 0.0, noise: float = 0.0, rotate: int = 0):
    """A printed-and-scanned cover sheet like the portal's: title, QR code, the human-readable
    archive number, document type and customer name, and the instruction line."""
    from PIL import Image, ImageDraw

    from portal.intake import covers

    page = blank_page(dpi)
    draw = ImageDraw.Draw(page)
    width = page.width
    title = font(round(26 * dpi / 72))
    body = font(round(15 * dpi / 72))
    small = font(round(9 * dpi / 72))
    _centered(draw, width, round(dpi * 1.2), "客户档案封面分隔页", title)
    payload = covers.payload(archive_number, doc_type)
    qr = Image.open(io.BytesIO(covers.qr_png(payload, scale=1))).convert("L")
    side = round(dpi * 1.8)  # 4.6 cm
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    page.paste(qr.convert("RGB"), ((width - side) // 2, round(dpi * 2.0)))
    y = round(dpi * 4.2)
    for label, value in (("档案编号", archive_number), ("材料类型", doc_type), ("客户名称", customer_name)):
        draw.text((round(dpi * 1.6), y), f"{label}：{value}", font=body, fill=(0, 0, 0))
        y += round(dpi * 0.45)
    draw.text((round(dpi * 1.6), y + round(dpi * 0.3)), "请将本页放在每份材料之前一并扫描，本页不会存入档案系统。",
              font=small, fill=(60, 60, 60))
    draw.text((round(dpi * 1.6), y + round(dpi * 0.6)), payload, font=small, fill=(60, 60, 60))
    return _scanned(page, skew, noise, rotate)


def invoice_page(*, dpi: int = 300, skew: float = 0.0, noise: float = 0.0, with_barcode: bool = True):
    """An invoice-like page (增值税电子普通发票) with its own QR code (the tax office's
    "01,10,…" content) and a Code 128 barcode: not a cover sheet."""
    from PIL import Image, ImageDraw

    page = blank_page(dpi)
    draw = ImageDraw.Draw(page)
    _centered(draw, page.width, round(dpi * 0.9), "增值税电子普通发票", font(round(22 * dpi / 72)))
    content = "01,10,044032100111,20458771,1280.00,20260315,71946231563840157720,7C5B"
    qr = _qr_image(content, round(dpi * 1.0))
    page.paste(qr, (round(dpi * 0.8), round(dpi * 0.6)))
    lines = ["发票代码：044032100111", "发票号码：20458771", "开票日期：2026年03月15日",
             "购买方名称：海拓贸易有限公司", "价税合计：1280.00"]
    body = font(round(12 * dpi / 72))
    for i, line in enumerate(lines):
        draw.text((round(dpi * 1.0), round(dpi * 2.0) + i * round(dpi * 0.3)), line, font=body, fill=(0, 0, 0))
    if with_barcode:
        import numpy as np
        import zxingcpp

        bar = zxingcpp.create_barcode("FP20458771", zxingcpp.BarcodeFormat.Code128)
        image = Image.fromarray(np.asarray(bar.to_image(scale=4)))
        page.paste(image.convert("RGB"), (round(dpi * 5.0), round(dpi * 2.0)))
    return _scanned(page, skew, noise, 0)


def qr_page(content: str, *, dpi: int = 300):
    """A page with one QR code of arbitrary ``content`` (foreign codes, other versions …)."""
    page = blank_page(dpi)
    page.paste(_qr_image(content, round(dpi * 1.8)), (round(dpi * 3.0), round(dpi * 2.0)))
    return page


def _qr_image(content: str, side: int):
    import segno
    from PIL import Image

    out = io.BytesIO()
    segno.make(content, error="m", micro=False).save(out, kind="png", scale=1, border=4)
    image = Image.open(io.BytesIO(out.getvalue())).convert("L")
    return image.resize((side, side), Image.Resampling.NEAREST).convert("RGB")


def _centered(draw, width: int, y: int, text: str, face) -> None:
    left, _, right, _ = draw.textbbox((0, 0), text, font=face)
    draw.text(((width - (right - left)) // 2, y), text, font=face, fill=(0, 0, 0))


def _scanned(page, skew: float, noise: float, rotate: int):
    from PIL import Image

    if skew:
        page = page.rotate(skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor="white")
    if noise:
        page = add_noise(page, noise)
    if rotate % 360:
        page = page.rotate(rotate % 360, expand=True)
    return page


# --- files ------------------------------------------------------------------------------------

def image_pdf(images, dpi: int = 300, quality: int = 85) -> bytes:
    """An image-only PDF (no text layer), one JPEG page per image, as scanners write them."""
    out = io.BytesIO()
    images = [image if image.mode in ("RGB", "L") else image.convert("RGB") for image in images]
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi,
                   quality=quality)
    return out.getvalue()


def tiff(images, dpi: int = 300) -> bytes:
    """A multi-page TIFF (LZW), one page per image."""
    out = io.BytesIO()
    # copies: an image saved before (as JPEG …) keeps that save's options, which the TIFF writer
    # would apply to an appended page
    images = [image.copy() for image in images]
    images[0].save(out, format="TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw",
                   dpi=(dpi, dpi))
    return out.getvalue()


def png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg(image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def text_pdf(pages: list[list[str]], *, encrypt_password: str | None = None) -> bytes:
    """A born-digital A4 PDF with a text layer: one page per list of lines (Chinese through the
    STSong-Light CID font, which needs no font file)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    kwargs = {}
    if encrypt_password:
        from reportlab.lib import pdfencrypt
        kwargs["encrypt"] = pdfencrypt.StandardEncryption(encrypt_password, ownerPassword=encrypt_password + "-o")
    c = canvas.Canvas(out, pagesize=A4, **kwargs)
    for lines in pages:
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines):
            c.drawString(72, A4[1] - 72 - 18 * i, line)
        c.showPage()
    c.save()
    return out.getvalue()


def mixed_pdf(parts: list) -> bytes:
    """One PDF from text pages (lists of lines) and image pages (PIL images), in order."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        data = text_pdf([part]) if isinstance(part, list) else image_pdf([part])
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- scoring ----------------------------------------------------------------------------------

_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}


def normalise(text: str, *, fold: bool = False) -> str:
    """Characters only (no whitespace), full-width punctuation as ASCII; ``fold``: Traditional →
    Simplified too (``portal.search.analysis.fold``, what search does)."""
    text = "".join(text.split()).translate(_WIDTH)
    if fold:
        from portal.search.analysis import fold as fold_text

        text = fold_text(text)
    return text


def char_accuracy(expected: str, got: str, *, fold: bool = False) -> float:
    """1 − edit distance / len(expected), over non-whitespace characters (0 when worse)."""
    a, b = normalise(expected, fold=fold), normalise(got, fold=fold)
    if not a:
        return 1.0 if not b else 0.0
    return max(0.0, 1.0 - edit_distance(a, b) / len(a))


def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# A text layer long enough to count as one (portal.intake.pages: ≥ 10 characters), for tests that
# need a born-digital page and no OCR.
FILLER = "客户档案管理制度正文（电子文本）："
