#!/usr/bin/env python
"""Document benchmark: a 200 MiB PDF up to and down from the portal's web worker, on both stores.

1. Writes a realistic 200 MiB PDF (a scanned contract: 40 A4 pages, each drawing its own ~5 MiB
   JPEG image stream, a 300 dpi "scan" reused with different random bytes after its end-of-image
   marker, plus a line of text per page), valid for pypdf and pdfium. A fixed-width comment near
   the top is rewritten before every upload so that no upload is a duplicate.
2. Starts moto's S3 server (``moto_server``) in a process of its own, so its memory and CPU are
   not the worker's (there is no MinIO binary on this machine; moto is the S3 API server).
3. For each store (``local``: files under the instance folder; ``s3``: the moto server through the
   portal's ``S3Store``): a fresh instance folder, ``portal init`` + ``portal demo``; the server is
   ``python -m gunicorn -w 1 --threads 4`` (the production worker class, one worker so that its
   process is the one measured) on a free loopback port, started afresh for each series.
4. Logs in through the real form (CSRF) and, for the API, makes a token with ``portal token
   create``. A series: on a fresh worker a small warm-up upload/download (imports, caches), then
   ``--runs`` uploads; then on another fresh worker a warm-up download and the ``--runs`` downloads
   (so that neither is measured on a heap grown by the other):
   - upload: ``POST /archives/<id>/documents/upload`` (multipart field ``files``; the client
     streams the file from disk with a Content-Length) — or ``POST /api/v1/archives/<id>/documents``
     (field ``file``, bearer token) — of a level-3 (三级, no watermark) document;
   - download: ``GET /documents/<id>/download`` — or ``GET /api/v1/documents/<id>/content`` —
     read to the end and written to a temporary file (size and SHA-256 checked on the first run).
   Per request: wall time (upload: first byte sent → answer read; download: request → last byte),
   the worker's **peak RSS growth** (``/proc/<pid>/clear_refs`` ← 5 resets VmHWM before the
   request; growth = VmHWM after − VmRSS before), the worker's and the S3 server's CPU time.
5. Baselines, paired with each run (right after it, same file, so both see the same load): the
   ``minio`` SDK alone (``fput_object`` / ``fget_object``, default settings, to a versioned bucket
   on the same moto server) and, for the local store, a plain file copy (``shutil.copyfile`` +
   fsync in, ``copyfile`` out).
6. ``--watermark-mb`` (default 20; 0 skips): a level-2 (二级) document whose download carries the
   viewer's watermark (the whole PDF rewritten by pypdf), measured as its own series.
7. Phase probes (``--no-phases`` serves the plain ``portal.wsgi:app``): thin wrappers around the
   document services (prepare, inspect, thumbnail, _put, _add_document, open_content, deliverable)
   and the request/response bodies record wall time, CPU and how much each raised the peak RSS.
8. Prints where the time and memory go and a table (median of the runs) with the aims — peak
   growth < 64 MiB for the upload, S3 time within 2× of the SDK's — and writes
   ``bench/results/documents.json`` (git-ignored).

``--via service`` measures the service layer alone (``services.upload`` / ``open_content`` +
``deliverable`` in a child process, no HTTP). ``--profile`` runs cProfile on every upload and
download in the worker. ``--experiment`` emulates proposed changes to code the bench does not own
(see EXPERIMENTS); ``--s3-part-mb`` / ``--s3-parallel`` set the portal's S3 part size/parallelism.

    .venv/bin/python bench/bench_documents.py                      # both stores, web pages, 3 runs
    .venv/bin/python bench/bench_documents.py --via web,api --runs 5
    .venv/bin/python bench/bench_documents.py --stores s3 --profile --runs 1
    .venv/bin/python bench/bench_documents.py --experiment pdf-lean,sm3-once
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "demo12345"
MIB = 1024 * 1024
AIM_GROWTH_MIB = 64.0
AIM_RATIO = 2.0
S3_KEY = S3_SECRET = "testing"
DOC_TYPE = "合同"
CHUNK = MIB  # client read/write size
TIMEOUT = 900  # seconds for one request (a slow machine, a big file)


# --- the test file ----------------------------------------------------------------------------

MARKER_PREFIX = b"%bench-unique "
MARKER_LEN = len(MARKER_PREFIX) + 32 + 1  # prefix, 32 hex digits, newline
A4 = (595, 842)


def _scan_jpeg(seed: int = 1) -> tuple[bytes, int, int]:
    """A 300 dpi A4 'scan' of a typed page (grey bars as lines of text, some noise), as JPEG."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    width, height = 2480, 3508
    page = Image.new("L", (width, height), 245)
    draw = ImageDraw.Draw(page)
    for y in range(240, height - 240, 56):
        x = 200
        while x < width - 200:
            word = rng.randint(40, 240)
            draw.rectangle([x, y, min(x + word, width - 200), y + 24], fill=rng.randint(20, 80))
            x += word + rng.randint(16, 40)
    page = Image.blend(page, Image.effect_noise((width, height), 18), 0.12).convert("RGB")
    out = io.BytesIO()
    page.save(out, "JPEG", quality=85)
    return out.getvalue(), width, height


