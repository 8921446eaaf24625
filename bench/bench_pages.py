#!/usr/bin/env python
"""Page benchmark: 10,000 archives, gunicorn, concurrent logged-in clients.

1. Makes a fresh instance folder (SQLite, or a fresh database ``portal_bench`` on the PostgreSQL
   server given by ``--database-url``), runs ``portal init`` and ``portal demo`` (demo users and
   50 archives through the real workflow), then bulk-inserts archives up to ``--archives``
   (``bench/bulk.py``: both kinds, contacts with phones, contracts, filed with numbers, a valid
   register chain).
2. Starts ``python -m gunicorn -w 2 --threads 4 portal.wsgi:app`` on a free loopback port.
3. Logs in sessions (archivist, staff_sales by default) with the real log-in form (CSRF on) and
   measures, with ``--concurrency`` concurrent keep-alive clients (1 and 8 by default; ``wrk``
   when installed, else a Python thread pool), each page for ``--duration`` seconds, ``--runs``
   times after a warm-up:
   the archive list (page 1 and page 50), the HTMX active search (``HX-Request: true``,
   ``HX-Target: archive-results``) and the archive page of random archives the session may open.
4. Prints the median over the runs of p50/p95/p99 latency, pages/s, request counts and the
   server's CPU time per page, with the database size and row counts, and writes
   ``bench/results/latest.json``.

    .venv/bin/python bench/bench_pages.py                 # SQLite, 10,000 archives
    .venv/bin/python bench/bench_pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "demo12345"
BENCH_DB = "portal_bench"
# Active-search terms as users type them: name fragments (Chinese and Latin), a person's name,
# phone prefixes, parts of an archive number.
SEARCH_TERMS = ["海拓", "深圳市", "跨境电商", "GmbH", "Summit", "王伟", "张", "1381", "1590",
                "电商-01", "个人-2025", "Retail"]
AIM_P95_MS = 50.0
AIM_PAGES_S = 200.0


# --- set-up ---------------------------------------------------------------------------------

def _portal_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("portal")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from portal.cli import main; main()"]


def _run(cmd: list[str], env: dict, what: str) -> str:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    print(f"  {what}: {time.perf_counter() - started:.1f} s  {proc.stdout.strip().splitlines()[-1:]}")
    return proc.stdout


def _pg_database(server_url: str, fresh: bool) -> str:
    """A database ``portal_bench`` on the server of ``server_url`` (recreated when ``fresh``)."""
    import sqlalchemy as sa

    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DB})
        if fresh and exists:
            conn.execute(sa.text(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return re.sub(r"/[^/]*$", f"/{BENCH_DB}", server_url)


def prepare(args) -> tuple[Path, dict, bool]:
    """Instance folder and environment with a loaded database; returns (instance, env, is_temp)."""
    is_temp = args.instance is None
    instance = Path(args.instance or tempfile.mkdtemp(prefix="portal-bench-")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PORTAL_INSTANCE_PATH=str(instance), PORTAL_ADMIN_PASSWORD=PASSWORD,
               PORTAL_DEMO_PASSWORD=PASSWORD)
    env.pop("PORTAL_DATABASE_URL", None)
    if args.database_url:
        env["PORTAL_DATABASE_URL"] = _pg_database(args.database_url, fresh=is_temp)
    print(f"Instance {instance} ({'PostgreSQL ' + BENCH_DB if args.database_url else 'SQLite'})")
    _run(_portal_cmd() + ["init"], env, "portal init")
    _run(_portal_cmd() + ["demo"], env, "portal demo")
    _run([sys.executable, str(ROOT / "bench" / "bulk.py"), "--total", str(args.archives)], env, "bulk load")
    return instance, env, is_temp


def database_facts(env: dict, usernames: list[str]) -> dict:
    """Row counts, database size, and per user the archive ids their session may open."""
    os.environ["PORTAL_INSTANCE_PATH"] = env["PORTAL_INSTANCE_PATH"]
    if "PORTAL_DATABASE_URL" in env:
        os.environ["PORTAL_DATABASE_URL"] = env["PORTAL_DATABASE_URL"]
    import sqlalchemy as sa

    from portal import create_app
    from portal.archives import permissions as perm
    from portal.archives.models import Archive
    from portal.auth.models import User
    from portal.extensions import db

    app = create_app()
    facts: dict = {"rows": {}, "visible_ids": {}}
    with app.app_context():
        for table in ("archive", "archive_contact", "archive_cooperation", "archive_transaction",
                      "archive_communication", "archive_anniversary", "register_entry", "user_account"):
            facts["rows"][table] = db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
        facts["rows"]["archive_filed"] = db.session.scalar(
            sa.select(sa.func.count()).select_from(Archive).where(Archive.status == "filed"))
        facts["dialect"] = db.engine.dialect.name
        if db.engine.dialect.name == "sqlite":
            path = Path(db.engine.url.database)
            facts["db_bytes"] = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        else:
            facts["db_bytes"] = db.session.scalar(sa.text("SELECT pg_database_size(current_database())"))
        for name in usernames:
            user = db.session.scalar(sa.select(User).where(User.username == name))
            facts["visible_ids"][name] = list(db.session.scalars(
                sa.select(Archive.id).where(perm.visible_clause(user)).order_by(Archive.id)))
        db.session.remove()
        db.engine.dispose()
    return facts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, instance: Path, workers: int, threads: int,
                   wsgi: str = "portal.wsgi:app") -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = open(instance / "gunicorn.log", "a")  # noqa: SIM115 - closed with the process
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--error-logfile", "-", "--no-control-socket", wsgi]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited, see {instance / 'gunicorn.log'}")
        try:
            status, _, _ = request(port, "GET", "/healthz")
            if status == 200:
                print(f"  gunicorn -w {workers} --threads {threads} on 127.0.0.1:{port} (pid {proc.pid})")
                return proc, port
        except OSError:
            pass
        time.sleep(0.3)
    stop(proc)
    sys.exit("gunicorn did not answer /healthz within 60 s")


def _proc_cpu(match) -> dict[int, float]:
    """CPU seconds (user + system) per process whose (pid, ppid, title) ``match`` accepts."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid, ppid = int(stat.parent.name), int(fields[1])
            if match(pid, ppid, stat.parent):
                found[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots (processes started in between count from zero)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def server_cpu(master_pid: int) -> dict[int, float]:
    """CPU so far of the gunicorn master and its workers."""
    return _proc_cpu(lambda pid, ppid, _d: master_pid in (pid, ppid))


def postgres_cpu(database: str | None) -> dict[int, float]:
    """CPU so far of the PostgreSQL backends serving ``database`` (their process titles name it)."""
    if not database:
        return {}

    def serves(_pid, _ppid, folder: Path) -> bool:
        title = (folder / "cmdline").read_bytes().decode("utf-8", "replace")
        return title.startswith("postgres:") and f" {database} " in title

    return _proc_cpu(serves)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the process group we started (gunicorn and its workers)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- HTTP -----------------------------------------------------------------------------------

def request(port: int, method: str, path: str, headers: dict | None = None, body: str | None = None,
            conn: http.client.HTTPConnection | None = None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheaders(), data
    finally:
        if own:
            conn.close()


def _cookies(headers) -> dict:
    jar = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key.strip()] = rest.split(";", 1)[0]
    return jar


def login(port: int, username: str) -> str:
    """Log in through the form (CSRF token and all); returns the Cookie header value."""
    status, headers, body = request(port, "GET", "/login")
    jar = _cookies(headers)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or \
        re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', body)
    form = {"username": username, "password": PASSWORD}
    if token:
        form["csrf_token"] = token.group(1).decode()
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, headers, _ = request(port, "POST", "/login", {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        urllib.parse.urlencode(form))
    jar.update(_cookies(headers))
    if status not in (302, 303):
        sys.exit(f"log-in as {username} failed with HTTP {status}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


# --- what is measured -------------------------------------------------------------------------

HX = {"HX-Request": "true", "HX-Target": "archive-results", "HX-Current-URL": "/"}


def page_plans(sessions: dict[str, str], facts: dict, seed: int = 7) -> dict[str, dict]:
    """For each measured page: the requests (session, path) the clients cycle through."""
    rng = random.Random(seed)
    users = list(sessions)
    plans = {
        "list /": {"hx": False, "requests": [(u, "/") for u in users]},
        "list /?page=50": {"hx": False, "requests": [(u, "/?page=50") for u in users]},
        "search /?q= (htmx)": {"hx": True, "requests": [
            (u, "/?" + urllib.parse.urlencode({"q": term})) for term in SEARCH_TERMS for u in users]},
        "archive /archives/<id>": {"hx": False, "requests": []},
    }
    for _ in range(2000):
        u = rng.choice(users)
        plans["archive /archives/<id>"]["requests"].append(
            (u, f"/archives/{rng.choice(facts['visible_ids'][u])}"))
    for plan in plans.values():
        rng.shuffle(plan["requests"])
    return plans


def sanity_check(port: int, sessions: dict[str, str], plans: dict) -> dict:
    """One request of each kind per session: status, size, fragment or page (reported, not fatal)."""
    checks = {}
    for page, plan in plans.items():
        for user, cookie in sessions.items():
            path = next(p for u, p in plan["requests"] if u == user)
            headers = {"Cookie": cookie, **(HX if plan["hx"] else {})}
            status, _, body = request(port, "GET", path, headers)
            text = body.decode("utf-8", "replace")
            checks[f"{page} as {user}"] = {
                "path": path, "status": status, "bytes": len(body),
                "full_page": "<html" in text.lower(), "rows": text.count("<tr") - 1 if "<tr" in text else 0}
    return checks


LUA = r"""
local reqs = {}
local n = 0
non200 = 0  -- global: read from each thread in done()
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  local paths = {%(paths)s}
  local cookies = {%(cookies)s}
  local users = {%(users)s}
  for i, p in ipairs(paths) do
    local h = {["Cookie"] = cookies[users[i]]}
    %(hx)s
    reqs[i] = wrk.format("GET", p, h)
  end
  n = math.random(#reqs)
end

request = function()
  n = n %% #reqs + 1
  return reqs[n]
end

response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

done = function(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non200") end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%%d,"duration_us":%%d,"p50":%%d,"p95":%%d,"p99":%%d,"max":%%d,' ..
    '"errors":%%d,"non200":%%d,"bytes":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, bad, summary.bytes))
end
"""


def run_wrk(port: int, sessions: dict, plan: dict, concurrency: int, duration: float, workdir: Path) -> dict:
    users = list(sessions)
    reqs = plan["requests"]
    lua = LUA % {
        "paths": ",".join(json.dumps(urllib.parse.quote(p, safe="/?=&%")) for _, p in reqs),
        "cookies": ",".join(json.dumps(sessions[u]) for u in users),
        "users": ",".join(str(users.index(u) + 1) for u, _ in reqs),
        "hx": "".join(f'h["{k}"] = "{v}"; ' for k, v in HX.items()) if plan["hx"] else "",
    }
    script = workdir / "bench.lua"
    script.write_text(lua)
    threads = max(1, min(2, concurrency))
    proc = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d",
                           f"{max(1, round(duration))}s", "--timeout", "30s", "-s", str(script),
                           f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    if proc.returncode != 0 or "BENCHJSON " not in proc.stdout:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    out = proc.stdout
    data = json.loads(out.split("BENCHJSON ", 1)[1].splitlines()[0])
    seconds = data["duration_us"] / 1e6
    return {"requests": data["requests"], "p50_ms": data["p50"] / 1000, "p95_ms": data["p95"] / 1000,
            "p99_ms": data["p99"] / 1000, "max_ms": data["max"] / 1000,
            "pages_per_s": data["requests"] / seconds, "non_200": data["non200"],
            "errors": data["errors"], "bytes_per_page": data["bytes"] / max(data["requests"], 1)}


def run_python(port: int, sessions: dict, plan: dict, concurrency: int, duration: float, _workdir) -> dict:
    """Closed-loop load from ``concurrency`` threads, one keep-alive connection each."""
    reqs = [(p, {"Cookie": sessions[u], **(HX if plan["hx"] else {})}) for u, p in plan["requests"]]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures = [0] * concurrency
    sizes = [0] * concurrency
    start_at = time.perf_counter() + 0.2
    stop_at = start_at + duration

    def client(k: int):
        rng = random.Random(k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = rng.randrange(len(reqs))
        while time.perf_counter() < start_at:
            time.sleep(0.001)
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            path, headers = reqs[i % len(reqs)]
            i += 1
            try:
                status, _, body = request(port, "GET", urllib.parse.quote(path, safe="/?=&%"), headers, conn=conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                failures[k] += 1
                continue
            latencies[k].append(time.perf_counter() - t0)
            sizes[k] += len(body)
            if status != 200:
                failures[k] += 1
        conn.close()

    workers = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start_at
    lat = sorted(x for per in latencies for x in per)
    if not lat:
        return {"requests": 0, "p50_ms": 0, "p95_ms": 0, "p99_ms": 0, "max_ms": 0, "pages_per_s": 0,
                "non_200": sum(failures), "errors": 0, "bytes_per_page": 0}

    def pct(q):
        return lat[min(len(lat) - 1, int(q / 100 * len(lat)))] * 1000

    return {"requests": len(lat), "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": lat[-1] * 1000, "pages_per_s": len(lat) / elapsed, "non_200": sum(failures),
            "errors": 0, "bytes_per_page": sum(sizes) / len(lat)}


def median_of(runs: list[dict]) -> dict:
    keys = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "pages_per_s", "requests", "bytes_per_page",
            "server_cpu_ms_per_page", "db_cpu_ms_per_page", "load_avg_1min")
    out = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    out["non_200"] = sum(r["non_200"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    return out


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return head + (" (uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_table(result: dict) -> None:
    cfg, facts = result["config"], result["database"]
    print()
    print(f"Portal page benchmark — {result['date']} — {cfg['cpus']} CPUs ({cfg['cpu_model']}), "
          f"{facts['dialect']}, gunicorn -w {cfg['workers']} --threads {cfg['threads']}, "
          f"client {cfg['client']}, "
          f"{cfg['runs']} runs × {cfg['duration_s']:g} s (median of runs)")
    rows = facts["rows"]
    print(f"Database {facts['db_bytes'] / 1e6:.1f} MB: {rows['archive']} archives "
          f"({rows['archive_filed']} filed), {rows['archive_contact']} contacts, "
          f"{rows['archive_cooperation']} contracts, {rows['archive_transaction']} transactions, "
          f"{rows['archive_communication']} communications, register {rows['register_entry']} → "
          f"{result['register_entries_after']} entries after the run")
    print(f"Sessions: {', '.join(cfg['users'])}")
    head = f"{'page':<26}{'conc':>5}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'pages/s':>10}{'requests':>10}" \
           f"{'non-200':>9}{'KB/page':>9}{'CPU ms':>8}{'DB CPU':>8}{'load':>6}  aim"
    print(head)
    print("-" * len(head))
    for r in result["measurements"]:
        page, m = r["page"], r["median"]
        ok = m["p95_ms"] < AIM_P95_MS and m["pages_per_s"] >= AIM_PAGES_S and not m["non_200"]
        db_cpu = f"{m['db_cpu_ms_per_page']:.1f}" if facts["dialect"] == "postgresql" else "–"
        print(f"{page:<26}{r['concurrency']:>5}{m['p50_ms']:>9.1f}{m['p95_ms']:>9.1f}{m['p99_ms']:>9.1f}{m['pages_per_s']:>10.0f}"
              f"{m['requests']:>10.0f}{m['non_200']:>9}{m['bytes_per_page'] / 1024:>9.1f}"
              f"{m['server_cpu_ms_per_page']:>8.1f}{db_cpu:>8}{m['load_avg_1min']:>6.1f}  "
              f"{'met' if ok else 'MISSED'}")
    print(f"Aim: p95 < {AIM_P95_MS:g} ms and ≥ {AIM_PAGES_S:g} pages/s per page.\n"
          f"CPU ms = gunicorn CPU time per page (SQLite work included); DB CPU = PostgreSQL backends' CPU "
          f"per page. {cfg['cpus']} CPUs serve at most {cfg['cpus']} × 1000 / (CPU ms + DB CPU) pages/s.\n"
          f"load = 1-minute load average during the runs: above ~{cfg['cpus']} other work on the machine "
          f"competes for the CPUs and inflates latency.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--archives", type=int, default=10_000)
    parser.add_argument("--database-url", help="PostgreSQL server URL; the bench uses a fresh database "
                                               f"'{BENCH_DB}' on it")
    parser.add_argument("--instance", help="instance folder to (re)use instead of a temporary one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    parser.add_argument("--concurrency", default="1,8",
                        help="concurrent clients; several levels comma-separated, e.g. 1,8,16")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per page (0: none)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--wsgi", default="portal.wsgi:app",
                        help="WSGI app for gunicorn (for experiments; PYTHONPATH is passed on)")
    parser.add_argument("--users", default="archivist,staff_sales", help="sessions, comma-separated")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--pages", help="only these pages (substring match, comma-separated)")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    args = parser.parse_args(argv)

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    runner = run_wrk if client == "wrk" else run_python
    users = [u.strip() for u in args.users.split(",") if u.strip()]
    levels = [int(c) for c in str(args.concurrency).split(",") if c.strip()]

    instance, env, is_temp = prepare(args)
    facts = database_facts(env, users)
    proc, port = start_gunicorn(env, instance, args.workers, args.threads, args.wsgi)
    pg_name = BENCH_DB if args.database_url else None
    result = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version(),
                   "workers": args.workers, "threads": args.threads, "concurrency": levels,
                   "duration_s": args.duration, "runs": args.runs, "client": client, "users": users,
                   "search_terms": SEARCH_TERMS, "wsgi": args.wsgi},
        "database": {k: v for k, v in facts.items() if k != "visible_ids"},
        "visible_archives": {u: len(ids) for u, ids in facts["visible_ids"].items()},
        "git": git_state(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "measurements": [],
    }
    try:
        sessions = {u: login(port, u) for u in users}
        plans = page_plans(sessions, facts)
        if args.pages:
            wanted = [w.strip() for w in args.pages.split(",")]
            plans = {k: v for k, v in plans.items() if any(w in k for w in wanted)}
        result["checks"] = sanity_check(port, sessions, plans)
        for name, check in result["checks"].items():
            print(f"  check {name}: HTTP {check['status']}, {check['bytes']} bytes"
                  f"{', full page' if check['full_page'] else ', fragment'}")
        for concurrency in levels:
            for page, plan in plans.items():
                sessions = {u: login(port, u) for u in users}  # fresh sessions (inactivity timeout)
                if args.warmup > 0:
                    runner(port, sessions, plan, concurrency, args.warmup, instance)
                runs = []
                for i in range(args.runs):
                    load_before = os.getloadavg()[0]
                    cpu_before, db_before = server_cpu(proc.pid), postgres_cpu(pg_name)
                    try:
                        r = runner(port, sessions, plan, concurrency, args.duration, instance)
                    except RuntimeError as exc:
                        if proc.poll() is None:
                            raise
                        # Someone else stopped our gunicorn (seen while other work shared the
                        # machine): note it, start a new one and repeat the run.
                        print(f"  gunicorn exited during the run ({exc}); restarting and repeating")
                        result["server_restarts"] = result.get("server_restarts", 0) + 1
                        proc, port = start_gunicorn(env, instance, args.workers, args.threads, args.wsgi)
                        sessions = {u: login(port, u) for u in users}
                        runner(port, sessions, plan, concurrency, args.warmup or 1, instance)
                        cpu_before, db_before = server_cpu(proc.pid), postgres_cpu(pg_name)
                        r = runner(port, sessions, plan, concurrency, args.duration, instance)
                    done = max(r["requests"], 1)
                    r["server_cpu_ms_per_page"] = cpu_delta(cpu_before, server_cpu(proc.pid)) * 1000 / done
                    r["db_cpu_ms_per_page"] = cpu_delta(db_before, postgres_cpu(pg_name)) * 1000 / done
                    r["load_avg_1min"] = round((load_before + os.getloadavg()[0]) / 2, 2)
                    runs.append(r)
                    db_cpu = f" + PostgreSQL {r['db_cpu_ms_per_page']:.1f}" if pg_name else ""
                    print(f"  {page} c={concurrency} run {i + 1}: p50 {r['p50_ms']:.1f} ms, "
                          f"p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, {r['pages_per_s']:.0f} pages/s, "
                          f"{r['requests']} requests, {r['non_200']} non-200, "
                          f"server CPU {r['server_cpu_ms_per_page']:.1f}{db_cpu} ms/page, "
                          f"load {r['load_avg_1min']:.1f}")
                result["measurements"].append({"page": page, "concurrency": concurrency,
                                               "median": median_of(runs), "runs": runs})
        result["register_entries_after"] = database_facts(env, [])["rows"]["register_entry"]
    finally:
        stop(proc)
    print_table(result)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"Written {out}")
    if is_temp and not args.keep:
        shutil.rmtree(instance, ignore_errors=True)
        if args.database_url:
            import sqlalchemy as sa
            admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
            admin.dispose()
    else:
        print(f"Instance kept: {instance} (rerun with --instance {instance})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
