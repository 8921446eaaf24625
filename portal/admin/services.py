"""System administration 系统管理: users, departments, customer types, the archive-number rule.

Every change is one function here: it checks that the actor is a system administrator, makes the
change, appends its register entry (old → new values, never passwords) and commits, all in one
transaction. Refusals go on the register in a transaction of their own (``deny``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.actor import Actor
from portal.admin.models import SETTING_DEFAULTS, CustomerType, Setting, get_setting
from portal.archives import numbering
from portal.archives.models import Archive, ArchiveNumberSequence
from portal.auth import roles
from portal.auth import services as auth_services
from portal.auth.models import Department, LoginThrottle, User
from portal.dbsetup import begin_write
from portal.errors import PermissionDenied, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record, record_now

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Codes go into archive numbers and the number template: no spaces, braces or slashes.
CODE_PATTERN = re.compile(r"^[^\s{}/\\]+$")
TYPE_PATTERN = re.compile(r"^[^{}/\\<>\x00-\x1f]+$")
NEEDS_DEPARTMENT = (roles.STAFF, roles.DEPT_HEAD)
SESSIONS_ENDED = "sessions ended"  # last item of ``update_user``'s changes when it logged the user out


# --- permission -------------------------------------------------------------------------------

def is_admin(user: User | None) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.role == roles.ADMIN)


def deny(actor: Actor, what: str) -> PermissionDenied:
    """Register a refused attempt on an administration page and return the error to raise."""
    record_now(actor, actions.ACCESS_DENIED, detail=f"admin: {what}", result="denied")
    return PermissionDenied(_l("Only the system administrator can use the administration pages."))


def check_admin(actor: Actor, what: str) -> None:
    """Raise (after registering the refusal) unless the actor is a system administrator."""
    if not is_admin(actor.user):
        raise deny(actor, what)


def clean_whole_numbers(raw: dict, limits: dict[str, tuple[int, int]], labels: dict) -> dict[str, int]:
    """Form values of whole-number settings; ValidationFailed (with the field) for one out of range."""
    values = {}
    for attr, (low, high) in limits.items():
        text = str(raw.get(attr, "")).strip()
        if not text.isdigit() or not low <= int(text) <= high:
            raise ValidationFailed(_l("%(label)s: enter a whole number from %(low)s to %(high)s.",
                                      label=labels[attr], low=low, high=high), field=attr)
        values[attr] = int(text)
    return values


def save_whole_numbers(actor: Actor, what: str, keys: dict[str, str], clean, current) -> list[str]:
    """Store whole-number settings (administrator only): ``keys`` maps attribute → setting key,
    ``clean()`` gives the new values (object with those attributes; may raise ValidationFailed),
    ``current()`` the values in force. Returns the changes, registered as one SETTING_CHANGE."""
    check_admin(actor, what)
    begin_write()
    new = clean()
    old = current()
    changes = []
    for attr, key in keys.items():
        before, after = getattr(old, attr), getattr(new, attr)
        if before == after:
            continue
        row = db.session.get(Setting, key)
        if row is None:
            db.session.add(Setting(key=key, value=str(after)))
        else:
            row.value = str(after)
        changes.append(_change(key, before, after))
    if not changes:
        db.session.rollback()
        return []
    record(actor, actions.SETTING_CHANGE, detail="; ".join(changes))
    db.session.commit()
    return changes


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _change(label: str, old, new) -> str:
    return f"{label} {old} → {new}"


# --- overview ---------------------------------------------------------------------------------

@dataclass
class Overview:
    users_by_role: list[tuple[str, int]]  # active users per role
    active_users: int
    inactive_users: int
    locked_users: list[User]
    departments: int
    customer_types: int
    number_example: str


def overview() -> Overview:
    """Counts for the administration start page."""
    counts = dict(db.session.execute(
        sa.select(User.role, sa.func.count()).where(User.active).group_by(User.role)).all())
    inactive = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(~User.active))
    locked_names = sa.select(LoginThrottle.username).where(LoginThrottle.locked_until > utcnow())
    locked = list(db.session.scalars(sa.select(User).where(sa.func.lower(User.username).in_(locked_names))
                                     .order_by(User.username)))
    departments = db.session.scalar(sa.select(sa.func.count()).select_from(Department).where(Department.active))
    types = active_customer_types()
    example = ""
    if types:
        example = next_number(get_setting("number_template"), get_setting("number_prefix"), types[0].code)
    return Overview([(role, counts.get(role, 0)) for role in roles.ROLES], sum(counts.values()),
                    inactive or 0, locked, departments or 0, len(types), example)


# --- users ------------------------------------------------------------------------------------

@dataclass
class UserFilter:
    role: str = ""
    department_id: int | None = None
    active: str = ""  # "" all | "1" active | "0" inactive


def list_users(f: UserFilter) -> list[User]:
    q = sa.select(User)
    if f.role in roles.ROLES:
        q = q.where(User.role == f.role)
    if f.department_id:
        q = q.where(User.department_id == f.department_id)
    if f.active in ("0", "1"):
        q = q.where(User.active == (f.active == "1"))
    return list(db.session.scalars(q.order_by(User.active.desc(), User.username)).unique())


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def _check_department(role: str, department_id: int | None, current_id: int | None = None) -> None:
    if role in NEEDS_DEPARTMENT and not department_id:
        raise ValidationFailed(_l("Staff and department heads must belong to a department."),
                               field="department_id")
    if department_id:
        dept = db.session.get(Department, department_id)
        if dept is None:
            raise ValidationFailed(_l("Unknown department."), field="department_id")
        if not dept.active and department_id != current_id:
            raise ValidationFailed(_l("The department %(name)s is deactivated; choose an active one.",
                                      name=dept.name), field="department_id")


def create_user(actor: Actor, *, username: str, display_name: str, role: str, clearance: int,
                department_id: int | None, password: str) -> User:
    """Create an account (registered as ``user_create`` by ``auth.services.create_user``)."""
    check_admin(actor, "create user")
    begin_write()
    _check_department(role, department_id)
    return auth_services.create_user(actor, username=username, password=password,
                                     display_name=display_name.strip(), role=role, clearance=clearance,
                                     department_id=department_id or None)


def update_user(actor: Actor, user: User, *, display_name: str, role: str, clearance: int,
                department_id: int | None, active: bool) -> list[str]:
    """Change an account; returns the changes made (empty: nothing changed, nothing registered).

    Deactivating or changing role or clearance ends the user's running sessions (``session_epoch``).
    """
    check_admin(actor, f"edit user {user.username}")
    begin_write(user)
    display_name = (display_name or "").strip()
    department_id = department_id or None
    if not display_name or len(display_name) > 80:
        raise ValidationFailed(_l("Enter a display name of at most 80 characters."), field="display_name")
    if role not in roles.ROLES:
        raise ValidationFailed(_l("Unknown role."))
    if clearance not in roles.LEVELS:
        raise ValidationFailed(_l("Unknown clearance level."))
    if user.id == actor.user.id:
        if not active:
            raise ValidationFailed(_l("You cannot deactivate your own account. Another system "
                                      "administrator has to do that."), field="active")
        if role != roles.ADMIN:
            raise ValidationFailed(_l("You cannot take the system administrator role away from "
                                      "yourself. Another system administrator has to do that."), field="role")
    _check_department(role, department_id, user.department_id)

    changes = []
    if display_name != user.display_name:
        changes.append(_change("display name", user.display_name, display_name))
    if role != user.role:
        changes.append(_change("role", user.role, role))
    if clearance != user.clearance:
        changes.append(_change("clearance", user.clearance, clearance))
    if department_id != user.department_id:
        new_dept = db.session.get(Department, department_id) if department_id else None
        changes.append(_change("department", user.department_name or "-", new_dept.name if new_dept else "-"))
    if active != user.active:
        changes.append(_change("active", _yes_no(user.active), _yes_no(active)))
    if not changes:
        return []
    ends_sessions = role != user.role or clearance != user.clearance or (user.active and not active)
    user.display_name = display_name
    user.role = role
    user.clearance = clearance
    user.department_id = department_id
    user.active = active
    if ends_sessions:
        user.session_epoch += 1
        changes.append(SESSIONS_ENDED)
    record(actor, actions.USER_UPDATE, detail=f"{user.username}: " + "; ".join(changes))
    db.session.commit()
    return changes


def reset_password(actor: Actor, user: User, password: str) -> None:
    """Set a new password (ends the user's sessions); the register notes the reset, not the password."""
    check_admin(actor, f"reset password of {user.username}")
    begin_write(user)
    auth_services.set_password(user, password)
    record(actor, actions.USER_UPDATE, detail=f"{user.username}: password reset; {SESSIONS_ENDED}")
    db.session.commit()


def unlock_user(actor: Actor, user: User) -> bool:
    """Lift a log-in lock (and forget the failed tries); False when there was nothing to lift."""
    check_admin(actor, f"unlock {user.username}")
    begin_write()
    if not auth_services.is_locked(user.username):
        return False
    return auth_services.unlock(actor, user.username)


# --- departments ------------------------------------------------------------------------------

def list_departments() -> list[tuple[Department, int]]:
    """Departments with the number of active users in each."""
    members = (sa.select(User.department_id, sa.func.count().label("n")).where(User.active)
               .group_by(User.department_id).subquery())
    rows = db.session.execute(
        sa.select(Department, sa.func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.department_id == Department.id)
        .order_by(Department.active.desc(), Department.name)).all()
    return [(dept, n) for dept, n in rows]


def all_departments() -> list[Department]:
    return list(db.session.scalars(sa.select(Department).order_by(Department.active.desc(), Department.name)))


def active_departments() -> list[Department]:
    return list(db.session.scalars(sa.select(Department).where(Department.active).order_by(Department.name)))


def get_department(department_id: int) -> Department | None:
    return db.session.get(Department, department_id)


def _clean_name_code(name: str, code: str, name_max: int) -> tuple[str, str]:
    name, code = (name or "").strip(), (code or "").strip()
    if not name or len(name) > name_max:
        raise ValidationFailed(_l("Enter a name of at most %(n)s characters.", n=name_max), field="name")
    if not code or len(code) > 20 or not CODE_PATTERN.match(code):
        raise ValidationFailed(_l("Enter a code of at most 20 characters without spaces, braces or "
                                  "slashes."), field="code")
    return name, code


def _taken(model, column, value: str, own_id: int | None) -> bool:
    q = sa.select(model.id).where(sa.func.lower(column) == value.lower())
    if own_id is not None:
        q = q.where(model.id != own_id)
    return db.session.scalar(q) is not None


def save_department(actor: Actor, dept: Department | None, *, name: str, code: str) -> Department:
    """Create a department (``dept`` None) or rename it / change its code."""
    check_admin(actor, "save department")
    begin_write(*([dept] if dept is not None else []))
    name, code = _clean_name_code(name, code, 80)
    own_id = dept.id if dept is not None else None
    if _taken(Department, Department.name, name, own_id):
        raise ValidationFailed(_l("There is already a department called %(name)s.", name=name), field="name")
    if _taken(Department, Department.code, code, own_id):
        raise ValidationFailed(_l("The department code %(code)s is already used.", code=code), field="code")
    if dept is None:
        dept = Department(name=name, code=code, active=True)
        db.session.add(dept)
        detail = f"created {name} ({code})"
    else:
        changes = []
        if name != dept.name:
            changes.append(_change("name", dept.name, name))
        if code != dept.code:
            changes.append(_change("code", dept.code, code))
        if not changes:
            return dept
        detail = f"{dept.name}: " + "; ".join(changes)
        dept.name, dept.code = name, code
    db.session.flush()
    record(actor, actions.DEPARTMENT_SAVE, detail=detail)
    db.session.commit()
    return dept


def set_department_active(actor: Actor, dept: Department, active: bool) -> bool:
    """(De)activate a department; refused while active users still belong to it."""
    check_admin(actor, f"{'activate' if active else 'deactivate'} department {dept.name}")
    begin_write(dept)
    if dept.active == active:
        return False
    if not active:
        members = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.department_id == dept.id, User.active))
        if members:
            raise ValidationFailed(_l("%(name)s still has %(n)s active user(s). Move them to another "
                                      "department or deactivate them first.", name=dept.name, n=members))
    record(actor, actions.DEPARTMENT_SAVE,
           detail=f"{dept.name}: " + _change("active", _yes_no(dept.active), _yes_no(active)))
    dept.active = active
    db.session.commit()
    return True