def make_pdf(path: Path, total_bytes: int, pages: int, seed: int = 7) -> dict:
    """Write a PDF of about ``total_bytes`` with ``pages`` scanned pages; returns facts about it."""
    jpeg, width, height = _scan_jpeg(seed)
    rng = random.Random(seed)
    overhead = 2000 + pages * 700
    per_image = max(len(jpeg), (total_bytes - overhead) // pages)
    offsets: dict[int, int] = {}
    # objects: 1 catalog, 2 pages, 3 font, then per page i: page, contents, image
    page_ids = [4 + 3 * i for i in range(pages)]
    last_id = 3 + 3 * pages
    with open(path, "wb") as out:
        def obj(num: int, body: bytes) -> None:
            offsets[num] = out.tell()
            out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")

        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        out.write(MARKER_PREFIX + b"0" * 32 + b"\n")
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = " ".join(f"{p} 0 R" for p in page_ids)
        obj(2, f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
        obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        for i, pid in enumerate(page_ids):
            contents, image = pid + 1, pid + 2
            obj(pid, (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {A4[0]} {A4[1]}] "
                      f"/Resources << /Font << /F1 3 0 R >> /XObject << /Im0 {image} 0 R >> >> "
                      f"/Contents {contents} 0 R >>").encode())
            text = (f"Service contract 2025-{i + 1:03d}, page {i + 1} of {pages}: "
                    f"Shenzhen Haituo Trading Co., Ltd. and the Customer Archive Portal bench")
            stream = (f"q {A4[0]} 0 0 {A4[1]} 0 0 cm /Im0 Do Q\n"
                      f"BT /F1 9 Tf 36 20 Td ({text}) Tj ET\n").encode()
            obj(contents, f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
            data_len = per_image
            offsets[image] = out.tell()
            out.write(f"{image} 0 obj\n<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
                      f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode "
                      f"/Length {data_len} >>\nstream\n".encode())
            out.write(jpeg)
            # bytes after the JPEG's end-of-image marker: ignored by decoders, different per page
            out.write(rng.randbytes(data_len - len(jpeg)))
            out.write(b"\nendstream\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {last_id + 1}\n".encode())
        out.write(b"0000000000 65535 f \n")
        for num in range(1, last_id + 1):
            out.write(f"{offsets[num]:010d} 00000 n \n".encode())
        out.write(f"trailer\n<< /Size {last_id + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return {"path": str(path), "bytes": path.stat().st_size, "pages": pages,
            "image_stream_bytes": per_image, "jpeg_bytes": len(jpeg), "jpeg_pixels": f"{width}x{height}"}


def make_unique(path: Path) -> None:
    """Rewrite the fixed-width comment near the top, so the file is new to the duplicate check."""
    with open(path, "r+b") as handle:
        head = handle.read(64)
        at = head.find(MARKER_PREFIX)
        if at < 0:
            raise ValueError(f"{path} has no bench marker")
        handle.seek(at + len(MARKER_PREFIX))
        handle.write(uuid.uuid4().hex.encode())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def check_pdf(path: Path) -> dict:
    """pypdf reads it (pages, text of page 1) and pdfium renders page 1 — as the upload will."""
    import pypdf
    import pypdfium2 as pdfium

    reader = pypdf.PdfReader(str(path))
    text = reader.pages[0].extract_text()
    doc = pdfium.PdfDocument(str(path))
    try:
        image = doc[0].render(scale=0.2).to_pil()
    finally:
        doc.close()
    return {"pages": len(reader.pages), "text_page1": text.strip()[:60], "thumb": image.size}


# --- processes and /proc ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (bytes) of a process."""
    found = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                found[name] = int(value.split()[0]) * 1024
    return found


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS (VmHWM) to its current RSS; returns that RSS (bytes)."""
    with open(f"/proc/{pid}/clear_refs", "w") as handle:
        handle.write("5")
    return proc_status(pid)["VmRSS"]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process and its threads so far (0 when none)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def stop(proc: subprocess.Popen | None) -> None:
    """Stop a process we started in its own session (and everything it started)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}); see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {port} within {seconds:.0f} s; see {log}")


def start_moto(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log_path = workdir / "moto.log"
    exe = Path(sys.executable).with_name("moto_server")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    with open(log_path, "a") as log:
        proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir)
    wait_for_port(port, proc, "moto_server", log_path)
    print(f"  moto S3 server on 127.0.0.1:{port} (pid {proc.pid})")
    return proc, port


def _portal_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("portal")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from portal.cli import main; main()"]


def _run(cmd: list[str], env: dict, what: str, quiet: bool = False) -> str:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if not quiet:
        print(f"  {what}: {time.perf_counter() - started:.1f} s")
    return proc.stdout


# --- an instance of the portal per store ------------------------------------------------------

PICK_ARCHIVE = r"""
import json, sqlalchemy as sa
from portal import create_app
from portal.archives import permissions as perm
from portal.archives.models import Archive
from portal.auth.models import User
from portal.extensions import db
app = create_app()
with app.app_context():
    found = None
    for name in json.loads(__import__("sys").argv[1]):
        user = db.session.scalar(sa.select(User).where(User.username == name))
        if user is None:
            continue
        for archive in db.session.scalars(sa.select(Archive).order_by(Archive.id)):
            if archive.sensitivity == 3 and perm.can_upload(user, archive):
                found = {"user": name, "archive_id": archive.id, "archive": archive.name,
                         "status": archive.status}
                break
        if found:
            break
    print(json.dumps(found))
"""


class Instance:
    """A fresh instance folder with demo data, configured for one store."""

    def __init__(self, kind: str, workdir: Path, s3_port: int | None, users: list[str], size_limit: int,
                 s3_settings: dict | None = None):
        self.kind = kind
        self.path = workdir / f"instance-{kind}"
        self.path.mkdir(parents=True)
        self.env = dict(os.environ, PORTAL_INSTANCE_PATH=str(self.path), PORTAL_ADMIN_PASSWORD=PASSWORD,
                        PORTAL_DEMO_PASSWORD=PASSWORD, PORTAL_MAX_UPLOAD_BYTES=str(size_limit),
                        PORTAL_MAX_REQUEST_BYTES=str(size_limit + 16 * MIB))
        for name in [n for n in self.env if n.startswith("PORTAL_S3_") or n in (
                "PORTAL_DATABASE_URL", "PORTAL_STORAGE_DIR")]:
            self.env.pop(name)
        if kind == "s3":
            self.bucket = f"portal-bench-{uuid.uuid4().hex[:8]}"
            self.env.update(PORTAL_S3_ENDPOINT=f"127.0.0.1:{s3_port}", PORTAL_S3_ACCESS_KEY=S3_KEY,
                            PORTAL_S3_SECRET_KEY=S3_SECRET, PORTAL_S3_BUCKET=self.bucket,
                            PORTAL_S3_REGION="us-east-1", PORTAL_S3_SECURE="false")
            self.env.update({f"PORTAL_{k}": str(v) for k, v in (s3_settings or {}).items()})
        _run(_portal_cmd() + ["init"], self.env, f"[{kind}] portal init")
        _run(_portal_cmd() + ["demo"], self.env, f"[{kind}] portal demo")
        out = _run([sys.executable, "-c", PICK_ARCHIVE, json.dumps(users)], self.env, "pick archive", True)
        self.target = json.loads(out.strip().splitlines()[-1])
        if not self.target:
            raise RuntimeError(f"none of {users} may add documents to a level-3 archive of the demo data")
        self.db_path = self.path / "portal.sqlite3"
        self.api_token = ""

    def token(self) -> str:
        out = _run(_portal_cmd() + ["token", "create", self.target["user"], "--name", "bench"], self.env,
                   "token", True)
        return out.strip().splitlines()[-1].strip()

    def document_id(self, title: str) -> int | None:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30) as conn:
            row = conn.execute("SELECT id FROM document WHERE archive_id = ? AND title = ? ORDER BY id DESC",
                               (self.target["archive_id"], title)).fetchone()
        return row[0] if row else None

    def store_bytes(self) -> int:
        store = self.path / "store"
        return sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) if store.exists() else 0


