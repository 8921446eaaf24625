"""Scan intake: receiving files, the intake queue, and the archivist's decisions.

``receive`` answers at once whatever the file's page count: it checks the size and kind, stores
the file encrypted under ``intake/<uid>`` (a data key per item), writes the item, its register
entry and its job in one transaction. Everything slow (pages, cover sheets, OCR, filing) runs in
the job (``portal.intake.processing``). Items that cannot be routed wait in the queue for an
archivist (or their sender) to assign archive and type, or to reject them; nothing is dropped.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from portal import crypto, jobs
from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.models import Archive
from portal.archives.services import deny, get_archive
from portal.dbsetup import begin_write
from portal.documents import filetypes
from portal.documents.inspect import Unacceptable
from portal.documents.services import FileTooLarge, document_types, master_key
from portal.errors import Conflict, InvalidState, NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.intake.models import (
    ACTIVE,
    FAILED,
    FINISHED,
    OPEN,
    QUEUED,
    REFUSED,
    REJECTED,
    SOURCE_WEB,
    SPLIT,
    STATE_LABELS,
    WAITING,
    IntakeItem,
    IntakePage,
)
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record, record_now
from portal.storage import store

log = logging.getLogger(__name__)

JOB_KIND = "intake.process"
READ_CHUNK = 1024 * 1024
# What intake takes: scans and born-digital files (Office files are filed as they are).
ACCEPTED = (filetypes.PDF, filetypes.PNG, filetypes.JPEG, filetypes.TIFF, filetypes.DOCX, filetypes.XLSX)


class DuplicateIntake(PortalError):
    status = 409


def max_bytes() -> int:
    config = current_app.config
    return int(config.get("INTAKE_MAX_BYTES") or config["DOCUMENT_MAX_BYTES"])


def _aad(store_key: str) -> bytes:
    return b"portal-intake:" + store_key.encode()


def _megabytes(size: int) -> str:
    return f"{size / 1048576:.1f}".rstrip("0").rstrip(".")


# --- receiving --------------------------------------------------------------------------------

@dataclass
class Received:
    """The outcome of one file of a batch: an intake item, or why not."""

    filename: str
    item: IntakeItem | None = None
    error: str = ""
    status: int = 202


def _target(actor: Actor, archive_ident, doc_type: str) -> Archive | None:
    """The archive and type the sender chose (optional); refused at once when they cannot be used."""
    if doc_type and doc_type not in document_types():
        raise ValidationFailed(_l("Choose a document type from the list."), field="doc_type")
    if archive_ident in (None, ""):
        return None
    try:
        archive = get_archive(str(archive_ident).strip())
    except NotFound as exc:
        raise ValidationFailed(_l("There is no archive with the number “%(number)s”.",
                                  number=str(archive_ident).strip()), field="archive") from exc
    if not perm.can_upload(actor.user, archive):
        reason = perm.view_refusal(actor.user, archive) or _l(
            "You cannot add material to archive %(number)s.", number=archive.number)
        raise deny(actor, reason, archive, "intake")
    return archive


def receive(actor: Actor, fileobj, filename: str | None, *, archive=None, doc_type: str = "",
            title: str = "", source: str = SOURCE_WEB) -> IntakeItem:
    """Take one file into intake (seekable stream). Raises with a user-facing message."""
    user = actor.user
    if not perm.can_use_intake(user):
        raise deny(actor, _l("Your role does not send files to intake."), None, "intake")
    doc_type = (doc_type or "").strip()
    target = _target(actor, archive, doc_type)
    archive_id = target.id if target else None
    db.session.commit()  # no database lock while the file moves
    name = filetypes.clean_filename(filename)
    try:
        media_type, size, sha256 = _check_file(fileobj, name)
        duplicate = db.session.scalar(sa.select(IntakeItem).where(
            IntakeItem.sha256 == sha256, IntakeItem.parent_id.is_(None),
            IntakeItem.state.in_((*OPEN, SPLIT))).limit(1))
        if duplicate is not None:
            raise DuplicateIntake(_l("“%(name)s” is already in intake (item %(id)s, %(state)s).",
                                     name=name, id=duplicate.id, state=duplicate.state_label),
                                  item_id=duplicate.id)
        master = master_key()
        key = crypto.new_data_key()
        store_key = f"intake/{uuid.uuid4().hex}"
        fileobj.seek(0)
        reader = crypto.EncryptingReader(fileobj, size, key, _aad(store_key))
        stored = store().put(store_key, reader, reader.size)
    except Exception as exc:
        db.session.rollback()
        _register_refusal(actor, name, exc, target)
        raise
    try:
        begin_write()
        item = IntakeItem(
            source=source, filename=name, media_type=media_type, size=size, sha256=sha256,
            staged_key=store_key, staged_version=stored.version_id, wrapped_key=crypto.wrap(master, key),
            master_key_id=crypto.key_id(master), archive_id=archive_id, doc_type=doc_type,
            title=(title or "").strip()[:200], state=QUEUED, created_by_id=user.id,
            client_addr=actor.client_addr[:64], filer_id=user.id)
        db.session.add(item)
        db.session.flush()
        item.job_id = jobs.enqueue(JOB_KIND, {"item": item.id}, key=f"intake:{item.id}", user=user).id
        record(actor, actions.INTAKE_RECEIVE, archive=db.session.get(Archive, archive_id) if archive_id else None,
               detail=_describe(item))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _remove_object(store_key, stored.version_id)
        raise
    return item


def _check_file(fileobj, name: str) -> tuple[str, int, str]:
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    if size == 0:
        raise Unacceptable(_l("“%(name)s” is empty (0 bytes). Nothing was stored.", name=name))
    limit = max_bytes()
    if size > limit:
        raise FileTooLarge(_l("“%(name)s” is %(size)s MB; intake takes at most %(limit)s MB per file.",
                              name=name, size=_megabytes(size), limit=_megabytes(limit)))
    header = fileobj.read(16)
    fileobj.seek(0)
    media_type, looks_like = filetypes.sniff(header, fileobj)
    if media_type not in ACCEPTED:
        raise Unacceptable(_l("“%(name)s” is not a scan or document intake can take (its content looks "
                              "like: %(kind)s). Accepted: PDF, JPEG, PNG, TIFF, Word (DOCX) and Excel (XLSX).",
                              name=name, kind=looks_like or media_type))
    digest = hashlib.sha256()
    fileobj.seek(0)
    while chunk := fileobj.read(READ_CHUNK):
        digest.update(chunk)
    fileobj.seek(0)
    return media_type, size, digest.hexdigest()


def _register_refusal(actor: Actor, name: str, exc: Exception, archive) -> None:
    reason = exc.message if isinstance(exc, PortalError) else f"{type(exc).__name__} (internal error)"
    try:
        record_now(actor, actions.INTAKE_REFUSE, archive=archive, result="failed", detail=f"{name}: {reason}")
    except Exception:  # noqa: BLE001 (the register must not hide the user's real problem)
        db.session.rollback()
        log.exception("could not register a refused intake file")


def _remove_object(store_key: str, version_id: str) -> None:
    try:
        store().delete_version(store_key, version_id)
    except PortalError:
        log.warning("could not remove %s@%s; portal verify reports it", store_key, version_id)


def receive_many(actor: Actor, files, *, archive=None, doc_type: str = "", source: str = SOURCE_WEB
                 ) -> list[Received]:
    """Each file on its own: the good ones are received even when another one is refused. A wrong
    archive or type refuses the whole batch before any file is read (ValidationFailed)."""
    _target(actor, archive, (doc_type or "").strip())
    outcomes = []
    for fileobj, filename in files:
        name = filetypes.clean_filename(filename)
        try:
            item = receive(actor, fileobj, filename, archive=archive, doc_type=doc_type, source=source)
        except (Unacceptable, FileTooLarge, DuplicateIntake) as exc:
            outcomes.append(Received(name, error=str(exc.message), status=exc.status))
        else:
            outcomes.append(Received(name, item=item))
    return outcomes


def _describe(item: IntakeItem) -> str:
    where = []
    if item.archive_id:
        where.append(f"→ {item.archive.number if item.archive else item.archive_id}")
    if item.doc_type:
        where.append(item.doc_type)
    return (f"#{item.id} {item.filename} ({item.media_type}, {item.size} B, sha256 {item.sha256[:16]}…)"
            + (" " + " ".join(where) if where else ""))


# --- the staged file --------------------------------------------------------------------------

def staged_plaintext(item: IntakeItem) -> Iterator[bytes]:
    root = item.root
    if root.staged_key is None or root.wrapped_key is None:
        raise InvalidState(_l("The received file of this item is no longer kept (it was filed or rejected)."))
    key = crypto.unwrap(master_key(), root.wrapped_key)
    digest = hashlib.sha256()
    for chunk in crypto.decrypt_stream(store().get(root.staged_key, root.staged_version), key,
                                       _aad(root.staged_key)):
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != root.sha256:
        raise crypto.DecryptionFailed("intake file hash mismatch")


@contextmanager
def staged_file(item: IntakeItem):
    """The received file, decrypted into a private temporary file (removed afterwards)."""
    folder = tempfile.mkdtemp(prefix="intake-")
    path = os.path.join(folder, "file")
    try:
        with open(path, "wb") as out:
            for chunk in staged_plaintext(item):
                out.write(chunk)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def discard_if_done(root: IntakeItem) -> bool:
    """Remove the staged file and wipe its key once nothing made from it waits any more."""
    begin_write(root)
    if root.staged_key is None:
        db.session.commit()
        return False
    if root.parts:
        done = root.state == SPLIT and all(part.state in FINISHED for part in root.parts)
    else:
        done = root.state in FINISHED
    if not done:
        db.session.commit()
        return False
    store_key, version = root.staged_key, root.staged_version
    root.staged_key = root.staged_version = None
    root.wrapped_key = None
    db.session.commit()
    _remove_object(store_key, version)
    return True


# --- finding items ----------------------------------------------------------------------------

VIEWS = ("active", "queue", "done", "all")


def _visible(user):
    query = sa.select(IntakeItem)
    if not perm.can_manage_intake(user):
        parent = aliased(IntakeItem)
        query = query.outerjoin(parent, IntakeItem.parent_id == parent.id).where(
            sa.or_(IntakeItem.created_by_id == user.id, parent.created_by_id == user.id))
    return query


def list_items(user, view: str = "active", *, page: int = 1, per_page: int = 50):
    """Items the user may see: in progress, waiting in the queue, finished, or all (newest first).
    Returns (items, total)."""
    query = _visible(user)
    if view == "active":
        query = query.where(IntakeItem.state.in_((*ACTIVE, FAILED)))
    elif view == "queue":
        query = query.where(IntakeItem.state.in_((WAITING, REFUSED)))
    elif view == "done":  # a split batch is done: its parts carry on in their own rows
        query = query.where(IntakeItem.state.in_((*FINISHED, SPLIT)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    items = list(db.session.scalars(query.order_by(IntakeItem.id.desc())
                                    .offset((page - 1) * per_page).limit(per_page)))
    return items, total


def counts(user) -> dict[str, int]:
    out = {}
    for view in ("active", "queue"):
        _items, out[view] = list_items(user, view, per_page=1)
    return out


def any_active(items) -> bool:
    return any(item.state in ACTIVE for item in items)


def require_item(actor: Actor, item_id: int, what: str = "open intake item") -> IntakeItem:
    item = db.session.get(IntakeItem, item_id)
    if item is None:
        raise NotFound(_l("No such intake item."))
    if not perm.can_see_intake_item(actor.user, item):
        raise deny(actor, _l("This intake item is not yours to see."), item.archive, f"{what} #{item_id}")
    return item


def open_item(actor: Actor, item_id: int) -> IntakeItem:
    """Open an item's page (its pages' texts are the customer's): the view goes on the register."""
    item = require_item(actor, item_id)
    begin_write()
    record(actor, actions.INTAKE_VIEW, archive=item.archive, detail=f"#{item.id} {item.filename}")
    db.session.commit()
    return item


