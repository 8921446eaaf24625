#!/usr/bin/env python
"""OCR benchmark: seconds per 300-dpi A4 page and character accuracy on Chinese scans.

Pages come from ``tests/intake/scans.py``: a full A4 page of 12-pt text (34 lines of 34
characters, about 1,150 characters) from the seed texts, drawn with the vendored CJK font at
300 dpi (2481 × 3507 pixels), in these cases:

    clean_simplified    clean_traditional (raw and folded)    skew_3 (3°, counter-clockwise)
    rotated_180         rotated_90        noise (paper tone, blur, grain, speckles: 0.5)
    seal (a red 42 mm company seal over the text)   scan (skew 2°, noise 0.3, seal: all at once)

Each engine (``portal.intake.ocr``: rapidocr, and tesseract when installed) reads every page
``--runs`` times (tesseract ``--tesseract-runs``, default 1: about 30 s a page); reported per case:
the median wall seconds and CPU seconds of the process (tesseract: of its child process), the
character accuracy (1 − edit distance / characters, whitespace ignored, full-width punctuation
as ASCII; "folded": Traditional → Simplified first, as search does) and the rotation/skew found.
Then pages per minute (from the median over all cases) and which engine reads best.

``--concurrency`` also measures two pages read at the same time by two threads calling the
models directly (no lock; 1 onnxruntime thread each) against one after the other (the lock;
``--threads`` onnxruntime threads) — throughput, and whether the texts come out the same.
``--baseline`` also reads the clean pages with rapidocr's own pipeline (``RapidOCR()(image)``:
its per-line angle classifier, detection on the page scaled to 2000 px).

    .venv/bin/python bench/bench_ocr.py                      # all cases, 3 runs, both engines
    .venv/bin/python bench/bench_ocr.py --cases clean_simplified,seal --runs 5 --engines rapidocr
    .venv/bin/python bench/bench_ocr.py --threads 1 --concurrency --baseline

Writes ``bench/results/ocr.json`` (git-ignored). The machine is shared: the load average before
and after is in the output — compare CPU seconds when it is high.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "intake"))

CASES = {
    "clean_simplified": ("simplified", {}),
    "clean_traditional": ("traditional", {}),
    "skew_3": ("simplified", {"skew": 3.0}),
    "rotated_180": ("simplified", {"rotate": 180}),
    "rotated_90": ("simplified", {"rotate": 90}),
    "noise": ("simplified", {"noise": 0.5}),
    "seal": ("simplified", {"seal": True}),
    "scan": ("traditional", {"skew": 2.0, "noise": 0.3, "seal": True}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--engines", default="", help="default: every engine available here")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tesseract-runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (PORTAL_OCR_THREADS)")
    parser.add_argument("--det-long-side", type=int, default=None)
    parser.add_argument("--concurrency", action="store_true")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "ocr.json"))
    args = parser.parse_args()
    if args.threads:
        os.environ["PORTAL_OCR_THREADS"] = str(args.threads)

    import scans

    from portal.intake import ocr

    if args.det_long_side:
        ocr.DET_LONG_SIDE = args.det_long_side
    engines = [e for e in (args.engines.split(",") if args.engines else ocr.engines()) if e]
    unknown = set(engines) - set(ocr.engines())
    if unknown:
        raise SystemExit(f"not available here: {', '.join(sorted(unknown))}")
    cases = [c for c in args.cases.split(",") if c]
    load_before = os.getloadavg()
    started = time.time()
    ocr.ocr_image(scans.render_page(scans.seed_lines("simplified", 2, 10)))  # load the models
    report = {"machine": _machine(ocr), "page": "A4, 300 dpi, 2481 × 3507 px, 34 lines × 34 characters, 12 pt",
              "det_long_side": ocr.DET_LONG_SIDE, "cases": {}, "engines": {}}
    print(f"OCR benchmark — {report['page']}; engines {', '.join(engines)}; onnxruntime threads "
          f"{ocr._threads()}; load average {load_before[0]:.1f}")
    print(f"{'case':<18} {'engine':<10} {'s/page':>7} {'cpu s':>6} {'acc':>6} {'folded':>6} {'rot':>4} {'skew':>6}")
    for name in cases:
        script, options = CASES[name]
        lines = scans.full_page_lines(script)
        expected = "\n".join(lines)
        page = scans.render_page(lines, **options)
        report["cases"][name] = {"script": script, "options": options, "characters": len("".join(lines))}
        for engine in engines:
            runs = args.tesseract_runs if engine == ocr.TESSERACT else args.runs
            walls, cpus, result = [], [], None
            for _ in range(max(1, runs)):
                wall, cpu, result = _timed(ocr, page, engine)
                walls.append(wall)
                cpus.append(cpu)
            row = {
                "seconds": round(statistics.median(walls), 2), "cpu_seconds": round(statistics.median(cpus), 2),
                "runs": len(walls), "accuracy": round(scans.char_accuracy(expected, result.text), 4),
                "accuracy_folded": round(scans.char_accuracy(expected, result.text, fold=True), 4),
                "rotation": result.rotation, "skew": result.skew, "confidence": result.confidence,
            }
            report["cases"][name][engine] = row
            print(f"{name:<18} {engine:<10} {row['seconds']:>7.2f} {row['cpu_seconds']:>6.2f} "
                  f"{row['accuracy']:>6.3f} {row['accuracy_folded']:>6.3f} {row['rotation']:>4} {row['skew']:>6.2f}",
                  flush=True)
    for engine in engines:
        rows = [report["cases"][c][engine] for c in cases]
        seconds = statistics.median(r["seconds"] for r in rows)
        report["engines"][engine] = {
            "median_seconds_per_page": round(seconds, 2),
            "pages_per_minute": round(60 / seconds, 1),
            "mean_accuracy_folded": round(statistics.mean(r["accuracy_folded"] for r in rows), 4),
            "min_accuracy_folded": round(min(r["accuracy_folded"] for r in rows), 4),
        }
    if args.baseline:
        report["baseline"] = _baseline(scans, cases, args.runs)
    if args.concurrency:
        report["concurrency"] = _concurrency(ocr, scans, args.runs)
    best = max(report["engines"], key=lambda e: report["engines"][e]["mean_accuracy_folded"])
    report["choice"] = best
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    report["elapsed_seconds"] = round(time.time() - started, 1)
    print()
    for engine, summary in report["engines"].items():
        print(f"{engine:<10} {summary['median_seconds_per_page']:.2f} s/page = {summary['pages_per_minute']} "
              f"pages/min; accuracy (folded) mean {summary['mean_accuracy_folded']:.3f}, "
              f"worst {summary['min_accuracy_folded']:.3f}")
    print(f"most accurate: {best}; load average after {report['load_average']['after'][0]:.1f}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"results in {out}")


def _timed(ocr, page, engine):
    """(wall seconds, CPU seconds, result): CPU of this process, plus its children's (tesseract)."""
    before, children = time.process_time(), _children_cpu()
    start = time.perf_counter()
    result = ocr.ocr_image(page, engine=engine)
    wall = time.perf_counter() - start
    return wall, (time.process_time() - before) + (_children_cpu() - children), result


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def _baseline(scans, cases, runs: int) -> dict:
    """rapidocr's own pipeline on the same pages (why portal.intake.ocr does not use it as is)."""
    import numpy as np
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    out = {}
    print("\nrapidocr's own pipeline (per-line angle classifier, detection at 2000 px):")
    for name in [c for c in cases if c in ("clean_simplified", "clean_traditional", "seal")]:
        script, options = CASES[name]
        lines = scans.full_page_lines(script)
        pixels = np.ascontiguousarray(np.asarray(scans.render_page(lines, **options))[:, :, ::-1])
        walls = []
        for _ in range(max(1, runs)):
            start = time.perf_counter()
            result, _ = engine(pixels)
            walls.append(time.perf_counter() - start)
        text = "\n".join(r[1] for r in result or [])
        out[name] = {"seconds": round(statistics.median(walls), 2), "lines_found": len(result or []),
                     "lines": len(lines), "accuracy_folded": round(scans.char_accuracy("".join(lines), text, fold=True), 4)}
        print(f"  {name:<18} {out[name]['seconds']:.2f} s, {out[name]['lines_found']}/{len(lines)} lines, "
              f"accuracy (folded) {out[name]['accuracy_folded']:.3f}")
    return out