# --- customer types 客户类型 --------------------------------------------------------------------

def list_customer_types() -> list[CustomerType]:
    return list(db.session.scalars(sa.select(CustomerType).order_by(
        CustomerType.sort_order, CustomerType.id)))


def active_customer_types() -> list[CustomerType]:
    return [t for t in list_customer_types() if t.active]


def get_customer_type(type_id: int) -> CustomerType | None:
    return db.session.get(CustomerType, type_id)


def _check_last_active_type(ctype: CustomerType) -> None:
    others = db.session.scalar(sa.select(sa.func.count()).select_from(CustomerType).where(
        CustomerType.active, CustomerType.id != ctype.id))
    if not others:
        raise ValidationFailed(_l("At least one customer type must stay active, otherwise no archive "
                                  "can be created."))


def save_customer_type(actor: Actor, ctype: CustomerType | None, *, name: str, code: str,
                       sort_order: int, active: bool) -> CustomerType:
    """Create or change a customer type. A new code only affects numbers issued afterwards."""
    check_admin(actor, "save customer type")
    begin_write(*([ctype] if ctype is not None else []))
    name, code = _clean_name_code(name, code, 60)
    own_id = ctype.id if ctype is not None else None
    if _taken(CustomerType, CustomerType.name, name, own_id):
        raise ValidationFailed(_l("There is already a customer type called %(name)s.", name=name),
                               field="name")
    if _taken(CustomerType, CustomerType.code, code, own_id):
        raise ValidationFailed(_l("The code %(code)s is already used by another customer type; codes "
                                  "must be unique so that archive numbers stay distinct.", code=code),
                               field="code")
    if ctype is None:
        ctype = CustomerType(name=name, code=code, sort_order=sort_order, active=active)
        db.session.add(ctype)
        detail = f"created {name} ({code}), order {sort_order}, active {_yes_no(active)}"
    else:
        if ctype.active and not active:
            _check_last_active_type(ctype)
        changes = []
        for label, old, new in (("name", ctype.name, name), ("code", ctype.code, code),
                                ("order", ctype.sort_order, sort_order),
                                ("active", _yes_no(ctype.active), _yes_no(active))):
            if old != new:
                changes.append(_change(label, old, new))
        if not changes:
            return ctype
        detail = f"{ctype.name}: " + "; ".join(changes)
        ctype.name, ctype.code, ctype.sort_order, ctype.active = name, code, sort_order, active
    db.session.flush()
    record(actor, actions.CUSTOMER_TYPE_SAVE, detail=detail)
    db.session.commit()
    return ctype