class Gunicorn:
    def __init__(self, instance: Instance, threads: int, experiments: list[str] = (),
                 profile_dir: Path | None = None, phases_dir: Path | None = None):
        self.port = free_port()
        env = instance.env
        app = "portal.wsgi:app"
        if experiments or profile_dir or phases_dir:
            app = "bench_documents:experiment_app"
            env = dict(env, BENCH_EXPERIMENTS=",".join(experiments), BENCH_PROFILE_DIR=str(profile_dir or ""),
                       BENCH_PHASES_DIR=str(phases_dir or ""),
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "bench"), env.get("PYTHONPATH")])))
        self.log = instance.path / "gunicorn.log"
        cmd = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", str(threads), "--timeout",
               str(TIMEOUT), "-b", f"127.0.0.1:{self.port}", "--error-logfile", "-",
               "--no-control-socket", app]
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            try:
                status, _, _ = request(self.port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; see {self.log}")
            time.sleep(0.3)
        workers = children(self.proc.pid)
        if len(workers) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {workers}")
        self.worker = workers[0]
        print(f"  gunicorn -w 1 --threads {threads} on 127.0.0.1:{self.port} (worker pid {self.worker})")

    def close(self) -> None:
        stop(self.proc)


# --- HTTP ---------------------------------------------------------------------------------------

def request(port: int, method: str, path: str, headers: dict | None = None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def _cookies(headers) -> dict:
    jar = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key.strip()] = rest.split(";", 1)[0]
    return jar


def _csrf(body: bytes) -> str | None:
    match = (re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body)
             or re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', body)
             or re.search(rb'"X-CSRFToken":\s*"([^"]+)"', body))
    return match.group(1).decode() if match else None


def login(port: int, username: str) -> dict:
    """Log in through the form; returns the cookie jar."""
    status, headers, body = request(port, "GET", "/login")
    jar = _cookies(headers)
    form = {"username": username, "password": PASSWORD}
    token = _csrf(body)
    if token:
        form["csrf_token"] = token
    status, headers, _ = request(port, "POST", "/login", {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar)},
        urllib.parse.urlencode(form))
    if status not in (302, 303):
        raise RuntimeError(f"log-in as {username} failed with HTTP {status}")
    jar.update(_cookies(headers))
    return jar


def _text_of(body: bytes, limit: int = 600) -> str:
    """The readable part of an error answer (JSON as is; HTML: the text of <main>)."""
    text = body.decode("utf-8", "replace")
    main = re.search(r"<main.*?</main>", text, re.S)
    if main:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main.group(0))).strip()
    return text[:limit]


