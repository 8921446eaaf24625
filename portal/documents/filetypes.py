"""What a file is, judged from its content (never from its name), and safe file names."""
from __future__ import annotations

import re
import unicodedata
import zipfile

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
    (b"MZ", "Windows program (EXE)"),
    (b"\x7fELF", "program (ELF)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Office document (DOC/XLS)"),
    (b"GIF8", "GIF image"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BM", "BMP image"),
    (b"RIFF", "RIFF media (WebP/AVI/WAV)"),
    (b"{\\rtf", "RTF document"),
    (b"<", "HTML or XML text"),
)


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
        if kind:
            return kind, LABELS[kind]
        return None, "ZIP archive"
    for signature, name in OTHER_SIGNATURES:
        if header.startswith(signature):
            return None, name
    if not header:
        return None, "empty file"
    if _looks_textual(header):
        return None, "plain text"
    return None, "unknown binary data"


def _office_kind(stream) -> str | None:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
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
    try:
        header.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
UNSAFE = re.compile(r'[\\/:*?"<>|]')


def clean_filename(raw: str | None, limit: int = 200) -> str:
    """A name safe to keep and to offer on download: no directories, control or bidi characters,
    at most ``limit`` characters (keeping the extension)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").split("/")[-1]  # C:\\scans\\a.pdf and ../../etc/passwd alike
    name = CONTROL.sub("", name)
    name = UNSAFE.sub("_", name).strip().strip(".")
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[:limit - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:limit]
    return name or "file"


def stored_name_base(customer_name: str, doc_type: str, year: int) -> str:
    """The naming rule of policy 004 §15: 客户名称-档案类型-年份."""
    customer = UNSAFE.sub("_", CONTROL.sub("", customer_name or "")).strip()[:120]
    kind = UNSAFE.sub("_", CONTROL.sub("", doc_type or "")).strip()[:40]
    return f"{customer}-{kind}-{year}"
