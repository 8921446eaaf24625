#!/usr/bin/env python
"""Where the time of one page goes: SQL statements with their times, and a cProfile summary.

    .venv/bin/python bench/profile_page.py INSTANCE "/?page=50" --user archivist
    .venv/bin/python bench/profile_page.py INSTANCE "/?q=海拓" --htmx
    .venv/bin/python bench/profile_page.py INSTANCE /archives/123 --user staff_sales

INSTANCE is an instance folder made by ``bench_pages.py --keep`` (or any instance folder; set
PORTAL_DATABASE_URL for PostgreSQL). Runs in-process with Flask's test client (no gunicorn), so
the figures are CPU time of one request without concurrency.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance")
    parser.add_argument("path")
    parser.add_argument("--user", default="archivist")
    parser.add_argument("--password", default="demo12345")
    parser.add_argument("--htmx", action="store_true", help="send HX-Request / HX-Target: archive-results")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--top", type=int, default=25, help="functions to list (0: no profile)")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime …")
    args = parser.parse_args()
    os.environ["PORTAL_INSTANCE_PATH"] = os.path.abspath(args.instance)

    from sqlalchemy import event

    from portal import create_app
    from portal.extensions import db

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    response = client.post("/login", data={"username": args.user, "password": args.password})
    assert response.status_code in (302, 303), f"log-in failed: {response.status_code}"
    headers = {"HX-Request": "true", "HX-Target": "archive-results"} if args.htmx else {}
    for _ in range(3):  # warm caches, compile templates
        client.get(args.path, headers=headers)

    with app.app_context():
        engine = db.engine
    statements: list[tuple[float, str]] = []
    started: dict = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):
        started[id(cursor)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):
        statements.append(((time.perf_counter() - started.pop(id(cursor), time.perf_counter())) * 1000,
                           " ".join(statement.split())))

    t0 = time.perf_counter()
    for _ in range(args.repeat):
        response = client.get(args.path, headers=headers)
    per_request = (time.perf_counter() - t0) * 1000 / args.repeat
    per = len(statements) / args.repeat
    sql_ms = sum(t for t, _ in statements) / args.repeat
    print(f"{args.path} as {args.user}: HTTP {response.status_code}, {len(response.data)} bytes, "
          f"{per_request:.1f} ms per request, {per:.0f} SQL statements taking {sql_ms:.1f} ms "
          f"(execute only: SQLite computes some results while they are fetched)")
    last = statements[-int(per):] if per else []
    for ms, sql in sorted(last, reverse=True):
        print(f"  {ms:7.2f} ms  {sql[:220]}")

    if args.top <= 0:
        return
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.repeat):
        client.get(args.path, headers=headers)
    profile.disable()
    stats = pstats.Stats(profile)
    print("Own time by component (cProfile, so slower than real):")
    by: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by[_component(filename, func)] = by.get(_component(filename, func), 0.0) + tottime
    total = sum(by.values())
    for name, seconds in sorted(by.items(), key=lambda kv: -kv[1]):
        if seconds / total >= 0.01:
            print(f"  {seconds / total:6.1%}  {name}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())


def _component(filename: str, func: str) -> str:
    """Which part of the stack a function belongs to, for the summary."""
    if filename == "~":
        if "sqlite3" in func or "execute" in func or "fetch" in func:
            return "SQLite (C)"
        return "builtins"
    for marker, name in (("/templates/", "templates (compiled Jinja code)"), ("jinja2", "jinja2 runtime"),
                         ("flask_babel", "flask-babel (gettext, formatting)"), ("babel/", "babel"),
                         ("sqlalchemy", "SQLAlchemy"), ("werkzeug", "werkzeug"), ("markupsafe", "markupsafe"),
                         ("flask_login", "flask-login"), ("flask_wtf", "flask-wtf"), ("wtforms", "wtforms"),
                         ("itsdangerous", "itsdangerous (session cookie)"), ("flask/", "flask"),
                         ("/portal/", "portal code"), ("psycopg", "psycopg")):
        if marker in filename:
            return name
    return "python stdlib / other"


if __name__ == "__main__":
    main()
