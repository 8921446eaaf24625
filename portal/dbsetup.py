"""Engine set-up that the ORM cannot express: SQLite pragmas and write-transaction locking.

SQLite lets one writer at a time. A transaction that reads first and writes later (as every
audited action does: read the archive, then append to the register) fails with "database is
locked" when another writer committed in between. So write transactions begin with
``BEGIN IMMEDIATE`` and wait for the lock (busy_timeout) instead:

- in a request, the first transaction of POST/PUT/DELETE and of GET views marked ``@writes``
  begins that way (later ones are reads unless a service asks again);
- services that change state call ``begin_write(obj, …)`` first: it ends a read transaction
  that may be open, starts a write transaction and reloads the objects under the lock (on
  PostgreSQL it locks their rows with SELECT … FOR UPDATE), so that every permission and state
  check sees the current state.
Read-only views keep a plain ``BEGIN`` and run in parallel (WAL).
"""
from __future__ import annotations

import sqlite3
from contextvars import ContextVar

from flask import g, has_request_context, request
from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Engine

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_next_is_write: ContextVar[bool] = ContextVar("next_transaction_writes", default=False)


def writes(view):
    """Mark a GET view that writes (e.g. records a view in the register)."""
    view._writes = True
    return view


def _request_writes() -> bool:
    if not has_request_context():
        return False
    flag = g.get("write_tx")
    if flag is not None:
        return flag
    return request.method not in SAFE_METHODS


def mark_write_transaction() -> None:
    """Make the next transaction begun in this context a write transaction."""
    _next_is_write.set(True)
    if has_request_context():
        g.write_tx = True


def in_write_transaction(session) -> bool:
    """Whether the session's current transaction may write without risking a lock conflict."""
    if not session.in_transaction():
        return False
    conn = session.connection()
    return conn.dialect.name != "sqlite" or conn.info.get("immediate", False)


def begin_write(*objects) -> None:
    """Enter a write transaction before checking and changing ``objects`` (see module doc)."""
    from portal.extensions import db

    session = db.session()  # the real Session behind the scoped proxy
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        if in_write_transaction(session):
            return  # already holding the write lock: the objects cannot have changed under us
        if session.in_transaction():
            session.commit()  # a read-only transaction: nothing of the caller's is lost
        mark_write_transaction()
        for obj in objects:
            session.refresh(obj)
    else:
        for obj in objects:
            # Lock the row alone (FOR UPDATE cannot cover the outer joins of eager loads), then reload.
            state = inspect(obj)
            pk_cols = state.mapper.primary_key
            stmt = select(*pk_cols).where(*(c == v for c, v in zip(pk_cols, state.identity, strict=True)))
            session.execute(stmt.with_for_update())
            session.refresh(obj)


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Deleted and overwritten content is zeroed at once (destruction, policy 004 §17: "确保无法恢复"):
        # without it, freed cells and pages keep old texts until reused. On by default in Debian's
        # SQLite, not in every build. Cost measured: deletes of large rows ~2x, inserts/updates equal.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = _next_is_write.get() or _request_writes()
        _next_is_write.set(False)
        if immediate and has_request_context():
            # Only the request's first transaction takes the write lock: once its write has
            # committed, reading and rendering the rest of the page must not hold it (later
            # writes go through begin_write() again).
            g.write_tx = False
        conn.info["immediate"] = immediate
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