def _cookie_header(jar: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def post_file(port: int, path: str, headers: dict, fields: dict, file_field: str, file_path: Path,
              filename: str) -> tuple[int, bytes, float]:
    """A multipart POST whose file part is streamed from disk (with a Content-Length).

    Returns (status, body, seconds from the first byte sent to the whole answer read)."""
    boundary = f"----portalbench{uuid.uuid4().hex}"
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                    + str(value).encode() + b"\r\n" for name, value in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
             f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n').encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = file_path.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        started = time.perf_counter()
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}",
                            "Content-Length": str(len(head) + size + len(tail))}.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(head)
        with open(file_path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                conn.send(chunk)
        conn.send(tail)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, time.perf_counter() - started
    finally:
        conn.close()


def get_to_file(port: int, path: str, headers: dict, out_path: Path) -> tuple[int, int, float, bytes]:
    """GET streamed into ``out_path``; returns (status, bytes, seconds to the last byte, error body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            return resp.status, 0, time.perf_counter() - started, resp.read()[:2000]
        received = 0
        with open(out_path, "wb") as out:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
        return resp.status, received, time.perf_counter() - started, b""
    finally:
        conn.close()


# --- what is measured ----------------------------------------------------------------------------

class Measured:
    """Wall time, peak RSS growth and CPU of one operation on a watched worker process."""

    def __init__(self, worker_pid: int | None, store_pid: int | None):
        self.worker, self.store = worker_pid, store_pid

    def __enter__(self):
        self.rss_before = reset_peak(self.worker) if self.worker else 0
        self.cpu_before = cpu_seconds(self.worker)
        self.store_cpu_before = cpu_seconds(self.store)
        if self.store:
            reset_peak(self.store)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.cpu = cpu_seconds(self.worker) - self.cpu_before
        self.store_cpu = cpu_seconds(self.store) - self.store_cpu_before
        status = proc_status(self.worker) if self.worker else {"VmHWM": 0, "VmRSS": 0}
        self.peak = status["VmHWM"]
        self.rss_after = status["VmRSS"]
        self.growth = self.peak - self.rss_before
        self.store_peak = proc_status(self.store)["VmHWM"] if self.store else 0
        return False

    def result(self, size: int, seconds: float | None = None) -> dict:
        seconds = seconds if seconds is not None else self.seconds
        return {"bytes": size, "seconds": round(seconds, 3), "mib_s": round(size / MIB / seconds, 1),
                "rss_before_mib": round(self.rss_before / MIB, 1), "peak_mib": round(self.peak / MIB, 1),
                "growth_mib": round(self.growth / MIB, 1), "rss_after_mib": round(self.rss_after / MIB, 1),
                "worker_cpu_s": round(self.cpu, 2), "store_cpu_s": round(self.store_cpu, 2),
                "store_peak_mib": round(self.store_peak / MIB, 1), "load_1min": round(os.getloadavg()[0], 2)}


class HttpPath:
    """The portal over HTTP — the web pages (``web``) or the JSON API (``api``) — served by a
    gunicorn of its own (one worker: the process measured)."""

    def __init__(self, via: str, instance: Instance, store_pid: int | None, threads: int,
                 experiments: list[str] = (), profile_dir: Path | None = None, phases_dir: Path | None = None):
        self.via, self.instance, self.store_pid = via, instance, store_pid
        self.archive_id = instance.target["archive_id"]
        self.server = Gunicorn(instance, threads, experiments, profile_dir, phases_dir)
        self.phases = PhaseReader(phases_dir, self.server.worker)
        self.worker = self.server.worker
        port = self.server.port
        try:
            if via == "web":
                jar = login(port, instance.target["user"])
                status, headers, body = request(port, "GET", f"/archives/{self.archive_id}/documents/upload",
                                                {"Cookie": _cookie_header(jar)})
                if status == 404:
                    raise RouteMissing("GET /archives/<id>/documents/upload answers 404 (not built yet)")
                jar.update(_cookies(headers))  # the CSRF token is kept in the (re-issued) session cookie
                token = _csrf(body)
                self.headers = {"Cookie": _cookie_header(jar), **({"X-CSRFToken": token} if token else {})}
                self.csrf = token
            else:
                if not instance.api_token:
                    instance.api_token = instance.token()
                self.headers = {"Authorization": f"Bearer {instance.api_token}"}
                status, _h, _b = request(port, "GET", f"/api/v1/archives/{self.archive_id}/documents",
                                         self.headers)
                if status == 404:
                    raise RouteMissing("GET /api/v1/archives/<id>/documents answers 404 (not built yet)")
        except BaseException:
            self.server.close()
            raise

    def upload(self, file_path: Path, title: str, sensitivity: int) -> tuple[dict, int]:
        fields = {"doc_type": DOC_TYPE, "title": title, "sensitivity": sensitivity}
        size = file_path.stat().st_size
        if self.via == "web":
            if self.csrf:
                fields = {"csrf_token": self.csrf, **fields}
            url, field = f"/archives/{self.archive_id}/documents/upload", "files"
        else:
            url, field = f"/api/v1/archives/{self.archive_id}/documents", "file"
        with Measured(self.worker, self.store_pid) as m:
            status, body, seconds = post_file(self.server.port, url, self.headers, fields, field,
                                              file_path, "scanned-contract.pdf")
        doc_id = self.instance.document_id(title)
        if status >= 400 or doc_id is None:
            raise RuntimeError(f"{self.via} upload answered HTTP {status} and made no document: "
                               f"{_text_of(body)}")
        return m.result(size, seconds) | {"status": status, "phases": self.phases.next()}, doc_id

    def download(self, doc_id: int, out_path: Path) -> dict:
        url = f"/documents/{doc_id}/download" if self.via == "web" else f"/api/v1/documents/{doc_id}/content"
        with Measured(self.worker, self.store_pid) as m:
            status, received, seconds, error = get_to_file(self.server.port, url, self.headers, out_path)
        if status != 200:
            raise RuntimeError(f"{self.via} download answered HTTP {status}: {_text_of(error)}")
        return m.result(received, seconds) | {"status": status, "bytes": received, "phases": self.phases.next()}

    def close(self) -> None:
        self.server.close()


class PhaseReader:
    """The phase records a worker (or service child) wrote, one per request, in order."""

    def __init__(self, folder: Path | None, pid: int):
        self.path = folder / f"phases-{pid}.jsonl" if folder else None
        self.seen = 0

    def next(self, wait: float = 5.0) -> list[dict]:
        if self.path is None:
            return []
        deadline = time.time() + wait  # the worker writes after the last byte went out
        while True:
            lines = self.path.read_text().splitlines() if self.path.exists() else []
            if len(lines) > self.seen or time.time() > deadline:
                break
            time.sleep(0.05)
        if len(lines) <= self.seen:
            return []
        self.seen = len(lines)
        return json.loads(lines[-1])["phases"]


class RouteMissing(RuntimeError):
    pass


# The service layer alone, in a child process (no HTTP): the same script with --child.
class ServicePath:
    via = "service"

    def __init__(self, instance: Instance, store_pid: int | None, profile_dir: Path | None,
                 experiments: list[str] = (), phases_dir: Path | None = None):
        cmd = [sys.executable, __file__, "--child", json.dumps(instance.target),
               "--experiment", ",".join(experiments)]
        if profile_dir:
            cmd += ["--child-profile", str(profile_dir)]
        if phases_dir:
            cmd += ["--child-phases", str(phases_dir)]
        self.proc = subprocess.Popen(cmd, env=instance.env, cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.worker, self.store_pid, self.instance = self.proc.pid, store_pid, instance
        self.phases = PhaseReader(phases_dir, self.proc.pid)
        self._call({"op": "ready"})

    def _call(self, command: dict) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the service child exited ({self.proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"service {command['op']}: {answer['error']}")
        return answer

    def upload(self, file_path: Path, title: str, sensitivity: int) -> tuple[dict, int]:
        size = file_path.stat().st_size
        with Measured(self.worker, self.store_pid) as m:
            answer = self._call({"op": "upload", "path": str(file_path), "title": title,
                                 "sensitivity": sensitivity})
        return m.result(size) | {"status": 201, "phases": self.phases.next()}, answer["document_id"]

    def download(self, doc_id: int, out_path: Path) -> dict:
        with Measured(self.worker, self.store_pid) as m:
            answer = self._call({"op": "download", "document_id": doc_id, "path": str(out_path)})
        return m.result(answer["bytes"]) | {"status": 200, "bytes": answer["bytes"],
                                            "phases": self.phases.next()}

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                stop(self.proc)


def child_main(target_json: str, profile_dir: str | None, experiments: list[str], phases_dir: str | None) -> int:
    """Serve upload/download commands (JSON lines on stdin) with the portal's services in-process."""
    import cProfile

    import sqlalchemy as sa

    from portal import create_app
    from portal.actor import Actor
    from portal.auth.models import User
    from portal.documents import services
    from portal.extensions import db

    target = json.loads(target_json)
    apply_experiments(experiments)
    probes = PhaseProbes(Path(phases_dir)) if phases_dir else None
    app = create_app()
    counter = 0
    for line in sys.stdin:
        command = json.loads(line)
        answer: dict = {}
        profiler = cProfile.Profile() if profile_dir and command["op"] != "ready" else None
        try:
            with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}):
                user = db.session.scalar(sa.select(User).where(User.username == target["user"]))
                actor = Actor(user, "127.0.0.1", "web")
                if profiler:
                    profiler.enable()
                if probes and command["op"] in ("upload", "download"):
                    probes.begin(command["op"])
                if command["op"] == "upload":
                    details = services.Details(doc_type=DOC_TYPE, title=command["title"],
                                               sensitivity=command["sensitivity"])
                    with open(command["path"], "rb") as handle:
                        document = services.upload(actor, target["archive_id"], handle,
                                                   "scanned-contract.pdf", details)
                    answer["document_id"] = document.id
                    if probes:
                        probes.end()
                elif command["op"] == "download":
                    content = services.open_content(actor, command["document_id"], mode=services.DOWNLOAD)
                    chunks, _media_type, _length = services.deliverable(content)
                    body_start = probes.snapshot() if probes else None
                    received = 0
                    with open(command["path"], "wb") as out:
                        for chunk in chunks:
                            out.write(chunk)
                            received += len(chunk)
                    answer["bytes"] = received
                    if probes:
                        probes.end(body_start)
                if profiler:
                    profiler.disable()
                    counter += 1
                    profiler.dump_stats(str(Path(profile_dir) / f"{counter:02d}-{command['op']}.prof"))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            answer = {"error": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"}
        print(json.dumps(answer), flush=True)
    return 0


# --- baselines --------------------------------------------------------------------------------

class SdkBaseline:
    """The same file with the ``minio`` SDK alone, default settings, to the same S3 server."""

    via = "minio SDK"
    reusable = True
    worker = None

    def __init__(self, s3_port: int, store_pid: int):
        from minio import Minio
        from minio.commonconfig import ENABLED
        from minio.versioningconfig import VersioningConfig

        self.client = Minio(f"127.0.0.1:{s3_port}", access_key=S3_KEY, secret_key=S3_SECRET, secure=False,
                            region="us-east-1")
        self.bucket = f"sdk-baseline-{uuid.uuid4().hex[:8]}"
        self.client.make_bucket(self.bucket)
        self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))  # as the portal's
        self.store_pid = store_pid
        self.names: list[str] = []

    def upload(self, file_path: Path, title: str, _sensitivity: int) -> tuple[dict, str]:
        name = f"baseline/{title}"
        size = file_path.stat().st_size
        with Measured(None, self.store_pid) as m:
            self.client.fput_object(self.bucket, name, str(file_path), content_type="application/pdf")
        self.names.append(name)
        return m.result(size) | {"status": 200}, name

    def download(self, name: str, out_path: Path) -> dict:
        with Measured(None, self.store_pid) as m:
            self.client.fget_object(self.bucket, name, str(out_path))
        size = out_path.stat().st_size
        return m.result(size) | {"status": 200, "bytes": size}

    def close(self) -> None:
        pass

    def cleanup(self) -> None:
        for name in self.names:  # keep the S3 server small
            for obj in self.client.list_objects(self.bucket, prefix=name, include_version=True):
                self.client.remove_object(self.bucket, obj.object_name, version_id=obj.version_id)
        self.client.remove_bucket(self.bucket)


