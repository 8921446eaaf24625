"""Real files for document tests, made on the fly: Chinese PDFs, scans, Office files, bad input."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"  # copies of ../shared/seeds


def seed_text(limit: int = 400) -> str:
    """A paragraph of real policy text (Chinese) from ../shared/seeds when present."""
    for path in sorted(SEEDS.glob("*")) if SEEDS.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        text = " ".join(line.strip() for line in text.splitlines() if line.strip())
        if text:
            return text[:limit]
    return "客户档案管理制度 第一条 为规范公司客户档案管理，保护客户个人信息，制定本制度。" * 4


def pdf(lines: list[str] | None = None, pages: int = 1, encrypt_password: str | None = None) -> bytes:
    """A text PDF (reportlab, Chinese through STSong-Light), optionally encrypted with a password."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    lines = lines or ["客户合同 第一条 双方同意按本合同约定开展合作。", "Contract No. HT-2026-0042"]
    out = io.BytesIO()
    kwargs = {}
    if encrypt_password:
        from reportlab.lib import pdfencrypt
        kwargs["encrypt"] = pdfencrypt.StandardEncryption(encrypt_password, ownerPassword=encrypt_password + "-owner",
                                                            canModify=0)
    c = canvas.Canvas(out, **kwargs)
    for page in range(pages):
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines):
            c.drawString(60, 780 - 18 * i, f"{line}" + (f"（第{page + 1}页）" if pages > 1 else ""))
        c.showPage()
    c.save()
    return out.getvalue()


def image(fmt: str = "PNG", size=(400, 560), color=(240, 240, 230), text: str = "SCAN") -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, size[0] - 20, 60), outline=(0, 0, 0))
    draw.text((30, 30), text, fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def tiff_pages(pages: int = 2) -> bytes:
    from PIL import Image

    frames = [Image.new("L", (300, 420), 200 + i * 10) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def docx(paragraphs: list[str] | None = None) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for text in paragraphs or ["往来函件：关于续签合同的说明", seed_text(120)]:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(rows: list[list] | None = None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "发票清单"
    for row in rows or [["发票号", "金额"], ["FP-2026-001", 12800], ["FP-2026-002", 5600]]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]
