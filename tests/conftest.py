"""Shared fixtures: a migrated database per test (SQLite file copy or PostgreSQL template),
the fixed demo users, a client and a ``login`` helper.

Set ``PORTAL_TEST_DATABASE_URL`` to a PostgreSQL server URL (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) to run every test on PostgreSQL.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g

from portal import create_app
from portal.extensions import db

DEMO_PASSWORD = "demo12345"
PG_ADMIN_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _migrate_and_seed(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    from portal.demo import create_demo_users

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "test"})
    with app.app_context():
        upgrade()
        create_demo_users(DEMO_PASSWORD)
        db.session.remove()
        db.engine.dispose()


def _pg_url(name: str) -> str:
    return re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)


@pytest.fixture(scope="session")
def db_template(tmp_path_factory):
    """A migrated, seeded database made once per test process; each test gets a copy."""
    instance = tmp_path_factory.mktemp("template-instance")
    if PG_ADMIN_URL:
        name = f"portal_tpl_{_worker()}_{os.getpid()}"  # concurrent runs must not share it
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        _migrate_and_seed(_pg_url(name), instance)
        yield ("postgresql", name, admin)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = instance / "template.sqlite3"
        _migrate_and_seed(f"sqlite:///{path}", instance)
        yield ("sqlite", path, None)


@pytest.fixture
def database_url(db_template, tmp_path):
    kind, source, admin = db_template
    if kind == "sqlite":
        target = tmp_path / "portal.sqlite3"
        shutil.copy(source, target)
        yield f"sqlite:///{target}"
        return
    name = f"portal_t_{_worker()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API server (moto's) on a free loopback port, one per test process.

    ``server.stop()`` / ``server.start()`` (see ``s3_outage``) simulate the store going down.
    """
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_config():
    """``s3_config(server)`` → settings for the app to use that S3 server, in a fresh bucket."""
    return _s3_config


def _s3_config(server) -> dict:
    host, port = server.get_host_and_port()
    return {"S3_ENDPOINT": f"{host}:{port}", "S3_ACCESS_KEY": "testing", "S3_SECRET_KEY": "testing",
            "S3_BUCKET": f"portal-{uuid.uuid4().hex[:12]}", "S3_REGION": "us-east-1", "S3_SECURE": False}


@pytest.fixture
def store_config():
    """Object-store settings for the ``app`` fixture: the local store unless a test module
    overrides this fixture (tests/documents runs every test on both stores)."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, store_config):
    app = create_app({
        "JOBS_RUNNER": "manual",  # tests run jobs with portal.jobs.run_pending (or ask for "sync")
        **store_config,
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "WTF_CSRF_ENABLED": False,  # see ``csrf_app`` for tests of the CSRF protection itself
    })

    @app.teardown_request
    def _forget_request_globals(_exc=None):
        # Test requests run inside this fixture's app context and so share its ``g``: without
        # this, the user Flask-Login caches there (and the locale Flask-Babel caches) would carry
        # over to the next request, even one from another client.
        for name in list(g):
            g.pop(name, None)

    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_app(app):
    """The app with CSRF checks on, as in production (most tests switch them off for brevity)."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def login(app):
    """``login("staff_sales")`` → a test client logged in as that demo user."""

    def _login(username: str, password: str = DEMO_PASSWORD):
        client = app.test_client()
        was = app.config["WTF_CSRF_ENABLED"]
        app.config["WTF_CSRF_ENABLED"] = False
        response = client.post("/login", data={"username": username, "password": password})
        app.config["WTF_CSRF_ENABLED"] = was
        assert response.status_code == 303, f"log-in as {username} failed: {response.status_code}"
        return client

    return _login


@pytest.fixture
def user(app):
    """``user("staff_sales")`` → the User row."""
    from portal.auth.models import User

    def _user(username: str):
        return db.session.scalar(sa.select(User).where(User.username == username))

    return _user


@pytest.fixture
def register_entries(app):
    """``register_entries(action="archive_view")`` → matching register entries, oldest first."""
    from portal.register.models import RegisterEntry

    def _entries(**filters):
        db.session.commit()  # end any read snapshot so that entries committed elsewhere show
        return list(db.session.scalars(
            sa.select(RegisterEntry).filter_by(**filters).order_by(RegisterEntry.seq)))

    return _entries


@pytest.fixture
def make_archive(app, user):
    """``make_archive("staff_sales", status="filed", sensitivity=2, name=…)`` → an Archive made
    through the real services (create → submit → approve → file as far as ``status`` asks)."""
    from portal.actor import Actor
    from portal.admin.models import CustomerType
    from portal.archives import services

    def _make(by: str = "staff_sales", status: str = "draft", **fields):
        author = user(by)
        ctype = db.session.scalar(sa.select(CustomerType).where(CustomerType.code == fields.pop(
            "type_code", "电商")))
        data = {"kind": "organisation", "name": "测试客户有限公司", "customer_type_id": ctype.id,
                "stage": "active", "importance": "B", "sensitivity": 2}
        data.update(fields)
        archive = services.create_draft(Actor(author, "127.0.0.1"), data)
        if status in ("submitted", "approved", "rejected", "filed"):
            services.submit(Actor(author, "127.0.0.1"), archive)
        head = db.session.scalar(sa.select(type(author)).where(
            type(author).role == "dept_head", type(author).department_id == archive.department_id))
        if status in ("approved", "filed"):
            services.approve(Actor(head, "127.0.0.1"), archive)
        if status == "rejected":
            services.reject(Actor(head, "127.0.0.1"), archive, "资料不全")
        if status == "filed":
            services.file_archive(Actor(user("archivist"), "127.0.0.1"), archive)
        return archive

    return _make


@pytest.fixture
def find(app, user):
    """``find("staff_sales", "客户档案", **filters)`` → SearchResults, through the search service
    (index written only where the test folder runs the writer, e.g. tests/search, tests/intake)."""
    from portal.actor import Actor
    from portal.search import services

    def _find(by, q, **filters):
        args = {"q": q, **{k: str(v) for k, v in filters.items()}}
        return services.search(Actor(user(by), "127.0.0.1"), services.SearchRequest.from_args(args))

    return _find


# --- browser tests (tests/browser and the few elsewhere) ---------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def live_server(app):
    """The app on a loopback HTTP server (CSRF on, as in production); yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser():
    """Headless Debian Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        yield b
        b.close()
