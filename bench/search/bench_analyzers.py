"""Measure candidate analyzers for the portal's Whoosh search: exactness, latency, size, build cost.

    .venv/bin/python bench/search/bench_analyzers.py                  # 10,000 documents, 5 candidates
    .venv/bin/python bench/search/bench_analyzers.py --sizes 1000 --runs 1        # smoke test (≈ 3 min)
    .venv/bin/python bench/search/bench_analyzers.py --sizes 20000                # the README's table
    .venv/bin/python bench/search/bench_analyzers.py --sizes 20000,100000         # + 100k for `exact`
    .venv/bin/python bench/search/bench_analyzers.py --sizes 100000 --candidates exact \
        --writers "procs=1,limitmb=256;procs=2,limitmb=128,multisegment,nolengths"   # reindex options

The default run should take about 10–12 minutes on an idle 2-core machine (estimated from the
CPU seconds of the builds, which are most of it); 20,000 documents take about twice that, the
100k build alone ≈ 20 minutes. See README.md for the figures and what they mean.

For each corpus size (``--sizes``; the first size builds ``--candidates``, later sizes
``--big-candidates``):

1. **Ground truth** (a subprocess): every document's text folded like the analyzers fold it
   (Traditional → Simplified, full-width → half-width, lower case); a query's true hits are the
   documents containing every clause — CJK by substring, Latin/digit runs as whole tokens (words
   modulo Porter stemming), punctuation between tokens free (``analyzers.py`` states the rules).
   The permission filter is a user who may see departments 1–4 at levels 2–3 (≈ 42 % of documents).
2. **Build** (a subprocess per candidate, fresh directory): indexing time, CPU seconds, index size
   on disk, peak memory (RSS of the process tree, sampled every 0.1 s, and the kernel's
   ``ru_maxrss``). The corpus is generated inside the build, as ``portal reindex`` would read the
   database in batches. Writer options: ``--writers`` (see ``parse_writers``).
3. **Queries** (a subprocess per index): the cost of turning the user's allowed document ids into a
   filter (id column → docnum map, then a set; vs. ``Or`` of ``Term`` queries), then for each query
   engine (``ENGINES``) one untimed pass that collects *all* hits (exactness: recall and precision
   against the ground truth restricted to the allowed documents; leaks = hits the user may not
   see) and ``--runs`` timed passes over the 50 queries: build the query, search with the
   permission filter, the total count, stored fields of the first 20 hits. Latency p50/p95 per pass
   (wall clock and CPU time of the searching thread); the median over passes is reported.

Results: a table on stdout and JSON in ``--output`` (default ``bench/results/search_analyzers.json``,
git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import analyzers as A  # noqa: E402
import corpus  # noqa: E402

# (category, query) — 50 queries as users type them
QUERIES: list[tuple[str, str]] = [
    ("char", "张"), ("char", "王"), ("char", "李"), ("char", "档"), ("char", "泄"),
    ("word", "客户"), ("word", "档案"), ("word", "保密"), ("word", "投诉"), ("word", "海拓"),
    ("word", "违约"),
    ("compound", "客户档案"), ("compound", "信息安全"), ("compound", "跨境电商"), ("compound", "管理制度"),
    ("compound", "张伟"), ("compound", "个人信息"),
    ("long", "客户档案管理员"), ("long", "客户信息安全管理"), ("long", "海外客户档案建立与管理制度"),
    ("long", "深圳市海拓跨境营销策划有限公司"), ("long", "个人信息保护法"),
    ("multi", "客户 投诉"), ("multi", "合同 违约 责任"), ("multi", "档案 借阅 审批"), ("multi", "海拓 合同"),
    ("multi", "王 保密"), ("multi", "张丽 采购经理"),
    ("traditional", "客戶檔案"), ("traditional", "檔案管理員"), ("traditional", "保密義務"),
    ("traditional", "數據存儲"), ("traditional", "個人信息保護法"),
    ("english", "marketing"), ("english", "confidential"), ("english", "archive"),
    ("english", "payment overdue"), ("english", "Haituo"),
    ("archive-no", "海外-2026-电商-001"), ("archive-no", "2026-电商"), ("archive-no", "电商-001"),
    ("archive-no", "海外-2021"),
    ("contract-no", "HT-2026-0037"), ("contract-no", "HT-2025"), ("contract-no", "0042"),
    ("phrase", '"客户档案管理"'), ("phrase", '"customer archives"'), ("phrase", '"违约责任"'),
    ("mixed", "ＨＴ－２０２６－００３７"), ("mixed", "2026年"),
]
assert len(QUERIES) == 50

USER = {"departments": {1, 2, 3, 4}, "clearance": 2}  # sees levels >= clearance: ≈ 42 % of documents
ENGINES = {  # candidate → query engines measured by default (--engines overrides; see cmd_query)
    "unigram": ["stock", "page"],
    "bigram": ["stock", "page"],
    "jieba": ["qparser"],
    "exact": ["page", "page-scored", "bulk", "bulk-budget", "fast", "fast-filterarg"],
    "exact-prefix": ["page", "bulk"],
}
# Query engines:
#   qparser        Whoosh QueryParser on the content field (jieba candidate)
#   stock          Whoosh Phrase/Sequence/Term/Prefix under And, search(filter=allowed docnums)
#   fast           analyzers.ExactQuery through searcher.search (the allow set checked in the matcher)
#   fast-unscored  the same, scored=False
#   fast-filterarg ExactQuery without allow, the allow set passed as search(filter=...)
#   bulk           analyzers.exact_search: postings a block at a time, BM25F, every candidate verified
#   bulk-unscored  the same in docnum order
#   bulk-budget    bulk, position checks stop after --max-verify candidates (total estimated)
#   page           analyzers.exact_page: index order, stops after 20 hits and --max-verify counted
#   page-scored    page, the 20 best BM25F scores among the hits counted
SEP_PLUS = f"[^a-z0-9{A.CJK}]+"
SEP_STAR = f"[^a-z0-9{A.CJK}]*"


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Ground truth


def clause_check(clause: str):
    """(literals, regex, stems) deciding whether a folded text contains the clause (module doc)."""
    import re
    us = A.units(A.fold(clause))
    literals, pieces, stems = [], [], []
    for k, (is_cjk, run, _s, _e) in enumerate(us):
        if k:
            pieces.append(SEP_PLUS if us[k - 1][0] == is_cjk else SEP_STAR)
        if is_cjk:
            pieces.append(re.escape(run))
            literals.append(run)
        elif run.isalpha():  # any whole word with the same stem; all of them start with stem[:-1]
            st = A.stem(run)
            lit = st[:-1] if len(st) > 1 else st
            pieces.append(f"(?<![a-z0-9])({re.escape(lit)}[a-z]*)(?![a-z0-9])")
            literals.append(lit)
            stems.append(st)
        else:
            pieces.append(f"(?<![a-z0-9]){re.escape(run)}(?![a-z0-9])")
            literals.append(run)
    return literals, re.compile("".join(pieces)), stems


def contains(text: str, check) -> bool:
    literals, rx, stems = check
    for lit in literals:
        if lit not in text:
            return False
    if not stems:
        return rx.search(text) is not None
    return any(all(A.stem(w) == st for w, st in zip(m.groups(), stems, strict=True)) for m in rx.finditer(text))


def cmd_truth(args) -> None:
    t0 = time.perf_counter()
    texts, allowed, chars, kinds = {}, [], 0, {}
    for doc in corpus.generate(args.n, args.seed):
        texts[doc.id] = A.fold(doc.content)
        chars += len(doc.content)
        kinds[doc.kind] = kinds.get(doc.kind, 0) + 1
        if doc.department in USER["departments"] and doc.sensitivity >= USER["clearance"]:
            allowed.append(doc.id)
    t1 = time.perf_counter()
    truth = {}
    for _cat, q in QUERIES:
        ids = None
        for clause in A.clauses(q):
            check = clause_check(clause)
            pool = texts.keys() if ids is None else ids
            ids = [i for i in pool if contains(texts[i], check)]
        truth[q] = ids or []
    out = {"n": args.n, "seed": args.seed, "chars": chars, "kinds": kinds, "allowed": allowed,
           "truth": truth, "seconds": {"generate_fold": t1 - t0, "match": time.perf_counter() - t1}}
    Path(args.out).write_text(json.dumps(out), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Build


def cmd_build(args) -> None:
    from whoosh import index
    cand = A.CANDIDATES[args.candidate]
    if os.path.exists(args.dir):
        shutil.rmtree(args.dir)
    os.makedirs(args.dir)
    ix = index.create_in(args.dir, A.schema_for(cand))
    kwargs = {"limitmb": args.limitmb}
    if args.nolengths:
        kwargs["codec"] = A.NoLengthStatsCodec()
    if args.procs > 1:
        kwargs.update(procs=args.procs, multisegment=args.multisegment, batchsize=args.batchsize)
    t0 = time.perf_counter()
    writer = ix.writer(**kwargs)
    chars = 0
    step = max(args.n // 10, 1)
    for doc in corpus.generate(args.n, args.seed):
        writer.add_document(**A.doc_fields(doc, cand))
        chars += len(doc.content)
        if doc.id % step == 0:
            log(f"  {args.candidate}: {doc.id:,}/{args.n:,} documents, {time.perf_counter() - t0:.0f} s")
    t1 = time.perf_counter()
    writer.commit()
    t2 = time.perf_counter()
    segments = len(index.open_dir(args.dir).reader().leaf_readers()) if args.procs > 1 else 1
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": t2 - t0, "add_seconds": t1 - t0, "commit_seconds": t2 - t1, "chars": chars,
                      "segments": segments, "maxrss_self_mb": own.ru_maxrss / 1024,
                      "maxrss_children_mb": kids.ru_maxrss / 1024,
                      "cpu_seconds": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime}))


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (MB), from /proc."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields_ = f.read().rsplit(b")", 1)[1].split()
            parents[int(entry)] = int(fields_[1])
            rss[int(entry)] = int(fields_[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        stack.extend(p for p, pp in parents.items() if pp == pid)
    return total / 2**20


def run_step(argv: list[str], sample: bool = False) -> tuple[dict, float]:
    """Run this script with ``argv`` in a subprocess; returns its JSON output and peak tree RSS (MB)."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *argv],
                            stdout=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sampler():
        while not done.wait(0.1):
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))

    thread = threading.Thread(target=sampler, daemon=True)
    if sample:
        thread.start()
    out, _ = proc.communicate()
    done.set()
    if proc.returncode:
        raise SystemExit(f"step {argv[0]} failed with exit code {proc.returncode}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), peak[0]


def dir_mb(path: str) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


# --------------------------------------------------------------------------------------------
# Queries


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return 0.0
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def cmd_query(args) -> None:
    from whoosh import index, query
    from whoosh.qparser import QueryParser
    cand = A.CANDIDATES[args.candidate]
    data = json.loads(Path(args.truth).read_text(encoding="utf-8"))
    allowed_ids = data["allowed"]
    allowed_idset = set(allowed_ids)
    ix = index.open_dir(args.dir)
    searcher = ix.searcher()
    reader = searcher.reader()
    out = {"filter": {}, "engines": {}}

    # -- the permission filter: allowed document ids (from the database) → set of docnums
    t0 = time.perf_counter()
    id_of = list(reader.column_reader("id"))  # docnum → document id
    docnum_of = {doc_id: dn for dn, doc_id in enumerate(id_of)}
    t1 = time.perf_counter()
    allow = {docnum_of[i] for i in allowed_ids if i in docnum_of}
    t2 = time.perf_counter()
    out["filter"] = {"ids": len(allowed_ids), "docnums": len(allow), "docs": reader.doc_count(),
                     "map_ms": 1000 * (t1 - t0), "set_ms": 1000 * (t2 - t1)}
    if args.terms_filter:
        t3 = time.perf_counter()
        # what search(filter=<Query>) does on every search (private, but that is the cost measured)
        comb = searcher._filter_to_comb(query.Or([query.Term("id", i) for i in allowed_ids]))
        out["filter"]["terms_query_ms"] = 1000 * (time.perf_counter() - t3)
        assert len(comb) == len(allow), (len(comb), len(allow))
    log(f"  filter: {len(allow):,} of {reader.doc_count():,} documents; id map {out['filter']['map_ms']:.0f} ms, "
        f"set {out['filter']['set_ms']:.1f} ms" + (f", Or(Term…) {out['filter']['terms_query_ms']:.0f} ms"
                                                 if args.terms_filter else ""))
    parser = QueryParser("content", ix.schema) if cand.engine == "qparser" else None

    cache = A.SearchCache(searcher)
    allow_sorted = sorted(allow)

    def run(qs: str, engine: str, limit, scored=True):
        """→ (all matching docnums if limit is None else the page's docnums, total, total is exact)."""
        base = engine.split("-")[0]
        if base in ("bulk", "page"):
            q = A.build_query(qs, cand, "fast")
            groups = q.groups if isinstance(q, A.ExactQuery) else []
        if base == "bulk":
            budget = args.max_verify if engine.endswith("-budget") and limit is not None else None
            res = A.exact_search(searcher, groups, allow, limit=limit, scored=scored, max_verify=budget,
                                 cache=cache)
            return res.docnums, res.total, res.exact
        if base == "page":
            res = A.exact_page(searcher, groups, allow, limit=limit, scored=engine == "page-scored",
                               max_verify=args.max_verify if limit is not None else None, allow_sorted=allow_sorted)
            return res.docnums, res.total, res.exact
        inside = base == "fast" and engine != "fast-filterarg"
        q = A.build_query(qs, cand, base, allow=allow if inside else None, parser=parser)
        r = searcher.search(q, limit=limit, scored=scored, filter=None if inside else allow)
        if limit is None:
            return list(r.docs()), len(r), True
        return [hit.docnum for hit in r[:limit]], len(r), True

    for engine in args.engines:
        scored = not engine.endswith("-unscored")
        # untimed pass: all hits, for exactness (and it warms the caches)
        per_query, t0 = [], time.perf_counter()
        for cat, qs in QUERIES:
            docnums, _total, _exact = run(qs, engine, None, scored=False)
            hits = {id_of[dn] for dn in docnums}
            truth = {i for i in data["truth"][qs] if i in allowed_idset}
            found = len(hits & truth)
            per_query.append({"q": qs, "cat": cat, "truth": len(truth), "hits": len(hits), "found": found,
                              "extra": len(hits - truth), "leaks": len(hits - allowed_idset),
                              "recall": found / len(truth) if truth else 1.0,
                              "precision": found / len(hits) if hits else 1.0})
        exact_pass = time.perf_counter() - t0
        runs = args.runs if exact_pass * args.runs <= args.budget else max(1, int(args.budget // max(exact_pass, 1e-9)))
        passes, estimated = [], 0
        for _ in range(runs):
            wall, cpu = [], []
            for _cat, qs in QUERIES:
                w0, c0 = time.perf_counter(), time.thread_time()
                docnums, total, exact = run(qs, engine, 20, scored=scored)
                page = [searcher.stored_fields(dn)["id"] for dn in docnums]  # what the results page shows
                cpu.append(1000 * (time.thread_time() - c0))
                wall.append(1000 * (time.perf_counter() - w0))
                assert len(page) == min(20, total) or not exact, (qs, len(page), total)
                estimated += not exact
            passes.append((wall, cpu))
        per_q_wall = [statistics.median(p[0][k] for p in passes) for k in range(len(QUERIES))]
        for k, row in enumerate(per_query):
            row["ms"] = round(per_q_wall[k], 2)
        res = {
            "runs": runs,
            "estimated_totals": estimated // max(runs, 1),  # queries whose total was estimated (budget)
            "p50_ms": statistics.median(percentile(p[0], 0.5) for p in passes),
            "p95_ms": statistics.median(percentile(p[0], 0.95) for p in passes),
            "max_ms": statistics.median(max(p[0]) for p in passes),
            "mean_ms": statistics.median(statistics.fmean(p[0]) for p in passes),
            "cpu_p50_ms": statistics.median(percentile(p[1], 0.5) for p in passes),
            "cpu_p95_ms": statistics.median(percentile(p[1], 0.95) for p in passes),
            "recall_mean": statistics.fmean(r["recall"] for r in per_query),
            "recall_min": min(r["recall"] for r in per_query),
            "precision_mean": statistics.fmean(r["precision"] for r in per_query),
            "exact_queries": sum(r["found"] == r["truth"] and not r["extra"] for r in per_query),
            "missed_docs": sum(r["truth"] - r["found"] for r in per_query),
            "extra_docs": sum(r["extra"] for r in per_query),
            "leaks": sum(r["leaks"] for r in per_query),
            "queries": per_query,
        }
        out["engines"][engine] = res
        log(f"  {args.candidate}/{engine}: p50 {res['p50_ms']:.1f} ms, p95 {res['p95_ms']:.1f} ms "
            f"(cpu p95 {res['cpu_p95_ms']:.1f}), recall {res['recall_mean']:.3f} (min {res['recall_min']:.2f}), "
            f"exact {res['exact_queries']}/50, leaks {res['leaks']}, {runs} runs")
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


# --------------------------------------------------------------------------------------------
# Orchestration


def parse_writers(spec: str) -> list[dict]:
    """``"procs=2,limitmb=128,multisegment,nolengths;procs=1"`` → writer option dicts.

    ``multisegment``: keep one segment per process (no merge at the end); ``nolengths``:
    ``analyzers.NoLengthStatsCodec``.
    """
    out = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        opts = {"procs": 1, "limitmb": 256, "multisegment": False, "nolengths": False}
        for kv in part.split(","):
            key, _, value = kv.strip().partition("=")
            opts[key] = True if not value else int(value)
        out.append(opts)
    return out


def writer_label(w: dict) -> str:
    return f"procs={w['procs']},limitmb={w['limitmb']}" + "".join(
        f",{flag}" for flag in ("multisegment", "nolengths") if w.get(flag))


def table(results: list[dict]) -> str:
    head = (f"{'docs':>7} {'candidate':<13} {'engine':<15} {'recall':>6} {'min':>5} {'exact':>5} {'prec':>5} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'cpu50':>6} {'cpu95':>7} {'est':>3} {'index MB':>8} {'build s':>7} "
            f"{'cpu s':>6} {'peak MB':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        b = r["build"]
        for engine, e in r["query"]["engines"].items():
            lines.append(
                f"{r['n']:>7} {r['candidate']:<13} {engine:<15} {e['recall_mean']:>6.3f} {e['recall_min']:>5.2f} "
                f"{e['exact_queries']:>5} {e['precision_mean']:>5.3f} {e['p50_ms']:>8.1f} {e['p95_ms']:>8.1f} "
                f"{e['cpu_p50_ms']:>6.1f} {e['cpu_p95_ms']:>7.1f} {e['estimated_totals']:>3} {b['index_mb']:>8.0f} "
                f"{b['seconds']:>7.0f} {b['cpu_seconds']:>6.0f} {b['peak_mb']:>7.0f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0].startswith("_"):
        return step_main(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--sizes", default="10000", help="corpus sizes (documents), comma-separated")
    ap.add_argument("--candidates", default=",".join(A.CANDIDATES), help="candidates at the first size")
    ap.add_argument("--big-candidates", default="exact", help="candidates at the later sizes")
    ap.add_argument("--engines", default="", help="query engines (default: per candidate, see ENGINES)")
    ap.add_argument("--runs", type=int, default=3, help="timed passes over the 50 queries")
    ap.add_argument("--max-verify", type=int, default=500,
                    help="hits counted before page/bulk-budget estimate the total")
    ap.add_argument("--budget", type=float, default=60, help="seconds of timed passes per engine at most")
    ap.add_argument("--writers", default="procs=2,limitmb=128,multisegment,nolengths",
                    help="writer options for the first size; ';' separates variants to build")
    ap.add_argument("--big-writers", default="procs=2,limitmb=128,multisegment,nolengths",
                    help="writer options for the later sizes (the `portal reindex` figure)")
    ap.add_argument("--seed", type=int, default=corpus.SEED)
    ap.add_argument("--workdir", default="/tmp/portal-search-bench")
    ap.add_argument("--keep", action="store_true", help="keep the indexes in --workdir")
    ap.add_argument("--output", default=str(HERE.parent / "results" / "search_analyzers.json"))
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    results, started = [], time.perf_counter()
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "python": sys.version.split()[0],
            "cpus": os.cpu_count(), "load_before": os.getloadavg(), "versions": versions()}
    for k, n in enumerate(sizes):
        cands = (args.candidates if k == 0 else args.big_candidates).split(",")
        writers = parse_writers(args.writers if k == 0 else args.big_writers)
        truth_file = work / f"truth-{n}-{args.seed}.json"
        log(f"{n:,} documents: ground truth")
        run_step(["_truth", "--n", str(n), "--seed", str(args.seed), "--out", str(truth_file)])
        tdata = json.loads(truth_file.read_text(encoding="utf-8"))
        log(f"  {tdata['chars']:,} characters, {len(tdata['allowed']):,} allowed; "
            f"{tdata['seconds']['generate_fold']:.0f} s generate+fold, {tdata['seconds']['match']:.0f} s matching")
        for name in cands:
            cand = A.CANDIDATES[name]
            engines = args.engines.split(",") if args.engines else ENGINES[name]
            engines = [e for e in engines if (e == "qparser") == (cand.engine == "qparser")] or [cand.engine]
            for w in writers:
                d = work / f"{n}-{name}"
                log(f"{n:,} documents: build {name} ({writer_label(w)})")
                argv_b = ["_build", "--candidate", name, "--n", str(n), "--seed", str(args.seed), "--dir", str(d),
                          "--procs", str(w["procs"]), "--limitmb", str(w["limitmb"])]
                argv_b += [f"--{flag}" for flag in ("multisegment", "nolengths") if w.get(flag)]
                b, peak = run_step(argv_b, sample=True)
                b.update(peak_mb=peak, index_mb=dir_mb(str(d)), docs_per_s=n / b["seconds"],
                         mchars_per_s=b["chars"] / 1e6 / b["seconds"], writer=writer_label(w), n=n)
                log(f"  {b['seconds']:.0f} s ({b['docs_per_s']:.0f} docs/s), index {b['index_mb']:.0f} MB, "
                    f"peak RSS {peak:.0f} MB, {b['segments']} segment(s)")
                if w is not writers[-1]:  # only the last writer variant's index is queried
                    results.append({"n": n, "candidate": name, "build": b, "query": {"engines": {}}})
                    continue
                log(f"{n:,} documents: queries on {name}: {', '.join(engines)}")
                argv_q = ["_query", "--candidate", name, "--dir", str(d), "--truth", str(truth_file),
                          "--runs", str(args.runs), "--budget", str(args.budget), "--engines", ",".join(engines),
                          "--max-verify", str(args.max_verify)]
                if k == 0 and name == cands[0]:
                    argv_q.append("--terms-filter")
                qres, _ = run_step(argv_q)
                results.append({"n": n, "candidate": name, "build": b, "query": qres})
                if not args.keep:
                    shutil.rmtree(d, ignore_errors=True)
    meta.update(seconds=time.perf_counter() - started, load_after=os.getloadavg())
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "user": {k: sorted(v) if isinstance(v, set) else v
                                                      for k, v in USER.items()},
                               "results": results}, ensure_ascii=False, indent=1), encoding="utf-8")
    print(table(results))
    for r in results:
        f = r["query"].get("filter")
        if f:
            print(f"{r['n']:>7} {r['candidate']:<13} filter: {f['docnums']:,} of {f['docs']:,} docs; id→docnum map "
                  f"{f['map_ms']:.0f} ms (once per searcher), allow set {f['set_ms']:.1f} ms"
                  + (f", Or(Term…) query {f['terms_query_ms']:.0f} ms" if "terms_query_ms" in f else ""))
    print(f"total {meta['seconds'] / 60:.1f} min; load average before {meta['load_before'][0]:.1f}, "
          f"after {meta['load_after'][0]:.1f}; results in {out}")


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("whoosh-reloaded", "Whoosh", "jieba", "OpenCC", "opencc-python-reimplemented"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def step_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["_truth", "_build", "_query"])
    ap.add_argument("--n", type=int)
    ap.add_argument("--seed", type=int, default=corpus.SEED)
    ap.add_argument("--out")
    ap.add_argument("--candidate")
    ap.add_argument("--dir")
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--limitmb", type=int, default=256)
    ap.add_argument("--batchsize", type=int, default=200)
    ap.add_argument("--multisegment", action="store_true")
    ap.add_argument("--nolengths", action="store_true")
    ap.add_argument("--truth")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--budget", type=float, default=60)
    ap.add_argument("--engines", type=lambda s: s.split(","))
    ap.add_argument("--terms-filter", action="store_true")
    ap.add_argument("--max-verify", type=int, default=500)
    args = ap.parse_args(argv)
    {"_truth": cmd_truth, "_build": cmd_build, "_query": cmd_query}[args.step](args)


if __name__ == "__main__":
    main()