def pages_of(item: IntakeItem) -> list[IntakePage]:
    root = item.root
    query = sa.select(IntakePage).where(IntakePage.item_id == root.id)
    if item.parent_id is not None:
        query = query.where(IntakePage.number.between(item.page_from, item.page_to))
    return list(db.session.scalars(query.order_by(IntakePage.number)))


# --- decisions --------------------------------------------------------------------------------

def _decidable(actor: Actor, item_id: int, what: str, states) -> IntakeItem:
    item = require_item(actor, item_id, what)
    if not perm.can_decide_intake_item(actor.user, item):
        raise deny(actor, _l("You cannot decide on this intake item."), item.archive, f"{what} #{item_id}")
    begin_write(item)
    if effective_state(item) not in states:
        raise Conflict(_l("This item is now “%(state)s”; it was decided or changed meanwhile.",
                          state=item.state_label))
    return item


def effective_state(item: IntakeItem) -> str:
    """The item's state, counting a job that failed for good (worker killed too often, etc.)."""
    if item.state in ACTIVE and item.job is not None and item.job.state == "failed":
        return FAILED
    return item.state


def assign(actor: Actor, item_id: int, archive_ident, doc_type: str, title: str = "") -> IntakeItem:
    """File a waiting (or refused over-limit) item to an archive with a type: it is queued again and
    filed by the job under the deciding user's name."""
    doc_type = (doc_type or "").strip()
    if not doc_type:
        raise ValidationFailed(_l("Choose a document type from the list."), field="doc_type")
    if archive_ident in (None, ""):
        raise ValidationFailed(_l("Enter the archive number."), field="archive")
    archive = _target(actor, archive_ident, doc_type)
    item = _decidable(actor, item_id, "assign intake item", (WAITING,))
    item.archive_id, item.doc_type = archive.id, doc_type
    if title.strip():
        item.title = title.strip()[:200]
    item.state, item.reason = QUEUED, ""
    item.filer_id = actor.user.id
    item.decided_by_id, item.decided_at = actor.user.id, utcnow()
    item.job_id = jobs.enqueue(JOB_KIND, {"item": item.id}, key=f"intake:{item.id}", user=actor.user).id
    record(actor, actions.INTAKE_ASSIGN, archive=archive,
           detail=f"#{item.id} {item.filename} → {archive.number} {doc_type}")
    db.session.commit()
    return item


