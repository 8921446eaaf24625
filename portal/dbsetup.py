"""Engine set-up that the ORM cannot express: SQLite pragmas and write-transaction locking.

SQLite lets one writer at a time. A transaction that reads first and writes later (as every
audited request does: read the archive, then append to the register) fails with "database is
locked" when another writer committed in between. So transactions that will write begin with
``BEGIN IMMEDIATE`` and wait for the lock (busy_timeout) instead. Read-only page views keep a
plain ``BEGIN`` and run in parallel (WAL).
"""
from __future__ import annotations

import sqlite3

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes(view):
    """Mark a GET view that writes (e.g. records a view in the register)."""
    view._writes = True
    return view


def wants_write_transaction() -> bool:
    if not has_request_context():
        return True  # CLI, jobs, tests: always safe
    flag = g.get("write_tx")
    if flag is not None:
        return flag
    return request.method not in SAFE_METHODS


def mark_write_transaction() -> None:
    """Make the next transaction of this request a write transaction (used before a refusal is logged)."""
    if has_request_context():
        g.write_tx = True


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
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if wants_write_transaction() else "BEGIN")
