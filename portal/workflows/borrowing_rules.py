"""Borrowing rules 借阅规则 (administration settings) and who may do what with a loan.

Settings: ``borrow_max_days`` (7 working days), ``borrow_max_extension_days`` (3),
``borrow_extension_notice_days`` (1) — policy 004 §16; the administrator changes them.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.actor import Actor
from portal.admin.models import Setting
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import User
from portal.extensions import db
from portal.workflows.borrowing_models import (
    APPROVED,
    EXT_NONE,
    EXT_REQUESTED,
    LENT,
    PENDING_ARCHIVIST,
    PENDING_HEAD,
    STEP_HEAD,
    STEP_MANAGEMENT,
    STEP_NONE,
    UNDECIDED,
    Loan,
)

BORROWER_ROLES = (roles.STAFF, roles.DEPT_HEAD, roles.SUPERVISOR, roles.MANAGER)


# --- settings 借阅规则 ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    max_days: int = 7  # 借阅期限 ≤ 7 working days
    max_extension_days: int = 3  # one extension ≤ 3 working days
    extension_notice_days: int = 1  # asked ≥ 1 working day before the due date


SETTING_KEYS = {"max_days": "borrow_max_days", "max_extension_days": "borrow_max_extension_days",
                "extension_notice_days": "borrow_extension_notice_days"}
RULE_LIMITS = {"max_days": (1, 60), "max_extension_days": (0, 30), "extension_notice_days": (0, 10)}
RULE_LABELS = {"max_days": _l("Longest loan period (working days)"),
               "max_extension_days": _l("Longest extension (working days)"),
               "extension_notice_days": _l("Extension asked at least … working days before the due date")}


def rules() -> Rules:
    defaults = Rules()
    values = {}
    for attr, key in SETTING_KEYS.items():
        row = db.session.get(Setting, key)
        try:
            values[attr] = int(row.value) if row is not None else getattr(defaults, attr)
        except ValueError:
            values[attr] = getattr(defaults, attr)
    return Rules(**values)


def clean_rules(raw: dict) -> Rules:
    """Rules from form values; ValidationFailed (with the field) for a value out of range."""
    from portal.admin.services import clean_whole_numbers

    return Rules(**clean_whole_numbers(raw, RULE_LIMITS, RULE_LABELS))


def save_rules(actor: Actor, raw: dict) -> list[str]:
    """Store the borrowing rules (administrator only); returns the changes (registered)."""
    from portal.admin.services import save_whole_numbers

    return save_whole_numbers(actor, "change borrowing rules", SETTING_KEYS, lambda: clean_rules(raw), rules)


# --- who may do what ---------------------------------------------------------------------------

def can_borrow(user: User | None) -> bool:
    """Staff, department heads, the quality supervisor and management borrow paper files; the
    archivist keeps them (does not lend to themself) and the administrator never opens archives."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.active
                and user.role in BORROWER_ROLES)


def first_step_for(borrower: User) -> str:
    """Who decides before the archivist: the department head for staff, management for heads
    and the supervisor, nobody above a manager (the archivist still decides: nobody approves
    their own loan)."""
    if borrower.role == roles.STAFF:
        return STEP_HEAD
    if borrower.role == roles.MANAGER and not _managers(exclude=borrower.id):
        return STEP_NONE
    return STEP_MANAGEMENT


def _managers(exclude: int | None = None) -> list[User]:
    q = sa.select(User).where(User.role == roles.MANAGER, User.active.is_(True))
    if exclude is not None:
        q = q.where(User.id != exclude)
    return list(db.session.scalars(q.order_by(User.id)))


def first_step_deciders(loan: Loan) -> list[User]:
    """The users who may take the first decision on ``loan`` (never the borrower)."""
    if loan.first_step == STEP_HEAD:
        return list(db.session.scalars(sa.select(User).where(
            User.role == roles.DEPT_HEAD, User.department_id == loan.department_id,
            User.active.is_(True), User.id != loan.borrower_id).order_by(User.id)))
    if loan.first_step == STEP_MANAGEMENT:
        return _managers(exclude=loan.borrower_id)
    return []


def archivists() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.role == roles.ARCHIVIST, User.active.is_(True)).order_by(User.id)))


def decides_first(user: User | None, loan: Loan) -> bool:
    if user is None or user.id == loan.borrower_id:
        return False
    if loan.first_step == STEP_HEAD:
        return user.role == roles.DEPT_HEAD and user.department_id == loan.department_id
    if loan.first_step == STEP_MANAGEMENT:
        return user.role == roles.MANAGER
    return False


def is_archivist(user: User | None) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.role == roles.ARCHIVIST)


def can_see(user: User | None, loan: Loan) -> bool:
    """The borrower, their department's head, whoever decides it, and archivist, supervisor and
    management (who oversee all loans)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.id == loan.borrower_id or decides_first(user, loan):
        return True
    if user.role in (roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER):
        return True
    return user.role == roles.DEPT_HEAD and user.department_id == loan.department_id


def can_decide(user: User | None, loan: Loan) -> bool:
    """Whether ``user`` may approve or reject what ``loan`` waits for right now."""
    if user is None or user.id == loan.borrower_id:
        return False
    if loan.status == PENDING_HEAD:
        return decides_first(user, loan)
    if loan.status == PENDING_ARCHIVIST or (loan.status == LENT and loan.extension_status == EXT_REQUESTED):
        return is_archivist(user)
    return False


def can_withdraw(user: User | None, loan: Loan) -> bool:
    return user is not None and user.id == loan.borrower_id and loan.status in UNDECIDED


def can_lend(user: User | None, loan: Loan) -> bool:
    return is_archivist(user) and loan.status == APPROVED and user.id != loan.borrower_id


def can_request_extension(user: User | None, loan: Loan) -> bool:
    return (user is not None and user.id == loan.borrower_id and loan.status == LENT
            and loan.extension_status == EXT_NONE)


def can_check_in(user: User | None, loan: Loan) -> bool:
    return is_archivist(user) and loan.status == LENT


def can_read_ledger(user: User | None) -> bool:
    """The borrowing register 借阅登记簿: archivist, supervisor and management (all loans),
    department heads (their department's loans)."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.role in (
        roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER, roles.DEPT_HEAD))


def ledger_clause(user: User):
    """SQL condition on Loan for the loans ``user`` sees in the register and lists."""
    if user.role in (roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER):
        return sa.true()
    if user.role == roles.DEPT_HEAD:
        return sa.or_(Loan.department_id == user.department_id, Loan.borrower_id == user.id)
    return Loan.borrower_id == user.id


def refuse(actor: Actor, loan: Loan | None, reason, what: str):
    archive = loan.items[0].archive if loan is not None and loan.items else None
    prefix = f"loan #{loan.id} {what}" if loan is not None else f"loan {what}"
    return deny(actor, reason, archive, prefix)

