"""Cover sheets 封面分隔页: the QR code that routes a scanned part to an archive and a type.

A cover sheet carries ``KHDA-COVER|1|<archive number>|<document type>`` as a QR code (and printed
as text, for born-digital cover PDFs). Scans are full of other QR codes — invoices (发票), delivery
notes, WeChat contacts — so only a code with exactly our prefix and version is taken.

Pure functions: no database, no Flask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "KHDA-COVER"
VERSION = "1"
SEPARATOR = "|"
# fast pass: the page scaled so that its long side has about this many pixels. A cover sheet's QR
# code (about 4.5 cm, 37 modules) keeps ≥ 3 px per module: enough for zxing-cpp.
FAST_LONG_SIDE = 1400
_TEXT_RE = re.compile(r"KHDA-COVER\s*\|\s*(\d+)\s*\|\s*([^|\r\n]+?)\s*\|\s*([^\r\n]+)")


@dataclass(frozen=True)
class CoverCode:
    archive_number: str
    doc_type: str


def payload(archive_number: str, doc_type: str) -> str:
    """The text of a cover sheet's QR code. Raises ValueError for values that cannot be carried
    (empty, a line break, or ``|`` in the archive number)."""
    archive_number, doc_type = (archive_number or "").strip(), (doc_type or "").strip()
    if not archive_number or not doc_type:
        raise ValueError("archive number and document type are required")
    if SEPARATOR in archive_number or any(c in archive_number + doc_type for c in "\r\n"):
        raise ValueError("archive number or document type contains a separator")
    return SEPARATOR.join((PREFIX, VERSION, archive_number, doc_type))


def parse(text: str | None) -> CoverCode | None:
    """The cover code in a QR code's text, or None when the code is not one of ours."""
    if not text:
        return None
    parts = text.strip().split(SEPARATOR, 3)
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] != VERSION:
        return None
    archive_number, doc_type = parts[2].strip(), parts[3].strip()
    if not archive_number or not doc_type or any(c in text for c in "\r\n"):
        return None
    return CoverCode(archive_number, doc_type)


def qr_svg(payload: str, *, scale: int = 4, title: str | None = None) -> str:
    """The QR code as inline SVG markup: no XML declaration, no ``style`` attributes, no scripts
    (fits the portal's strict Content Security Policy). Error correction Q (25 %: survives a
    stamp or a pen mark), UTF-8 announced with an ECI so readers never guess the charset."""
    import segno

    code = segno.make(payload, error="q", micro=False, eci=True)
    return code.svg_inline(scale=scale, border=4, svgclass="qr-code", lineclass=None, title=title,
                           omitsize=True)  # a viewBox only: the page sets the printed size


def qr_png(payload: str, *, scale: int = 10) -> bytes:
    """The same QR code as PNG (for printing from PDF generators that take images)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(payload, error="q", micro=False, eci=True).save(
        out, kind="png", scale=scale, border=4)
    return out.getvalue()


def find_cover(image) -> CoverCode | None:
    """The cover code on a page image (PIL), or None. QR codes that are not ours (an invoice's)
    are ignored. First a pass on a downscaled greyscale copy (fast, about 0.1 s for a 300-dpi A4
    page), then the full-size image only when the small pass found no code of ours."""
    import zxingcpp

    grey = image if image.mode == "L" else image.convert("L")
    long_side = max(grey.size)
    candidates = []
    if long_side > FAST_LONG_SIDE * 1.25:
        factor = FAST_LONG_SIDE / long_side
        candidates.append(grey.resize((max(1, round(grey.width * factor)), max(1, round(grey.height * factor))),
                                      resample=_box()))
    candidates.append(grey)
    for index, candidate in enumerate(candidates):
        last = index == len(candidates) - 1
        barcodes = zxingcpp.read_barcodes(candidate, formats=zxingcpp.BarcodeFormat.QRCode,
                                          try_rotate=True, try_downscale=last, try_invert=False)
        for barcode in barcodes:
            found = parse(barcode.text)
            if found:
                return found
    return None


def find_cover_in_text(text: str | None) -> CoverCode | None:
    """The cover code printed as text on a sheet (a born-digital cover PDF's text layer)."""
    if not text:
        return None
    for match in _TEXT_RE.finditer(text):
        found = parse(SEPARATOR.join((PREFIX, match.group(1), match.group(2), match.group(3))))
        if found:
            return found
    return None


def _box():
    from PIL import Image

    return Image.Resampling.BOX
