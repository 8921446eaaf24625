#!/usr/bin/env python
"""Intake benchmark (issue 4): how fast paper and PDFs become searchable documents.

Through the portal's own code, in one process, on a fresh instance (SQLite, local store, the
search index written right after each commit, ``SEARCH_WRITER="sync"``, so "filed" means
"searchable"):

1. **Answer time of the upload request** — ``POST /intake`` through the WSGI test client (CSRF
   off, logged in as the archivist) for born-digital PDFs of 1, 100 and ``--big-pages`` pages:
   the request only stores the file and queues its job, so the answer must not grow with the
   page count (aim: < 1 s whatever the page count).
2. **Born-digital throughput** — a PDF of ``--pages`` pages of Chinese text (a text layer on every
   page) sent with an archive number and type; the job (``portal.jobs.run_pending``) reads each
   page's text, files the document (encryption, fixity, register) and indexes it. Pages per second
   from receiving to searchable (aim: ≥ 20 pages/s). The document is then searched for a phrase of
   its last page.
3. **Scans** — ``--scan-pages`` full A4 pages rendered from the seed policies at 300 dpi (the
   tests' generator, ``tests/intake/scans.py``; Simplified and Traditional alternating, 1.5° skew,
   light noise, a red seal on every third page) as one image-only PDF: pages per minute through
   OCR to searchable, and the character accuracy of each page's stored text against the text that
   was drawn (edit distance over non-space characters; Traditional also after folding to
   Simplified, as search does) — aim ≥ 95 % on clean 300-dpi scans.

Median of ``--runs`` runs for 1 and 2; the scan series runs once (it is minutes long). Results:
``bench/results/intake.json`` (git-ignored).

    .venv/bin/python bench/bench_intake.py                       # defaults: 200 pages, 6 scan pages, 3 runs
    .venv/bin/python bench/bench_intake.py --pages 500 --scan-pages 12
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "intake"))
import scans  # noqa: E402


def make_app(instance: Path):
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(instance), "PORTAL_ADMIN_PASSWORD": "demo12345"}
    portal = str(Path(sys.executable).with_name("portal"))
    subprocess.run([portal, "init"], env=env, check=True, capture_output=True)
    subprocess.run([portal, "demo", "--archives", "4"], env=env, check=True, capture_output=True)
    from portal import create_app

    app = create_app({"INSTANCE_PATH": str(instance), "SEARCH_WRITER": "sync", "JOBS_RUNNER": "manual",
                      "WTF_CSRF_ENABLED": False})
    return app


def text_pdf(pages: int, start: int = 0) -> bytes:
    return scans.text_pdf([scans.seed_lines("simplified", 30, 34, start + i * 7) for i in range(pages)])


def post(client, data: bytes, name: str, **form) -> float:
    t0 = time.perf_counter()
    response = client.post("/intake", data={"files": [(io.BytesIO(data), name)], **form},
                           content_type="multipart/form-data")
    elapsed = time.perf_counter() - t0
    assert response.status_code == 303, response.status_code
    return elapsed


def newest_item():
    from portal.extensions import db
    from portal.intake.models import IntakeItem

    db.session.expire_all()
    return db.session.query(IntakeItem).order_by(IntakeItem.id.desc()).first()


def run_jobs(app) -> float:
    from portal import jobs

    t0 = time.perf_counter()
    while jobs.run_pending(app):
        pass
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="pages of the born-digital PDF")
    parser.add_argument("--big-pages", type=int, default=1000, help="largest PDF for the answer-time series")
    parser.add_argument("--scan-pages", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "intake.json"))
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    app = make_app(instance)
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_start": os.getloadavg()[0]}, "args": vars(args)}
    with app.app_context():
        import sqlalchemy as sa

        from portal.archives.models import Archive
        from portal.extensions import db
        from portal.intake.models import FILED

        archive = db.session.scalar(sa.select(Archive).where(Archive.status == "filed").limit(1))
        client = app.test_client()
        client.post("/login", data={"username": "archivist", "password": "demo12345"})

        # 1. answer time by page count
        answers = {}
        for pages in (1, 100, args.big_pages):
            times = []
            for run in range(args.runs):
                data = text_pdf(pages, start=run * 1000 + pages)
                times.append(post(client, data, f"answer-{pages}-{run}.pdf"))
            answers[pages] = {"median_s": statistics.median(times), "max_s": max(times),
                              "mb": round(len(data) / 1048576, 2)}
            print(f"upload answer, {pages:>5} pages ({answers[pages]['mb']} MB): "
                  f"median {answers[pages]['median_s'] * 1000:.0f} ms, max {answers[pages]['max_s'] * 1000:.0f} ms")
        result["answer"] = answers
        # leave those in the queue (no archive given): not part of the throughput figures
        from portal.intake.models import IntakeItem
        db.session.query(IntakeItem).filter(IntakeItem.state == "queued").update({"state": "rejected"})
        db.session.commit()

        # 2. born-digital throughput
        rates = []
        for run in range(args.runs):
            data = text_pdf(args.pages, start=5000 + run * 997)
            post(client, data, f"digital-{run}.pdf", archive=archive.number, doc_type="合同")
            item = newest_item()
            from portal.jobs.models import Job
            db.session.query(Job).filter(Job.id != item.job_id, Job.state == "queued").update({"state": "cancelled"})
            db.session.commit()
            seconds = run_jobs(app)
            item = newest_item()
            assert item.state == FILED, (item.state, item.reason)
            rates.append(args.pages / seconds)
            print(f"born-digital run {run + 1}: {args.pages} pages filed and indexed in {seconds:.1f} s "
                  f"= {args.pages / seconds:.1f} pages/s")
        result["born_digital_pages_per_s"] = {"median": statistics.median(rates), "runs": rates,
                                              "pages": args.pages}
        last_line = scans.seed_lines("simplified", 30, 34, 5000 + (args.runs - 1) * 997 + (args.pages - 1) * 7)[3]
        from portal.actor import Actor
        from portal.search import services as search
        found = search.search(Actor(item.created_by, "bench"), search.SearchRequest.from_args({"q": f'"{last_line[4:12]}"'}))
        result["born_digital_found"] = item.document_id in {h.id for h in found.hits if h.kind == "document"}
        print(f"  last page's phrase found by search: {result['born_digital_found']}")

        # 3. scans
        drawn, images = [], []
        for i in range(args.scan_pages):
            script = "simplified" if i % 2 == 0 else "traditional"
            lines = scans.full_page_lines(script, start=i * 40)
            drawn.append((script, "\n".join(lines)))
            images.append(scans.render_page(lines, skew=1.5, noise=0.2, seal=(i % 3 == 2), seed=i))
        data = scans.image_pdf(images)
        answer = post(client, data, "scan-batch.pdf", archive=archive.number, doc_type="往来函件")
        seconds = run_jobs(app)
        item = newest_item()
        assert item.state == FILED, (item.state, item.reason)
        from portal.intake.services import pages_of
        accuracy = []
        for (script, text), row in zip(drawn, pages_of(item), strict=True):
            raw = scans.char_accuracy(text, row.text)
            folded = scans.char_accuracy(text, row.text, fold=True)
            accuracy.append({"script": script, "raw": raw, "folded": folded, "confidence": row.confidence})
            print(f"  page {row.number} ({script}): accuracy {raw:.3f} (folded {folded:.3f}), "
                  f"confidence {row.confidence:.3f}")
        result["scans"] = {
            "pages": args.scan_pages, "mb": round(len(data) / 1048576, 2), "answer_s": answer,
            "seconds": seconds, "pages_per_min": args.scan_pages / seconds * 60,
            "accuracy": accuracy,
            "accuracy_simplified": statistics.median(a["raw"] for a in accuracy if a["script"] == "simplified"),
            "accuracy_traditional_folded": statistics.median(
                a["folded"] for a in accuracy if a["script"] == "traditional") if args.scan_pages > 1 else None,
        }
        print(f"scans: {args.scan_pages} pages OCR'd, filed and indexed in {seconds:.1f} s = "
              f"{args.scan_pages / seconds * 60:.1f} pages/min; accuracy Simplified "
              f"{result['scans']['accuracy_simplified']:.3f}, Traditional (folded) "
              f"{result['scans']['accuracy_traditional_folded']}")
    result["machine"]["load_end"] = os.getloadavg()[0]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    print(f"load average {result['machine']['load_start']:.1f} → {result['machine']['load_end']:.1f}; "
          f"results in {args.output}")


if __name__ == "__main__":
    main()