class CopyBaseline:
    """A plain file copy: into a folder with fsync (as the local store writes), and back out."""

    via = "file copy"
    reusable = True
    worker = None

    def __init__(self, workdir: Path):
        self.folder = workdir / "copy-baseline"
        self.folder.mkdir()

    def upload(self, file_path: Path, title: str, _sensitivity: int) -> tuple[dict, Path]:
        target = self.folder / title
        size = file_path.stat().st_size
        with Measured(None, None) as m:
            shutil.copyfile(file_path, target)
            with open(target, "rb+") as handle:
                os.fsync(handle.fileno())
        return m.result(size) | {"status": 200}, target

    def download(self, stored: Path, out_path: Path) -> dict:
        with Measured(None, None) as m:
            shutil.copyfile(stored, out_path)
        stored.unlink()
        size = out_path.stat().st_size
        return m.result(size) | {"status": 200, "bytes": size}

    def close(self) -> None:
        pass

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


# --- phase probes: where a request's time, CPU and peak memory go -------------------------------

PHASES = [  # (label, module attribute) — nested: prepare ⊃ inspect ⊃ thumbnail
    ("prepare: size, type, SHA-256 + SM3, inspect", "portal.documents.services:prepare"),
    ("inspect: pypdf text + pdfium thumbnail", "portal.documents.services:inspect"),
    ("thumbnail (pdfium)", "portal.documents.inspect:_pdf_thumbnail"),
    ("encrypt + hash + store put", "portal.documents.services:_put"),
    ("database: document row, register", "portal.documents.services:_add_document"),
    ("open_content (checks, register)", "portal.documents.services:open_content"),
    ("deliverable (watermark if any)", "portal.documents.services:deliverable"),
]


class PhaseProbes:
    """Thin wrappers around the service functions above: wall time, process CPU and how much each
    raised the process's peak RSS (VmHWM, never reset here), one JSON line per request."""

    def __init__(self, folder: Path):
        import importlib
        import threading

        self.local = threading.local()
        self.log = folder / f"phases-{os.getpid()}.jsonl"
        for label, target in PHASES:
            module_name, attr = target.split(":")
            module = importlib.import_module(module_name)
            setattr(module, attr, self._wrap(label, getattr(module, attr)))

    @staticmethod
    def snapshot() -> dict:
        status = proc_status(os.getpid())
        return {"t": time.perf_counter(), "cpu": time.process_time(), "rss": status["VmRSS"],
                "hwm": status["VmHWM"]}

    def _wrap(self, label, function):
        import functools

        @functools.wraps(function)
        def probe(*args, **kwargs):
            record = getattr(self.local, "record", None)
            if record is None:
                return function(*args, **kwargs)
            start = self.snapshot()
            try:
                return function(*args, **kwargs)
            finally:
                record["phases"].append(self.delta(label, start, self.snapshot(), record["start"]))
        return probe

    @staticmethod
    def delta(label: str, start: dict, end: dict, origin: dict | None = None) -> dict:
        return {"phase": label, "at_s": round(start["t"] - (origin or start)["t"], 3),
                "seconds": round(end["t"] - start["t"], 3),
                "cpu_s": round(end["cpu"] - start["cpu"], 3),
                "raised_peak_mib": round((end["hwm"] - start["hwm"]) / MIB, 1),
                "rss_start_mib": round(start["rss"] / MIB, 1), "peak_end_mib": round(end["hwm"] / MIB, 1)}

    def begin(self, what: str) -> None:
        self.local.record = {"request": what, "start": self.snapshot(), "phases": []}

    def mark(self, label: str) -> None:
        """A phase from the request's start to now (e.g. reading the request body)."""
        record = self.local.record
        record["phases"].append(self.delta(label, record["start"], self.snapshot(), record["start"]))

    def end(self, body_start: dict | None = None) -> None:
        record, self.local.record = self.local.record, None
        end = self.snapshot()
        start = record.pop("start")
        if body_start is not None:
            record["phases"].append(self.delta("response body: read, decrypt, verify, send", body_start, end,
                                               start))
        record["phases"].append(self.delta("whole request", start, end, start))
        record["phases"].sort(key=lambda p: (p["at_s"], -p["seconds"]))  # in order, outer first
        with open(self.log, "a") as handle:
            handle.write(json.dumps(record) + "\n")


class PhaseMiddleware:
    """WSGI: probe each document upload and download (the body streaming included)."""

    def __init__(self, wsgi_app, probes: PhaseProbes):
        self.wsgi_app, self.probes = wsgi_app, probes

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
        upload = method == "POST" and "/documents" in path
        download = method == "GET" and path.endswith(("/download", "/content"))
        if not (upload or download):
            return self.wsgi_app(environ, start_response)
        self.probes.begin("upload" if upload else "download")
        if upload and environ.get("CONTENT_LENGTH"):
            environ["wsgi.input"] = _ReadProbe(environ["wsgi.input"], self.probes, int(environ["CONTENT_LENGTH"]))
        try:
            body = self.wsgi_app(environ, start_response)
        except BaseException:
            self.probes.end()
            raise
        return self._iterate(body)

    def _iterate(self, body):
        start = self.probes.snapshot()
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()
            self.probes.end(start if self.probes.local.record["request"] == "download" else None)


class _ReadProbe:
    """wsgi.input that marks when the request body's last byte was read (multipart parsed)."""

    def __init__(self, stream, probes: PhaseProbes, length: int):
        self.stream, self.probes, self.left = stream, probes, length
        if hasattr(stream, "readinto"):
            self.readinto = self._readinto

    def _count(self, n: int) -> None:
        before, self.left = self.left, self.left - n
        if before > 0 >= self.left:
            self.probes.mark("request body read + multipart parsed to a temporary file")

    def read(self, *args):
        data = self.stream.read(*args)
        self._count(len(data))
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self._count(len(data))
        return data

    def _readinto(self, buffer):
        n = self.stream.readinto(buffer)
        self._count(n or 0)
        return n

    def __getattr__(self, name):
        return getattr(self.stream, name)


# --- experiments: proposed changes, emulated without touching their files -----------------------