def _concurrency(ocr, scans, runs: int) -> dict:
    """Two pages at once from two threads on private 1-thread engines (no lock) vs. the same two
    pages one after the other through ``ocr_image`` (the lock)."""
    pages = [scans.render_page(scans.full_page_lines("simplified", start)) for start in (0, 50)]
    serial = []
    texts_serial = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        texts_serial = [ocr.ocr_image(page).text for page in pages]
        serial.append(time.perf_counter() - start)
    shared = ocr._Rapid(1)  # one engine, both threads call it at once (what the lock prevents)
    shared.read(pages[0])
    parallel, same = [], True
    for _ in range(max(1, runs)):
        results: list = [None, None]

        def work(index, results=results):
            results[index] = shared.read(pages[index]).text

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        parallel.append(time.perf_counter() - start)
        same = same and results == texts_serial
    out = {"serial_seconds_for_2_pages": round(statistics.median(serial), 2), "serial_threads": ocr._threads(),
           "concurrent_seconds_for_2_pages": round(statistics.median(parallel), 2), "concurrent_threads": "2 × 1",
           "same_text": same}
    print(f"\nconcurrency: 2 pages one after the other ({ocr._threads()} onnxruntime threads) "
          f"{out['serial_seconds_for_2_pages']:.2f} s; at once from 2 threads on one engine (1 thread each) "
          f"{out['concurrent_seconds_for_2_pages']:.2f} s; same text: {same}")
    return out


def _machine(ocr) -> dict:
    import onnxruntime

    versions = {"onnxruntime": onnxruntime.__version__}
    try:
        from importlib.metadata import version
        versions["rapidocr-onnxruntime"] = version("rapidocr-onnxruntime")
    except Exception:  # noqa: BLE001
        pass
    if ocr.TESSERACT in ocr.engines():
        import subprocess
        first = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.splitlines()
        versions["tesseract"] = first[0] if first else "?"
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "onnxruntime_threads": ocr._threads(), "versions": versions}


if __name__ == "__main__":
    main()
