"""Archive operations. Each checks permission, changes state, registers, and commits."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from portal.actor import Actor
from portal.admin.models import CustomerType
from portal.archives import numbering
from portal.archives import permissions as perm
from portal.archives.models import (
    APPROVED,
    DESTROYED,
    DRAFT,
    FILED,
    REJECTED,
    SUBMITTED,
    Archive,
    Contact,
)
from portal.archives.profile import ALL_FIELDS
from portal.archives.subrecords import SubRecordKind
from portal.auth import roles
from portal.auth.models import Department, User
from portal.dbsetup import begin_write
from portal.errors import Conflict, InvalidState, NotFound, PermissionDenied, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record, record_now

SHANGHAI = ZoneInfo("Asia/Shanghai")


def deny(actor: Actor, reason, archive: Archive | None = None, what: str = "",
         document=None) -> PermissionDenied:
    """Register a refused attempt (in its own transaction) and return the error to raise."""
    record_now(actor, actions.ACCESS_DENIED, archive=archive, detail=f"{what}: {reason}" if what else str(reason),
               result="denied", document=document)
    return PermissionDenied(reason, archive=archive)


def get_archive(ident: int | str) -> Archive:
    """Find an archive by database id or archive number; NotFound otherwise (no permission check)."""
    archive = None
    if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
        archive = db.session.get(Archive, int(ident))
    if archive is None and isinstance(ident, str):
        archive = db.session.scalar(sa.select(Archive).where(Archive.number == ident))
    if archive is None or archive.status == DESTROYED:  # a tombstone: see portal.destruction
        raise NotFound(_l("No such archive."))
    return archive


def open_archive(actor: Actor, ident: int | str, *, purpose: str = "") -> Archive:
    """Open an archive for viewing: refused attempts and views both go on the register."""
    begin_write()
    archive = get_archive(ident)
    reason = perm.view_refusal(actor.user, archive)
    if reason is not None:
        raise deny(actor, reason, archive, "view")
    record(actor, actions.ARCHIVE_VIEW, archive=archive, purpose=purpose,
           detail="api" if actor.via == "api" else "")
    db.session.commit()
    return archive


def _check_references(actor: Actor, data: dict, archive: Archive | None) -> None:
    """Department, type and responsible staff must exist and be within the actor's reach."""
    user = actor.user
    if "customer_type_id" in data:
        ct = db.session.get(CustomerType, data["customer_type_id"])
        if ct is None or (not ct.active and (archive is None or archive.customer_type_id != ct.id)):
            raise ValidationFailed(_l("Choose a valid customer type."))
    if "department_id" in data:
        dept = db.session.get(Department, data["department_id"])
        if dept is None:
            raise ValidationFailed(_l("Choose a valid department."))
        if data["department_id"] != user.department_id:
            raise ValidationFailed(_l("You can only enter archives for your own department."))
    if data.get("responsible_id"):
        resp = db.session.get(User, data["responsible_id"])
        dept_id = data.get("department_id", archive.department_id if archive else user.department_id)
        if resp is None or not resp.active or resp.role not in (roles.STAFF, roles.DEPT_HEAD) \
                or resp.department_id != dept_id:
            raise ValidationFailed(_l("The responsible staff member must be active staff of the "
                                      "archive's department."))
    if "sensitivity" in data and data["sensitivity"] < user.clearance:
        raise ValidationFailed(_l("You cannot classify an archive above your own clearance."))


def _changed_fields(archive: Archive, data: dict) -> list[str]:
    return [name for name, value in data.items() if getattr(archive, name) != value]


def _describe_changes(names: list[str]) -> str:
    """Register detail for a change: the names of the changed fields, never personal values."""
    return ", ".join(names)


