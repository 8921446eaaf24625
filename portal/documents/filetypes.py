"""What a file is, judged from its content (never from its name), and safe file names."""
from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile

from flask_babel import lazy_gettext as _l

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ACCEPTED = (PDF, JPEG, PNG, TIFF, DOCX, XLSX)
IMAGES = (JPEG, PNG, TIFF)
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", TIFF: ".tif", DOCX: ".docx", XLSX: ".xlsx"}
LABELS = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG", TIFF: "TIFF", DOCX: "Word (DOCX)", XLSX: "Excel (XLSX)"}

# Signatures of common formats we refuse, to name them in the message.
OTHER_SIGNATURES = (
    (b"MZ", _l("Windows program (EXE)")),
    (b"\x7fELF", _l("program (ELF)")),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _l("old Office document (DOC/XLS) or password-protected Office file")),
    (b"GIF8", _l("GIF image")),
    (b"Rar!", _l("RAR archive")),
    (b"7z\xbc\xaf\x27\x1c", _l("7-Zip archive")),
    (b"\x1f\x8b", _l("gzip archive")),
    (b"BM", _l("BMP image")),
    (b"RIFF", _l("RIFF media (WebP/AVI/WAV)")),
    (b"{\\rtf", _l("RTF document")),
    (b"<", _l("HTML or XML text")),
)
ZIP_ARCHIVE = _l("ZIP archive")
DAMAGED_ZIP = _l("damaged or incomplete ZIP container (a cut-off Office document?)")
EMPTY = _l("empty file")
PLAIN_TEXT = _l("plain text")
UNKNOWN = _l("unknown binary data")


def sniff(header: bytes, stream=None) -> tuple[str | None, str]:
    """(accepted media type or None, what it looks like). ``stream`` (seekable) for ZIP containers."""
    if header.startswith(b"%PDF-"):
        return PDF, "PDF"
    if header.startswith(b"\xff\xd8\xff"):
        return JPEG, "JPEG"
    if header.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG, "PNG"
    if header[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF, "TIFF"
    if header.startswith(b"PK\x03\x04") and stream is not None:
        kind = _office_kind(stream)
        if kind == _DAMAGED:
            return None, DAMAGED_ZIP
        if kind:
            return kind, LABELS[kind]
        return None, ZIP_ARCHIVE
    for signature, name in OTHER_SIGNATURES:
        if header.startswith(signature):
            return None, name
    if not header:
        return None, EMPTY
    if _looks_textual(header):
        return None, PLAIN_TEXT
    return None, UNKNOWN


_DAMAGED = "damaged"


def _office_kind(stream) -> str | None:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return _DAMAGED
    finally:
        stream.seek(0)
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def _looks_textual(header: bytes) -> bool:
    """UTF-8 (a multi-byte character may be cut at the end of ``header``) without control bytes."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(header, final=False)
    except UnicodeDecodeError:
        return False
    return not any(ch < " " and ch not in "\t\r\n\f" for ch in text)


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")
UNSAFE = re.compile(r'[\\/:*?"<>|]')
# Unicode categories never wanted in a file name: controls, format characters (bidi overrides,
# zero-width joiners …), surrogates, private use, unassigned code points, line/paragraph separators.
DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _printable(text: str) -> str:
    return "".join(ch for ch in CONTROL.sub("", text) if unicodedata.category(ch) not in DROP_CATEGORIES)


def clean_filename(raw: str | None, limit: int = 200) -> str:
    """A name safe to keep and to offer on download: no directories, control or bidi characters,
    at most ``limit`` characters (keeping the extension)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").split("/")[-1]  # C:\\scans\\a.pdf and ../../etc/passwd alike
    name = _printable(name)
    name = UNSAFE.sub("_", name).strip().strip(".").strip()
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[:limit - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:limit]
    return name or "file"


def stored_name_base(customer_name: str, doc_type: str, year: int) -> str:
    """The naming rule of policy 004 §15: 客户名称-档案类型-年份."""
    customer = UNSAFE.sub("_", _printable(customer_name or "")).strip()[:120]
    kind = UNSAFE.sub("_", _printable(doc_type or "")).strip()[:40]
    return f"{customer}-{kind}-{year}"