EXPERIMENTS = {
    "pdf-lean": "inspect: pypdf keeps no stream over 1 MiB in its object cache while the upload's PDF "
                "is read (the fix: clear reader.resolved_objects after each page in inspect._pdf)",
    "sm3-once": "SM3 computed once per upload (and by portal verify), not again while storing nor on "
                "every read; SHA-256 still checked on both (services._put, services.verified_plaintext)",
}


def apply_experiments(names: list[str]) -> None:
    """Monkey-patch the portal as the named experiments describe (in the worker process)."""
    unknown = set(names) - set(EXPERIMENTS)
    if unknown:
        raise SystemExit(f"unknown experiment(s): {', '.join(sorted(unknown))}")
    if "pdf-lean" in names:
        import pypdf
        from pypdf.generic import IndirectObject, StreamObject

        from portal.documents import inspect as inspect_module

        class LeanReader(pypdf.PdfReader):
            def cache_indirect_object(self, generation, idnum, obj):
                if isinstance(obj, StreamObject) and len(obj._data or b"") > MIB:
                    obj.indirect_reference = IndirectObject(idnum, generation, self)
                    return obj  # read again from the file when needed
                return super().cache_indirect_object(generation, idnum, obj)

        original_pdf = inspect_module._pdf

        def lean_pdf(stream, size, limits):
            saved, pypdf.PdfReader = pypdf.PdfReader, LeanReader
            try:
                return original_pdf(stream, size, limits)
            finally:
                pypdf.PdfReader = saved

        inspect_module._pdf = lean_pdf
    if "sm3-once" in names:
        from portal import crypto
        from portal.documents import services

        def put_sha256_only(store_key, fileobj, prepared, key):
            digest = hashlib.sha256()
            fileobj.seek(0)
            reader = crypto.EncryptingReader(fileobj, prepared.size, key, services._aad(store_key), [digest])
            stored = services.store().put(store_key, reader, reader.size)
            if digest.hexdigest() != prepared.sha256:
                services.store().delete_version(store_key, stored.version_id)
                raise services.Unacceptable("The file changed while it was being stored.")
            return stored

        def verified_sha256_only(content):
            version = content.version
            digest = hashlib.sha256()
            chunks = content.chunks
            if chunks is None:
                chunks = services.store().get(version.store_key, version.store_version)
            try:
                for plain in crypto.decrypt_stream(chunks, content.key, services._aad(version.store_key)):
                    digest.update(plain)
                    yield plain
            except crypto.DecryptionFailed as exc:
                services._fixity_failure(content.actor, content.document, version, str(exc))
                raise services.FixityFailure("integrity check failed") from exc
            if digest.hexdigest() != version.sha256:
                services._fixity_failure(content.actor, content.document, version, "fixity hash mismatch")
                raise services.FixityFailure("integrity check failed")

        services._put = put_sha256_only
        services.verified_plaintext = verified_sha256_only


def __getattr__(name: str):
    """``gunicorn bench_documents:experiment_app``: the portal with BENCH_EXPERIMENTS applied and,
    with BENCH_PROFILE_DIR, every document upload and download profiled (cProfile, incl. streaming)."""
    if name == "experiment_app":
        apply_experiments([n for n in os.environ.get("BENCH_EXPERIMENTS", "").split(",") if n])
        from portal.wsgi import app
        if os.environ.get("BENCH_PHASES_DIR"):
            app.wsgi_app = PhaseMiddleware(app.wsgi_app, PhaseProbes(Path(os.environ["BENCH_PHASES_DIR"])))
        if os.environ.get("BENCH_PROFILE_DIR"):
            app.wsgi_app = ProfileDocuments(app.wsgi_app, Path(os.environ["BENCH_PROFILE_DIR"]))
        return app
    raise AttributeError(name)


class ProfileDocuments:
    """WSGI middleware: cProfile of each upload (POST …/documents…) and download, body included."""

    def __init__(self, wsgi_app, folder: Path):
        self.wsgi_app, self.folder, self.count = wsgi_app, folder, 0

    def __call__(self, environ, start_response):
        import cProfile

        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
        upload = method == "POST" and "/documents" in path
        download = method == "GET" and path.endswith(("/download", "/content"))
        if not (upload or download):
            return self.wsgi_app(environ, start_response)
        self.count += 1
        name = self.folder / f"web-{os.getpid()}-{self.count:02d}-{'upload' if upload else 'download'}.prof"
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            body = self.wsgi_app(environ, start_response)
        finally:
            profiler.disable()
        return self._iterate(body, profiler, name)

    @staticmethod
    def _iterate(body, profiler, name: Path):
        iterator = iter(body)
        try:
            while True:
                profiler.enable()
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                finally:
                    profiler.disable()
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()
            profiler.dump_stats(str(name))


# --- running ------------------------------------------------------------------------------------

def run_series(open_path, label: str, big: Path, small: Path | None, runs: int, workdir: Path,
               sensitivity: int = 3, baseline=None) -> dict:
    """``runs`` uploads of ``big`` on one fresh worker, then their downloads on another fresh one
    (so that neither is measured on a heap grown by the other); each worker first does a small
    warm-up (imports, caches). ``open_path()`` gives a fresh path (a new server or child process).
    A ``baseline`` copies the same file right after each upload and download (paired runs: both
    see the same load on the machine)."""
    out_path = workdir / "download.bin"
    uploads, downloads, refs, hashes = [], [], [], []
    base_up, base_down, base_refs = [], [], []
    path = open_path()
    try:
        warm_ref = None
        if small is not None:
            make_unique(small)
            _warm, warm_ref = path.upload(small, f"warm-up {label} {uuid.uuid4().hex[:6]}", sensitivity)
            path.download(warm_ref, out_path)
        for i in range(runs):
            make_unique(big)
            hashes.append(sha256_of(big) if i == 0 else None)
            up, ref = path.upload(big, f"bench {label} run {i + 1} {uuid.uuid4().hex[:6]}", sensitivity)
            uploads.append(up)
            refs.append(ref)
            print(f"  {label} upload {i + 1}: {up['seconds']:.2f} s ({up['mib_s']:.1f} MiB/s), worker growth "
                  f"{up['growth_mib']:.1f} MiB (RSS {up['rss_before_mib']:.0f} → peak {up['peak_mib']:.0f}), "
                  f"worker CPU {up['worker_cpu_s']:.1f} s, S3 server CPU {up['store_cpu_s']:.1f} s, "
                  f"load {up['load_1min']:.1f}")
            if baseline is not None:
                result, base_ref = baseline.upload(big, f"{label.split()[0][1:-1]}-{uuid.uuid4().hex[:8]}", 3)
                base_up.append(result)
                base_refs.append(base_ref)
                print(f"  {label} · {baseline.via} upload {i + 1}: {result['seconds']:.2f} s "
                      f"({result['mib_s']:.1f} MiB/s), S3 server CPU {result['store_cpu_s']:.1f} s")
    finally:
        if not getattr(path, "reusable", False):
            path.close()
    path = path if getattr(path, "reusable", False) else open_path()
    try:
        if warm_ref is not None:
            path.download(warm_ref, out_path)
        for i, ref in enumerate(refs):
            down = path.download(ref, out_path)
            if sensitivity == 3:  # unchanged copy: check it
                if down["bytes"] != big.stat().st_size:
                    raise RuntimeError(f"{label}: downloaded {down['bytes']} bytes of {big.stat().st_size}")
                if hashes[i]:
                    down["sha256_ok"] = sha256_of(out_path) == hashes[i]
                    if not down["sha256_ok"]:
                        raise RuntimeError(f"{label}: the downloaded file differs from the uploaded one")
            out_path.unlink(missing_ok=True)
            downloads.append(down)
            print(f"  {label} download {i + 1}: {down['seconds']:.2f} s ({down['mib_s']:.1f} MiB/s), worker "
                  f"growth {down['growth_mib']:.1f} MiB, worker CPU {down['worker_cpu_s']:.1f} s, "
                  f"S3 server CPU {down['store_cpu_s']:.1f} s, load {down['load_1min']:.1f}")
            if baseline is not None:
                result = baseline.download(base_refs[i], out_path)
                out_path.unlink(missing_ok=True)
                base_down.append(result)
                print(f"  {label} · {baseline.via} download {i + 1}: {result['seconds']:.2f} s "
                      f"({result['mib_s']:.1f} MiB/s)")
    finally:
        path.close()
    series = {"upload": {"median": median_of(uploads), "runs": uploads, "phases": phase_summary(uploads)},
              "download": {"median": median_of(downloads), "runs": downloads,
                           "phases": phase_summary(downloads)}}
    if baseline is not None:
        series["baseline"] = {"via": baseline.via,
                              "upload": {"median": median_of(base_up), "runs": base_up},
                              "download": {"median": median_of(base_down), "runs": base_down}}
    return series


