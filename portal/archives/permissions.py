"""Who may see and do what with an archive (policy 000 §4, 004 §16, 001 §4).

Every view, API endpoint and service asks these functions; nothing else decides access.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.archives.models import APPROVED, DESTROYED, DRAFT, FILED, REJECTED, SUBMITTED, Archive
from portal.auth import roles
from portal.auth.models import User
from portal.errors import PermissionDenied


def _in_scope(user: User, archive: Archive) -> bool:
    if user.role in roles.ALL_DEPARTMENT_ROLES:
        return True
    if user.role == roles.DEPT_HEAD:
        return archive.department_id == user.department_id
    if user.role == roles.STAFF:
        return (archive.department_id == user.department_id
                or archive.responsible_id == user.id
                or archive.created_by_id == user.id)
    return False  # the administrator and unknown roles never open archives


def view_refusal(user: User | None, archive: Archive):
    """Why ``user`` may not open ``archive`` (a user-facing message), or None if they may.

    A live query authorisation (查询授权, an approved query request, ``portal.workflows``) opens an
    archive the user's own rights do not reach — for viewing only: the functions that allow work
    on an archive ask ``_own_access`` instead.
    """
    reason = _own_refusal(user, archive)
    if reason is not None and archive is not None and archive.status != DESTROYED and _granted(user, archive):
        return None
    return reason


def _granted(user: User, archive: Archive) -> bool:
    """Whether ``user`` holds a query authorisation for ``archive`` that has not expired."""
    if user is None or not user.is_authenticated or user.role == roles.ADMIN or archive.id is None:
        return False
    from portal.workflows.requests import has_grant

    return has_grant(user.id, archive.id)


def _own_access(user: User | None, archive: Archive) -> bool:
    """The user's own right to open the archive (department, clearance), without any grant."""
    return _own_refusal(user, archive) is None


def _own_refusal(user: User | None, archive: Archive):
    if user is None or not user.is_authenticated:
        return _l("Please log in.")
    if user.role == roles.ADMIN:
        return _l("System administrators manage users and settings but cannot open archives "
                  "(separation of duties).")
    if archive.status == DESTROYED:  # only the tombstone remains (portal.destruction)
        return _l("This archive was destroyed; only its destruction record remains.")
    if archive.sensitivity < user.clearance:
        return _l("This archive is classified %(level)s; your clearance does not allow opening it. "
                  "Ask the archivist for a query authorisation.",
                  level=roles.LEVEL_LABELS[archive.sensitivity])
    if not _in_scope(user, archive):
        return _l("This archive belongs to another department. Ask the archivist for a query "
                  "authorisation.")
    return None


def can_view(user: User | None, archive: Archive) -> bool:
    return view_refusal(user, archive) is None


def require_view(user: User | None, archive: Archive) -> None:
    reason = view_refusal(user, archive)
    if reason is not None:
        raise PermissionDenied(reason, archive=archive)


def visible_clause(user: User):
    """SQL condition selecting exactly the archives ``can_view`` allows (for lists and counts),
    live query authorisations included (their expiry is a time comparison in the clause)."""
    if user.role not in (roles.STAFF, roles.DEPT_HEAD, *roles.ALL_DEPARTMENT_ROLES):
        return sa.false()
    # A destroyed archive (a tombstone) is in nobody's lists, counts or search results.
    cond = sa.and_(Archive.sensitivity >= user.clearance, Archive.status != DESTROYED)
    if user.role in roles.ALL_DEPARTMENT_ROLES:
        own = cond
        if user.clearance == roles.SECRET:
            return own  # sees every archive: no grant can add one
    elif user.role == roles.DEPT_HEAD:
        own = sa.and_(cond, Archive.department_id == user.department_id)
    else:
        own = sa.and_(cond, sa.or_(Archive.department_id == user.department_id,
                                   Archive.responsible_id == user.id,
                                   Archive.created_by_id == user.id))
    from portal.workflows.requests import granted_archive_ids

    return sa.or_(own, sa.and_(Archive.id.in_(granted_archive_ids(user.id)), Archive.status != DESTROYED))


def can_create(user: User | None) -> bool:
    """Staff and department heads enter new archives (policy 004 §11: 业务对接人员采集)."""
    return bool(user and user.is_authenticated and user.role in (roles.STAFF, roles.DEPT_HEAD)
                and user.department_id is not None)


def can_edit(user: User | None, archive: Archive) -> bool:
    """Drafts and rejected drafts are edited by their author, the responsible staff or the head.

    Filed archives change only through change requests (policy 004 §13). A query authorisation
    never allows editing.
    """
    if not _own_access(user, archive) or archive.status not in (DRAFT, REJECTED):
        return False
    if user.role == roles.DEPT_HEAD:
        return archive.department_id == user.department_id
    return user.role == roles.STAFF and user.id in (archive.created_by_id, archive.responsible_id)


def can_append_log(user: User | None, archive: Archive) -> bool:
    """Adding to the running logs (communications, service, feedback, transactions) of a filed
    archive is day-to-day work of its responsible staff and department, not a change request."""
    if can_edit(user, archive):
        return True
    if not _own_access(user, archive) or archive.status != FILED:
        return False
    if user.role == roles.DEPT_HEAD:
        return archive.department_id == user.department_id
    if user.role == roles.STAFF:
        return archive.responsible_id == user.id or archive.department_id == user.department_id
    return user.role == roles.ARCHIVIST


