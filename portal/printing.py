"""Printable registers and reports 台账: one HTML page per register, turned into PDF and Excel.

Every register page is an ordinary template extending ``base.html`` with the print style sheet
(A4, title, filter line, repeated table headers, page numbers, signature lines). This module
turns such a page into

* **PDF** with WeasyPrint, a real layout engine with CSS paged media. It reads the portal's own
  style sheets from the static folder (never the network) and uses the system's CJK fonts through
  fontconfig (Debian: ``fonts-noto-cjk`` or ``fonts-wqy-microhei``). Without a CJK font the PDF
  would print empty boxes instead of Chinese characters, so :func:`pdf_problem` refuses instead
  (503 with the reason; ``/healthz`` reports it as the ``pdf`` component). Large pages (long
  registers) are rendered in a child process with a memory cap and a time limit
  (``portal.pdfrender``); one that exceeds them answers 503 with what to do instead.
* **Excel** (openpyxl) through :func:`workbook`: title, filter and printed-by lines, a bold header
  row repeated on every printed page, borders, wrapped text, A4 landscape fit to width.

Use in a view::

    from portal import printing
    if printing.wants("pdf"):
        return printing.pdf_response("x/print.html", "x-register", **ctx)
    if printing.wants("xlsx"):
        return printing.xlsx_response(printing.workbook(...), "x-register")
    return render_template("x/print.html", **ctx)

Templates can include ``_print_toolbar.html`` (Print / PDF / Excel buttons keeping the filter).
"""
from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from flask import current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import pdfrender
from portal.errors import PortalError

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_render_lock = threading.Lock()  # WeasyPrint/Pango are not documented as thread-safe
_child_slot = threading.BoundedSemaphore(1)  # one large PDF at a time per web process
_problem_cache: dict[str, str | None] = {}
log = logging.getLogger(__name__)


class PdfUnavailable(PortalError):
    """PDF output cannot be made on this server (no engine or no CJK font)."""

    status = 503


class PdfTooLarge(PdfUnavailable):
    """This PDF needs more memory or time than the server allows (a huge register)."""

    def __init__(self, **detail):
        super().__init__(_l("This PDF is too large to make on this server. Narrow the filter, print the "
                            "page from the browser, or export it to Excel."), **detail)


def wants(fmt: str) -> bool:
    """Whether the request asks for this output format (``?format=pdf`` / ``?format=xlsx``)."""
    return (request.args.get("format") or "").lower() == fmt