def phase_summary(runs: list[dict]) -> list[dict]:
    """Per phase over the runs: median wall and CPU seconds, largest rise of the peak RSS."""
    labels: list[str] = []
    for run in runs:
        for phase in run.get("phases") or []:
            if phase["phase"] not in labels:
                labels.append(phase["phase"])
    summary = []
    for label in labels:
        found = [p for run in runs for p in run.get("phases") or [] if p["phase"] == label]
        summary.append({"phase": label, "seconds": round(statistics.median(p["seconds"] for p in found), 2),
                        "cpu_s": round(statistics.median(p["cpu_s"] for p in found), 2),
                        "raised_peak_mib": max(p["raised_peak_mib"] for p in found)})
    return summary


def print_phases(result: dict) -> None:
    for store, paths in result["measurements"].items():
        for via, ops in paths.items():
            for op in ("upload", "download"):
                phases = ops[op].get("phases")
                if not phases or via.endswith("watermarked") and op == "upload":
                    continue
                print(f"\n[{store}] {via} {op} — where it goes (median s, CPU s of the whole worker "
                      f"process, MiB the phase raised the peak RSS by; nested phases include the inner ones)")
                for phase in phases:
                    print(f"  {phase['phase']:<58}{phase['seconds']:>7.2f} s{phase['cpu_s']:>7.2f} CPU s"
                          f"{phase['raised_peak_mib']:>8.1f} MiB")


