"""Helpers for the archive page tests: htmx headers, page text, sub-records, register deltas."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from portal.actor import Actor
from portal.archives import services, subrecords
from portal.extensions import db
from portal.register.models import RegisterEntry


@pytest.fixture
def add_record(user):
    """``add_record(archive, "contacts", by="staff_sales", name=…)`` → the sub-record, via the service."""

    def _add(archive, kind: str, by: str = "staff_sales", **data):
        return services.add_record(Actor(user(by), "127.0.0.1"), archive, subrecords.BY_KEY[kind], data)

    return _add


@pytest.fixture
def register_since(app):
    """``mark = register_since()`` then ``mark()`` → the register entries appended since."""

    def _since():
        db.session.expire_all()
        start = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(RegisterEntry.seq), 0)))

        def _new():
            db.session.expire_all()
            return list(db.session.scalars(sa.select(RegisterEntry).where(RegisterEntry.seq > start)
                                           .order_by(RegisterEntry.seq)))

        return _new

    return _since


@pytest.fixture
def as_user(app, user):
    """``as_user("staff_sales")`` → a client with that user's session, like ``login`` but without
    the password check (Argon2 costs half a second a time; log-in itself is tested in tests/core)."""

    def _as(username: str):
        account = user(username)
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = account.get_id()
            session["_fresh"] = True
            session["_seen"] = time.time()
        return client

    return _as
