"""The intake job ``intake.process``: read the pages, split at cover sheets, file or queue.

1. **Pages.** The staged file is decrypted into a private temporary file. Each page in turn: a
   PDF page with a text layer gives its text (no OCR); an image page is checked for a cover
   sheet's QR code, else recognised (``portal.intake.ocr``: orientation, deskew, OCR). Every page's
   result is committed as an ``IntakePage`` before the next one starts, with the job's progress
   ("OCR page 3/12"), so a killed worker's job resumes at the first page without a row.
2. **Split.** Cover sheets divide the batch: each run of pages after a cover becomes a part (an
   item of its own) for the cover's archive and type; pages before the first cover form a part
   with the batch's own assignment (if any); cover pages are dropped.
3. **File.** Each item with an archive and a type is filed through the documents upload service
   (encryption, fixity, duplicate check, register) under its filer's name, with the text read in
   step 1. What cannot be routed waits in the queue with the reason; a duplicate points at the
   document that is already there; a store outage retries the job later.
"""
from __future__ import annotations

import logging
import os

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from portal import jobs
from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import Archive
from portal.dbsetup import begin_write
from portal.documents import filetypes
from portal.documents.inspect import Unacceptable
from portal.documents.models import TEXT_EXTRACTED, TEXT_NONE, TEXT_OCR, Document
from portal.documents.services import (
    Details,
    Duplicate,
    FileTooLarge,
    Reading,
    document_types,
    upload,
)
from portal.errors import PermissionDenied, PortalError
from portal.extensions import db
from portal.intake import covers, ocr, pages
from portal.intake.models import (
    ACTIVE,
    DUPLICATE,
    FAILED,
    FILED,
    PAGE_BLANK,
    PAGE_COVER,
    PAGE_OCR,
    PAGE_TEXT,
    PROCESSING,
    QUEUED,
    REFUSED,
    SOURCE_PART,
    SPLIT,
    WAITING,
    IntakeItem,
    IntakePage,
)
from portal.intake.services import JOB_KIND, discard_if_done, pages_of, staged_file
from portal.register import actions
from portal.register.services import record
from portal.storage import StoreUnavailable

log = logging.getLogger(__name__)

PAGED = (filetypes.PDF, filetypes.PNG, filetypes.JPEG, filetypes.TIFF)
STORE_RETRY_SECONDS = 60