def set_customer_type_active(actor: Actor, ctype: CustomerType, active: bool) -> bool:
    """Offer or withdraw a customer type for new archives (existing archives keep theirs)."""
    check_admin(actor, f"{'activate' if active else 'deactivate'} customer type {ctype.name}")
    begin_write(ctype)
    if ctype.active == active:
        return False
    if not active:
        _check_last_active_type(ctype)
    record(actor, actions.CUSTOMER_TYPE_SAVE,
           detail=f"{ctype.name}: " + _change("active", _yes_no(ctype.active), _yes_no(active)))
    ctype.active = active
    db.session.commit()
    return True


# --- archive-number rule 档案编号规则 -----------------------------------------------------------

def current_year() -> int:
    return datetime.now(UTC).astimezone(SHANGHAI).year


def validate_numbering(template: str, prefix: str) -> tuple[str, str]:
    """Cleaned (template, prefix), or ValidationFailed with a message for the administrator."""
    template, prefix = (template or "").strip(), (prefix or "").strip()
    if not template:
        raise ValidationFailed(_l("Enter a number template."), field="number_template")
    if not prefix or len(prefix) > 40 or not CODE_PATTERN.match(prefix):
        raise ValidationFailed(_l("Enter a prefix of at most 40 characters without spaces, braces or "
                                  "slashes."), field="number_prefix")
    try:
        numbering.validate_template(template)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="number_template") from exc
    longest = numbering.format_number(template, prefix=prefix, year=current_year(),
                                      type_code="X" * 20, seq=99999)
    if len(longest) > 80:
        raise ValidationFailed(_l("Numbers made by this template would be longer than 80 characters."),
                               field="number_template")
    return template, prefix


