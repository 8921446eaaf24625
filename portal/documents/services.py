"""Document operations: upload, replace, edit details, open contents, verify the store.

Order of an upload, so that a crash or a dead store at any point leaves a complete document or
none, and never a database row pointing at nothing:

1. permission and details checked, the request's database transaction ended (no lock is held
   while a large file moves);
2. the file is read once for its size, type (from the content), SHA-256 and SM3, and inspected
   (intact? encrypted? text, pages, thumbnail) — refused here with a clear message if unfit;
3. the archive's data key is made if it has none (its own short transaction);
4. the encrypted stream goes to the store as a new object version (the store makes it visible
   whole or not at all);
5. one transaction adds the document, version, history and register entry; if it fails, the
   object version is removed again — and if even that fails, ``portal verify`` reports it as an
   orphan.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import crypto
from portal.actor import Actor
from portal.admin.models import Setting
from portal.archives import permissions as perm
from portal.archives.models import Archive
from portal.archives.services import deny, get_archive
from portal.auth import roles
from portal.dbsetup import begin_write
from portal.documents import filetypes
from portal.documents.inspect import Inspection, Limits, Unacceptable, inspect
from portal.documents.models import ArchiveKey, Document, DocumentEvent, DocumentVersion
from portal.errors import Conflict, NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record, record_now
from portal.storage import ObjectMissing, StoreUnavailable, store

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
READ_CHUNK = 1024 * 1024
VIEW, DOWNLOAD, PRINT = "view", "download", "print"
MODE_ACTIONS = {VIEW: actions.DOCUMENT_VIEW, DOWNLOAD: actions.DOCUMENT_DOWNLOAD,
                PRINT: actions.DOCUMENT_PRINT}
EDITABLE_FIELDS = ("doc_type", "title", "doc_date", "source", "sensitivity", "notes")
FIELD_LABELS = {
    "doc_type": _l("Document type"), "title": _l("Title"), "doc_date": _l("Document date"),
    "source": _l("Source / channel"), "sensitivity": _l("Sensitivity"), "notes": _l("Notes"),
}


class FileTooLarge(PortalError):
    status = 413


class Duplicate(PortalError):
    """The same file (same SHA-256) is already in this archive."""

    status = 409


class PurposeRequired(PortalError):
    """一级 material: the viewer must state a purpose first (policy 004 §16)."""

    status = 428


class FixityFailure(PortalError):
    status = 500


# --- configuration ----------------------------------------------------------------------------

def document_types() -> list[str]:
    """The configurable list of document types (administration), in order."""
    row = db.session.get(Setting, "document_types")
    if row is not None:
        types = [line.strip() for line in row.value.splitlines() if line.strip()]
        if types:
            return types
    return list(current_app.config["DOCUMENT_TYPES_DEFAULT"])


def limits() -> Limits:
    config = current_app.config
    return Limits(max_pixels=int(config["MAX_IMAGE_PIXELS"]), max_pages=int(config["TEXT_MAX_PAGES"]))


def master_key() -> bytes:
    app = current_app._get_current_object()
    key = app.extensions.get("portal_master_key")
    if key is None:
        key = app.extensions["portal_master_key"] = crypto.load_master_key(
            app.config.get("MASTER_KEY"), app.instance_path)
    return key


# --- metadata ---------------------------------------------------------------------------------

@dataclass
class Details:
    """What the user says about a document (the same for every file of a multi-file upload)."""

    doc_type: str = ""
    title: str = ""
    doc_date: date | None = None
    source: str = ""
    sensitivity: int | None = None
    notes: str = ""

    @classmethod
    def from_mapping(cls, data) -> Details:
        raw_date = data.get("doc_date")
        if isinstance(raw_date, str):
            raw_date = raw_date.strip()
            try:
                raw_date = date.fromisoformat(raw_date) if raw_date else None
            except ValueError as exc:
                raise ValidationFailed(_l("Enter the document date as YYYY-MM-DD."), field="doc_date") from exc
        level = data.get("sensitivity")
        if isinstance(level, str):
            level = level.strip()
            if level and not level.isdigit():
                raise ValidationFailed(_l("Choose a sensitivity level."), field="sensitivity")
            level = int(level) if level else None
        return cls(doc_type=(data.get("doc_type") or "").strip(), title=(data.get("title") or "").strip(),
                   doc_date=raw_date, source=(data.get("source") or "").strip(), sensitivity=level,
                   notes=(data.get("notes") or "").strip())


def _check_details(details: Details, user, archive: Archive, *, title_required: bool) -> Details:
    if details.doc_type not in document_types():
        raise ValidationFailed(_l("Choose a document type from the list."), field="doc_type")
    if title_required and not details.title:
        raise ValidationFailed(_l("Enter a title."), field="title")
    if len(details.title) > 200:
        raise ValidationFailed(_l("The title may have at most 200 characters."), field="title")
    if len(details.source) > 100:
        raise ValidationFailed(_l("The source may have at most 100 characters."), field="source")
    if len(details.notes) > 4000:
        raise ValidationFailed(_l("The notes may have at most 4000 characters."), field="notes")
    if details.doc_date and details.doc_date > datetime.now(SHANGHAI).date():
        raise ValidationFailed(_l("The document date cannot be in the future."), field="doc_date")
    if details.sensitivity is None:
        details.sensitivity = archive.sensitivity if archive.sensitivity >= user.clearance else user.clearance
    if details.sensitivity not in perm.document_levels(user, archive):
        raise ValidationFailed(_l("You cannot give a document a level you could not open yourself."),
                               field="sensitivity")
    return details


# --- reading an upload ------------------------------------------------------------------------

@dataclass
class Prepared:
    filename: str
    media_type: str
    size: int
    sha256: str
    sm3: str
    inspection: Inspection


def prepare(fileobj, filename: str | None, *, read_text: bool = True) -> Prepared:
    """Size, type, digests and inspection of an uploaded file (seekable stream); Unacceptable if unfit.
    ``read_text=False``: the PDF's pages are checked but their text is not read (the caller has it)."""
    name = filetypes.clean_filename(filename)
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    if size == 0:
        raise Unacceptable(_l("“%(name)s” is empty (0 bytes). Nothing was stored.", name=name))
    max_bytes = int(current_app.config["DOCUMENT_MAX_BYTES"])
    if size > max_bytes:
        raise FileTooLarge(_l("“%(name)s” is %(size)s MB; the limit is %(limit)s MB per file.",
                              name=name, size=round(size / 1048576, 1), limit=round(max_bytes / 1048576, 1) if max_bytes % 1048576 else max_bytes // 1048576))
    header = fileobj.read(16)
    fileobj.seek(0)
    media_type, looks_like = filetypes.sniff(header, fileobj)
    if media_type is None:
        raise Unacceptable(_l("“%(name)s” is not an accepted kind of file (its content looks like: "
                              "%(kind)s). Accepted: PDF, JPEG, PNG, TIFF, Word (DOCX) and Excel (XLSX).",
                              name=name, kind=looks_like))
    digests = crypto.fixity_digests()
    while chunk := fileobj.read(READ_CHUNK):
        for digest in digests.values():
            digest.update(chunk)
    fileobj.seek(0)
    try:
        inspection = inspect(fileobj, media_type, size,
                             limits() if read_text else dataclasses.replace(limits(), max_pages=0))
    except Unacceptable as exc:
        raise Unacceptable(_l("“%(name)s”: %(problem)s", name=name, problem=exc.message)) from exc
    return Prepared(name, media_type, size, digests["sha256"].hexdigest(), digests["sm3"].hexdigest(),
                    inspection)


# --- keys and the store -----------------------------------------------------------------------

def data_key(archive_id: int, *, create: bool = False) -> bytes:
    """The archive's data key (unwrapped through its KEK in the key vault).

    ``create``: made — or, for a row from before the key vault, rewrapped into the vault — in a
    transaction of its own (callers hold no pending changes then). A row whose KEK is gone from the
    vault reads as destroyed (ObjectMissing), whatever backup the row came from.
    """
    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive_id))
    if create and (row is None or (row.wrapped_key is not None and row.vault_key_id is None)):
        row = _make_or_migrate_key(archive_id)
    if row is None or row.wrapped_key is None:
        raise _key_destroyed()
    return unwrap_data_key(row)


