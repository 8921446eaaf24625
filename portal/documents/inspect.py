"""Reading an uploaded file before it is stored: is it whole, what is in it, a first-page thumbnail.

Everything here raises ``Unacceptable`` with a message for the user when a file cannot be kept as
a readable record (broken, encrypted, a decompression bomb …). Nothing is written anywhere.
"""
from __future__ import annotations

import io
import logging
import re
import threading
import warnings
import zipfile
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from portal.documents import filetypes
from portal.documents.models import TEXT_EXTRACTED, TEXT_FAILED, TEXT_NONE
from portal.errors import ValidationFailed

log = logging.getLogger(__name__)
THUMB_SIZE = (240, 340)
MIN_TEXT_CHARS_PER_PAGE = 10  # fewer and the page is taken for a scan (OCR: scan-intake issue)
# PDFium is not thread-safe, not even across different documents (pypdfium2's documentation):
# every use of pypdfium2 in the process — here and in any later feature — holds this lock, and
# closes its PDFium objects before releasing it.
pdfium_lock = threading.Lock()


class Unacceptable(ValidationFailed):
    """The file cannot be accepted; ``message`` says why in the user's terms."""


@dataclass
class Limits:
    max_pixels: int = 80_000_000  # per image / page; an A4 page at 600 dpi is 35 million
    max_pages: int = 2000  # text is read from at most this many pages
    max_text_chars: int = 5_000_000
    max_unzipped: int = 512 * 1024 * 1024  # Office documents (ZIP containers) when unpacked


@dataclass
class Inspection:
    page_count: int | None = None
    text: str = ""
    text_status: str = TEXT_NONE
    text_note: str = ""
    thumbnail: bytes | None = None  # PNG


def inspect(stream, media_type: str, size: int, limits: Limits | None = None) -> Inspection:
    limits = limits or Limits()
    stream.seek(0)
    try:
        if media_type == filetypes.PDF:
            return _pdf(stream, size, limits)
        if media_type in filetypes.IMAGES:
            return _image(stream, media_type, limits)
        if media_type == filetypes.DOCX:
            return _docx(stream, limits)
        if media_type == filetypes.XLSX:
            return _xlsx(stream, limits)
    finally:
        stream.seek(0)
    raise Unacceptable(_l("This kind of file is not accepted."))


# --- PDF --------------------------------------------------------------------------------------

