"""The pages of a received file, one at a time: text layer or image, and parts cut out of it.

PDF pages that carry a text layer give their text and are not rendered (unless asked); other
PDF pages are rendered by PDFium at ``dpi``; PNG, JPEG and (multi-page) TIFF frames are the
page images themselves. One page image is in memory at a time (``iter_pages`` is a generator)
and pypdf's object cache is dropped after each page.

Every failure to read a file raises ``portal.documents.inspect.Unacceptable`` with a message for
the user (the same wording as the upload checks); a page that would exceed ``max_pixels`` raises
``PageTooLarge`` — checked from the page's size (PDF points × dpi, image header) before any
pixel is decoded. Pure functions: no database, no Flask app needed.
"""
from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from portal.documents.inspect import (
    MIN_TEXT_CHARS_PER_PAGE,
    Unacceptable,
    _forget_objects,
    _short,
    _tidy,
    open_pdf,
    pdfium_lock,
)

log = logging.getLogger(__name__)

PDF = "application/pdf"
IMAGES = ("image/png", "image/jpeg", "image/tiff")
MEDIA_TYPES = (PDF, *IMAGES)
DEFAULT_MAX_PIXELS = 178_956_970  # when the caller sets no limit: where Pillow refuses an image


class PageTooLarge(Unacceptable):
    """One page would decode to more pixels than allowed."""

    def __init__(self, number: int, width: int, height: int, limit: int):
        self.number, self.width, self.height, self.limit = number, width, height, limit
        super().__init__(_l("Page %(page)s is too large to read: %(width)s × %(height)s pixels "
                            "(%(mp)s million), more than the limit of %(limit)s million pixels per page. "
                            "Please scan at 300 dpi.", page=number, width=width, height=height,
                            mp=round(width * height / 1_000_000, 1), limit=round(limit / 1_000_000, 1)))


@dataclass
class Page:
    number: int  # 1-based
    text: str  # the text layer's text, tidy ('' when none)
    has_text: bool  # True when the page carries a usable text layer (≥ 10 non-space characters)
    image: object | None  # PIL.Image.Image (RGB or L) when the page has no text layer (or asked)
    width_px: int  # of the image that is / would be rendered
    height_px: int


def page_count(path, media_type: str) -> int:
    """The number of pages of the file; Unacceptable when it cannot be read."""
    if media_type == PDF:
        with _pdf_reader(path) as reader:
            return len(reader.pages)
    if media_type in IMAGES:
        with _open_image(path, media_type) as image:
            return _frames(image)
    raise Unacceptable(_l("This kind of file is not accepted."))


def iter_pages(path, media_type: str, *, dpi: int = 300, start: int = 1, max_pixels: int | None = None,
               render_text_pages: bool = False) -> Iterator[Page]:
    """The pages of the file from page ``start`` (1-based) on, one at a time. A page over
    ``max_pixels`` (default ``DEFAULT_MAX_PIXELS``) raises PageTooLarge when it comes to be read."""
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    if media_type == PDF:
        yield from _pdf_pages(path, dpi, start, max_pixels, render_text_pages)
    elif media_type in IMAGES:
        yield from _image_pages(path, media_type, start, max_pixels)
    else:
        raise Unacceptable(_l("This kind of file is not accepted."))


def build_part(path, media_type: str, numbers: list[int], out_path, *, dpi: int = 300) -> None:
    """Write a PDF of the given pages (1-based, in the order given) of the file to ``out_path``.
    PDF pages are copied as they are (text layer kept); image pages become PDF pages of the
    image at its own resolution (``dpi`` when the file does not say), JPEG data unchanged."""
    if not numbers:
        raise ValueError("no pages")
    if media_type == PDF:
        _pdf_part(path, numbers, out_path)
    elif media_type in IMAGES:
        _image_part(path, media_type, numbers, out_path, dpi)
    else:
        raise Unacceptable(_l("This kind of file is not accepted."))


# --- PDF --------------------------------------------------------------------------------------

@contextmanager
def _pdf_reader(path):
    """pypdf's reader of the file, decrypted when only an owner password is set; Unacceptable
    for damaged, incomplete and password-protected files."""
    with open(path, "rb") as file:
        reader, _pages = open_pdf(file, os.fstat(file.fileno()).st_size)
        yield reader


def _pdf_pages(path, dpi: int, start: int, max_pixels: int | None, render_text_pages: bool) -> Iterator[Page]:
    with _pdf_reader(path) as reader:
        count = len(reader.pages)
        for index in range(max(0, start - 1), count):
            number = index + 1
            text = _page_text(reader, index)
            has_text = len("".join(text.split())) >= MIN_TEXT_CHARS_PER_PAGE
            width, height = _pdf_page_pixels(reader, index, dpi)
            _forget_objects(reader)
            image = None
            if not has_text or render_text_pages:
                if max_pixels and width * height > max_pixels:
                    raise PageTooLarge(number, width, height, max_pixels)
                image = _render(path, index, dpi, max_pixels)
                width, height = image.size
            yield Page(number, text if has_text else "", has_text, image, width, height)
            image = None


