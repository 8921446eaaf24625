"""Roles and clearance levels (policy 000 §4, 001 §4, 004 §7)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

STAFF = "staff"  # 业务人员
DEPT_HEAD = "dept_head"  # 部门负责人
ARCHIVIST = "archivist"  # 档案管理员
SUPERVISOR = "supervisor"  # 质量监督专员
MANAGER = "manager"  # 管理层
ADMIN = "admin"  # 系统管理员: manages users and settings, never reads archives

ROLES = (STAFF, DEPT_HEAD, ARCHIVIST, SUPERVISOR, MANAGER, ADMIN)
ROLE_LABELS = {
    STAFF: _l("Staff"),
    DEPT_HEAD: _l("Department head"),
    ARCHIVIST: _l("Archivist"),
    SUPERVISOR: _l("Quality supervisor"),
    MANAGER: _l("Management"),
    ADMIN: _l("System administrator"),
}
# Roles that see archives of every department (still bounded by clearance).
ALL_DEPARTMENT_ROLES = frozenset({ARCHIVIST, SUPERVISOR, MANAGER})
# Roles that may browse and print the access register.
REGISTER_ROLES = frozenset({ARCHIVIST, SUPERVISOR})

# Sensitivity of archives and clearance of users share one scale: 1 一级 secret, 2 二级 internal,
# 3 三级 public. A viewer may open material whose level number is >= their clearance number.
SECRET, INTERNAL, PUBLIC = 1, 2, 3
LEVELS = (SECRET, INTERNAL, PUBLIC)
LEVEL_LABELS = {
    SECRET: _l("Level 1 (secret)"),
    INTERNAL: _l("Level 2 (internal)"),
    PUBLIC: _l("Level 3 (public)"),
}
