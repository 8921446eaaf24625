"""Registers and reports at scale: KPI dashboard, archive ledger (page, print, PDF, Excel), access
register PDF, termination review list — server time and memory with 10,000 archives.

    .venv/bin/python bench/bench_registers.py                 # fresh temporary SQLite instance
    .venv/bin/python bench/bench_registers.py --instance DIR  # reuse a loaded instance folder
    .venv/bin/python bench/bench_registers.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Each request goes through the whole Flask stack in this process (Flask's test client: routing,
permissions, register entry, template, PDF/Excel) — no HTTP server, so the figures are the server's
own time. Fast pages are timed ``--runs`` times (median), PDFs ``--pdf-runs`` times. Memory: this
process's peak resident size after each item and the largest PDF child process so far (large
PDFs are made in a child, ``portal/pdfrender.py``). Loading 10,000 archives takes about 15 s.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_pages import PASSWORD, _pg_database, _portal_cmd, _run, cpu_model, git_state  # noqa: E402

ITEMS = [  # (user, path, label)
    ("manager", "/oversight/", "KPI dashboard (last 12 months)"),
    ("archivist", "/ledgers/archives", "archive ledger, page 1"),
    ("archivist", "/ledgers/archives/print", "archive ledger print page (2,000-row cap)"),
    ("archivist", "/ledgers/archives/print?format=xlsx", "archive ledger Excel (all filed)"),
    ("archivist", "/retention/reviews", "termination review list"),
    ("archivist", "/register/print?format=xlsx", "access register Excel (5,000-row cap)"),
    ("manager", "/oversight/?format=pdf", "KPI dashboard PDF"),
    ("archivist", "/ledgers/archives/print?format=pdf", "archive ledger PDF (2,000 rows)"),
    ("archivist", "/register/print?format=pdf", "access register PDF (5,000 rows)"),
]


def _mb(kib: int) -> float:
    return kib / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=10_000)
    parser.add_argument("--instance", help="a loaded instance folder to reuse (skips loading)")
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh database portal_bench)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pdf-runs", type=int, default=1)
    parser.add_argument("--only", help="comma-separated substrings of the paths to run")
    args = parser.parse_args(argv)

    instance = Path(args.instance or tempfile.mkdtemp(prefix="portal-bench-reg-")).resolve()
    env = dict(os.environ, PORTAL_INSTANCE_PATH=str(instance), PORTAL_ADMIN_PASSWORD=PASSWORD,
               PORTAL_DEMO_PASSWORD=PASSWORD)
    env.pop("PORTAL_DATABASE_URL", None)
    if args.database_url:
        env["PORTAL_DATABASE_URL"] = _pg_database(args.database_url, fresh=args.instance is None)
    if args.instance is None:
        print(f"Instance {instance}")
        _run(_portal_cmd() + ["init"], env, "portal init")
        _run(_portal_cmd() + ["demo"], env, "portal demo")
        _run([sys.executable, str(ROOT / "bench" / "bulk.py"), "--total", str(args.archives)], env, "bulk load")
    os.environ.update({k: v for k, v in env.items() if k.startswith("PORTAL_")})

    from portal import create_app
    app = create_app()
    clients = {}

    def client(user):
        if user not in clients:
            c = app.test_client()
            page = c.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
            r = c.post("/login", data={"username": user, "password": PASSWORD,
                                       "csrf_token": token.group(1) if token else ""})
            if r.status_code not in (302, 303):
                sys.exit(f"login as {user} failed ({r.status_code})")
            clients[user] = c
        return clients[user]

    with app.app_context():
        import sqlalchemy as sa

        from portal.archives.models import Archive
        from portal.extensions import db
        from portal.register.models import RegisterEntry
        archives = db.session.scalar(sa.select(sa.func.count()).select_from(Archive).where(Archive.status == "filed"))
        entries = db.session.scalar(sa.select(sa.func.count()).select_from(RegisterEntry))
        db.session.remove()
    print(f"{git_state()} · {cpu_model()} · {os.cpu_count()} CPUs · "
          f"{'PostgreSQL' if args.database_url else 'SQLite'} · {archives} filed archives · {entries} register entries")
    print(f"{'item':45s} {'status':>6s} {'size':>10s} {'median':>9s} {'runs':>5s} {'peak RSS':>9s} {'child max':>10s}")
    only = [s for s in (args.only or "").split(",") if s]
    for user, path, label in ITEMS:
        if only and not any(s in path for s in only):
            continue
        runs = args.pdf_runs if "format=pdf" in path else args.runs
        times, response = [], None
        for _ in range(runs):
            started = time.perf_counter()
            response = client(user).get(path)
            times.append(time.perf_counter() - started)
        child = _mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        print(f"{label:45s} {response.status_code:>6d} {len(response.data) / 1024:>7.0f} KiB "
              f"{statistics.median(times):>7.2f} s {runs:>5d} {_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss):>6.0f} MB"
              f" {child:>7.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