def next_number(template: str, prefix: str, type_code: str, year: int | None = None) -> str:
    """The number the next filing of this type would get (as ``numbering.allocate``), without taking it."""
    year = year or current_year()
    last = db.session.scalar(sa.select(ArchiveNumberSequence.last_value).filter_by(
        prefix=prefix, year=year, type_code=type_code)) or 0
    seq = last + 1
    while True:
        number = numbering.format_number(template, prefix=prefix, year=year, type_code=type_code, seq=seq)
        if db.session.scalar(sa.select(Archive.id).where(Archive.number == number)) is None:
            return number
        seq += 1


def preview_numbers(template: str, prefix: str) -> list[tuple[CustomerType, str]]:
    """Next number per active customer type for a (validated) template and prefix."""
    return [(t, next_number(template, prefix, t.code)) for t in active_customer_types()]


def save_numbering(actor: Actor, *, template: str, prefix: str) -> list[str]:
    """Store the number template and prefix; only numbers issued afterwards follow them."""
    check_admin(actor, "change archive-number rule")
    begin_write()
    template, prefix = validate_numbering(template, prefix)
    changes = []
    for key, value in (("number_template", template), ("number_prefix", prefix)):
        old = get_setting(key)
        if old == value:
            continue
        row = db.session.get(Setting, key)
        if row is None:
            db.session.add(Setting(key=key, value=value))
        else:
            row.value = value
        changes.append(_change(key, old, value))
    if not changes:
        return []
    record(actor, actions.SETTING_CHANGE, detail="; ".join(changes))
    db.session.commit()
    return changes