def _key_destroyed() -> ObjectMissing:
    return ObjectMissing(_l("The archive's encryption key no longer exists (destroyed); its files "
                            "cannot be read."))


def unwrap_data_key(row: ArchiveKey) -> bytes:
    """Unwrap a stored data key: through the vault's KEK, or (legacy rows) the master key."""
    from portal.backup.keyvault import vault

    master = master_key()
    if row.wrapped_key is None:
        raise _key_destroyed()
    if row.vault_key_id is None:
        return crypto.unwrap(master, row.wrapped_key)
    kek = vault().kek(master, row.vault_key_id)
    if kek is None:
        from portal.archives.models import DESTROYED
        from portal.backup.keyvault import KeyMissing

        status = db.session.scalar(sa.select(Archive.status).where(Archive.id == row.archive_id))
        if status not in (None, DESTROYED) and not vault().destroyed(row.vault_key_id):
            # never destroyed here, the archive live: the wrong vault (or an old copy), an outage
            log.error("key %s of live archive %s is not in the key vault %s", row.vault_key_id,
                      row.archive_id, vault().path)
            raise KeyMissing(archive=row.archive_id)
        raise _key_destroyed()
    return crypto.unwrap(kek, row.wrapped_key)


def _make_or_migrate_key(archive_id: int) -> ArchiveKey | None:
    """Create the archive's key (data key under a new KEK in the vault), or move a legacy row's
    data key under a KEK; in a write transaction of its own, committed here."""
    from portal.backup.keyvault import vault

    master = master_key()
    begin_write()
    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive_id))
    if row is not None and (row.wrapped_key is None or row.vault_key_id is not None):
        db.session.commit()  # made, migrated or destroyed meanwhile
        return row
    plain = crypto.new_data_key() if row is None else crypto.unwrap(master, row.wrapped_key)
    kek_id, kek = vault().create(master, archive_id)
    if row is None:
        row = ArchiveKey(archive_id=archive_id, master_key_id=crypto.key_id(master))
        db.session.add(row)
    row.wrapped_key = crypto.wrap(kek, plain)
    row.vault_key_id = kek_id
    try:
        db.session.commit()
    except IntegrityError:  # made at the same moment by another upload
        db.session.rollback()
        vault().delete(kek_id)  # ours was never used
        row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive_id))
    except BaseException:
        db.session.rollback()
        _forget_kek(kek_id)
        raise
    return row