def open_pdf(stream, size: int):
    """pypdf's reader of a PDF stream, decrypted when only an owner password is set, and its page
    count; Unacceptable for incomplete, damaged, password-protected and page-less files."""
    from pypdf import PdfReader

    tail_len = min(size, 2048)
    stream.seek(size - tail_len)
    if b"%%EOF" not in stream.read(tail_len):
        raise Unacceptable(_l("The PDF is incomplete (it ends before its last line, %%EOF): the "
                              "upload or the scan was probably cut off. Please upload the whole file."))
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("pypdf").setLevel(logging.ERROR)
            reader = PdfReader(stream, strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except Exception:  # noqa: BLE001 (unknown or broken encryption)
                    opened = 0
                if not opened:
                    raise Unacceptable(_l("The PDF is protected by a password, so the portal could "
                                          "not check or index it. Please upload a copy without a "
                                          "password."))
            page_count = len(reader.pages)
    except Unacceptable:
        raise
    except RecursionError as exc:
        raise Unacceptable(_l("The PDF is damaged and cannot be read (%(problem)s).",
                              problem="object nesting too deep")) from exc
    except Exception as exc:  # noqa: BLE001 (pypdf raises many kinds on broken files)
        raise Unacceptable(_l("The PDF is damaged and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc
    if page_count == 0:
        raise Unacceptable(_l("The PDF has no pages."))
    return reader, page_count


def _pdf(stream, size: int, limits: Limits) -> Inspection:
    reader, page_count = open_pdf(stream, size)
    pages = reader.pages
    result = Inspection(page_count=page_count)
    texts, scanned, failed = [], 0, 0
    total = 0
    for index in range(min(page_count, limits.max_pages)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                text = pages[index].extract_text() or ""
        except Exception as exc:  # noqa: BLE001 (pypdf raises many kinds on odd pages)
            log.info("text of page %s not readable: %s", index + 1, exc)
            text, failed = "", failed + 1
        text = _tidy(text)
        if len(text) < MIN_TEXT_CHARS_PER_PAGE:
            scanned += 1
        texts.append(text)
        total += len(text)
        # pypdf caches every object it resolved (a page's image streams included): drop them per
        # page, or a 200 MB scan would sit whole in memory (bench/bench_documents.py).
        _forget_objects(reader)
        if total > limits.max_text_chars:
            break
    del pages, reader
    joined = "\f".join(texts)[:limits.max_text_chars]
    if joined.replace("\f", "").strip():
        result.text, result.text_status = joined, TEXT_EXTRACTED
        notes = []
        if scanned:
            notes.append(str(_l("%(n)s of %(total)s pages have no text layer (scanned).",
                                n=scanned, total=page_count)))
        if page_count > limits.max_pages:
            notes.append(str(_l("Text read from the first %(n)s pages only.", n=limits.max_pages)))
        result.text_note = " ".join(notes)
    elif failed == len(texts):
        result.text_status, result.text_note = TEXT_FAILED, str(_l("The text layer could not be read."))
    else:
        result.text_status = TEXT_NONE
        result.text_note = str(_l("No text layer: a scanned document (OCR comes with scan intake)."))
    result.thumbnail = _pdf_thumbnail(stream, limits)
    return result


def _forget_objects(reader) -> None:
    cache = getattr(reader, "resolved_objects", None)
    if isinstance(cache, dict):
        cache.clear()


def _pdf_thumbnail(stream, limits: Limits) -> bytes | None:
    """The first page rendered small by PDFium (the engine of Chromium's PDF viewer). A PDF that
    PDFium cannot even open would not show in the viewer either: refused as damaged."""
    try:
        import pypdfium2 as pdfium
    except ImportError:  # pragma: no cover (a dependency; without it, no thumbnails)
        return None
    stream.seek(0)
    with pdfium_lock:
        try:
            pdf = pdfium.PdfDocument(stream)
        except pdfium.PdfiumError as exc:
            raise Unacceptable(_l("The PDF is damaged and cannot be displayed (%(problem)s).",
                                  problem=_short(exc))) from exc
        try:
            page = pdf[0]
            try:
                width, height = page.get_size()
                scale = min(THUMB_SIZE[0] / max(width, 1), THUMB_SIZE[1] / max(height, 1))
                bitmap = page.render(scale=scale)
                image = bitmap.to_pil().copy()  # detached from PDFium's buffer
                bitmap.close()
            finally:
                page.close()
        except Exception as exc:  # noqa: BLE001 (a missing thumbnail is not a reason to refuse)
            log.info("no thumbnail: %s", exc)
            return None
        finally:
            pdf.close()
    return _png(image)


# --- images -----------------------------------------------------------------------------------

def _image(stream, media_type: str, limits: Limits) -> Inspection:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on odd files (corrupt EXIF …)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            old_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = limits.max_pixels
            try:
                image = Image.open(stream)
                width, height = image.size
                if width * height > limits.max_pixels:
                    raise Image.DecompressionBombError("too many pixels")
                frames = _frame_count(image, limits)
                image.verify()  # structure and checksums, without decoding everything
                stream.seek(0)
                image = Image.open(stream)
                image.draft("RGB", (THUMB_SIZE[0] * 2, THUMB_SIZE[1] * 2))  # JPEG: decode smaller
                image.load()  # a truncated file fails here
                thumb = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
                thumb.thumbnail(THUMB_SIZE)
            finally:
                Image.MAX_IMAGE_PIXELS = old_limit
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unacceptable(_l("The image is too large: it would decompress to more than %(limit)s "
                              "million pixels. Please scan at 300–600 dpi.",
                              limit=limits.max_pixels // 1_000_000)) from exc
    except Unacceptable:
        raise
    except MemoryError as exc:
        raise Unacceptable(_l("The image is too large to be read.")) from exc
    except Exception as exc:  # noqa: BLE001 (UnidentifiedImageError, OSError, TypeError …)
        raise Unacceptable(_l("The image is damaged or incomplete and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc
    return Inspection(page_count=frames, text_status=TEXT_NONE,
                      text_note=str(_l("An image: its text becomes searchable with OCR (scan intake).")),
                      thumbnail=_png(thumb))


def _frame_count(image, limits: Limits) -> int:
    """Pages of a multi-page TIFF, each checked against the pixel limit (a small first page must
    not let a gigapixel second one through)."""
    frames = getattr(image, "n_frames", 1) or 1
    if frames > 1:
        if frames > limits.max_pages:
            raise Unacceptable(_l("The image has %(n)s pages; at most %(limit)s are accepted.",
                                  n=frames, limit=limits.max_pages))
        for index in range(1, frames):
            image.seek(index)
            width, height = image.size
            if width * height > limits.max_pixels:
                from PIL import Image
                raise Image.DecompressionBombError("too many pixels")
        image.seek(0)
    return frames


# --- Office -----------------------------------------------------------------------------------

def _check_zip(stream, limits: Limits) -> None:
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            unpacked = sum(info.file_size for info in infos)
            encrypted = any(info.flag_bits & 0x1 for info in infos)
            names = [info.filename for info in infos]
            types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    except Exception as exc:  # noqa: BLE001 (BadZipFile, zlib.error, NotImplementedError …)
        raise Unacceptable(_l("The Office document is damaged and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc
    finally:
        stream.seek(0)
    if encrypted:
        raise Unacceptable(_l("The Office document is protected by a password. Please upload a copy "
                              "without a password."))
    if unpacked > limits.max_unzipped:
        raise Unacceptable(_l("The Office document would unpack to more than %(limit)s MB; it is "
                              "refused as a possible ZIP bomb.", limit=limits.max_unzipped // (1024 * 1024)))
    if (b"macroEnabled" in types or b"vbaProject" in types
            or any(name.lower().endswith("vbaproject.bin") for name in names)):
        raise Unacceptable(_l("Documents with macros are not accepted. Please save it as a plain "
                              "DOCX or XLSX."))


def _docx(stream, limits: Limits) -> Inspection:
    _check_zip(stream, limits)
    try:
        import docx
        document = docx.Document(stream)
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                parts.append("\t".join(cell.text for cell in row.cells))
    except Exception as exc:  # noqa: BLE001 (python-docx raises many kinds on broken files)
        raise Unacceptable(_l("The Word document is damaged and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc
    text = _tidy("\n".join(parts))[:limits.max_text_chars]
    pages = _docx_pages(stream)
    return Inspection(page_count=pages, text=text,
                      text_status=TEXT_EXTRACTED if text.strip() else TEXT_NONE)


def _docx_pages(stream) -> int | None:
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            app = archive.read("docProps/app.xml").decode("utf-8", "replace")
        match = re.search(r"<Pages>(\d+)</Pages>", app)
        return int(match.group(1)) if match else None
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return None


def _xlsx(stream, limits: Limits) -> Inspection:
    _check_zip(stream, limits)
    try:
        import openpyxl
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        parts, total = [], 0
        try:
            for sheet in book.worksheets:
                parts.append(sheet.title)
                for row in sheet.iter_rows(values_only=True):
                    line = "\t".join(str(v) for v in row if v is not None)
                    if line:
                        parts.append(line)
                        total += len(line)
                    if total > limits.max_text_chars:
                        break
            sheets = len(book.worksheets)
        finally:
            book.close()
    except Exception as exc:  # noqa: BLE001
        raise Unacceptable(_l("The Excel workbook is damaged and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc
    text = _tidy("\n".join(parts))[:limits.max_text_chars]
    return Inspection(page_count=sheets, text=text,
                      text_status=TEXT_EXTRACTED if text.strip() else TEXT_NONE)


# --- helpers ----------------------------------------------------------------------------------

def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _tidy(text: str) -> str:
    text = text.replace("\x00", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _short(exc: Exception) -> str:
    message = str(exc).strip().rstrip(".") or type(exc).__name__
    return message[:120]
