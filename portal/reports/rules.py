"""Who reads which register of this package, and who hands archives over (policy 004 §7, §11, §19).

- The archive ledger 档案台账 is the archivist's book (004 §11: 更新档案管理台账); the quality
  supervisor and management read all of it, a department head the part of their department.
  Staff and the administrator are refused (403, registered).
- Handovers 移交 (004 §19) are carried out by the archivist (any archive, any receiver, may move
  the archives to another department) or by a department head (their department's archives, to
  someone of their department). The record of a handover is read by those who took part, the
  heads of the departments concerned, the archivist, the quality supervisor and management.
"""
from __future__ import annotations

import sqlalchemy as sa

from portal.archives.models import DESTROYED, Archive
from portal.auth import roles
from portal.auth.models import User

LEDGER_ROLES = frozenset({roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER, roles.DEPT_HEAD})
HANDOVER_ROLES = frozenset({roles.ARCHIVIST, roles.DEPT_HEAD})
# read every handover record and the whole handover register
ALL_HANDOVERS_ROLES = frozenset({roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER})


def _signed_in(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated)


def can_read_ledger(user: User | None) -> bool:
    return _signed_in(user) and user.role in LEDGER_ROLES and (
        user.role != roles.DEPT_HEAD or user.department_id is not None)


def department_only(user: User) -> int | None:
    """The department a reader's view of the registers is limited to (heads), else None."""
    return user.department_id if user.role == roles.DEPT_HEAD else None


def can_hand_over(user: User | None) -> bool:
    return _signed_in(user) and (user.role == roles.ARCHIVIST or (
        user.role == roles.DEPT_HEAD and user.department_id is not None))


def may_move_department(user: User | None) -> bool:
    """Only the archivist moves archives to another department (the customer moved)."""
    return _signed_in(user) and user.role == roles.ARCHIVIST


def own_archive_clause(user: User):
    """Archives ``user`` may hand over: by their own rights (a query authorisation opens an
    archive for viewing only), and for a head only their department's."""
    if not can_hand_over(user):
        return sa.false()
    cond = sa.and_(Archive.sensitivity >= user.clearance, Archive.status != DESTROYED)
    if user.role == roles.DEPT_HEAD:
        cond = sa.and_(cond, Archive.department_id == user.department_id)
    return cond


def may_hand_over_archive(user: User, archive: Archive) -> bool:
    if not can_hand_over(user) or archive.sensitivity < user.clearance or archive.status == DESTROYED:
        return False
    return user.role == roles.ARCHIVIST or archive.department_id == user.department_id


def may_give(user: User, giver: User) -> bool:
    """Whose archives ``user`` may hand over: anyone's (archivist), their department's (head)."""
    if not can_hand_over(user):
        return False
    return user.role == roles.ARCHIVIST or giver.department_id == user.department_id


def may_receive(user: User, receiver: User) -> bool:
    """Who may be given archives: an active member of staff or head; a head hands over within
    their department."""
    if not can_hand_over(user) or not receiver.active:
        return False
    if receiver.role not in (roles.STAFF, roles.DEPT_HEAD):
        return False
    return user.role == roles.ARCHIVIST or receiver.department_id == user.department_id


def can_list_handovers(user: User | None) -> bool:
    """The handovers page: everyone who works with archives sees the handovers they may read."""
    return _signed_in(user) and user.role != roles.ADMIN


def can_read_handover_register(user: User | None) -> bool:
    """Printing and exporting the handover register: as the archive ledger."""
    return can_read_ledger(user)


def can_view_handover(user: User | None, handover) -> bool:
    if not _signed_in(user) or user.role == roles.ADMIN:
        return False
    if user.role in ALL_HANDOVERS_ROLES:
        return True
    if user.id in (handover.giver_id, handover.receiver_id, handover.created_by_id):
        return True
    return user.role == roles.DEPT_HEAD and user.department_id in handover.department_ids()


def handover_clause(user: User):
    """SQL condition on Handover for the handovers ``user`` may read (as ``can_view_handover``)."""
    from portal.reports.models import Handover, HandoverItem

    if not can_list_handovers(user):
        return sa.false()
    if user.role in ALL_HANDOVERS_ROLES:
        return sa.true()
    mine = sa.or_(Handover.giver_id == user.id, Handover.receiver_id == user.id,
                  Handover.created_by_id == user.id)
    if user.role != roles.DEPT_HEAD or user.department_id is None:
        return mine
    dept = user.department_id
    item_in_dept = sa.select(HandoverItem.id).where(HandoverItem.handover_id == Handover.id,
                                                   HandoverItem.from_department_id == dept).exists()
    return sa.or_(mine, Handover.giver_department_id == dept, Handover.receiver_department_id == dept,
                  Handover.new_department_id == dept, item_in_dept)


def can_confirm_receipt(user: User | None, handover) -> bool:
    return _signed_in(user) and user.id == handover.receiver_id
