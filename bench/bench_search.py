"""Search benchmark (issue 6) through the portal's own code: rebuild, queries, live writer.

    .venv/bin/python bench/bench_search.py --n 2000          # a few minutes: while developing
    .venv/bin/python bench/bench_search.py                   # 100,000 documents (the issue's figure)
    make bench-search                                         # the same, 100,000 documents

1. **Data.** A fresh instance folder with a SQLite portal database (migrations, reference data,
   demo users). ``--n`` documents of ``bench/search/corpus.py`` (``make_doc(id)``: Chinese,
   Traditional and English text of realistic length from the seeds' vocabulary, four per archive)
   are inserted as real rows with SQLAlchemy Core: archives (filed, numbered, a contact and a
   contract each; 销售部 ≈ 50 %, four other departments; levels 1/2/3), their data keys, and
   Document + DocumentVersion rows carrying the text. No object store: only text is indexed.
2. **Rebuild.** ``portal reindex --procs 2`` as a subprocess (the command an operator runs): wall
   time, CPU time (the process and the writer processes it reaped), peak memory of the process
   tree (VmRSS of the process and its descendants summed, sampled every 0.2 s; also the largest
   single process), index size on disk.
3. **Queries.** In a separate process (as a web worker): the 50 queries of
   ``bench/search/bench_analyzers.py`` (``QUERIES``: one- to four-word Chinese, Traditional,
   English, archive and contract numbers, phrases, full-width) through
   ``portal.search.services.run(user, SearchRequest(q=…))`` for ``staff_sales`` (销售部, clearance
   二级: the permission filter is on and leaves ≈ 40 % of the entries), one warm-up pass, then
   ``--runs`` timed passes; p50/p95/max per pass, the median over passes. Also the results page
   (``services.search`` without the register entry: hits, snippets), the health check
   (``index_state``) and the process's peak memory.
4. **Live writer.** ``--commits`` (1,000) transactions that each add one document, with
   ``SEARCH_WRITER="sync"`` (the writer runs right after each commit): the time of each ``drain``
   (one Whoosh commit), documents per second, and the first query after a commit (a new searcher,
   the new segments' uid columns, the allowed set brought up to date). Then the 50 queries once
   more, on the index the writer left.

Prints a table; JSON goes to ``bench/results/search.json`` (git-ignored). ``--keep`` keeps the
instance folder (``--instance DIR`` reuses it and skips the loading). With a kept instance,
``--skip-reindex`` searches the index it has (queries alone take about a minute at 100,000) and
``--commits 0`` skips the live writer (which adds documents to the instance). Never a timed
assertion: the figures are for the README.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench" / "search"))

import corpus  # noqa: E402

PASSWORD = "demo12345"
USER = "staff_sales"
# corpus department (1–8) → portal department code: 销售部 takes four, so staff_sales sees ≈ 40 %
DEPARTMENTS = {1: "SAL", 2: "SAL", 3: "SAL", 4: "SAL", 5: "MKT", 6: "CS", 7: "PLN", 8: "EXE"}
HEADS = {"SAL": "head_sales", "MKT": "head_marketing", "CS": "head_service"}
DOC_TYPES = {"profile": "其他", "contract": "合同", "letter": "往来函件", "english": "往来函件"}
CHUNK = 2000


def log(*args) -> None:
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return 0.0
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def make_app(instance: Path, **config):
    from portal import create_app
    return create_app({"INSTANCE_PATH": str(instance), "SEARCH_WRITER": "manual", **config})


# --- 1. data --------------------------------------------------------------------------------

def load(instance: Path, n: int) -> dict:
    """A migrated database with demo users, then ``n`` corpus documents as archives and documents."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from portal.admin.models import CustomerType
    from portal.archives.models import Archive, Contact, Cooperation
    from portal.auth.models import Department, User
    from portal.demo import create_demo_users
    from portal.documents.models import ArchiveKey, Document, DocumentVersion
    from portal.extensions import db

    t0 = time.perf_counter()
    app = make_app(instance)
    with app.app_context():
        upgrade()
        create_demo_users(PASSWORD)
        users = {u.username: u.id for u in db.session.scalars(sa.select(User))}
        depts = {d.code: d.id for d in db.session.scalars(sa.select(Department))}
        types = {t.code: t.id for t in db.session.scalars(sa.select(CustomerType))}
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        archives, keys, contacts, coops, docs, versions = [], [], [], [], [], []
        names: dict[int, str] = {}
        counts = {"archives": 0, "documents": 0, "characters": 0}

        def flush() -> None:
            for table, rows in ((Archive, archives), (ArchiveKey, keys), (Contact, contacts),
                                (Cooperation, coops), (Document, docs), (DocumentVersion, versions)):
                if rows:
                    db.session.execute(sa.insert(table), rows)
                    rows.clear()
            db.session.commit()

        for doc in corpus.generate(n):
            aid = doc.archive_id
            if aid not in names:
                first = corpus.make_doc((aid - 1) * corpus.DOCS_PER_ARCHIVE + 1)  # the archive's department
                rng = random.Random(f"archive:{aid}")
                name, name_en = corpus._company(rng)
                code = DEPARTMENTS[first.department]
                owner = users.get(HEADS.get(code, ""), users["archivist"])
                number = corpus.archive_no(aid)
                filed = now - timedelta(days=rng.randint(1, 2000))
                names[aid] = name
                archives.append(dict(
                    id=aid, number=number, kind="organisation", status="filed",
                    sensitivity=rng.choice((1, 2, 2, 2, 2, 3, 3, 3, 3, 3)), name=name, name_en=name_en,
                    customer_type_id=types[number.split("-")[2]], stage="active", importance="B",
                    region=rng.choice(("北美", "欧洲", "东南亚", "中东", "日韩")), industry="跨境电商",
                    business_scope="跨境电子商务；货物进出口；技术进出口。", department_id=depts[code],
                    responsible_id=users.get(HEADS.get(code, "")), created_by_id=owner, created_at=filed,
                    updated_at=filed, filed_at=filed, filed_by_id=users["archivist"]))
                keys.append(dict(archive_id=aid, wrapped_key=os.urandom(40), master_key_id="bench",
                                 created_at=filed))
                contacts.append(dict(archive_id=aid, name=corpus._person(rng), position=rng.choice(corpus.POSITIONS),
                                     phone=f"13{rng.randint(100000000, 999999999)}"))
                coops.append(dict(archive_id=aid, project=rng.choice(corpus.SERVICES),
                                  contract_number=corpus.contract_no(first.id)))
                counts["archives"] += 1
            doc_type = DOC_TYPES[doc.kind]
            day = date(corpus.YEARS[doc.id % len(corpus.YEARS)], 1 + doc.id % 12, 1 + doc.id % 28)
            docs.append(dict(id=doc.id, archive_id=aid, uid=uuid.uuid4().hex, doc_type=doc_type,
                             title=doc.title[:200], doc_date=day, sensitivity=doc.sensitivity,
                             stored_name=f"{names[aid]}-{doc_type}-{day.year}-{doc.id}", current_version=1,
                             created_by_id=users["archivist"], created_at=now, updated_at=now))
            versions.append(dict(document_id=doc.id, number=1, store_key=f"archives/{aid}/{doc.id}",
                                 store_version="1", stored_size=len(doc.text) * 3, original_filename=f"{doc.id}.pdf",
                                 media_type="application/pdf", size=len(doc.text) * 3, sha256=f"{doc.id:064x}",
                                 text=doc.text, text_status="extracted", uploaded_by_id=users["archivist"],
                                 uploaded_at=now))
            counts["documents"] += 1
            counts["characters"] += len(doc.text)
            if len(docs) >= CHUNK:
                flush()
                if counts["documents"] % 20_000 == 0:
                    log(f"  loaded {counts['documents']:,} documents")
        flush()
        db.session.remove()
        db.engine.dispose()
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    counts["database_mb"] = round((instance / "portal.sqlite3").stat().st_size / 1048576, 1)
    return counts