def _forget_kek(kek_id: str) -> None:
    from portal.backup.keyvault import vault

    try:
        vault().delete(kek_id)
    except PortalError:
        log.warning("unused key %s left in the key vault", kek_id)


def migrate_keys() -> int:
    """Move every legacy data key (wrapped by the master key alone) under a KEK in the vault, so
    that destroying it also defeats older backups made from now on. Returns how many moved."""
    moved = 0
    ids = db.session.scalars(sa.select(ArchiveKey.archive_id).where(
        ArchiveKey.wrapped_key.is_not(None), ArchiveKey.vault_key_id.is_(None))).all()
    db.session.rollback()
    for archive_id in ids:
        row = _make_or_migrate_key(archive_id)
        moved += row is not None and row.vault_key_id is not None
    return moved


def destroy_data_key(actor: Actor | None, archive_id: int) -> bool:
    """Destroy the archive's data key for good, in the CALLER's transaction (the caller commits).

    Order: the row loses its wrapped key (flushed), KEY_DESTROY is registered, then the KEK is
    deleted from the vault; if that deletion fails the call raises (VaultUnavailable) and the
    caller's transaction rolls back — nothing recorded, the key intact, try again. Once the KEK is
    gone nothing can bring the key back, not even a backup restored with the master key; should
    the caller's commit fail after that, the archive is unreadable already and calling again
    (idempotent: True only when something was destroyed) completes the record.
    Staged intake objects have keys of their own; destruction removes those objects.
    """
    from portal.backup.keyvault import vault

    begin_write()
    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive_id)
                            .with_for_update())
    if row is None or (row.wrapped_key is None and row.vault_key_id is None):
        return False
    kek_id = row.vault_key_id
    row.wrapped_key = None
    row.destroyed_at = utcnow()
    row.vault_key_id = None  # the KEK's id is of no use any more; keep no pointer to it
    db.session.flush()
    archive = db.session.get(Archive, archive_id)
    record(actor, actions.KEY_DESTROY, archive=archive,
           detail=f"data key of archive {archive.label if archive else archive_id} destroyed"
                  + (" (key vault entry deleted)" if kek_id else " (legacy key, no vault entry)"))
    if kek_id:
        vault().mark_destroyed(kek_id, archive_id)  # first: a key merely missing means the wrong vault
        vault().delete(kek_id)
    return True


def _aad(store_key: str) -> bytes:
    return b"portal-object:" + store_key.encode()


def _put(store_key: str, fileobj, prepared: Prepared, key: bytes):
    # SHA-256 alone tells whether the file changed between reading and storing it (SM3 was
    # computed once, in prepare(); a second pass costs ~1 s per 200 MB).
    digests = {"sha256": hashlib.sha256()}
    fileobj.seek(0)
    reader = crypto.EncryptingReader(fileobj, prepared.size, key, _aad(store_key), digests.values())
    stored = store().put(store_key, reader, reader.size)
    if digests["sha256"].hexdigest() != prepared.sha256:
        store().delete_version(store_key, stored.version_id)
        raise Unacceptable(_l("The file changed while it was being stored; please upload it again."))
    return stored


def _remove_quietly(store_key: str, version_id: str) -> None:
    try:
        store().delete_version(store_key, version_id)
    except PortalError:
        log.warning("could not remove %s@%s after a failed upload; portal verify will report it",
                    store_key, version_id)


def _discard_unless_recorded(store_key: str, version_id: str) -> None:
    """After the database transaction failed: remove the stored version again — unless a row refers
    to it after all (the COMMIT went through before the connection broke) or the database cannot
    say. Then it stays: at worst an orphan that ``portal verify`` reports, never a row pointing at
    nothing."""
    try:
        db.session.rollback()
        recorded = db.session.scalar(sa.select(DocumentVersion.id).where(
            DocumentVersion.store_key == store_key, DocumentVersion.store_version == version_id))
        db.session.rollback()
    except Exception:  # noqa: BLE001 (the database is gone: keep the object)
        log.warning("database unreachable after a failed upload; %s@%s kept (portal verify reports "
                    "it as an orphan if no row refers to it)", store_key, version_id)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001
            pass
        return
    if recorded is None:
        _remove_quietly(store_key, version_id)


def _seal_thumbnail(key: bytes, png: bytes | None, store_key: str, version_id: str) -> bytes | None:
    if png is None:
        return None
    return crypto.seal(key, png, f"thumb:{store_key}:{version_id}".encode())