def numbering_defaults() -> dict[str, str]:
    return dict(SETTING_DEFAULTS)


# --- document types 档案材料类型 ---------------------------------------------------------------

def document_type_usage() -> dict[str, int]:
    """How many documents carry each type (types in use can be removed from the list; the
    documents keep their type)."""
    from portal.documents.models import Document
    rows = db.session.execute(sa.select(Document.doc_type, sa.func.count(Document.id))
                              .group_by(Document.doc_type)).all()
    return {name: count for name, count in rows}


def clean_document_types(text: str) -> list[str]:
    types: list[str] = []
    for line in (text or "").splitlines():
        name = line.strip()
        if not name:
            continue
        if len(name) > 40 or not TYPE_PATTERN.match(name):
            raise ValidationFailed(_l("“%(name)s”: a type has at most 40 characters, without braces or "
                                      "slashes.", name=name[:60]), field="types")
        if name in types:
            raise ValidationFailed(_l("“%(name)s” is listed twice.", name=name), field="types")
        types.append(name)
    if not types:
        raise ValidationFailed(_l("Keep at least one document type."), field="types")
    if len(types) > 60:
        raise ValidationFailed(_l("At most 60 document types."), field="types")
    return types


def save_document_types(actor: Actor, text: str) -> bool:
    """Store the list of document types offered on upload (order as entered)."""
    check_admin(actor, "change document types")
    from portal.documents.services import document_types
    begin_write()
    types = clean_document_types(text)
    old = document_types()
    if types == old:
        db.session.rollback()
        return False
    row = db.session.get(Setting, "document_types")
    if row is None:
        db.session.add(Setting(key="document_types", value="\n".join(types)))
    else:
        row.value = "\n".join(types)
    added = [t for t in types if t not in old]
    removed = [t for t in old if t not in types]
    detail = "document_types: " + "、".join(types)
    if added:
        detail += " (+" + "、".join(added) + ")"
    if removed:
        detail += " (-" + "、".join(removed) + ")"
    record(actor, actions.SETTING_CHANGE, detail=detail)
    db.session.commit()
    return True