# --- 2. rebuild -----------------------------------------------------------------------------

def _tree(root_pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1048576


def reindex(instance: Path, procs: int, limitmb: int) -> dict:
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(instance)}
    exe = Path(sys.executable).with_name("portal")
    cmd = [str(exe), "reindex", "--procs", str(procs), "--limitmb", str(limitmb)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            output.append(line.rstrip())
            log("  reindex:", line.rstrip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    peak_tree = peak_single = 0
    processes = 1
    status = rusage = None
    while status is None:
        pids = _tree(proc.pid)
        sizes = [_rss_kb(p) for p in pids]
        processes = max(processes, len(pids))
        peak_tree, peak_single = max(peak_tree, sum(sizes)), max(peak_single, max(sizes, default=0))
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, rusage = st, ru
        else:
            time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit("portal reindex failed:\n" + "\n".join(output))
    root = instance / "search_index"
    current = root / (root / "CURRENT").read_text().strip()
    return {"command": " ".join(cmd[1:]), "wall_s": round(wall, 1),
            "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 1),
            "peak_rss_tree_mb": round(peak_tree / 1024), "peak_rss_single_mb": round(peak_single / 1024),
            "max_rss_kernel_mb": round(rusage.ru_maxrss / 1024), "processes": processes,
            "index_mb": round(_dir_mb(current), 1), "index_files": len(list(current.iterdir())),
            "summary": next((line for line in output if line.startswith("Index rebuilt")), "")}


# --- 3. queries (own process) ---------------------------------------------------------------

def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def phase_queries(instance: Path, runs: int) -> dict:
    import sqlalchemy as sa
    from bench_analyzers import QUERIES

    from portal.actor import Actor
    from portal.auth.models import User
    from portal.extensions import db
    from portal.search import indexing, services

    app = make_app(instance)
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(username=USER))
        allowed = len(services.allowed_uids(user, services.SearchRequest(q="x")))
        t0 = time.perf_counter()
        state = indexing.index_state(app)
        first_open = None

        def one_pass(fn):
            wall, cpu, totals = [], [], []
            for _cat, q in QUERIES:
                t, c = time.perf_counter(), time.thread_time()
                totals.append(fn(q))
                cpu.append((time.thread_time() - c) * 1000)
                wall.append((time.perf_counter() - t) * 1000)
            db.session.rollback()
            return wall, cpu, totals

        def run(q):
            _page, total, exact, _state = services.run(user, services.SearchRequest(q=q))
            return total if exact else f"~{total}"

        def page(q):
            return services.search(Actor(user, "bench"), services.SearchRequest(q=q), register=False).total

        health_ms = [(time.perf_counter() - t0) * 1000]
        load = [round(os.getloadavg()[0], 1)]
        t, c = time.perf_counter(), time.thread_time()
        run(QUERIES[0][1])  # a new searcher, the segments' uid columns, the user's allowed set
        first_open, first_cpu = (time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000
        warm = one_pass(run)
        passes = [one_pass(run) for _ in range(runs)]
        page_passes = [one_pass(page) for _ in range(max(1, runs))]
        load.append(round(os.getloadavg()[0], 1))
        for _ in range(2):
            t = time.perf_counter()
            indexing.index_state(app)
            health_ms.append((time.perf_counter() - t) * 1000)
    per_query = [statistics.median(p[0][i] for p in passes) for i in range(len(QUERIES))]
    per_query_cpu = [statistics.median(p[1][i] for p in passes) for i in range(len(QUERIES))]
    return {
        "state": state, "allowed_entries": allowed, "first_query_ms": round(first_open, 1),
        "first_query_cpu_ms": round(first_cpu, 1), "load_avg": load,
        "health_check_ms": round(statistics.median(health_ms), 1),
        "run": _summary(passes), "page": _summary(page_passes),
        "queries": [{"category": c, "q": q, "total": warm[2][i], "ms": round(per_query[i], 1),
                     "cpu_ms": round(per_query_cpu[i], 1)} for i, (c, q) in enumerate(QUERIES)],
        "rss_mb": round(_status_mb("VmRSS")), "hwm_mb": round(_status_mb("VmHWM")),
    }


def _summary(passes) -> dict:
    return {"p50_ms": round(statistics.median(percentile(p[0], 0.5) for p in passes), 1),
            "p95_ms": round(statistics.median(percentile(p[0], 0.95) for p in passes), 1),
            "max_ms": round(statistics.median(max(p[0]) for p in passes), 1),
            "cpu_p50_ms": round(statistics.median(percentile(p[1], 0.5) for p in passes), 1),
            "cpu_p95_ms": round(statistics.median(percentile(p[1], 0.95) for p in passes), 1),
            "passes": len(passes)}


# --- 4. live writer (own process) -----------------------------------------------------------

def phase_writer(instance: Path, commits: int, n: int) -> dict:
    import sqlalchemy as sa

    from portal.auth.models import User
    from portal.documents.models import Document, DocumentVersion
    from portal.extensions import db
    from portal.search import indexing, services

    app = make_app(instance, SEARCH_WRITER="sync")
    drains: list[float] = []
    real_drain = indexing.drain

    def timed_drain(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real_drain(*args, **kwargs)
        finally:
            drains.append(time.perf_counter() - t)

    indexing.drain = timed_drain  # what _after_commit calls
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(username=USER))
        archivist = db.session.scalar(sa.select(User.id).filter_by(username="archivist"))
        archive_count = db.session.scalar(sa.text("SELECT count(*) FROM archive"))
        n = max(n, db.session.scalar(sa.select(sa.func.max(Document.id))) or 0)  # a re-run adds after it
        after_commit_ms, after_commit_cpu = [], []
        t0 = time.perf_counter()
        for i in range(1, commits + 1):
            doc = corpus.make_doc(n + i)
            archive_id = 1 + (i * 7919) % archive_count
            document = Document(archive_id=archive_id, uid=uuid.uuid4().hex, doc_type=DOC_TYPES[doc.kind],
                                title=doc.title[:200], sensitivity=doc.sensitivity, created_by_id=archivist,
                                stored_name=f"live-{n + i}")
            document.versions.append(DocumentVersion(
                number=1, store_key=f"live/{n + i}", store_version="1", stored_size=1, original_filename="live.pdf",
                media_type="application/pdf", size=1, sha256=f"{n + i:064x}", text=doc.text,
                text_status="extracted", uploaded_by_id=archivist))
            db.session.add(document)
            db.session.commit()  # the writer runs here (sync)
            if i % 100 == 0:
                t, c = time.perf_counter(), time.thread_time()
                services.run(user, services.SearchRequest(q="客户档案"))
                after_commit_ms.append((time.perf_counter() - t) * 1000)
                after_commit_cpu.append((time.thread_time() - c) * 1000)
                db.session.rollback()
                log(f"  live writer: {i} commits")
        wall = time.perf_counter() - t0
        pending = db.session.scalar(sa.text("SELECT count(*) FROM search_outbox WHERE done_at IS NULL"))
    root = instance / "search_index"
    current = root / (root / "CURRENT").read_text().strip()
    ms = [d * 1000 for d in drains] or [0.0]
    slow = [x for x in ms if x >= 1000]
    return {"commits": commits, "drains": len(drains), "pending_after": pending, "wall_s": round(wall, 1),
            "commits_per_s": round(commits / wall, 1) if wall else None,
            "drain_docs_per_s": round(len(drains) / sum(drains), 1) if sum(drains) else None,
            "drain_p50_ms": round(percentile(ms, 0.5), 1), "drain_p95_ms": round(percentile(ms, 0.95), 1),
            "drain_max_ms": round(max(ms), 1), "drains_over_1s": len(slow),
            "drain_s_over_1s": round(sum(slow) / 1000, 1), "drain_s_total": round(sum(ms) / 1000, 1),
            "first_query_after_commit_ms": round(statistics.median(after_commit_ms), 1) if after_commit_ms else None,
            "first_query_after_commit_cpu_ms": (round(statistics.median(after_commit_cpu), 1)
                                                if after_commit_cpu else None),
            "index_mb": round(_dir_mb(current), 1), "index_files": len(list(current.iterdir()))}


def _phase(instance: Path, phase: str, *extra: str) -> dict:
    """Run a phase in a fresh Python process; it prints its result as JSON on the last line."""
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(instance)}
    cmd = [sys.executable, __file__, "--phase", phase, "--instance", str(instance), *extra]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # stderr: the log
    if proc.returncode != 0:
        sys.exit(f"phase {phase} failed:\n{proc.stdout}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- report ---------------------------------------------------------------------------------

def machine() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "git": git("rev-parse", "--short", "HEAD") + (" (modified)" if git("status", "--porcelain") else ""),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def report(result: dict) -> None:
    d, r, q, w = result["data"], result.get("reindex"), result["queries"], result.get("writer")
    print(f"\nSearch benchmark — {d['documents']:,} documents in {d['archives']:,} archives "
          f"({d['characters'] / 1e6:.1f} M characters, database {d['database_mb']} MB); "
          f"{result['machine']['cpus']} CPUs, load {result['load_avg']}")
    print("\n| step | figure | aim |\n|---|---|---|")
    if r:
        print(f"| `portal {r['command']}` | {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU, "
              f"index {r['index_mb']:.0f} MB ({r['index_files']} files) | < 15 min |")
        print(f"| reindex peak memory | {r['peak_rss_tree_mb']} MB process tree ({r['processes']} processes), "
              f"largest process {r['peak_rss_single_mb']} MB | < 1 GB |")
    else:
        print("| `portal reindex` | not run (`--skip-reindex`) | < 15 min |")
    for key, label in (("run", "queries, `services.run`"), ("page", "results page, `services.search`")):
        s = q[key]
        print(f"| {label} ({q['allowed_entries']:,} entries allowed) | p50 {s['p50_ms']} ms, "
              f"p95 **{s['p95_ms']} ms**, max {s['max_ms']} ms (CPU p50 {s['cpu_p50_ms']}, p95 {s['cpu_p95_ms']}) "
              f"| p95 < 100 ms |")
    if w:
        s = result["queries_after_writes"]["run"]
        print(f"| queries after the live writes | p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, max {s['max_ms']} ms "
              f"(CPU p50 {s['cpu_p50_ms']}, p95 {s['cpu_p95_ms']}) | |")
    after = (f"; after a commit {w['first_query_after_commit_ms']} ms "
             f"(CPU {w.get('first_query_after_commit_cpu_ms')})" if w else "")
    print(f"| first query (searcher, uid columns, allowed set) | {q['first_query_ms']} ms "
          f"(CPU {q.get('first_query_cpu_ms')}){after} | |")
    print(f"| health check (`index_state`) | {q['health_check_ms']} ms | |")
    print(f"| query process memory | {q['rss_mb']} MB (peak {q['hwm_mb']} MB) | |")
    if w:
        print(f"| live writer, {w['commits']:,} one-document commits | {w['drain_docs_per_s']} documents/s "
              f"(drain p50 {w['drain_p50_ms']} ms, p95 {w['drain_p95_ms']} ms, max {w['drain_max_ms']} ms; "
              f"{w['drains_over_1s']} drains ≥ 1 s took {w['drain_s_over_1s']} of {w['drain_s_total']} s); "
              f"{w['commits_per_s']} commits/s end to end; {w['pending_after']} left pending | |")
    print(f"\nLoad average during the queries: {q.get('load_avg')}")
    print("\nSlowest queries (`services.run`, median ms wall / CPU, hits for staff_sales):")
    for item in sorted(q["queries"], key=lambda x: -x["ms"])[:8]:
        print(f"  {item['ms']:>8.1f} / {item.get('cpu_ms', 0):>6.1f}  {item['q']}  ({item['category']}, {item['total']})")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="documents (default 100,000)")
    ap.add_argument("--runs", type=int, default=3, help="timed query passes (median reported)")
    ap.add_argument("--commits", type=int, default=1000,
                    help="one-document commits for the live writer (0: skip it; it adds documents)")
    ap.add_argument("--skip-reindex", action="store_true",
                    help="with --instance: search the index the instance has instead of rebuilding it")
    ap.add_argument("--procs", type=int, default=2, help="portal reindex --procs")
    ap.add_argument("--limitmb", type=int, default=128, help="portal reindex --limitmb")
    ap.add_argument("--instance", type=Path, help="reuse this instance folder (skips the loading)")
    ap.add_argument("--keep", action="store_true", help="keep the instance folder")
    ap.add_argument("--output", type=Path, default=RESULTS / "search.json")
    ap.add_argument("--phase", choices=("queries", "writer"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.phase == "queries":
        print(json.dumps(phase_queries(args.instance, args.runs)))
        return
    if args.phase == "writer":
        print(json.dumps(phase_writer(args.instance, args.commits, args.n)))
        return

    load_start = os.getloadavg()
    instance = args.instance or Path(tempfile.mkdtemp(prefix="bench-search-"))
    result: dict = {"machine": machine(), "n": args.n, "instance": str(instance)}
    try:
        if args.instance and (instance / "portal.sqlite3").exists():
            log(f"reusing {instance}")
            result["data"] = json.loads((instance / "bench-data.json").read_text())
        else:
            log(f"loading {args.n:,} documents into {instance}")
            result["data"] = load(instance, args.n)
            (instance / "bench-data.json").write_text(json.dumps(result["data"]))
        log(f"  {result['data']}")
        if args.skip_reindex and (instance / "search_index" / "CURRENT").exists():
            log("reindex skipped: searching the instance's index")
        else:
            log("portal reindex")
            result["reindex"] = reindex(instance, args.procs, args.limitmb)
            log(f"  {result['reindex']}")
        log(f"queries ({args.runs} passes after a warm-up)")
        result["queries"] = _phase(instance, "queries", "--runs", str(args.runs))
        log(f"  run {result['queries']['run']}, page {result['queries']['page']}")
        if args.commits > 0:
            log(f"live writer ({args.commits} commits)")
            result["writer"] = _phase(instance, "writer", "--commits", str(args.commits), "--n", str(args.n))
            log(f"  {result['writer']}")
            result["queries_after_writes"] = _phase(instance, "queries", "--runs", "1")
        result["load_avg"] = [round(x, 1) for x in load_start] + [round(os.getloadavg()[0], 1)]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        report(result)
        print(f"\nJSON: {args.output}")
    finally:
        if not args.keep and not args.instance:
            shutil.rmtree(instance, ignore_errors=True)
        elif args.keep:
            log(f"kept {instance}")


if __name__ == "__main__":
    main()