# --- upload -----------------------------------------------------------------------------------

@dataclass
class Outcome:
    """The result of one file of an upload: a document, or why not (and the existing duplicate)."""

    filename: str
    document: Document | None = None
    error: str = ""
    status: int = 200
    duplicate_of: Document | None = None


def _stored_name(archive_id: int, customer_name: str, doc_type: str, doc_date: date | None) -> str:
    year = (doc_date or datetime.now(SHANGHAI).date()).year
    base = filetypes.stored_name_base(customer_name, doc_type, year)
    taken = set(db.session.scalars(sa.select(Document.stored_name).where(
        Document.archive_id == archive_id, Document.stored_name.startswith(base))))
    if base not in taken:
        return base
    counter = 2
    while f"{base}-{counter}" in taken:
        counter += 1
    return f"{base}-{counter}"


def find_duplicate(archive_id: int, sha256: str) -> Document | None:
    return db.session.scalar(
        sa.select(Document).join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .where(Document.archive_id == archive_id, DocumentVersion.sha256 == sha256).limit(1))


def _duplicate(user, name: str, duplicate: Document) -> Duplicate:
    """The same file is already in the archive; its title is named only to those who may open it."""
    if not perm.can_view_document(user, duplicate):
        return Duplicate(_l("“%(name)s” is already in this archive, as a document above your clearance.",
                            name=name), document_id=duplicate.id)
    return Duplicate(_l("“%(name)s” is already in this archive as “%(title)s” (%(stored)s).",
                        name=name, title=duplicate.title, stored=duplicate.stored_name),
                     document_id=duplicate.id)


def _refuse_upload(actor: Actor, archive_id: int, filename: str, exc: Exception,
                   action: str = actions.DOCUMENT_UPLOAD, document_id: int | None = None) -> None:
    """Failed uploads and replacements are on the register too (what was tried, why it failed)."""
    reason = exc.message if isinstance(exc, PortalError) else f"{type(exc).__name__} (internal error)"
    try:
        db.session.rollback()
        record_now(actor, action, archive=db.session.get(Archive, archive_id), result="failed",
                   detail=f"{filename}: {reason}",
                   document=db.session.get(Document, document_id) if document_id else None)
    except Exception:  # noqa: BLE001 (the register must not hide the user's real problem)
        db.session.rollback()
        log.exception("could not register a failed upload")


@dataclass
class Reading:
    """Text read from a file elsewhere (scan intake: text layers and OCR, pages joined by form
    feeds), used instead of what the upload's own inspection found."""

    text: str
    status: str
    note: str = ""


def upload(actor: Actor, archive_ident, fileobj, filename: str | None, details: Details, *,
           reading: Reading | None = None) -> Document:
    """Store one file as a new document of the archive. Raises with a user-facing message."""
    user = actor.user
    archive = get_archive(archive_ident)
    if not perm.can_upload(user, archive):
        reason = perm.view_refusal(user, archive) or _l("You cannot add material to this archive.")
        raise deny(actor, reason, archive, "upload document")
    details = _check_details(Details(**vars(details)), user, archive, title_required=False)
    archive_id, customer_name = archive.id, archive.name
    db.session.commit()  # hold no database lock while the file moves
    name = filetypes.clean_filename(filename)
    try:
        prepared = prepare(fileobj, filename, read_text=reading is None)
        if reading is not None:  # read elsewhere (scan intake): not read a second time
            prepared.inspection.text = reading.text
            prepared.inspection.text_status = reading.status
            prepared.inspection.text_note = reading.note
        duplicate = find_duplicate(archive_id, prepared.sha256)
        if duplicate is not None:
            raise _duplicate(actor.user, name, duplicate)
        key = data_key(archive_id, create=True)
        store_key = f"archives/{archive_id}/{uuid.uuid4().hex}"
        stored = _put(store_key, fileobj, prepared, key)
    except Exception as exc:
        db.session.rollback()
        _refuse_upload(actor, archive_id, name, exc)
        raise
    try:
        return _add_document(actor, archive_id, customer_name, details, prepared, key, store_key, stored)
    except BaseException as exc:
        _discard_unless_recorded(store_key, stored.version_id)
        if isinstance(exc, Exception):
            _refuse_upload(actor, archive_id, name, exc)
        raise


def _add_document(actor, archive_id, customer_name, details, prepared, key, store_key, stored) -> Document:
    archive = db.session.get(Archive, archive_id)
    begin_write(archive)
    if not perm.can_upload(actor.user, archive):  # changed while the file was being stored
        raise deny(actor, _l("You cannot add material to this archive."), archive, "upload document")
    duplicate = find_duplicate(archive_id, prepared.sha256)
    if duplicate is not None:
        raise _duplicate(actor.user, prepared.filename, duplicate)
    stem = prepared.filename.rsplit(".", 1)[0] if "." in prepared.filename else prepared.filename
    document = Document(
        archive_id=archive_id, uid=store_key.rsplit("/", 1)[1], doc_type=details.doc_type,
        title=(details.title or stem)[:200], doc_date=details.doc_date, source=details.source,
        sensitivity=details.sensitivity, notes=details.notes,
        stored_name=_stored_name(archive_id, customer_name, details.doc_type, details.doc_date),
        current_version=1, created_by_id=actor.user.id)
    db.session.add(document)
    version = _new_version(document, 1, prepared, key, store_key, stored, actor.user.id, "")
    db.session.flush()
    _event(actor, document, "upload", 1, [])
    record(actor, actions.DOCUMENT_UPLOAD, archive=archive, document=document,
           detail=_describe(document, version))
    db.session.commit()
    return document