@functools.lru_cache(maxsize=1)
def cjk_fonts() -> list[str]:
    """Font families installed on this machine that cover Chinese (via fontconfig); asked once per
    process (``/healthz`` reports it on every call)."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        out = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                             timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})


def _weasyprint():
    """Import WeasyPrint, undoing its one global side effect: it sets Pillow's
    ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` for the whole process, which would let damaged
    uploads pass the documents' image checks (portal.documents.inspect). Our PDFs embed only the
    portal's own static files, which are never truncated."""
    import weasyprint
    from PIL import ImageFile
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return weasyprint


def pdf_problem() -> str | None:
    """Why PDFs cannot be made here, or None. Checked once per process."""
    if "problem" not in _problem_cache:
        problem = None
        try:
            _weasyprint()
        except (ImportError, OSError) as exc:  # OSError: Pango missing
            problem = _("The PDF engine (WeasyPrint) cannot start on this server: %(error)s",
                        error=exc.__class__.__name__)
        else:
            if not cjk_fonts():
                problem = _("No Chinese font is installed on this server, so a PDF would show empty "
                            "boxes instead of characters. Ask the administrator to install one "
                            "(Debian: apt-get install fonts-noto-cjk).")
        _problem_cache["problem"] = problem
    return _problem_cache["problem"]


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """HTML (a rendered print page) → PDF bytes, A4 by the page's own @page rules. Large pages
    are rendered in a child process (``portal.pdfrender``: memory given back, capped, timed)."""
    problem = pdf_problem()
    if problem:
        raise PdfUnavailable(problem)
    base_url = base_url or request.url_root
    config = current_app.config
    if len(html) >= int(config["PDF_CHILD_MIN_CHARS"]):
        return _render_in_child(html, base_url, current_app.static_folder,
                                int(config["PDF_MEMORY_MB"]), float(config["PDF_TIMEOUT_SECONDS"]))
    _weasyprint()
    with _render_lock:
        return pdfrender.render(html, base_url, current_app.static_folder)


_OUT_OF_MEMORY_SIGNS = (b"MemoryError", b"Cannot allocate memory", b"Resource temporarily unavailable")


def _render_in_child(html: str, base_url: str, static_folder: str, memory_mb: int, timeout: float) -> bytes:
    cmd = [sys.executable, "-P", pdfrender.__file__, base_url, static_folder, str(memory_mb)]
    with _child_slot:
        try:
            done = subprocess.run(cmd, input=html.encode("utf-8"), capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            log.warning("PDF of %d characters of HTML not made within %.0f s", len(html), timeout)
            raise PdfTooLarge(reason="timeout") from None
    if done.returncode == pdfrender.OUT_OF_MEMORY or done.returncode < 0 or (
            done.returncode != 0 and any(sign in done.stderr for sign in _OUT_OF_MEMORY_SIGNS)):
        # Out of memory shows as MemoryError, as a library failing to allocate (GLib aborts when it
        # cannot start a thread) or as the child killed by a signal (the kernel's OOM killer).
        log.warning("PDF of %d characters of HTML needs more than %d MB (exit %s): %s", len(html), memory_mb,
                    done.returncode, done.stderr[-500:].decode("utf-8", "replace"))
        raise PdfTooLarge(reason="memory")
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF"):
        log.error("PDF child failed (exit %s): %s", done.returncode, done.stderr[-3000:].decode("utf-8", "replace"))
        raise PdfUnavailable(_l("The PDF could not be made; the error is in the server log."))
    return done.stdout


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def _attachment(data: bytes, media_type: str, filename: str):
    response = make_response(data)
    response.headers["Content-Type"] = media_type
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def pdf_response(template: str, name: str, **context):
    """Render a print template (with ``pdf=True`` in its context) and answer it as a PDF file
    ``<name>-<timestamp>.pdf``."""
    html = render_template(template, pdf=True, **context)
    return _attachment(render_pdf(html), "application/pdf", f"{name}-{stamp()}.pdf")


def xlsx_response(data: bytes, name: str):
    return _attachment(data, XLSX_TYPE, f"{name}-{stamp()}.xlsx")


def cell_text(value) -> str | int | float:
    """A cell value; text starting with = + - @ stays text (no formula injection)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def workbook(title: str, headers: Sequence[str], rows: Iterable[Sequence], *,
             lines: Sequence[str] = (), widths: Sequence[int] | None = None,
             landscape: bool = True, sheet: str | None = None,
             signatures: Sequence[str] = ()) -> bytes:
    """A register as an .xlsx workbook: title, extra lines (filter, printed by …), the table with
    a repeated bold header row, and signature lines under it."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    # Two named styles, each cell pointing at one: setting border and alignment cell by cell makes
    # openpyxl compare style objects per cell (40 s for 10,000 rows instead of about 3 s).
    thin = Side(style="thin", color="999999")
    box, wrap = Border(left=thin, right=thin, top=thin, bottom=thin), Alignment(wrap_text=True, vertical="top")
    wb.add_named_style(NamedStyle(name="register_body", border=box, alignment=wrap))
    wb.add_named_style(NamedStyle(name="register_head", border=box, alignment=wrap, font=Font(bold=True),
                                  fill=PatternFill("solid", fgColor="EEEEEE")))
    ws = wb.active
    ws.title = (sheet or title)[:31]
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    for line in lines:
        ws.append([line])
    header_row = ws.max_row + 1
    ws.append([str(h) for h in headers])
    for row in rows:
        ws.append([cell_text(value) for value in row])
    last_row = ws.max_row
    for col in range(1, len(headers) + 1):
        ws.cell(row=header_row, column=col).style = "register_head"
        width = widths[col - 1] if widths and col <= len(widths) else 16
        ws.column_dimensions[get_column_letter(col)].width = width
    for row in ws.iter_rows(min_row=header_row + 1, max_row=last_row, max_col=len(headers)):
        for cell in row:
            cell.style = "register_body"
    if signatures:
        ws.append([])
        ws.append([f"{label}：__________" for label in signatures])
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddFooter.center.text = "&P / &N"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def health() -> dict:
    """The ``pdf`` component of /healthz."""
    problem = pdf_problem()
    return {"ok": problem is None, "required": False, "fonts": len(cjk_fonts()),
            **({"error": str(problem)} if problem else {})}


DEFAULT_SIGNATURES = (_l("Archivist"), _l("Quality supervisor"), _l("Date"))
