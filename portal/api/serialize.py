"""Archives and register entries as JSON: English field names, personal data masked as on the pages."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import url_for

from portal.archives import masking
from portal.archives.labels import KIND_LABELS, STATUS_LABELS
from portal.archives.models import Archive
from portal.archives.profile import fields_for
from portal.archives.subrecords import KINDS
from portal.auth import roles
from portal.auth.models import User
from portal.documents import services as documents
from portal.register import actions
from portal.register.models import RegisterEntry
from portal.register.reading import result_label

SHANGHAI = ZoneInfo("Asia/Shanghai")


def timestamp(value: datetime | None) -> str | None:
    """Stored naive UTC → RFC 3339 in Beijing time (``2026-03-01T09:30:00+08:00``)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(SHANGHAI).isoformat(timespec="seconds")


def plain(value):
    """A column value as JSON: dates ISO, decimals as strings (no float rounding)."""
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "name": user.display_name}


def archive_summary(archive: Archive, viewer: User) -> dict:
    """One line of the archive list."""
    ctype = archive.customer_type
    return {
        "id": archive.id,
        "number": archive.number,
        "name": archive.name,
        "kind": archive.kind,
        "kind_label": str(KIND_LABELS.get(archive.kind, archive.kind)),
        "status": archive.status,
        "status_label": str(STATUS_LABELS.get(archive.status, archive.status)),
        "stage": archive.stage,
        "customer_type": {"id": ctype.id, "code": ctype.code, "name": ctype.name} if ctype else None,
        "department": ({"id": archive.department.id, "name": archive.department.name}
                       if archive.department else None),
        "responsible": _person(archive.responsible),
        "region": archive.region,
        "industry": archive.industry,
        "importance": archive.importance,
        "sensitivity": archive.sensitivity,
        "sensitivity_label": str(roles.LEVEL_LABELS.get(archive.sensitivity, archive.sensitivity)),
        "phone": masking.shown(viewer, archive.phone, "phone"),
        "updated_at": timestamp(archive.updated_at),
        "url": url_for("api.archive", ident=str(archive.id)),
    }


def _field_value(viewer: User, obj, f) -> object:
    value = getattr(obj, f.name)
    if f.personal:
        return masking.shown(viewer, value, f.name)
    return plain(value)


def record_json(viewer: User, kind, rec) -> dict:
    out = {"id": rec.id}
    out.update({f.name: _field_value(viewer, rec, f) for f in kind.fields})
    out["created_at"] = timestamp(rec.created_at)
    out["updated_at"] = timestamp(rec.updated_at)
    return out


def archive_profile(archive: Archive, viewer: User, records: dict[str, list]) -> dict:
    """The whole profile as ``viewer`` may see it, with the sub-records by kind."""
    out = archive_summary(archive, viewer)
    out["profile"] = {f.name: _field_value(viewer, archive, f) for f in fields_for(archive.kind)}
    out["paper_location"] = archive.paper_location
    out["workflow"] = {
        "created_at": timestamp(archive.created_at),
        "created_by": _person(archive.created_by),
        "submitted_at": timestamp(archive.submitted_at),
        "reviewed_at": timestamp(archive.reviewed_at),
        "reviewed_by": _person(archive.reviewed_by),
        "review_note": archive.review_note,
        "filed_at": timestamp(archive.filed_at),
        "filed_by": _person(archive.filed_by),
    }
    out["version"] = archive.version
    out["records"] = {kind.key: [record_json(viewer, kind, rec) for rec in records.get(kind.key, [])]
                      for kind in KINDS}
    return out


def entry_json(entry: RegisterEntry) -> dict:
    return {
        "seq": entry.seq,
        "at": timestamp(entry.at),
        "user": entry.username,
        "role": entry.role,
        "role_label": str(roles.ROLE_LABELS[entry.role]) if entry.role in roles.ROLE_LABELS else entry.role,
        "department": entry.department,
        "action": entry.action,
        "action_label": actions.label(entry.action),
        "archive_id": entry.archive_id,
        "archive_number": entry.archive_number,
        "detail": entry.detail,
        "purpose": entry.purpose,
        "client_addr": entry.client_addr,
        "result": entry.result,
        "result_label": result_label(entry.result),
        "hash": entry.hash,
        "prev_hash": entry.prev_hash,
    }


# --- documents 档案材料 -------------------------------------------------------------------------
# Metadata only: never the contents, the extracted text or the thumbnail bytes (reading those is a
# registered view; the contents come from ``/documents/<id>/content``).

def version_json(document, version) -> dict:
    return {
        "number": version.number,
        "current": version.number == document.current_version,
        "filename": version.original_filename,
        "media_type": version.media_type,
        "size": version.size,
        "sha256": version.sha256,
        "sm3": version.sm3 or None,
        "page_count": version.page_count,
        "text_status": version.text_status,
        "text_note": version.text_note,
        "has_thumbnail": version.thumbnail is not None,
        "uploaded_at": timestamp(version.uploaded_at),
        "uploaded_by": _person(version.uploaded_by),
        "note": version.note,
        "content_url": url_for("api.document_content", doc_id=document.id, version=version.number),
    }


def document_summary(document) -> dict:
    """One line of an archive's document list (the current version's file facts included)."""
    latest = document.latest
    archive = document.archive
    return {
        "id": document.id,
        "archive": {"id": archive.id, "number": archive.number, "name": archive.name,
                    "url": url_for("api.archive", ident=str(archive.id))},
        "doc_type": document.doc_type,
        "title": document.title,
        "doc_date": plain(document.doc_date),
        "source": document.source,
        "sensitivity": document.sensitivity,
        "sensitivity_label": str(roles.LEVEL_LABELS.get(document.sensitivity, document.sensitivity)),
        "effective_sensitivity": document.effective_sensitivity,
        "effective_sensitivity_label": str(roles.LEVEL_LABELS.get(document.effective_sensitivity,
                                                                  document.effective_sensitivity)),
        "purpose_required": documents.needs_purpose(document),
        "stored_name": document.stored_name,
        "download_name": documents.download_name(document, latest) if latest else None,
        "current_version": document.current_version,
        "lock_version": document.lock_version,
        "filename": latest.original_filename if latest else None,
        "media_type": latest.media_type if latest else None,
        "size": latest.size if latest else None,
        "page_count": latest.page_count if latest else None,
        "text_status": latest.text_status if latest else None,
        "created_at": timestamp(document.created_at),
        "created_by": _person(document.created_by),
        "updated_at": timestamp(document.updated_at),
        "url": url_for("api.document", doc_id=document.id),
        "content_url": url_for("api.document_content", doc_id=document.id),
    }


def event_json(event) -> dict:
    return {
        "at": timestamp(event.at),
        "user": event.username,
        "action": event.action,
        "version": event.version_number,
        "changes": documents.event_changes(event),
        "note": event.note,
    }


def document_detail(document) -> dict:
    """The document's metadata, every version's file facts, and its history (newest first)."""
    out = document_summary(document)
    out["notes"] = document.notes
    out["versions"] = [version_json(document, v) for v in document.versions]
    out["history"] = [event_json(e) for e in documents.history(document)]
    return out