def reject(actor: Actor, item_id: int, reason: str) -> IntakeItem:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Say why the item is rejected."), field="reason")
    item = _decidable(actor, item_id, "reject intake item", (WAITING, REFUSED, FAILED))
    item.state, item.reason = REJECTED, reason[:2000]
    item.decided_by_id, item.decided_at = actor.user.id, utcnow()
    record(actor, actions.INTAKE_REJECT, archive=item.archive, detail=f"#{item.id} {item.filename}: {reason}")
    db.session.commit()
    discard_if_done(item.root)
    return item


def retry(actor: Actor, item_id: int) -> IntakeItem:
    """Run a failed or refused item again (after the store came back, the limits were raised …)."""
    item = _decidable(actor, item_id, "retry intake item", (FAILED, REFUSED))
    if item.root.staged_key is None:
        raise InvalidState(_l("The received file of this item is no longer kept; send it again."))
    item.state, item.reason = QUEUED, ""
    if item.parent_id is None and not item.parts:
        db.session.execute(sa.delete(IntakePage).where(IntakePage.item_id == item.id))
        item.pages_done, item.page_count = 0, None
    item.job_id = jobs.enqueue(JOB_KIND, {"item": item.id}, key=f"intake:{item.id}", user=actor.user).id
    record(actor, actions.INTAKE_RETRY, archive=item.archive, detail=f"#{item.id} {item.filename}")
    db.session.commit()
    return item