def _new_version(document, number, prepared, key, store_key, stored, user_id, note) -> DocumentVersion:
    inspection = prepared.inspection
    version = DocumentVersion(
        document=document, number=number, store_key=store_key, store_version=stored.version_id,
        stored_size=stored.size, original_filename=prepared.filename, media_type=prepared.media_type,
        size=prepared.size, sha256=prepared.sha256, sm3=prepared.sm3, page_count=inspection.page_count,
        text=inspection.text, text_status=inspection.text_status, text_note=inspection.text_note[:300],
        thumbnail=_seal_thumbnail(key, inspection.thumbnail, store_key, stored.version_id),
        uploaded_by_id=user_id, note=note[:300])
    db.session.add(version)
    return version


def _describe(document: Document, version: DocumentVersion) -> str:
    return (f"《{document.title}》 {document.stored_name} v{version.number} "
            f"({version.original_filename}, {version.size} B, sha256 {version.sha256[:16]}…)")


def _event(actor: Actor, document: Document, action: str, number: int | None, changes: list,
           note: str = "") -> None:
    db.session.add(DocumentEvent(
        document_id=document.id, user_id=actor.user.id if actor.user else None,
        username=actor.user.username if actor.user else "", action=action, version_number=number,
        changes=json.dumps(changes, ensure_ascii=False) if changes else "", note=note[:300]))


def upload_many(actor: Actor, archive_ident, files, details: Details) -> list[Outcome]:
    """Each file on its own: the good ones are stored even when another one is refused."""
    outcomes = []
    for fileobj, filename in files:
        name = filetypes.clean_filename(filename)
        try:
            document = upload(actor, archive_ident, fileobj, filename, details)
        except (Unacceptable, Duplicate, FileTooLarge, StoreUnavailable) as exc:
            duplicate = None
            if isinstance(exc, Duplicate):
                duplicate = db.session.get(Document, exc.detail.get("document_id"))
            outcomes.append(Outcome(name, error=str(exc.message), status=exc.status, duplicate_of=duplicate))
            if isinstance(exc, StoreUnavailable):
                # the store is down: the remaining files would fail the same way
                for _rest, rest_name in files[len(outcomes):]:
                    outcomes.append(Outcome(filetypes.clean_filename(rest_name), error=str(exc.message),
                                            status=exc.status))
                break
        else:
            outcomes.append(Outcome(name, document=document, status=201))
    return outcomes


# --- finding documents ------------------------------------------------------------------------

