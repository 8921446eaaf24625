"""Viewer, inline content, download, print, thumbnail (owned by the viewing helper).

Every byte of a document reaches the browser through these views, never from the store directly:
``services.open_content`` checks the permission and writes the register entry (view, download or
print, with the purpose for 一级 material) and the views only speak HTTP.

The viewer page registers the view once and hands the page a short-lived signed *ticket* for the
content shown inside it (``documents.inline``): the ticket names the user, the document and the
version, and every fetch with it is still checked again by ``open_content(register=False)``.
"""
from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from urllib.parse import quote

from flask import Response, current_app, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.routing import BuildError

from portal.auth import roles
from portal.dbsetup import writes
from portal.documents import filetypes, services
from portal.documents.views import bp
from portal.errors import NotFound
from portal.extensions import db
from portal.register import actions
from portal.register.services import record_now
from portal.storage import ObjectMissing, StoreUnavailable
from portal.web import actor, htmx_target

TICKET_SALT = "document-inline"
TICKET_MAX_AGE = 15 * 60  # seconds; the page is reloaded (and registered again) after that
SHOWN_IN_PAGE = (filetypes.PDF, filetypes.JPEG, filetypes.PNG, filetypes.TIFF)
# Content responses (PDF, images — never HTML): nothing may run in them; the inline ones may be
# framed by our own pages only. ``object-src 'self'`` rather than 'none' because some browsers'
# built-in PDF viewers have been blocked by the latter (the Chromium we test with is not).
_CONTENT_CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; "
                "base-uri 'none'; form-action 'none'; frame-ancestors ")
CONTENT_CSP = _CONTENT_CSP + "'self'"
TOP_LEVEL_CONTENT_CSP = _CONTENT_CSP + "'none'"
NO_STORE = "private, no-store"
DISPLAY_BOX = (3000, 3000)  # a TIFF page shown on screen is scaled down to fit this (pixels)
PRINT_BOX = (2480, 3508)  # A4 at 300 dpi: images are printed at most this large
KIND_LABELS = {
    filetypes.PDF: _l("PDF document"), filetypes.JPEG: _l("JPEG image"), filetypes.PNG: _l("PNG image"),
    filetypes.TIFF: _l("TIFF image"), filetypes.DOCX: _l("Word document (DOCX)"),
    filetypes.XLSX: _l("Excel workbook (XLSX)"),
}
MODE_WORDS = {services.VIEW: _l("View"), services.DOWNLOAD: _l("Download"), services.PRINT: _l("Print")}


# --- small helpers ----------------------------------------------------------------------------

def _version_arg() -> int | None:
    value = request.args.get("version") or request.form.get("version") or ""
    return int(value) if value.isdigit() else None


def _purpose() -> str:
    return (request.form.get("purpose") or "").strip() if request.method == "POST" else ""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TICKET_SALT)


def issue_ticket(user_id: int, document_id: int, version: int) -> str:
    return _serializer().dumps({"u": user_id, "d": document_id, "v": version})


def _read_ticket(ticket: str, user_id: int, document_id: int) -> tuple[int | None, str]:
    """(version, "") for a valid ticket of this user and document, else (None, why not)."""
    try:
        claims = _serializer().loads(ticket, max_age=TICKET_MAX_AGE)
    except SignatureExpired:
        return None, str(_l("The viewer link has expired. Reload the viewer page."))
    except BadSignature:
        return None, str(_l("The viewer link is not valid."))
    if not isinstance(claims, dict) or claims.get("u") != user_id or claims.get("d") != document_id \
            or not isinstance(claims.get("v"), int):
        return None, str(_l("The viewer link was issued for another user or document."))
    return claims["v"], ""


def file_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1048576:.1f} MB"


def _links(document) -> dict:
    """Back links; the document page belongs to the manage views (may not exist yet)."""
    archive_url = url_for("archives.show", archive_id=document.archive_id)
    try:
        detail_url = url_for("documents.detail", doc_id=document.id)
    except BuildError:
        detail_url = archive_url
    return {"detail_url": detail_url, "archive_url": archive_url}