def create_draft(actor: Actor, data: dict) -> Archive:
    """Staff enter a new customer archive as a draft (policy 004 §8, §11 信息采集)."""
    begin_write()
    user = actor.user
    if not perm.can_create(user):
        raise deny(actor, _l("Only staff and department heads enter new archives."), what="create")
    data = dict(data)
    data.setdefault("department_id", user.department_id)
    if not data.get("responsible_id") and user.role == roles.STAFF:
        data["responsible_id"] = user.id
    _check_references(actor, data, None)
    unknown = set(data) - set(ALL_FIELDS) - {"kind"}
    if unknown:
        raise ValidationFailed(_l("Unknown fields: %(fields)s", fields=", ".join(sorted(unknown))))
    archive = Archive(created_by_id=user.id, status=DRAFT, **data)
    db.session.add(archive)
    db.session.flush()
    record(actor, actions.ARCHIVE_CREATE, archive=archive, detail=archive.name)
    db.session.commit()
    return archive


def update_draft(actor: Actor, archive: Archive, data: dict, expected_version: int | None) -> list[str]:
    """Save an edited draft; refuses if someone saved in between (``expected_version``)."""
    begin_write(archive)
    if not perm.can_edit(actor.user, archive):
        raise deny(actor, _l("This archive cannot be edited by you in its current state."), archive, "edit")
    if expected_version is not None and expected_version != archive.version:
        raise Conflict(_l("Someone else saved this archive while you were editing. Reload to see "
                          "their changes, then apply yours again."))
    data = {k: v for k, v in data.items() if k in ALL_FIELDS}
    _check_references(actor, {k: v for k, v in data.items()
                              if k != "department_id" or v != archive.department_id}, archive)
    changed = _changed_fields(archive, data)
    if not changed:
        return []
    for name in changed:
        setattr(archive, name, data[name])
    record(actor, actions.ARCHIVE_UPDATE, archive=archive, detail=_describe_changes(changed))
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict(_l("Someone else saved this archive at the same moment. Reload and try "
                          "again.")) from exc
    return changed


def _transition(actor: Actor, archive: Archive, allowed: bool, action: str, refusal,
                detail: str = "") -> None:
    if not allowed:
        if not perm.can_view(actor.user, archive):
            raise deny(actor, perm.view_refusal(actor.user, archive), archive, action)
        raise deny(actor, refusal, archive, action)
    record(actor, action, archive=archive, detail=detail)
    db.session.commit()


def submit(actor: Actor, archive: Archive) -> None:
    """Send a draft to the department head for review (2 working days, policy 004 §11)."""
    begin_write(archive)
    allowed = perm.can_submit(actor.user, archive)
    if allowed:
        archive.status = SUBMITTED
        archive.submitted_at = utcnow()
        archive.review_note = ""
    _transition(actor, archive, allowed, actions.ARCHIVE_SUBMIT,
                _l("Only a draft or a rejected archive can be submitted, by its author or head."))


def withdraw(actor: Actor, archive: Archive) -> None:
    """The author takes a submitted draft back before the head has decided."""
    begin_write(archive)
    allowed = perm.can_withdraw(actor.user, archive)
    if allowed:
        archive.status = DRAFT
    _transition(actor, archive, allowed, actions.ARCHIVE_WITHDRAW,
                _l("Only the author can withdraw a submission that is still waiting for review."))


def approve(actor: Actor, archive: Archive, note: str = "") -> None:
    """The department head confirms the draft and passes it to the archivist."""
    begin_write(archive)
    allowed = perm.can_review(actor.user, archive)
    if allowed:
        archive.status = APPROVED
        archive.reviewed_at = utcnow()
        archive.reviewed_by_id = actor.user.id
        archive.review_note = note.strip()
    _transition(actor, archive, allowed, actions.ARCHIVE_APPROVE,
                _l("Only the head of the archive's department can review a submitted archive."), note)


def reject(actor: Actor, archive: Archive, reason: str) -> None:
    """The department head sends the draft back with a reason."""
    begin_write(archive)
    reason = (reason or "").strip()
    allowed = perm.can_review(actor.user, archive)
    if allowed and not reason:
        raise ValidationFailed(_l("Give a reason for the rejection so that the author can correct it."))
    if allowed:
        archive.status = REJECTED
        archive.reviewed_at = utcnow()
        archive.reviewed_by_id = actor.user.id
        archive.review_note = reason
    _transition(actor, archive, allowed, actions.ARCHIVE_REJECT,
                _l("Only the head of the archive's department can review a submitted archive."), reason)


