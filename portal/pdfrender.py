"""Render one PDF with WeasyPrint in a process of its own: ``python -P portal/pdfrender.py``.

Why: WeasyPrint keeps every box of every page in memory while it lays a document out. A register
of 2,000 rows (about 180 A4 pages) takes some 30 s and 0.9 GB, 5,000 rows of the access register
60 s and 1.5 GB — and a web worker's Python process does not give that memory back afterwards.
``portal.printing.render_pdf`` therefore hands large pages (``PDF_CHILD_MIN_CHARS`` of HTML, default
200,000, roughly 150 table rows) to this module in a child process: its memory is returned when it
exits, it is capped (``PDF_MEMORY_MB``, default 4096, as the address-space limit), it is stopped
after ``PDF_TIMEOUT_SECONDS`` (default 600), and one runs at a time per web process.

Protocol: argv ``BASE_URL STATIC_FOLDER MEMORY_MB``, the page's HTML (UTF-8) on stdin, the PDF on
stdout; exit status 0, or 3 when the memory cap was hit (anything else: a failure, on stderr).
Run as a script with ``-P`` (the script's folder not on ``sys.path``), it imports nothing of the portal,
so the child starts in about half a second.
"""
from __future__ import annotations

import gc
import mimetypes
import sys
from pathlib import Path
from urllib.parse import urlsplit

# Families tried in order for Chinese text in PDFs (Simplified first, then Traditional).
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
                "WenQuanYi Zen Hei", "Noto Sans CJK TC", "Noto Serif CJK SC", "AR PL UMing CN")
FONT_CSS = ("html, body, table, th, td, h1, h2, h3, p, div, span { font-family: "
            + ", ".join(f'"{name}"' for name in CJK_FAMILIES) + ", sans-serif; }")
OUT_OF_MEMORY = 3


def static_fetcher(static_folder: str, url_root: str):
    """A WeasyPrint URL fetcher serving the portal's static files from disk and nothing else
    (no network, no file:// outside the static folder)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = Path(static_folder).resolve()
    static_path = urlsplit(url_root).path.rstrip("/") + "/static/"

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = urlsplit(url).path
            if not path.startswith(static_path):
                raise ValueError(f"not fetched for a PDF: {url}")
            target = (root / path[len(static_path):]).resolve()
            if root not in target.parents or not target.is_file():
                raise ValueError(f"not a static file: {url}")
            media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body=target.read_bytes(),
                                      headers={"Content-Type": media_type})
    return StaticOnly()


def render(html: str, base_url: str, static_folder: str) -> bytes:
    """The PDF of a rendered print page (its own @page rules: A4, page numbers …)."""
    from weasyprint import CSS, HTML

    document = HTML(string=html, base_url=base_url, url_fetcher=static_fetcher(static_folder, base_url),
                    media_type="print")
    return document.write_pdf(stylesheets=[CSS(string=FONT_CSS)])


def main(argv: list[str]) -> int:
    base_url, static_folder, memory_mb = argv[0], argv[1], int(argv[2])
    if memory_mb > 0:
        import resource
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # A layout allocates millions of objects that live until the end: the cyclic garbage collector
    # would walk them again and again for nothing (the process ends after one document).
    gc.disable()
    html = sys.stdin.buffer.read().decode("utf-8")
    try:
        pdf = render(html, base_url, static_folder)
    except MemoryError:
        print(f"PDF not made: more than {memory_mb} MB of memory needed", file=sys.stderr)
        return OUT_OF_MEMORY
    sys.stdout.buffer.write(pdf)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