def can_add_record(user: User | None, archive: Archive, kind) -> bool:
    """Sub-records (contacts, logs …) are added while the archive is editable; the running logs
    (``kind.log``) may also be appended to a filed archive."""
    return can_edit(user, archive) or (bool(kind.log) and can_append_log(user, archive))


def can_change_record(user: User | None, archive: Archive, kind) -> bool:
    """Editing or deleting an existing sub-record needs an editable archive (a filed one changes
    only through a change request, policy 004 §13)."""
    return can_edit(user, archive)


def can_submit(user: User | None, archive: Archive) -> bool:
    return can_edit(user, archive)


def can_withdraw(user: User | None, archive: Archive) -> bool:
    return (archive.status == SUBMITTED and _own_access(user, archive)
            and user.id in (archive.created_by_id, archive.responsible_id))


def can_review(user: User | None, archive: Archive) -> bool:
    """The head of the archive's department reviews (policy 004 §11, 2 working days)."""
    return (archive.status == SUBMITTED and _own_access(user, archive) and user.role == roles.DEPT_HEAD
            and archive.department_id == user.department_id)


def can_file(user: User | None, archive: Archive) -> bool:
    """The archivist checks, assigns the number and files (policy 004 §11)."""
    return archive.status == APPROVED and _own_access(user, archive) and user.role == roles.ARCHIVIST


def can_delete_draft(user: User | None, archive: Archive) -> bool:
    return can_edit(user, archive) and archive.number is None


# --- documents 档案材料 -------------------------------------------------------------------------

def document_refusal(user: User | None, document) -> str | None:
    """Why ``user`` may not open ``document``: the archive's rules, then the document's own level.

    A query authorisation may open documents above the user's clearance (those it names, or all of
    the archive's); the evidence of a change request opens to those who decide it.
    """
    reason = view_refusal(user, document.archive)
    if reason is not None:
        if _evidence_for(user, document):
            return None
        return reason
    if document.sensitivity < user.clearance:
        from portal.workflows.requests import document_granted

        if document_granted(user.id, document):
            return None
        return _l("This document is classified %(level)s; your clearance does not allow opening it. "
                  "Ask the archivist for a query authorisation.",
                  level=roles.LEVEL_LABELS[document.sensitivity])
    return None


def _evidence_for(user: User | None, document) -> bool:
    """The evidence document of a change request, for a head who decides it without otherwise
    reaching the archive (the customer-service head, policy 004 §13)."""
    if user is None or not user.is_authenticated or user.role == roles.ADMIN:
        return False
    from portal.workflows.change_requests import evidence_open_to

    return evidence_open_to(user, document)


def can_view_document(user: User | None, document) -> bool:
    return document_refusal(user, document) is None


def document_clause(user: User):
    """SQL condition on Document for the documents ``user`` may see within an archive they may open:
    those at their clearance, and those a live query authorisation opens."""
    from portal.documents.models import Document
    own = Document.sensitivity >= user.clearance
    if user.clearance == roles.SECRET:
        return own
    from portal.workflows.requests import granted_documents_clause

    return sa.or_(own, granted_documents_clause(user.id))


def can_upload(user: User | None, archive: Archive) -> bool:
    """Material is added while the archive is edited, and to a filed archive by those who keep its
    running logs (new contracts and letters keep arriving, policy 004 §12)."""
    return can_edit(user, archive) or can_append_log(user, archive)


def can_change_document(user: User | None, document) -> bool:
    """Replacing the file or correcting the details: whoever may add material and open the document."""
    return can_view_document(user, document) and can_upload(user, document.archive)


def document_levels(user: User, archive: Archive) -> list[int]:
    """Levels a user may give a document: never one they could not open themselves (by their own
    clearance — a query authorisation opens material for viewing, it does not raise clearance)."""
    return [level for level in roles.LEVELS if level >= user.clearance]


def can_read_register(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.role in roles.REGISTER_ROLES)


def is_admin(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.role == roles.ADMIN)


# --- scan intake (issue 4) ----------------------------------------------------------------------

INTAKE_ROLES = frozenset({roles.STAFF, roles.DEPT_HEAD, roles.ARCHIVIST})


def can_use_intake(user: User | None) -> bool:
    """Those who add material to archives may send files to intake (scans, batches)."""
    return bool(user and user.is_authenticated and user.active and user.role in INTAKE_ROLES)


def can_manage_intake(user: User | None) -> bool:
    """The archivist sees every intake item and works the queue of unroutable ones."""
    return bool(user and user.is_authenticated and user.active and user.role == roles.ARCHIVIST)


def can_see_intake_item(user: User | None, item) -> bool:
    """An item (its pages' text, its original) is seen by its sender and by the archivist."""
    if not can_use_intake(user):
        return False
    return can_manage_intake(user) or item.root.created_by_id == user.id


def can_decide_intake_item(user: User | None, item) -> bool:
    """Assigning, rejecting or retrying an item: its sender or the archivist (the filing itself is
    then checked against the archive with ``can_upload``)."""
    return can_see_intake_item(user, item)