def _disposition(kind: str, name: str, fallback: str) -> str:
    """``attachment`` / ``inline`` with the Chinese name as RFC 5987 ``filename*``."""
    plain = name if name.isascii() and '"' not in name and "\\" not in name else fallback
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _fallback_name(content: services.Content) -> str:
    ext = filetypes.EXTENSIONS.get(content.version.media_type, "")
    return f"document-{content.document.id}-v{content.version.number}{ext}"


def _release(content: services.Content) -> None:
    """The viewer page does not read the stream ``open_content`` opened: give it back."""
    close = getattr(content.chunks, "close", None)
    if close is not None:
        close()


def _delivered(chunks: Iterator[bytes], on_store_failure=None) -> Iterator[bytes]:
    """The chunks to send, started here so that a store or integrity failure at the start still
    becomes an error page with the right status.

    The last chunk is held back until the source has finished cleanly: the fixity of the whole
    file is checked after its last byte, and a failure must leave the download visibly short
    (fewer bytes than Content-Length, connection closed) rather than complete-looking.
    """
    def held_back() -> Iterator[bytes]:
        iterator = iter(chunks)
        try:
            held = None
            for chunk in iterator:
                if held is not None:
                    yield held
                held = chunk
            if held is not None:
                yield held
        except StoreUnavailable:
            if on_store_failure is not None:
                on_store_failure()
            raise
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    source = held_back()
    first = next(source, None)  # raises here: StoreUnavailable → 503, FixityFailure → its page

    def rest() -> Iterator[bytes]:
        try:
            if first is not None:
                yield first
            yield from source
        finally:
            source.close()

    return rest()


def _content_response(chunks, media_type: str, length: int | None, disposition: str, *,
                      frameable: bool) -> Response:
    response = Response(stream_with_context(chunks), mimetype=media_type)
    if length is not None:
        response.content_length = length
    response.headers["Content-Disposition"] = disposition
    response.headers["Cache-Control"] = NO_STORE
    if frameable:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = CONTENT_CSP
    elif media_type == filetypes.PDF:
        response.headers["Content-Security-Policy"] = TOP_LEVEL_CONTENT_CSP
    return response


def _ask_purpose(doc_id: int, version: int | None, mode: str, message: str, error: str = "",
                 status: int = 200):
    """The short form asking for the purpose (一级 material); nothing is registered yet."""
    db.session.rollback()  # leave open_content's write transaction untouched
    document = services.get_document(doc_id)
    endpoint = {services.VIEW: "documents.view", services.DOWNLOAD: "documents.download",
                services.PRINT: "documents.print_view"}[mode]
    return render_template(
        "documents/view.html", ask=True, document=document, mode=mode, mode_word=MODE_WORDS[mode],
        version_number=version, message=message, error=error, purpose=_purpose(),
        action=url_for(endpoint, doc_id=doc_id, version=version), **_links(document)), status


def _open(doc_id: int, mode: str):
    """open_content with the purpose from the form; (content, None) or (None, purpose form)."""
    version, purpose = _version_arg(), _purpose()
    try:
        content = services.open_content(actor(), doc_id, version=version, mode=mode, purpose=purpose)
    except services.PurposeRequired as exc:
        if request.method == "POST":  # sent without one
            return None, _ask_purpose(doc_id, version, mode, str(exc.message),
                                      _("State the purpose."), 422)
        return None, _ask_purpose(doc_id, version, mode, str(exc.message))
    return content, None


# --- viewer -----------------------------------------------------------------------------------

