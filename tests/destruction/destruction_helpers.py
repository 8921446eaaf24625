"""Helpers of the destruction tests: applications through the real services."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from portal.actor import Actor
from portal.extensions import db

PASSWORD = "demo12345"
LONG_AGO = date(2020, 3, 1)  # cooperation ended more than 3 years ago: eligible


def as_(user) -> Actor:
    return Actor(user, "127.0.0.1")


def user_named(username: str):
    from portal.auth.models import User

    return db.session.scalar(sa.select(User).where(User.username == username))


def terminated(make_archive, by="staff_sales", **fields):
    """A filed archive whose cooperation ended long ago (eligible for destruction)."""
    fields.setdefault("stage", "terminated")
    fields.setdefault("terminated_on", LONG_AGO)
    return make_archive(by, status="filed", **fields)


def apply(archives, by="archivist", grounds="retention", reason="保管期限届满，无留存必要", pipl=None):
    from portal.destruction import services as svc

    lines = [svc.Line(a.id, "") for a in archives]
    return svc.apply(as_(user_named(by)), grounds=grounds, reason=reason, lines=lines, pipl=pipl)


def approve_chain(app):
    """Approve every step with the demo users (customer-service head, department heads, manager)."""
    from portal.destruction import services as svc

    svc.approve(as_(user_named("head_service")), app)
    while app.status == "pending_departments":
        decider = svc.next_deciders(app)[0]
        svc.approve(as_(decider), app)
    svc.approve(as_(user_named("manager")), app)
    assert app.status == "approved", app.status
    return app


def execute(app, witness="supervisor", witness_password=PASSWORD, own_password=PASSWORD, paper="碎纸"):
    from portal.destruction import services as svc

    return svc.execute(as_(user_named("archivist")), app.id, witness, witness_password, own_password, paper)


def second_manager():
    """Applications by a manager need another manager for the management step."""
    from portal.auth import roles
    from portal.auth.services import create_user

    existing = user_named("manager2")
    if existing is not None:
        return existing
    return create_user(None, username="manager2", password=PASSWORD, display_name="钱副总", role=roles.MANAGER,
                       clearance=roles.SECRET, department_id=user_named("manager").department_id)