def file_archive(actor: Actor, archive: Archive, sensitivity: int | None = None) -> str:
    """The archivist files an approved archive and assigns its number (policy 004 §11).

    The archivist also sets the final classification: a 一级 (secret) archive is usually entered
    by staff without 一级 clearance, so it can only be raised to that level here.
    """
    begin_write(archive)
    allowed = perm.can_file(actor.user, archive)
    if not allowed:
        _transition(actor, archive, False, actions.ARCHIVE_FILE,
                    _l("Only the archivist can file an archive, after the department head approved it."))
    if archive.number:
        raise InvalidState(_l("This archive already has a number."))
    detail = ""
    if sensitivity is not None and sensitivity != archive.sensitivity:
        if sensitivity not in roles.LEVELS or sensitivity < actor.user.clearance:
            raise ValidationFailed(_l("You cannot classify an archive above your own clearance."))
        detail = f" (sensitivity {archive.sensitivity} → {sensitivity})"
        archive.sensitivity = sensitivity
    year = datetime.now(UTC).astimezone(SHANGHAI).year
    archive.number = numbering.allocate(archive.customer_type.code, year)
    archive.status = FILED
    archive.filed_at = utcnow()
    archive.filed_by_id = actor.user.id
    record(actor, actions.ARCHIVE_FILE, archive=archive, detail=archive.number + detail)
    db.session.commit()
    return archive.number


def delete_draft(actor: Actor, archive: Archive) -> None:
    """A draft that was never filed may be discarded by its author (a filed one: destruction only)."""
    begin_write(archive)
    if not perm.can_delete_draft(actor.user, archive):
        raise deny(actor, _l("Only an unfiled draft can be deleted, by its author or head."), archive, "delete")
    from portal.retention import services as retention
    retention.require_not_held(actor, archive, what="delete draft")  # a hold 冻结 stops it (issue 7)
    from portal.documents.models import Document
    if db.session.scalar(sa.select(sa.func.count()).select_from(Document).where(Document.archive_id == archive.id)):
        # Material once stored is on the register; it leaves only through destruction (SPEC §6).
        raise InvalidState(_l("This draft already holds documents, so it cannot be deleted. Submit it, "
                              "or ask the archivist to have the material destroyed under the destruction "
                              "procedure."))
    record(actor, actions.ARCHIVE_DELETE, archive=archive, detail=archive.name)
    db.session.delete(archive)
    db.session.commit()


# --- sub-records --------------------------------------------------------------------------

def require_record_access(actor: Actor, archive: Archive, kind: SubRecordKind, verb: str) -> None:
    """Refuse (and register the refusal) unless ``actor`` may ``verb`` (add, edit, delete) records
    of ``kind``; the reason says why in the user's terms."""
    user = actor.user
    new = verb == "add"
    allowed = (perm.can_add_record(user, archive, kind) if new
               else perm.can_change_record(user, archive, kind))
    if allowed:
        return
    what = f"{verb} {kind.key}"
    if not perm.can_view(user, archive):
        raise deny(actor, perm.view_refusal(user, archive), archive, what)
    if archive.status == FILED:
        reason = (_l("You cannot add records to this archive.") if new else
                  _l("Records of a filed archive change only through a change request."))
    else:
        reason = _l("This archive cannot be edited by you in its current state.")
    raise deny(actor, reason, archive, what)


def add_record(actor: Actor, archive: Archive, kind: SubRecordKind, data: dict):
    begin_write(archive)
    require_record_access(actor, archive, kind, "add")
    rec = kind.model(archive_id=archive.id, **data)
    db.session.add(rec)
    archive.updated_at = utcnow()
    db.session.flush()
    record(actor, actions.SUBRECORD_ADD, archive=archive, detail=f"{kind.key} #{rec.id}")
    db.session.commit()
    return rec


