"""What the index holds for an archive and for a document, built from the database.

Only what the results page and the filters need is stored; the searchable text itself is indexed,
not stored (the text of record stays in the database and the store; snippets are cut from it at
query time, after the permission check).

Personal fields that are masked 脱敏 for some viewers (ID number, bank account, phone, e-mail,
addresses) are NOT indexed: a hit on a phone number would tell a viewer who only sees
``138****1234`` which archive holds the number they typed.
"""
from __future__ import annotations

from datetime import date, datetime

from whoosh import fields

from portal.search.analysis import ArchiveTokenizer, FastExistence, FastPositions

KIND_ARCHIVE = "archive"
KIND_DOCUMENT = "document"


def uid(kind: str, obj_id: int) -> int:
    """One integer per index entry: archives even, documents odd (the docnum ↔ id map's key)."""
    return obj_id * 2 + (1 if kind == KIND_DOCUMENT else 0)


def split_uid(value: int) -> tuple[str, int]:
    return (KIND_DOCUMENT if value & 1 else KIND_ARCHIVE), value >> 1


def key(kind: str, obj_id: int) -> str:
    return f"{kind[0]}{obj_id}"


def make_schema() -> fields.Schema:
    text = fields.TEXT(analyzer=ArchiveTokenizer("tail"))
    text.format = FastPositions()
    return fields.Schema(
        key=fields.ID(unique=True, stored=True),
        # shift_step=bits: one term per value (equality and sorting, no ranges needed)
        uid=fields.NUMERIC(int, bits=64, signed=False, shift_step=64, stored=True, sortable=True),
        kind=fields.ID(stored=True),
        archive=fields.ID(stored=True),  # the archive's id (deleting an archive's documents)
        department=fields.NUMERIC(int, bits=32, shift_step=32, stored=True),
        sensitivity=fields.NUMERIC(int, bits=8, shift_step=8, stored=True),
        status=fields.ID(stored=True),
        day=fields.NUMERIC(int, bits=32, shift_step=32, stored=True, sortable=True),  # date.toordinal()
        title=fields.STORED(),
        text=text,
        # each distinct CJK character once: one-character queries (张). Scorable: Whoosh 2.7 stats a
        # missing length file for every posting of a non-scorable field at commit.
        uni=fields.FieldType(FastExistence(), ArchiveTokenizer("charset"), scorable=True),
    )


def _day(value) -> int:
    if isinstance(value, datetime):
        return value.date().toordinal()
    if isinstance(value, date):
        return value.toordinal()
    return 0


def _plain(value) -> str:
    if value is None:
        return ""
    return str(value).strip()


def subrecords_of(session, archive_ids) -> dict[int, dict[str, list]]:
    """archive id → sub-record table → rows, for many archives in one query per kind (rebuilds)."""
    import sqlalchemy as sa

    from portal.archives.subrecords import KINDS

    out: dict[int, dict[str, list]] = {i: {} for i in archive_ids}
    for kind in KINDS:
        table = kind.model.__tablename__
        for row in session.scalars(sa.select(kind.model).where(kind.model.archive_id.in_(archive_ids))
                                   .order_by(kind.model.id)):
            out[row.archive_id].setdefault(table, []).append(row)
    return out


def archive_text(archive, session=None, subrecords: dict[str, list] | None = None) -> str:
    """The searchable text of an archive: its profile (without masked personal fields) and every
    sub-record log, one line per value. Also used to cut snippets. ``subrecords`` (from
    ``subrecords_of``) saves the queries when many archives are indexed."""
    import sqlalchemy as sa
    from sqlalchemy.orm import object_session

    from portal.archives.profile import SECTIONS
    from portal.archives.subrecords import KINDS

    session = session or object_session(archive)
    lines = [archive.name, archive.name_en or "", archive.number or ""]
    if archive.customer_type is not None:
        lines.append(archive.customer_type.name)
    for section in SECTIONS:
        for f in section.fields_for(archive.kind):
            if f.personal or f.type not in ("str", "text") or f.name in ("name", "name_en", "number"):
                continue
            lines.append(_plain(getattr(archive, f.name, "")))
    for kind in KINDS:
        fields_ = [f.name for f in kind.fields if not f.personal and f.type in ("str", "text")]
        if subrecords is not None:
            rows = subrecords.get(kind.model.__tablename__, [])
        else:
            rows = session.scalars(sa.select(kind.model).where(kind.model.archive_id == archive.id)
                                   .order_by(kind.model.id))
        for row in rows:
            lines.extend(_plain(getattr(row, name, "")) for name in fields_)
    return "\n".join(line for line in lines if line)


def archive_entry(archive, session=None, subrecords: dict[str, list] | None = None) -> dict:
    text = archive_text(archive, session, subrecords)
    return dict(
        key=key(KIND_ARCHIVE, archive.id), uid=uid(KIND_ARCHIVE, archive.id), kind=KIND_ARCHIVE,
        archive=str(archive.id), department=archive.department_id or 0, sensitivity=archive.sensitivity,
        status=archive.status, day=_day(archive.filed_at or archive.created_at),
        title=archive.name, text=text, uni=text,
    )


def document_text(document, version_text: str | None) -> str:
    lines = [document.title, document.doc_type, document.stored_name, document.source or "",
             document.notes or "", version_text or ""]
    return "\n".join(line for line in lines if line)


def document_entry(document, version_text: str | None) -> dict:
    text = document_text(document, version_text)
    archive = document.archive
    return dict(
        key=key(KIND_DOCUMENT, document.id), uid=uid(KIND_DOCUMENT, document.id), kind=KIND_DOCUMENT,
        archive=str(document.archive_id), department=archive.department_id or 0,
        sensitivity=document.sensitivity, status=archive.status,
        day=_day(document.doc_date or document.created_at), title=document.title, text=text, uni=text,
    )