@bp.route("/documents/<int:doc_id>/view", methods=["GET", "POST"])
@writes
def view(doc_id: int):
    """The viewer page; opening it is one register entry (一级: with the purpose asked first)."""
    content, form = _open(doc_id, services.VIEW)
    if form is not None:
        return form
    _release(content)
    who = actor()
    document, version = content.document, content.version
    kind = _kind(version.media_type)
    ticket = issue_ticket(who.user.id, document.id, version.number) if kind != "office" else ""
    page = max(1, min(request.args.get("page", 1, type=int) or 1, version.page_count or 1))
    text = version.text or ""
    return render_template(
        "documents/view.html", ask=False, document=document, version=version, kind=kind,
        ticket=ticket, page=page, pages=(version.page_count or 1) if kind == "tiff" else 1,
        text_pages=text.split("\f") if text.strip() else [], purpose=_purpose(),
        secret=services.needs_purpose(document), kind_label=KIND_LABELS.get(version.media_type, ""),
        level_label=roles.LEVEL_LABELS.get(document.effective_sensitivity, ""),
        watermarked=document.effective_sensitivity in current_app.config["WATERMARK_LEVELS"],
        file_size=file_size, **_links(document))


def _kind(media_type: str) -> str:
    if media_type == filetypes.PDF:
        return "pdf"
    if media_type == filetypes.TIFF:
        return "tiff"
    if media_type in filetypes.IMAGES:
        return "image"
    return "office"


@bp.route("/documents/<int:doc_id>/inline/<ticket>")
def inline(doc_id: int, ticket: str):
    """The content shown inside the viewer page: only with a valid ticket, checked again."""
    who = actor()
    document = services.get_document(doc_id)
    number, problem = _read_ticket(ticket, who.user.id, doc_id)
    if number is None:
        raise services.deny(who, problem, document.archive, f"inline content of document #{doc_id}",
                            document=document)
    chosen = document.version(number)
    if chosen is not None and chosen.media_type not in SHOWN_IN_PAGE:
        raise NotFound(_l("This kind of file cannot be shown in the browser; download it instead."))
    content = services.open_content(who, doc_id, version=number, mode=services.VIEW, register=False)
    db.session.commit()  # hold no write lock while the file streams
    media_type = content.version.media_type
    # The browser's own PDF viewer and image menu can save or print what is shown: confidential
    # material is therefore shown watermarked too, exactly like a download.
    confidential = content.document.effective_sensitivity in current_app.config["WATERMARK_LEVELS"]
    if media_type == filetypes.TIFF:
        png = _tiff_page_png(content, request.args.get("page", 1, type=int) or 1)
        if confidential:
            png = _watermarked_png(png, who.user)
        name = f"{content.document.stored_name}-p{request.args.get('page', 1, type=int) or 1}.png"
        return _content_response(iter([png]), "image/png", len(png),
                                 _disposition("inline", name, f"document-{doc_id}.png"), frameable=True)
    if confidential:
        content.watermark = True
        chunks, marked_type, length = services.deliverable(content)
        return _content_response(chunks, marked_type, length,
                                 _disposition("inline", content.download_name, _fallback_name(content)),
                                 frameable=True)
    return _content_response(_delivered(content), media_type, content.version.size,
                             _disposition("inline", content.download_name, _fallback_name(content)),
                             frameable=True)


def _frames(handle, box: tuple[int, int], only: int | None = None):
    """Pages of an image file as Pillow images fit into ``box`` (bounded by the pixel limit)."""
    from PIL import Image

    limit = int(current_app.config["MAX_IMAGE_PIXELS"])
    with Image.open(handle) as image:
        count = getattr(image, "n_frames", 1)
        numbers = [max(1, min(only, count))] if only else range(1, count + 1)
        for number in numbers:
            image.seek(number - 1)
            if image.width * image.height > limit:
                raise services.Unacceptable(_l("This image is too large to be shown; download it instead."))
            frame = image.copy()
            if frame.mode not in ("1", "L", "LA", "RGB", "RGBA", "P"):
                frame = frame.convert("RGB")
            frame.thumbnail(box)
            yield frame


def _watermarked_png(png: bytes, user) -> bytes:
    from portal.documents.watermark import watermark_image

    text, ascii_text = services.watermark_text(user)
    marked, _media = watermark_image(io.BytesIO(png), filetypes.PNG, text, ascii_text,
                                     current_app.config.get("WATERMARK_FONT"))
    with marked:
        return marked.read()