def _page_text(reader, index: int) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _tidy(reader.pages[index].extract_text() or "")
    except Exception as exc:  # noqa: BLE001 (an unreadable text layer: the page is read as an image)
        log.info("text of page %s not readable: %s", index + 1, exc)
        return ""


def _pdf_page_pixels(reader, index: int, dpi: int) -> tuple[int, int]:
    """The page's size in pixels at ``dpi`` as PDFium renders it (crop box, /Rotate applied)."""
    try:
        page = reader.pages[index]
        box = page.cropbox
        width, height = abs(float(box.width)), abs(float(box.height))
        if (page.rotation or 0) % 180:
            width, height = height, width
    except Exception:  # noqa: BLE001 (a broken box: PDFium decides when rendering)
        width = height = 0.0
    return math.ceil(width * dpi / 72), math.ceil(height * dpi / 72)  # PDFium rounds up


def _render(path, index: int, dpi: int, max_pixels: int | None = None):
    """Page ``index`` rendered by PDFium at ``dpi`` (RGB, or L for a greyscale page), detached
    from PDFium's buffers. The PDFium lock is held for this page only (not across ``yield``).
    The size is checked again with PDFium's own figures (``/UserUnit``, odd boxes) first."""
    import pypdfium2 as pdfium

    with pdfium_lock:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise Unacceptable(_l("The PDF is damaged and cannot be displayed (%(problem)s).",
                                  problem=_short(exc))) from exc
        try:
            page = pdf[index]
            try:
                width, height = (math.ceil(side * dpi / 72) for side in page.get_size())
                if max_pixels and width * height > max_pixels:
                    raise PageTooLarge(index + 1, width, height, max_pixels)
                bitmap = page.render(scale=dpi / 72, may_draw_forms=True)
                try:
                    image = bitmap.to_pil()
                    image = image.convert("RGB") if image.mode != "L" else image.copy()
                finally:
                    bitmap.close()
            finally:
                page.close()
        except Unacceptable:
            raise
        except Exception as exc:  # noqa: BLE001 (PdfiumError, a page PDFium does not have …)
            raise Unacceptable(_l("The PDF is damaged and cannot be displayed (%(problem)s).",
                                  problem=_short(exc))) from exc
        finally:
            pdf.close()
    return image