def get_record(archive: Archive, kind: SubRecordKind, record_id: int):
    rec = db.session.get(kind.model, record_id)
    if rec is None or rec.archive_id != archive.id:
        raise NotFound(_l("No such record."))
    return rec


def edit_record(actor: Actor, archive: Archive, kind: SubRecordKind, rec, data: dict) -> None:
    begin_write(archive, rec)
    require_record_access(actor, archive, kind, "edit")
    changed = [name for name, value in data.items() if getattr(rec, name) != value]
    for name in changed:
        setattr(rec, name, data[name])
    if changed:
        archive.updated_at = utcnow()
        record(actor, actions.SUBRECORD_EDIT, archive=archive,
               detail=f"{kind.key} #{rec.id}: {', '.join(changed)}")
    db.session.commit()


def delete_record(actor: Actor, archive: Archive, kind: SubRecordKind, rec) -> None:
    begin_write(archive, rec)
    require_record_access(actor, archive, kind, "delete")
    record(actor, actions.SUBRECORD_DELETE, archive=archive, detail=f"{kind.key} #{rec.id}")
    db.session.delete(rec)
    archive.updated_at = utcnow()
    db.session.commit()


def records_of(archive: Archive, kind: SubRecordKind) -> list:
    order = getattr(kind.model, kind.order_by)
    return list(db.session.scalars(sa.select(kind.model).where(kind.model.archive_id == archive.id)
                                   .order_by(order.desc() if kind.log else order, kind.model.id)))


# --- listing ------------------------------------------------------------------------------

SORTS = {
    "updated": Archive.updated_at.desc(),
    "name": Archive.name.asc(),
    "number": Archive.number.asc(),
    "created": Archive.created_at.desc(),
    "importance": Archive.importance.asc(),
}


@dataclass
class ArchiveFilter:
    q: str = ""
    customer_type_id: int | None = None
    stage: str = ""
    region: str = ""
    industry: str = ""
    importance: str = ""
    department_id: int | None = None
    responsible_id: int | None = None
    status: str = ""
    kind: str = ""
    sort: str = "updated"
    page: int = 1
    per_page: int = 20
    extra: dict = field(default_factory=dict)


def list_query(user: User, f: ArchiveFilter) -> sa.Select:
    """Archives ``user`` may see that match the filter (permission first, then filters)."""
    q = sa.select(Archive).where(perm.visible_clause(user))
    if f.q:
        term = f.q.strip()
        like = f"%{term.replace('%', '').replace('_', '')}%"
        contact_match = sa.select(Contact.id).where(
            Contact.archive_id == Archive.id, sa.or_(Contact.name.like(like), Contact.phone.like(like)))
        q = q.where(sa.or_(Archive.name.like(like), Archive.name_en.ilike(like), Archive.number.like(like),
                           Archive.phone.like(like), contact_match.exists()))
    for attr in ("customer_type_id", "department_id", "responsible_id"):
        value = getattr(f, attr)
        if value:
            q = q.where(getattr(Archive, attr) == value)
    for attr in ("stage", "importance", "status", "kind"):
        value = getattr(f, attr)
        if value:
            q = q.where(getattr(Archive, attr) == value)
    if f.region:
        q = q.where(Archive.region.like(f"%{f.region.strip()}%"))
    if f.industry:
        q = q.where(Archive.industry.like(f"%{f.industry.strip()}%"))
    return q


def list_archives(user: User, f: ArchiveFilter) -> tuple[list[Archive], int]:
    """One page of archives and the total count."""
    q = list_query(user, f)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))
    order = SORTS.get(f.sort, SORTS["updated"])
    per_page = max(1, min(f.per_page, 200))
    page = max(1, f.page)
    items = list(db.session.scalars(q.order_by(order, Archive.id.desc())
                                    .offset((page - 1) * per_page).limit(per_page)).unique())
    return items, total