def _tiff_page_png(content: services.Content, page: int) -> bytes:
    handle = services.spool(content)
    frames = _frames(handle, DISPLAY_BOX, only=page)
    try:
        out = io.BytesIO()
        next(frames).save(out, format="PNG")
        return out.getvalue()
    finally:
        frames.close()
        handle.close()


# --- download ---------------------------------------------------------------------------------

@bp.route("/documents/<int:doc_id>/download", methods=["GET", "POST"])
@writes
def download(doc_id: int):
    """The file as an attachment (confidential levels watermarked with the user's name and time)."""
    content, form = _open(doc_id, services.DOWNLOAD)
    if form is not None:
        return form
    chunks, media_type, length = services.deliverable(content)
    who, document_id, number = actor(), content.document.id, content.version.number

    def interrupted():
        document = services.get_document(document_id)
        record_now(who, actions.DOCUMENT_DOWNLOAD, archive=document.archive, document=document,
                   result="failed", detail=f"v{number}: interrupted, the document store stopped answering")

    return _content_response(_delivered(chunks, interrupted), media_type, length,
                             _disposition("attachment", content.download_name, _fallback_name(content)),
                             frameable=False)


# --- print ------------------------------------------------------------------------------------

@bp.route("/documents/<int:doc_id>/print", methods=["GET", "POST"])
@writes
def print_view(doc_id: int):
    """What is printed: a PDF as itself (the browser prints it), an image on an A4 page."""
    who = actor()
    document = services.require_document(who, doc_id, "print document")
    chosen = document.version(_version_arg())
    if chosen is not None and chosen.media_type not in SHOWN_IN_PAGE:
        db.session.rollback()
        return render_template("documents/print_image.html", printable=False, document=document,
                               version=chosen, kind_label=KIND_LABELS.get(chosen.media_type, ""),
                               **_links(document))
    content, form = _open(doc_id, services.PRINT)
    if form is not None:
        return form
    chunks, media_type, length = services.deliverable(content)
    if media_type == filetypes.PDF:
        return _content_response(_delivered(chunks), media_type, length,
                                 _disposition("inline", content.download_name, _fallback_name(content)),
                                 frameable=False)
    handle = _spooled(chunks)
    try:
        images = []
        for frame in _frames(handle, PRINT_BOX):
            out = io.BytesIO()
            if media_type == filetypes.JPEG and frame.mode in ("L", "RGB"):
                frame.save(out, format="JPEG", quality=90)
                images.append("data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode())
            else:
                frame.save(out, format="PNG")
                images.append("data:image/png;base64," + base64.b64encode(out.getvalue()).decode())
    finally:
        handle.close()
    return render_template("documents/print_image.html", printable=True, document=content.document,
                           version=content.version, images=images, watermarked=content.watermark,
                           printed_by=who.user, printed_at=services.now_local(),
                           kind_label=KIND_LABELS.get(content.version.media_type, ""),
                           **_links(content.document))


def _spooled(chunks: Iterator[bytes]):
    import tempfile

    handle = tempfile.TemporaryFile()
    for chunk in chunks:
        handle.write(chunk)
    handle.seek(0, os.SEEK_SET)
    return handle


# --- thumbnail --------------------------------------------------------------------------------

@bp.route("/documents/<int:doc_id>/thumbnail")
def thumbnail(doc_id: int):
    """The first-page preview (PNG); refusals are registered by the service."""
    png = services.thumbnail(actor(), doc_id, _version_arg())
    if png is None:
        raise NotFound(_l("This document has no preview image."))
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = NO_STORE
    return response


# --- errors -----------------------------------------------------------------------------------

@bp.errorhandler(services.FixityFailure)
@bp.errorhandler(ObjectMissing)
def _integrity_error(exc):
    """A stored file that is altered or gone: say so plainly (it is on the register already)."""
    template = "errors/_message.html" if htmx_target() else "errors/error.html"
    return render_template(template, status=500, title=_("The stored file failed its integrity check"),
                           message=str(exc.message)), 500