def _pdf_part(path, numbers: list[int], out_path) -> None:
    from pypdf import PdfWriter

    with _pdf_reader(path) as reader:
        count = len(reader.pages)
        writer = PdfWriter()
        for number in numbers:
            if not 1 <= number <= count:
                raise ValueError(f"page {number} of {count}")
            writer.add_page(reader.pages[number - 1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open(out_path, "wb") as out:
                writer.write(out)


# --- images -----------------------------------------------------------------------------------

_PLUGINS = {"image/png": ("PngImagePlugin", "PngImageFile"), "image/jpeg": ("JpegImagePlugin", "JpegImageFile"),
            "image/tiff": ("TiffImagePlugin", "TiffImageFile")}


@contextmanager
def _open_image(path, media_type: str):
    """Pillow's lazy image of the file (header read, nothing decoded); Unacceptable for files
    Pillow cannot read as ``media_type``. Opened through the format's own plugin rather than
    ``Image.open``: that one refuses a header claiming over 179 million pixels before the
    caller can say which page is how large (the caller checks the size before decoding)."""
    import importlib

    module, name = _PLUGINS[media_type]
    plugin = getattr(importlib.import_module(f"PIL.{module}"), name)
    file = open(path, "rb")  # noqa: SIM115 (the image closes it)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = plugin(file)
    except Exception as exc:  # noqa: BLE001 (SyntaxError "not a PNG file", OSError …)
        file.close()
        raise Unacceptable(_l("The image is damaged or incomplete and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc
    try:
        yield image
    finally:
        image.close()
        file.close()


def _frames(image) -> int:
    try:
        return max(1, int(getattr(image, "n_frames", 1) or 1))
    except Exception as exc:  # noqa: BLE001 (a TIFF whose page chain is broken)
        raise Unacceptable(_l("The image is damaged or incomplete and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc


def _frame(image, index: int, number: int, max_pixels: int | None):
    """Frame ``index`` decoded (RGB or L), EXIF orientation applied; the size is checked first."""
    from PIL import Image, ImageOps

    try:
        image.seek(index)
        width, height = image.size
        limit = max_pixels or DEFAULT_MAX_PIXELS
        if width * height > limit:
            raise PageTooLarge(number, width, height, limit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            frame = _plain(ImageOps.exif_transpose(image))
            if frame is image:
                frame = image.copy()
    except Unacceptable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise Unacceptable(_l("The image is too large to be read.")) from exc
    except Exception as exc:  # noqa: BLE001 (truncated data, broken TIFF directory …)
        raise Unacceptable(_l("The image is damaged or incomplete and cannot be read (%(problem)s).",
                              problem=_short(exc))) from exc
    return frame


def _plain(image):
    """The image as RGB or L: transparency on white paper, 16-bit greyscale scaled to 8 bits."""
    from PIL import Image

    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        top = 65535 if image.mode.startswith("I;16") else max(1, (image.getextrema() or (0, 255))[1])
        return image.convert("I").point(lambda v: v * (255 / top)).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def _image_pages(path, media_type: str, start: int, max_pixels: int | None) -> Iterator[Page]:
    with _open_image(path, media_type) as image:
        count = _frames(image)
        for index in range(max(0, start - 1), count):
            frame = _frame(image, index, index + 1, max_pixels)
            yield Page(index + 1, "", False, frame, frame.width, frame.height)
            frame = None


def _image_part(path, media_type: str, numbers: list[int], out_path, dpi: int) -> None:
    """Image pages wrapped into a PDF, one image per page, each page the size of its image at
    its resolution. A JPEG's own data is embedded unchanged (no second lossy compression);
    other frames losslessly (Flate). Written page by page: one decoded frame in memory."""
    import zlib

    with _open_image(path, media_type) as image, _ImagePdf(out_path) as pdf:
        count = _frames(image)
        for number in numbers:
            if not 1 <= number <= count:
                raise ValueError(f"page {number} of {count}")
            frame = _frame(image, number - 1, number, None)
            x_dpi, y_dpi = _resolution(image, dpi)
            if (media_type == "image/jpeg" and image.mode in ("RGB", "L") and frame.size == image.size
                    and not _exif_turned(image)):
                with open(path, "rb") as file:
                    data, codec = file.read(), "DCTDecode"
            else:
                data, codec = zlib.compress(frame.tobytes(), 6), "FlateDecode"
            pdf.page(frame.width, frame.height, x_dpi, y_dpi, frame.mode, codec, data)
            frame = data = None


class _ImagePdf:
    """A minimal PDF writer for pages that are each one image (PDF 1.4, written as it goes)."""

    def __init__(self, path):
        self.path = path
        self.offsets: dict[int, int] = {}
        self.kids: list[int] = []

    def __enter__(self):
        self.out = open(self.path, "wb")  # noqa: SIM115 (closed in __exit__)
        self.out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        return self

    def _object(self, number: int, head: str, stream: bytes | None = None) -> None:
        self.offsets[number] = self.out.tell()
        self.out.write(f"{number} 0 obj\n{head}\n".encode("ascii"))
        if stream is not None:
            self.out.write(b"stream\n" + stream + b"\nendstream\n")
        self.out.write(b"endobj\n")

    def page(self, width: int, height: int, x_dpi: float, y_dpi: float, mode: str, codec: str, data: bytes):
        number = 3 + 3 * len(self.kids)
        w_pt, h_pt = width * 72 / x_dpi, height * 72 / y_dpi
        space = "/DeviceGray" if mode == "L" else "/DeviceRGB"
        self._object(number + 2, f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
                                 f"/ColorSpace {space} /BitsPerComponent 8 /Filter /{codec} /Length {len(data)} >>",
                     data)
        content = f"q {w_pt:.3f} 0 0 {h_pt:.3f} 0 0 cm /Im0 Do Q".encode("ascii")
        self._object(number + 1, f"<< /Length {len(content)} >>", content)
        self._object(number, f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_pt:.3f} {h_pt:.3f}] "
                             f"/Resources << /XObject << /Im0 {number + 2} 0 R >> >> /Contents {number + 1} 0 R >>")
        self.kids.append(number)

    def __exit__(self, kind, *exc):
        try:
            if kind is None:
                kids = " ".join(f"{n} 0 R" for n in self.kids)
                self._object(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.kids)} >>")
                self._object(1, "<< /Type /Catalog /Pages 2 0 R >>")
                size = max(self.offsets) + 1
                xref = self.out.tell()
                rows = ["0000000000 65535 f \n"] + [
                    f"{self.offsets[n]:010d} 00000 n \n" if n in self.offsets else "0000000000 65535 f \n"
                    for n in range(1, size)]
                self.out.write(f"xref\n0 {size}\n{''.join(rows)}trailer\n<< /Size {size} /Root 1 0 R >>\n"
                               f"startxref\n{xref}\n%%EOF\n".encode("ascii"))
        finally:
            self.out.close()
        return False


def _resolution(image, default: int) -> tuple[float, float]:
    value = image.info.get("dpi")
    try:
        x, y = float(value[0]), float(value[1])
    except (TypeError, ValueError, IndexError):
        return float(default), float(default)
    if not (50 <= x <= 2400 and 50 <= y <= 2400):
        return float(default), float(default)
    return x, y


def _exif_turned(image) -> bool:
    try:
        return image.getexif().get(0x0112, 1) not in (0, 1)
    except Exception:  # noqa: BLE001
        return False