def _text(message) -> str:
    """A reason as stored on the item: in the portal's default language (zh_CN)."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        return str(message)


def _actor(user) -> Actor:
    return Actor(user=user, client_addr="intake", via="intake")


@jobs.handler(JOB_KIND)
def process(ctx, payload: dict) -> None:
    item = db.session.get(IntakeItem, int(payload["item"]))
    if item is None or item.state not in (QUEUED, PROCESSING, SPLIT):
        return  # decided meanwhile (rejected, assigned again): nothing to do
    current = [item.id]  # the item being worked on when something goes wrong
    try:
        _process(ctx, item, current)
    except jobs.Retry:
        raise
    except StoreUnavailable as exc:
        db.session.rollback()
        _note(current[0], _text(exc.message))
        raise jobs.Retry(STORE_RETRY_SECONDS) from exc
    except Exception as exc:
        db.session.rollback()
        reason = _text(exc.message) if isinstance(exc, PortalError) else _text(
            _l("Processing stopped with an internal error (%(kind)s). Retry it, or tell the administrator.",
               kind=type(exc).__name__))
        if not isinstance(exc, PortalError):
            log.exception("intake item %s failed", current[0])
        _finish(current[0], FAILED, reason, actions.INTAKE_FAIL, result="failed")


def _process(ctx, item: IntakeItem, current: list[int]) -> None:
    begin_write(item)
    if item.state == QUEUED:
        item.state = PROCESSING
    db.session.commit()
    root = item.root
    with staged_file(root) as path:
        if item.parent_id is not None:
            _file(ctx, item, path)
        elif item.media_type not in PAGED:
            _file(ctx, item, path)
        else:
            if item.page_count is None or item.pages_done < item.page_count:
                if not _read_pages(ctx, item, path):
                    return
            if _split(item):
                for part in list(item.parts):
                    if part.state in (QUEUED, PROCESSING):
                        current[0] = part.id
                        _file(ctx, part, path)
            else:
                _file(ctx, item, path)
    discard_if_done(root)


# --- 1. pages ---------------------------------------------------------------------------------

def _read_pages(ctx, item: IntakeItem, path: str) -> bool:
    config = current_app.config
    try:
        count = pages.page_count(path, item.media_type)
    except Unacceptable as exc:
        _finish(item.id, REFUSED, _text(exc.message), actions.INTAKE_REFUSE, result="failed")
        return False
    limit = int(config["INTAKE_MAX_PAGES"])
    if count > limit:
        _finish(item.id, REFUSED, _text(_l(
            "The file has %(count)s pages; intake reads at most %(limit)s pages per file. It is kept: "
            "split it and send the parts, or reject it.", count=count, limit=limit)),
            actions.INTAKE_REFUSE, result="failed")
        return False
    begin_write(item)
    item.page_count = count
    done = db.session.scalar(sa.select(sa.func.max(IntakePage.number)).where(IntakePage.item_id == item.id)) or 0
    item.pages_done = done
    db.session.commit()
    engine = str(config.get("OCR_ENGINE") or "rapidocr")
    if engine not in ocr.engines():
        engine = "rapidocr"
    engine_used = engine
    try:
        for page in pages.iter_pages(path, item.media_type, dpi=int(config["OCR_DPI"]), start=done + 1,
                                     max_pixels=int(config["INTAKE_MAX_PAGE_PIXELS"])):
            ctx.progress(_text(_l("Reading page %(n)s of %(total)s", n=page.number, total=count)))
            row = IntakePage(item_id=item.id, number=page.number, kind=PAGE_TEXT, text=page.text)
            if page.has_text:
                cover = covers.find_cover_in_text(page.text)
            else:
                cover = covers.find_cover(page.image)
                if cover is None:
                    ctx.progress(_text(_l("OCR page %(n)s of %(total)s", n=page.number, total=count)))
                    result = ocr.ocr_image(page.image, engine=engine)
                    row.kind = PAGE_OCR if result.text.strip() else PAGE_BLANK
                    row.text, row.confidence = result.text, result.confidence
                    row.rotation, row.skew = result.rotation, result.skew
                    engine_used = result.engine
            if cover is not None:
                row.kind, row.text = PAGE_COVER, ""
                row.cover_number, row.cover_doc_type = cover.archive_number[:100], cover.doc_type[:40]
            page.image = None
            begin_write(item)  # (nothing may change before: SQLite's write lock comes first)
            db.session.add(row)
            item.pages_done = page.number
            if row.kind in (PAGE_OCR, PAGE_BLANK):
                item.ocr_engine = engine_used
            db.session.commit()
    except Unacceptable as exc:
        db.session.rollback()
        _finish(item.id, REFUSED, _text(exc.message), actions.INTAKE_REFUSE, result="failed")
        return False
    return True


# --- 2. split at cover sheets -----------------------------------------------------------------

def _split(item: IntakeItem) -> bool:
    """Make the parts when cover sheets are among the pages; False when there are none."""
    rows = list(db.session.scalars(sa.select(IntakePage).where(IntakePage.item_id == item.id)
                                   .order_by(IntakePage.number)))
    if not any(row.kind == PAGE_COVER for row in rows):
        return False
    begin_write(item)
    if item.parts:
        item.state = SPLIT
        db.session.commit()
        return True
    runs: list[tuple[IntakePage | None, list[int]]] = [(None, [])]
    for row in rows:
        if row.kind == PAGE_COVER:
            runs.append((row, []))
        else:
            runs[-1][1].append(row.number)
    made, empty = [], []
    for cover, numbers in runs:
        if not numbers:
            if cover is not None:
                empty.append(cover.number)
            continue
        part = IntakeItem(
            parent_id=item.id, source=SOURCE_PART, filename=_part_name(item.filename, numbers),
            media_type=filetypes.PDF, size=0, sha256="", page_from=numbers[0], page_to=numbers[-1],
            page_count=len(numbers), pages_done=len(numbers), state=QUEUED,
            doc_type=cover.cover_doc_type if cover else item.doc_type,
            cover_number=cover.cover_number if cover else "",
            archive_id=None if cover else item.archive_id, title=item.title if cover is None else "",
            created_by_id=item.created_by_id, client_addr=item.client_addr, filer_id=item.filer_id)
        db.session.add(part)
        made.append(part)
    item.state = SPLIT
    db.session.flush()
    detail = f"#{item.id} {item.filename}: " + "; ".join(
        f"#{p.id} p.{p.page_from}–{p.page_to}" + (f" → {p.cover_number} {p.doc_type}" if p.cover_number else "")
        for p in made)
    if empty:
        detail += f" (cover sheets without pages after them: p.{', '.join(map(str, empty))})"
    record(_actor(item.created_by), actions.INTAKE_SPLIT, detail=detail)
    db.session.commit()
    return True


def _part_name(filename: str, numbers: list[int]) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    span = f"p{numbers[0]}" if numbers[0] == numbers[-1] else f"p{numbers[0]}-{numbers[-1]}"
    return f"{stem[:180]}-{span}.pdf"


# --- 3. filing --------------------------------------------------------------------------------

def _route(item: IntakeItem) -> tuple[Archive | None, str]:
    """The archive an item goes to, or why it must wait for an archivist."""
    archive = item.archive
    if archive is None and item.cover_number:
        archive = db.session.scalar(sa.select(Archive).where(Archive.number == item.cover_number))
        if archive is None:
            return None, _text(_l("The cover sheet names archive “%(number)s”, which does not exist.",
                                  number=item.cover_number))
    if archive is None:
        return None, _text(_l("No archive was given and no cover sheet was found."))
    if not item.doc_type:
        return None, _text(_l("No document type was given."))
    if item.doc_type not in document_types():
        return None, _text(_l("The document type “%(type)s” is not in the list of types.", type=item.doc_type))
    filer = item.filer or item.created_by
    if not perm.can_upload(filer, archive):
        return None, _text(_l("%(user)s cannot add material to archive %(number)s.",
                              user=filer.display_name or filer.username, number=archive.number))
    return archive, ""


def _reading(item: IntakeItem) -> Reading | None:
    rows = [row for row in pages_of(item) if row.kind != PAGE_COVER]
    if not rows:
        return None
    text = "\f".join(row.text for row in rows)
    ocr_rows = [row for row in rows if row.kind in (PAGE_OCR, PAGE_BLANK)]
    if not ocr_rows:
        return Reading(text, TEXT_EXTRACTED if text.replace("\f", "").strip() else TEXT_NONE)
    scores = [row.confidence for row in ocr_rows if row.confidence]
    note = _text(_l("OCR (%(engine)s) of %(n)s of %(total)s pages, mean confidence %(score)s %%",
                    engine=item.root.ocr_engine or "rapidocr", n=len(ocr_rows), total=len(rows),
                    score=round(100 * sum(scores) / len(scores)) if scores else 0))
    return Reading(text, TEXT_OCR if text.replace("\f", "").strip() else TEXT_NONE, note)


def _file(ctx, item: IntakeItem, path: str) -> None:
    archive, why = _route(item)
    if archive is None:
        _finish(item.id, WAITING, why, actions.INTAKE_QUEUE)
        return
    ctx.progress(_text(_l("Filing to archive %(number)s", number=archive.number)))
    filer = item.filer or item.created_by
    details = Details(doc_type=item.doc_type, title=item.title or _title(item))
    source = path
    part_path = None
    if item.parent_id is not None:
        part_path = f"{path}.part{item.id}.pdf"
        pages.build_part(path, item.root.media_type, list(range(item.page_from, item.page_to + 1)), part_path,
                         dpi=int(current_app.config["OCR_DPI"]))
        source = part_path
    item_id, archive_id = item.id, archive.id
    try:
        with open(source, "rb") as fileobj:
            document = upload(_actor(filer), archive_id, fileobj, item.filename, details, reading=_reading(item))
    except Duplicate as exc:
        _finish(item_id, DUPLICATE, _text(exc.message), actions.INTAKE_FILE, result="failed",
                archive_id=archive_id, document_id=exc.detail.get("document_id"))
        return
    except (Unacceptable, FileTooLarge) as exc:
        _finish(item_id, REFUSED, _text(exc.message), actions.INTAKE_REFUSE, result="failed", archive_id=archive_id)
        return
    except PermissionDenied as exc:
        _finish(item_id, WAITING, _text(exc.message), actions.INTAKE_QUEUE, archive_id=archive_id)
        return
    finally:
        if part_path and os.path.exists(part_path):
            os.remove(part_path)
    _finish(item_id, FILED, "", actions.INTAKE_FILE, archive_id=archive_id, document_id=document.id)


def _title(item: IntakeItem) -> str:
    stem = item.root.filename.rsplit(".", 1)[0] if "." in item.root.filename else item.root.filename
    if item.parent_id is None:
        return stem[:200]
    span = (_text(_l("page %(n)s", n=item.page_from)) if item.page_from == item.page_to
            else _text(_l("pages %(a)s–%(b)s", a=item.page_from, b=item.page_to)))
    return f"{item.doc_type} · {stem} ({span})"[:200]


def _finish(item_id: int, state: str, reason: str, action: str, *, result: str = "ok",
            archive_id: int | None = None, document_id: int | None = None) -> None:
    """Set the outcome of one item and register it, in one transaction."""
    db.session.rollback()
    item = db.session.get(IntakeItem, item_id)
    begin_write(item)
    if item.state not in ACTIVE:  # decided meanwhile, or a split batch (its parts carry the outcome)
        db.session.commit()
        return
    item.state, item.reason = state, reason[:2000]
    if archive_id is not None:
        item.archive_id = archive_id
    if document_id is not None:
        item.document_id = document_id
    archive = db.session.get(Archive, item.archive_id) if item.archive_id else None
    detail = f"#{item.id} {item.filename}"
    if archive is not None:
        detail += f" → {archive.number} {item.doc_type}"
    if document_id is not None:
        detail += f" (document {document_id})"
    if reason:
        detail += f": {reason}"
    record(_actor(item.filer or item.created_by), action, archive=archive, result=result, detail=detail,
           document=db.session.get(Document, document_id) if document_id else None)
    db.session.commit()


def _note(item_id: int, reason: str) -> None:
    item = db.session.get(IntakeItem, item_id)
    if item is None:
        return
    begin_write(item)
    item.reason = reason[:2000]
    db.session.commit()
