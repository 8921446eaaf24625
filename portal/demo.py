"""Demo data: fixed demo users for every role and a set of demo archives (``portal demo``)."""
from __future__ import annotations

import sqlalchemy as sa

from portal.actor import cli_actor
from portal.auth import roles
from portal.auth import services as auth_services
from portal.auth.models import User
from portal.extensions import db
from portal.seed import department, seed_reference_data

# username, display name, role, clearance, department code — names fixed for docs and checks.
DEMO_USERS = [
    ("archivist", "陈档案", roles.ARCHIVIST, roles.SECRET, "CS"),
    ("manager", "王总", roles.MANAGER, roles.SECRET, "MGT"),
    ("supervisor", "周质检", roles.SUPERVISOR, roles.INTERNAL, "QA"),
    ("head_sales", "李销售经理", roles.DEPT_HEAD, roles.INTERNAL, "SAL"),
    ("staff_sales", "张小销", roles.STAFF, roles.INTERNAL, "SAL"),
    ("head_marketing", "赵市场经理", roles.DEPT_HEAD, roles.INTERNAL, "MKT"),
    ("staff_marketing", "刘小市", roles.STAFF, roles.PUBLIC, "MKT"),
    ("head_service", "孙客服经理", roles.DEPT_HEAD, roles.INTERNAL, "CS"),
]


def create_demo_users(password: str) -> list[User]:
    """Create the demo users that do not exist yet (idempotent)."""
    seed_reference_data()
    created = []
    for username, name, role, clearance, dept_code in DEMO_USERS:
        if db.session.scalar(sa.select(User.id).where(User.username == username)):
            continue
        created.append(auth_services.create_user(
            cli_actor(), username=username, password=password, display_name=name, role=role,
            clearance=clearance, department_id=department(dept_code).id, commit=False))
    if db.session.scalar(sa.select(User.id).where(User.username == "admin")) is None:
        created.append(auth_services.create_user(
            cli_actor(), username="admin", password=password, display_name="系统管理员",
            role=roles.ADMIN, clearance=roles.PUBLIC, department_id=department("IT").id, commit=False))
    db.session.commit()
    return created


def load_demo(archives: int = 50, password: str = "demo12345") -> str:
    users = create_demo_users(password)
    return f"{len(users)} demo users created."