def get_document(document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None:
        raise NotFound(_l("No such document."))
    return document


def require_document(actor: Actor, document_id: int, what: str = "open document") -> Document:
    """The document if the actor may open it; a refusal is registered and raised otherwise."""
    document = get_document(document_id)
    reason = perm.document_refusal(actor.user, document)
    if reason is not None:
        raise deny(actor, reason, document.archive, f"{what} #{document.id}", document=document)
    return document


def documents_of(user, archive: Archive) -> list[Document]:
    """The archive's documents that ``user`` may see (the caller has checked the archive)."""
    if not perm.can_view(user, archive):
        return []
    return list(db.session.scalars(
        sa.select(Document).where(Document.archive_id == archive.id, perm.document_clause(user))
        .order_by(Document.doc_date.desc().nulls_last(), Document.id.desc())))


def hidden_count(user, archive: Archive) -> int:
    """How many of the archive's documents are above the user's clearance (shown as a count only)."""
    return db.session.scalar(sa.select(sa.func.count(Document.id)).where(
        Document.archive_id == archive.id, sa.not_(perm.document_clause(user)))) or 0


def history(document: Document) -> list[DocumentEvent]:
    return list(db.session.scalars(sa.select(DocumentEvent).where(DocumentEvent.document_id == document.id)
                                   .order_by(DocumentEvent.at.desc(), DocumentEvent.id.desc())))


def event_changes(event: DocumentEvent) -> list[dict]:
    return json.loads(event.changes) if event.changes else []


# --- replacing the file and editing the details -----------------------------------------------

def _require_change(actor: Actor, document_id: int, what: str) -> Document:
    document = require_document(actor, document_id, what)
    if not perm.can_change_document(actor.user, document):
        raise deny(actor, _l("You cannot change the material of this archive."), document.archive,
                   f"{what} #{document.id}", document=document)
    return document


def replace_file(actor: Actor, document_id: int, fileobj, filename: str | None, *, note: str = "",
                 lock_version: int | None = None) -> Document:
    """Store a new file as the next version; the earlier versions stay."""
    document = _require_change(actor, document_id, "replace document")
    if lock_version is not None and lock_version != document.lock_version:
        raise Conflict(_l("Someone else changed this document since you opened it. Reload the page "
                          "and check before replacing the file."))
    archive_id = document.archive_id
    store_key = document.latest.store_key
    db.session.commit()
    name = filetypes.clean_filename(filename)
    try:
        prepared = prepare(fileobj, filename)
        same = db.session.scalar(sa.select(DocumentVersion).where(
            DocumentVersion.document_id == document_id, DocumentVersion.sha256 == prepared.sha256))
        if same is not None:
            raise Duplicate(_l("“%(name)s” is the same file as version %(n)s of this document.",
                               name=name, n=same.number), document_id=document_id)
        other = find_duplicate(archive_id, prepared.sha256)
        if other is not None:
            raise _duplicate(actor.user, name, other)
        key = data_key(archive_id, create=True)
        stored = _put(store_key, fileobj, prepared, key)
    except Exception as exc:
        db.session.rollback()
        _refuse_upload(actor, archive_id, name, exc, actions.DOCUMENT_REPLACE, document_id)
        raise
    try:
        document = db.session.get(Document, document_id)
        begin_write(document)
        if lock_version is not None and lock_version != document.lock_version:
            raise Conflict(_l("Someone else changed this document since you opened it. Reload the page "
                              "and check before replacing the file."))
        number = document.current_version + 1
        version = _new_version(document, number, prepared, key, store_key, stored, actor.user.id, note)
        document.current_version = number
        db.session.flush()
        _event(actor, document, "replace", number, [], note)
        record(actor, actions.DOCUMENT_REPLACE, archive=document.archive, document=document,
               detail=_describe(document, version) + (f" — {note}" if note else ""))
        db.session.commit()
        return document
    except BaseException as exc:
        _discard_unless_recorded(store_key, stored.version_id)
        if isinstance(exc, Exception):
            _refuse_upload(actor, archive_id, name, exc, actions.DOCUMENT_REPLACE, document_id)
        raise


def _show(field_name: str, value) -> str:
    if value is None or value == "":
        return ""
    if field_name == "sensitivity":
        return str(roles.LEVEL_LABELS.get(value, value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def update_details(actor: Actor, document_id: int, details: Details, *, lock_version: int) -> list[dict]:
    """Change the details; every change is kept in the history (who, when, old → new)."""
    begin_write()
    document = _require_change(actor, document_id, "edit document")
    if lock_version != document.lock_version:
        raise Conflict(_l("Someone else changed this document since you opened it. Your input is "
                          "kept below; check the current details and save again."))
    details = _check_details(details, actor.user, document.archive, title_required=True)
    changes = []
    for name in EDITABLE_FIELDS:
        old, new = getattr(document, name), getattr(details, name)
        if old != new:
            changes.append({"field": name, "old": _show(name, old), "new": _show(name, new)})
            setattr(document, name, new)
    if not changes:
        db.session.rollback()
        return []
    _event(actor, document, "edit", None, changes)
    record(actor, actions.DOCUMENT_EDIT, archive=document.archive, document=document,
           detail=f"《{document.title}》: " + "; ".join(f"{c['field']}: {c['old']} → {c['new']}" for c in changes))
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict(_l("Someone else changed this document at the same moment. Your input is kept "
                          "below; check and save again.")) from exc
    return changes


# --- contents ---------------------------------------------------------------------------------

@dataclass
class Content:
    """An opened document version: registered, permission checked, ready to stream."""

    document: Document
    version: DocumentVersion
    key: bytes = field(repr=False)
    mode: str
    watermark: bool
    download_name: str
    chunks: Iterator[bytes] | None = field(default=None, repr=False)
    actor: Actor | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        return verified_plaintext(self)


def needs_purpose(document: Document) -> bool:
    return document.effective_sensitivity == roles.SECRET


def download_name(document: Document, version: DocumentVersion) -> str:
    ext = filetypes.EXTENSIONS.get(version.media_type, "")
    suffix = f"-v{version.number}" if version.number != document.current_version else ""
    return f"{document.stored_name}{suffix}{ext}"


def open_content(actor: Actor, document_id: int, *, version: int | None = None, mode: str = VIEW,
                 purpose: str = "", register: bool = True) -> Content:
    """Check, register and open one version for reading (a refusal is registered too).

    ``register=False`` is for the pieces of a page whose view is already registered (the inline
    content and thumbnails inside the viewer page), never for downloads or prints.
    """
    begin_write()
    document = require_document(actor, document_id, f"{mode} document")
    chosen = document.version(version) if version else document.latest
    if chosen is None:
        raise NotFound(_l("This document has no version %(n)s.", n=version))
    purpose = (purpose or "").strip()[:300]
    if register and needs_purpose(document) and not purpose:
        raise PurposeRequired(_l("This document is classified level 1 (secret): state the purpose of "
                                 "this %(what)s first; it is recorded in the access register.",
                                 what=_mode_word(mode)))
    key = data_key(document.archive_id)
    watermark = mode in (DOWNLOAD, PRINT) and document.effective_sensitivity in current_app.config[
        "WATERMARK_LEVELS"] and chosen.media_type in (filetypes.PDF, *filetypes.IMAGES)
    try:
        chunks = store().get(chosen.store_key, chosen.store_version)
    except (ObjectMissing, StoreUnavailable) as exc:
        db.session.rollback()
        if isinstance(exc, ObjectMissing):
            _fixity_failure(actor, document, chosen, "object missing from the store")
        raise
    if register:
        record(actor, MODE_ACTIONS[mode], archive=document.archive, document=document, purpose=purpose,
               detail=_describe(document, chosen) + (" [watermarked]" if watermark else "")
               + (" [api]" if actor.via == "api" else ""))
        db.session.commit()
    return Content(document, chosen, key, mode, watermark, download_name(document, chosen), chunks, actor)


def _mode_word(mode: str) -> str:
    return str({VIEW: _l("view"), DOWNLOAD: _l("download"), PRINT: _l("print")}[mode])


def verified_plaintext(content: Content) -> Iterator[bytes]:
    """Decrypt and check: each segment is authenticated (AES-GCM) before it is released, and the
    SHA-256 of the whole is compared with the fixity recorded at upload. (SM3 is checked by
    ``portal verify``; on every read it would add ~1 s per 200 MB for no further assurance.)"""
    version = content.version
    digests = {"sha256": hashlib.sha256()}
    chunks = content.chunks
    if chunks is None:
        chunks = store().get(version.store_key, version.store_version)
    try:
        for plain in crypto.decrypt_stream(chunks, content.key, _aad(version.store_key)):
            for digest in digests.values():
                digest.update(plain)
            yield plain
    except crypto.DecryptionFailed as exc:
        _fixity_failure(content.actor, content.document, version, str(exc))
        raise FixityFailure(_l("The stored file failed its integrity check and was not delivered. "
                               "The archivist has been told.")) from exc
    if digests["sha256"].hexdigest() != version.sha256:
        _fixity_failure(content.actor, content.document, version, "fixity hash mismatch")
        raise FixityFailure(_l("The stored file failed its integrity check and was not delivered. "
                               "The archivist has been told."))


def _fixity_failure(actor: Actor | None, document: Document, version: DocumentVersion, problem: str) -> None:
    log.error("fixity failure: document %s v%s (%s@%s): %s", document.id, version.number,
              version.store_key, version.store_version, problem)
    try:
        record_now(actor, actions.FIXITY_FAILURE, archive=document.archive, document=document,
                   result="failed", detail=f"v{version.number} {version.store_key}: {problem}")
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("could not register the fixity failure")


def spool(content: Content) -> tempfile.SpooledTemporaryFile:
    """The verified plaintext in a temporary file (for watermarking and image conversion)."""
    out = tempfile.TemporaryFile()
    for chunk in content:
        out.write(chunk)
    out.seek(0)
    return out


def watermark_text(user) -> tuple[str, str]:
    """(Chinese/English text, Latin-only fallback) stamped on a confidential copy."""
    when = now_local().strftime("%Y-%m-%d %H:%M")
    name = f"{user.display_name}（{user.username}）" if user.display_name else user.username
    text = str(_l("Confidential · %(name)s · %(time)s · do not pass on", name=name, time=when))
    return text, f"CONFIDENTIAL {user.username} {when}"


def deliverable(content: Content) -> tuple[Iterator[bytes], str, int | None]:
    """What to send: (chunks, media type, length or None). Confidential downloads and prints of PDFs
    and images are watermarked with the viewer's name and the time (whole file checked first)."""
    version = content.version
    if not content.watermark or version.media_type not in (filetypes.PDF, *filetypes.IMAGES):
        return iter(content), version.media_type, version.size
    from portal.documents.watermark import watermark

    plain = spool(content)
    text, ascii_text = watermark_text(content.actor.user)
    try:
        marked, media_type = watermark(plain, version.media_type, text, ascii_text,
                                       current_app.config.get("WATERMARK_FONT"))
    finally:
        plain.close()
    marked.seek(0, os.SEEK_END)
    length = marked.tell()
    marked.seek(0)
    return _file_chunks(marked), media_type, length


def _file_chunks(handle, size: int = 256 * 1024) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(size):
            yield chunk


def thumbnail(actor: Actor, document_id: int, version: int | None = None) -> bytes | None:
    """The first-page thumbnail (PNG) if the actor may open the document (part of list pages)."""
    document = require_document(actor, document_id, "thumbnail of document")
    chosen = document.version(version) if version else document.latest
    if chosen is None or chosen.thumbnail is None:
        return None
    key = data_key(document.archive_id)
    return crypto.open_sealed(key, chosen.thumbnail,
                              f"thumb:{chosen.store_key}:{chosen.store_version}".encode())


# --- verification (portal verify) -------------------------------------------------------------

@dataclass
class VerifyReport:
    checked: int = 0
    bytes_checked: int = 0
    missing: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # the archive key is gone

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered or self.orphaned)

    def summary(self) -> str:
        return (f"checked {self.checked} versions ({self.bytes_checked} bytes): missing {len(self.missing)}, "
                f"altered {len(self.altered)}, orphaned {len(self.orphaned)}, "
                f"key destroyed {len(self.unreadable)}")


def verify_store(*, contents: bool = True, batch: int = 200, progress=None) -> VerifyReport:
    """Re-check every stored version against its fixity and find objects no row refers to."""
    report = VerifyReport()
    s = store()
    s.ensure_ready()
    last_id = 0
    keys: dict[int, bytes | None] = {}
    while True:
        rows = db.session.execute(
            sa.select(DocumentVersion.id, DocumentVersion.document_id, DocumentVersion.number,
                      DocumentVersion.store_key, DocumentVersion.store_version, DocumentVersion.stored_size,
                      DocumentVersion.sha256, DocumentVersion.sm3, Document.archive_id)
            .join(Document, Document.id == DocumentVersion.document_id)
            .where(DocumentVersion.id > last_id).order_by(DocumentVersion.id).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            label = f"document {row.document_id} v{row.number} ({row.store_key}@{row.store_version})"
            report.checked += 1
            if progress:
                progress(report)
            try:
                stat = s.stat(row.store_key, row.store_version)
            except ObjectMissing:
                report.missing.append(label)
                continue
            if stat.size != row.stored_size:
                report.altered.append(f"{label}: size {stat.size}, expected {row.stored_size}")
                continue
            if not contents:
                continue
            if row.archive_id not in keys:
                try:
                    keys[row.archive_id] = data_key(row.archive_id)
                except ObjectMissing:
                    keys[row.archive_id] = None
                except crypto.DecryptionFailed as exc:  # a damaged key-vault entry or another master key
                    keys[row.archive_id] = exc
            key = keys[row.archive_id]
            if key is None:
                report.unreadable.append(label)
                continue
            if isinstance(key, Exception):
                report.altered.append(f"{label}: the archive's key cannot be unwrapped ({key})")
                continue
            digest = crypto.fixity_digests()
            try:
                for plain in crypto.decrypt_stream(s.get(row.store_key, row.store_version), key,
                                                   _aad(row.store_key)):
                    digest["sha256"].update(plain)
                    digest["sm3"].update(plain)
                    report.bytes_checked += len(plain)
            except crypto.DecryptionFailed as exc:
                report.altered.append(f"{label}: {exc}")
                continue
            except ObjectMissing:
                report.missing.append(label)
                continue
            if digest["sha256"].hexdigest() != row.sha256 or (row.sm3 and digest["sm3"].hexdigest() != row.sm3):
                report.altered.append(f"{label}: fixity hash differs")
        last_id = rows[-1].id
        db.session.rollback()  # end the read snapshot between batches
    _find_orphans(s, report, batch)
    _check_intake(s, report)
    return report


def _check_intake(s, report: VerifyReport) -> None:
    """Files received by scan intake and not yet filed: present, and nothing else under intake/."""
    from portal.intake.models import IntakeItem

    kept = {(key, version): item_id for item_id, key, version in db.session.execute(
        sa.select(IntakeItem.id, IntakeItem.staged_key, IntakeItem.staged_version)
        .where(IntakeItem.staged_key.is_not(None)))}
    seen = set()
    for obj in s.list_versions("intake/"):
        if (obj.key, obj.version_id) in kept:
            seen.add((obj.key, obj.version_id))
        else:
            report.orphaned.append(f"{obj.key}@{obj.version_id} ({obj.size} bytes)")
    for (key, version), item_id in kept.items():
        if (key, version) not in seen:
            report.missing.append(f"intake item {item_id} ({key}@{version})")
    db.session.rollback()


def _find_orphans(s, report: VerifyReport, batch: int) -> None:
    pending = []

    def flush():
        keys = {o.key for o in pending}
        known = {(key, version) for key, version in db.session.execute(
            sa.select(DocumentVersion.store_key, DocumentVersion.store_version)
            .where(DocumentVersion.store_key.in_(keys)))}
        for obj in pending:
            if (obj.key, obj.version_id) not in known:
                report.orphaned.append(f"{obj.key}@{obj.version_id} ({obj.size} bytes)")
        pending.clear()

    for obj in s.list_versions("archives/"):
        pending.append(obj)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()


def record_verification(actor: Actor | None, report: VerifyReport) -> None:
    record_now(actor, actions.FIXITY_CHECK, result="ok" if report.ok else "failed", detail=report.summary())


def now_local() -> datetime:
    return datetime.now(UTC).astimezone(SHANGHAI)


__all__ = ["Content", "Details", "Duplicate", "FileTooLarge", "FixityFailure", "Outcome", "PurposeRequired",
           "Unacceptable", "documents_of", "open_content", "replace_file", "update_details", "upload",
           "upload_many", "verify_store"]
