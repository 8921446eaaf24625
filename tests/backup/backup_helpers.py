"""A second, empty portal instance to restore into (same master key and key vault, a new
database and a new store), and comparisons of whole databases."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import uuid
from pathlib import Path

import sqlalchemy as sa

from portal import create_app
from portal.extensions import db

PG_ADMIN_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")


@contextlib.contextmanager
def empty_database(tmp_path: Path):
    """URL of a new, empty database (SQLite file or PostgreSQL database); dropped afterwards."""
    if not PG_ADMIN_URL:
        yield f"sqlite:///{tmp_path / f'restore-{uuid.uuid4().hex[:6]}.sqlite3'}"
        return
    name = f"portal_r_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def new_instance(source_app, url: str, tmp_path: Path, store_config: dict, s3_config=None, s3_server=None):
    """An app on ``url`` sharing the source's master key and key vault, with a store of its own."""
    from portal.backup.keyvault import vault
    from portal.documents.services import master_key

    config = dict(store_config)
    if store_config:  # S3: a fresh bucket on the same server
        config = s3_config(s3_server)
    with source_app.app_context():
        master = base64.b64encode(master_key()).decode()
        vault_path = str(vault().path)
    instance = tmp_path / f"instance-{uuid.uuid4().hex[:6]}"
    return create_app({
        "JOBS_RUNNER": "manual", "SEARCH_WRITER": "manual", **config, "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False, "MASTER_KEY": master, "KEY_VAULT": vault_path,
        "DEMO_PASSWORD": "demo12345",
    })


def run_cli(app, *args):
    """Invoke a ``portal`` command on ``app`` (in its own application context)."""
    runner = app.test_cli_runner()
    with app.app_context():
        result = runner.invoke(args=list(args))
        db.session.remove()
    return result


def all_rows(app) -> dict[str, list[dict]]:
    """Every row of every table, in primary-key order."""
    with app.app_context():
        metadata = sa.MetaData()
        metadata.reflect(db.engine)
        out = {}
        with db.engine.connect() as conn:
            for table in metadata.sorted_tables:
                if table.name == "alembic_version":
                    continue
                order = list(table.primary_key.columns) or list(table.columns)
                out[table.name] = [dict(r) for r in conn.execute(sa.select(table).order_by(*order)).mappings()]
        db.session.remove()
    return out


def contents(app, user: str = "archivist") -> dict[int, str]:
    """SHA-256 of every document's decrypted content, through open_content (as a user reads it)."""
    from portal.actor import Actor
    from portal.auth.models import User
    from portal.documents import services
    from portal.documents.models import Document

    with app.app_context():
        reader = db.session.scalar(sa.select(User).where(User.username == user))
        ids = db.session.scalars(sa.select(Document.id).order_by(Document.id)).all()
        out = {}
        for doc_id in ids:
            content = services.open_content(Actor(reader, "127.0.0.1"), doc_id, purpose="恢复核对")
            out[doc_id] = hashlib.sha256(b"".join(content)).hexdigest()
        db.session.remove()
    return out