def median_of(runs: list[dict]) -> dict:
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    out["max_growth_mib"] = max(r.get("growth_mib", 0) for r in runs)
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return head + (" (uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("gunicorn", "werkzeug", "minio", "moto", "cryptography", "pypdf", "pypdfium2"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def print_table(result: dict) -> None:
    cfg = result["config"]
    print()
    print(f"Document benchmark — {result['date']} — {cfg['cpus']} CPUs ({cfg['cpu_model']}), "
          f"file {result['file']['bytes'] / MIB:.1f} MiB PDF ({result['file']['pages']} scanned pages), "
          f"gunicorn -w 1 --threads {cfg['threads']}, median of {cfg['runs']} runs, "
          f"1-min load {result['load_range'][0]:.1f}–{result['load_range'][1]:.1f} during the runs"
          + (f", experiments: {', '.join(cfg['experiments'])}" if cfg["experiments"] else "")
          + (f", {cfg['s3_settings']}" if cfg.get("s3_settings") else ""))
    head = (f"{'store':<7}{'path':<20}{'op':<10}{'MiB':>7}{'s':>8}{'MiB/s':>8}{'growth MiB':>12}"
            f"{'peak MiB':>10}{'worker CPU s':>14}{'S3 CPU s':>10}{'× base':>8}  aim")
    print(head)
    print("-" * len(head))
    for row in result["table"]:
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") else "–"
        growth = f"{row['growth_mib']:.1f}" if row["worker"] else "–"
        peak = f"{row['peak_mib']:.0f}" if row["worker"] else "–"
        cpu = f"{row['worker_cpu_s']:.1f}" if row["worker"] else "–"
        s3cpu = f"{row['store_cpu_s']:.1f}" if row["store"] == "s3" else "–"
        print(f"{row['store']:<7}{row['via']:<20}{row['op']:<10}{row['mib']:>7.1f}{row['seconds']:>8.2f}"
              f"{row['mib_s']:>8.1f}{growth:>12}{peak:>10}{cpu:>14}{s3cpu:>10}{ratio:>8}  {row.get('aim', '')}")
    print(f"growth = worker's peak RSS (VmHWM) during the request − its RSS before (max over the runs "
          f"for the aim); × base = time ÷ the baseline's time, median over the paired runs (the baseline copies "
          f"the same file right after: S3 minio SDK fput/fget_object, local file copy). Aims: upload growth < {AIM_GROWTH_MIB:g} MiB; "
          f"S3 time ≤ {AIM_RATIO:g} × the SDK's.")


def table_rows(result: dict) -> list[dict]:
    rows = []
    for store, paths in result["measurements"].items():
        for via, ops in paths.items():
            baseline = ops.get("baseline")
            for op in ("upload", "download"):
                m = ops[op]["median"]
                worker = via not in ("minio SDK", "file copy")
                row = {"store": store, "via": via, "op": op, "mib": m["bytes"] / MIB, "seconds": m["seconds"],
                       "mib_s": m["mib_s"], "growth_mib": m["max_growth_mib"], "peak_mib": m["peak_mib"],
                       "worker_cpu_s": m["worker_cpu_s"], "store_cpu_s": m["store_cpu_s"], "worker": worker}
                if worker and baseline:  # median of the paired runs' ratios
                    pairs = zip(ops[op]["runs"], baseline[op]["runs"], strict=True)
                    row["ratio"] = round(statistics.median(r["seconds"] / b["seconds"] for r, b in pairs), 2)
                aims = []
                if worker and op == "upload":
                    aims.append("growth " + ("met" if m["max_growth_mib"] < AIM_GROWTH_MIB else "MISSED"))
                if worker and store == "s3" and row.get("ratio"):
                    aims.append("2× " + ("met" if row["ratio"] <= AIM_RATIO else "MISSED"))
                row["aim"] = ", ".join(aims)
                rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--size-mb", type=float, default=200, help="size of the test PDF in MiB")
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stores", default="local,s3")
    parser.add_argument("--via", default="web", help="web, api, service (comma-separated)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--watermark-mb", type=float, default=20,
                        help="size of the level-2 (watermarked download) file; 0: skip")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn --threads of the one worker")
    parser.add_argument("--s3-part-mb", type=float, help="PORTAL_S3_PART_SIZE for the portal (MiB; default: "
                                                         "the portal's configuration)")
    parser.add_argument("--s3-parallel", type=int, help="PORTAL_S3_PARALLEL_UPLOADS for the portal")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile every upload and download in the worker (or service child); the "
                             "summaries are printed at the end (slower: not for the figures)")
    parser.add_argument("--experiment", default="",
                        help="proposed changes to emulate (comma-separated): " + "; ".join(
                            f"{k}: {v}" for k, v in EXPERIMENTS.items()))
    parser.add_argument("--users", default="archivist,staff_sales,head_sales",
                        help="who uploads: the first that may add to a level-3 archive")
    parser.add_argument("--workdir", help="folder for the files and instances (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--output", default=str(RESULTS / "documents.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", help=argparse.SUPPRESS)
    parser.add_argument("--child-phases", help=argparse.SUPPRESS)
    parser.add_argument("--no-phases", action="store_true",
                        help="serve the plain portal.wsgi:app (no phase probes around the services)")
    args = parser.parse_args(argv)
    experiments = [e.strip() for e in args.experiment.split(",") if e.strip()]
    unknown = set(experiments) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiment(s): {', '.join(sorted(unknown))}")
    if args.child:
        return child_main(args.child, args.child_profile, experiments, args.child_phases)

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    vias = [v.strip() for v in args.via.split(",") if v.strip()]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="portal-bench-docs-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    profile_dir = RESULTS / "profiles" if args.profile else None
    if profile_dir:
        shutil.rmtree(profile_dir, ignore_errors=True)
        profile_dir.mkdir(parents=True)
    phases_dir = None if args.no_phases else workdir / "phases"
    if phases_dir:
        phases_dir.mkdir(exist_ok=True)
    size = int(args.size_mb * MIB)
    users = [u.strip() for u in args.users.split(",") if u.strip()]
    s3_settings = {}
    if args.s3_part_mb:
        s3_settings["S3_PART_SIZE"] = int(args.s3_part_mb * MIB)
    if args.s3_parallel:
        s3_settings["S3_PARALLEL_UPLOADS"] = args.s3_parallel
    result: dict = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "runs": args.runs, "threads": args.threads,
                   "stores": stores, "via": vias, "experiments": experiments, "s3_settings": s3_settings,
                   "versions": versions()},
        "git": git_state(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "measurements": {}, "missing_routes": [],
    }
    moto = None
    try:
        print(f"Work folder {workdir}")
        started = time.perf_counter()
        big = workdir / "scanned-contract.pdf"
        result["file"] = make_pdf(big, size, args.pages)
        small = workdir / "warm-up.pdf"
        make_pdf(small, 2 * MIB, 2, seed=3)
        wm = None
        if args.watermark_mb > 0:
            wm = workdir / "confidential.pdf"
            result["watermark_file"] = make_pdf(wm, int(args.watermark_mb * MIB),
                                                max(1, round(args.watermark_mb / 5)), seed=11)
        result["file"]["check"] = check_pdf(big)
        print(f"  test PDF {result['file']['bytes'] / MIB:.1f} MiB, {result['file']['pages']} pages, "
              f"made and checked in {time.perf_counter() - started:.1f} s: {result['file']['check']}")
        if "s3" in stores:
            moto, s3_port = start_moto(workdir)
        for store in stores:
            measured: dict = {}
            result["measurements"][store] = measured
            instance = Instance(store, workdir, s3_port if store == "s3" else None, users,
                                max(size, 256 * MIB) + 8 * MIB, s3_settings)
            result.setdefault("targets", {})[store] = instance.target
            store_pid = moto.pid if store == "s3" else None
            baseline = None
            if not args.no_baseline:
                baseline = SdkBaseline(s3_port, moto.pid) if store == "s3" else CopyBaseline(workdir)
            try:
                for via in vias:
                    def open_path(via=via, instance=instance, store_pid=store_pid):
                        if via == "service":
                            return ServicePath(instance, store_pid, profile_dir, experiments, phases_dir)
                        return HttpPath(via, instance, store_pid, args.threads, experiments, profile_dir,
                                        phases_dir)
                    try:
                        measured[via] = run_series(open_path, f"[{store}] {via}", big, small, args.runs,
                                                   workdir, baseline=baseline)
                        if baseline is not None and baseline.via not in measured:
                            measured[baseline.via] = measured[via]["baseline"]
                        if wm is not None:
                            measured[f"{via} watermarked"] = run_series(
                                open_path, f"[{store}] {via} watermarked", wm, small, args.runs, workdir,
                                sensitivity=2)
                    except RouteMissing as exc:
                        print(f"  [{store}] {via}: skipped — {exc}")
                        result["missing_routes"].append(f"{store} {via}: {exc}")
            finally:
                if baseline is not None:
                    baseline.cleanup()
            if store == "local":
                result.setdefault("store_bytes", {})[store] = instance.store_bytes()
        result["seconds_total"] = round(time.perf_counter() - started, 1)
    finally:
        stop(moto)
        if not (args.keep or args.workdir):  # the instances, the test files, moto's spool files
            shutil.rmtree(workdir, ignore_errors=True)
    loads = [r["load_1min"] for paths in result["measurements"].values() for ops in paths.values()
             for op in ("upload", "download") for r in ops[op]["runs"]]
    result["load_range"] = [min(loads, default=0), max(loads, default=0)]
    result["table"] = table_rows(result)
    print_phases(result)
    print_table(result)
    if result["missing_routes"]:
        print("Not measured (routes missing): " + "; ".join(result["missing_routes"]))
    if profile_dir:
        show_profiles(profile_dir)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"Written {out}; total {result.get('seconds_total', 0):.0f} s")
    if args.keep or args.workdir:
        print(f"Kept {workdir}")
    return 0


def show_profiles(profile_dir: Path, top: int = 18) -> None:
    import pstats

    for prof in sorted(profile_dir.glob("*.prof"), key=lambda p: p.stat().st_mtime):
        stats = pstats.Stats(str(prof))
        if stats.total_tt < 0.5:  # the warm-ups
            continue
        print(f"\n=== cProfile {prof.name} (own time, top {top}) ===")
        stats.sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    sys.exit(main())