def open_original(actor: Actor, item_id: int) -> tuple[IntakeItem, Iterator[bytes]]:
    """The received file as sent (for the archivist deciding on it); registered."""
    item = require_item(actor, item_id, "download intake original")
    root = item.root
    if root.staged_key is None:
        raise InvalidState(_l("The received file of this item is no longer kept (it was filed or rejected)."))
    begin_write()
    record(actor, actions.INTAKE_DOWNLOAD, archive=item.archive, detail=f"#{root.id} {root.filename}")
    db.session.commit()
    return root, staged_plaintext(root)


def state_of(item: IntakeItem) -> dict:
    """What the API and the polling page show of an item."""
    state = effective_state(item)
    return {
        "id": item.id,
        "state": state,
        "state_label": str(STATE_LABELS[state]),
        "filename": item.filename,
        "source": item.source,
        "media_type": item.media_type,
        "size": item.size,
        "pages": item.page_count,
        "pages_done": item.pages_done,
        "progress": (item.job.progress if item.job is not None and state in ACTIVE else "") or "",
        "archive": item.archive.number if item.archive else None,
        "doc_type": item.doc_type or None,
        "reason": item.reason or (item.job.error if item.job is not None and state == FAILED else "") or "",
        "document_id": item.document_id,
        "parent_id": item.parent_id,
        "parts": [part.id for part in item.parts],
        "created_at": item.created_at.isoformat() + "Z",
    }
