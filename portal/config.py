"""Configuration: built-in defaults, then the instance file, then ``PORTAL_*`` environment."""
from __future__ import annotations

import json
import os
from datetime import timedelta

DEFAULTS: dict[str, object] = {
    "SECRET_KEY": None,  # generated into the instance folder on first start when unset
    "SQLALCHEMY_DATABASE_URI": None,  # SQLite in the instance folder when unset
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh_CN", "en"],
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "portal_session",
    # Inactivity timeout: the signed cookie is refused by the server once it is older than this.
    "PERMANENT_SESSION_LIFETIME": timedelta(minutes=30),
    "SESSION_REFRESH_EACH_REQUEST": True,
    # One request (all files of a multi-file upload together); a larger one is answered 413.
    "MAX_CONTENT_LENGTH": 1024 * 1024 * 1024,
    # Documents: object store, encryption, limits (portal.storage, portal.crypto, portal.documents)
    "DOCUMENT_MAX_BYTES": 256 * 1024 * 1024,  # one file
    "STORAGE_DIR": None,  # local store: <instance>/store when unset
    "S3_ENDPOINT": None,  # host:port of MinIO / S3; when set, the S3 store is used
    "S3_ACCESS_KEY": None,
    "S3_SECRET_KEY": None,
    "S3_BUCKET": "portal-archives",
    "S3_SECURE": False,
    "S3_REGION": None,
    "S3_PART_SIZE": 5 * 1024 * 1024,  # measured: as fast as 10 MiB × 2, less memory (bench/README.md)
    "S3_PARALLEL_UPLOADS": 3,
    "MASTER_KEY": None,  # base64 of 32 bytes; <instance>/master_key is made when unset
    # Key vault (portal.backup.keyvault): one key-encryption key per archive, outside the database
    # and the backups; <instance>/keyvault when unset. Mirror it with deletions, never snapshot it.
    "KEY_VAULT": None,
    "MAX_IMAGE_PIXELS": 80_000_000,  # larger images are refused as decompression bombs
    "TEXT_MAX_PAGES": 2000,  # text is read from at most this many pages of a PDF
    # Downloads and prints of documents at these levels carry a visible watermark.
    "WATERMARK_LEVELS": [1, 2],
    "WATERMARK_FONT": None,  # a TTF/OTF/TTC with Chinese glyphs for image watermarks; searched when unset
    "DOCUMENT_TYPES_DEFAULT": ["合同", "往来函件", "投诉", "反馈", "资质文件", "方案", "会议纪要", "发票", "其他"],
    # Failed logins: after LOGIN_SLOWDOWN_AFTER failures each try must wait an increasing delay,
    # after LOGIN_LOCK_AFTER failures the account is locked for LOGIN_LOCK_MINUTES.
    "LOGIN_SLOWDOWN_AFTER": 3,
    "LOGIN_LOCK_AFTER": 6,
    "LOGIN_LOCK_MINUTES": 15,
    "PAGE_SIZE": 20,
    # Which clearance (1 = 一级 secret … 3 = 三级 public) a viewer needs to see a personal field
    # unmasked (脱敏 otherwise), policy 001 §4.
    "FIELD_CLEARANCE": {
        "id_number": 1,
        "bank_account": 1,
        "phone": 2,
        "email": 2,
        "address": 2,
    },
    "DEMO_PASSWORD": "demo12345",
    "API_TOKEN_DAYS": 365,
    # Notifications (portal.notifications): e-mail copies through SMTP only when SMTP_HOST is set.
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_FROM": None,  # e.g. portal@example.com
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT": 10,
    "SMTP_DOMAIN": None,  # users without an own address get <username>@SMTP_DOMAIN
    "PUBLIC_URL": None,  # e.g. https://portal.example.com: makes links in e-mails absolute
    # Full-text search (portal.search): the index folder (<instance>/search_index when unset), how
    # committed changes reach it ("thread": a writer thread per process; "sync": right after each
    # commit), hits counted before the total becomes an estimate, writer processes for a rebuild.
    "SEARCH_INDEX_DIR": None,
    "SEARCH_WRITER": "thread",
    "SEARCH_COUNT_BUDGET": 500,
    "SEARCH_WRITER_PROCS": 1,
    "SEARCH_POLL_SECONDS": 5,
    "SEARCH_STALL_SECONDS": 300,  # /healthz reports the index stalled when a change waits longer
    # Background jobs (portal.jobs): where they run ("thread": daemon threads in each portal
    # process; "external": only `portal worker` processes; "sync": right after the enqueuing
    # commit; "manual": only run_pending(), tests), the modules whose @jobs.handler functions the
    # runners import, threads per portal process or worker (OCR is CPU-heavy: 1 on 2 cores),
    # how often runners look for due jobs, how long a running job's lease lasts without renewal
    # (renewed every third of it while its process lives; a killed worker's job is resumed after
    # it), and after how long /healthz calls a waiting or silent job stalled.
    "JOBS_RUNNER": "thread",
    "JOBS_MODULES": ["portal.intake.processing"],  # modules whose @jobs.handler functions the runners know
    "JOBS_THREADS": 1,
    "JOBS_POLL_SECONDS": 2,
    "JOBS_LEASE_SECONDS": 60,
    "JOBS_STALL_SECONDS": 300,
    # Redis (e.g. redis://127.0.0.1:6379/0): when set, job ids are delivered through the RQ queue
    # JOBS_QUEUE to `portal worker` processes on any machine; the database keeps the jobs' state.
    "REDIS_URL": None,
    "JOBS_QUEUE": "portal-jobs",
    # Scan intake (portal.intake): limits per received file (a file over them is refused and kept
    # for the archivist to decide), the OCR engine ("rapidocr", or "tesseract" when installed) and
    # the resolution scans are read at.
    "INTAKE_MAX_BYTES": None,  # DOCUMENT_MAX_BYTES when unset
    "INTAKE_MAX_PAGES": 500,
    "INTAKE_MAX_PAGE_PIXELS": 40_000_000,  # an A3 page at 300 dpi is 17 million, A4 at 600 dpi 35
    "OCR_ENGINE": "rapidocr",
    "OCR_DPI": 300,
    # PDFs of long registers (portal.pdfrender): pages of at least this much HTML are rendered in a
    # child process with an address-space cap and a time limit (2,000 ledger rows: ~30 s, ~0.8 GB).
    "PDF_CHILD_MIN_CHARS": 200_000,
    "PDF_MEMORY_MB": 4096,
    "PDF_TIMEOUT_SECONDS": 600,
}

# Environment variables read as PORTAL_<NAME>; the value is JSON when it parses as JSON.
ENV_NAMES = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "SESSION_MINUTES": "PERMANENT_SESSION_LIFETIME",
    "MAX_UPLOAD_BYTES": "DOCUMENT_MAX_BYTES",
    "MAX_REQUEST_BYTES": "MAX_CONTENT_LENGTH",
    "STORAGE_DIR": "STORAGE_DIR",
    "S3_ENDPOINT": "S3_ENDPOINT",
    "S3_ACCESS_KEY": "S3_ACCESS_KEY",
    "S3_SECRET_KEY": "S3_SECRET_KEY",
    "S3_BUCKET": "S3_BUCKET",
    "S3_SECURE": "S3_SECURE",
    "S3_REGION": "S3_REGION",
    "S3_PART_SIZE": "S3_PART_SIZE",
    "S3_PARALLEL_UPLOADS": "S3_PARALLEL_UPLOADS",
    "MASTER_KEY": "MASTER_KEY",
    "KEY_VAULT": "KEY_VAULT",
    "MAX_IMAGE_PIXELS": "MAX_IMAGE_PIXELS",
    "WATERMARK_LEVELS": "WATERMARK_LEVELS",
    "WATERMARK_FONT": "WATERMARK_FONT",
    "LOGIN_SLOWDOWN_AFTER": "LOGIN_SLOWDOWN_AFTER",
    "LOGIN_LOCK_AFTER": "LOGIN_LOCK_AFTER",
    "LOGIN_LOCK_MINUTES": "LOGIN_LOCK_MINUTES",
    "PAGE_SIZE": "PAGE_SIZE",
    "FIELD_CLEARANCE": "FIELD_CLEARANCE",
    "DEMO_PASSWORD": "DEMO_PASSWORD",
    "SESSION_COOKIE_SECURE": "SESSION_COOKIE_SECURE",
    "SMTP_HOST": "SMTP_HOST",
    "SMTP_PORT": "SMTP_PORT",
    "SMTP_USER": "SMTP_USER",
    "SMTP_PASSWORD": "SMTP_PASSWORD",
    "SMTP_FROM": "SMTP_FROM",
    "SMTP_STARTTLS": "SMTP_STARTTLS",
    "SMTP_DOMAIN": "SMTP_DOMAIN",
    "PUBLIC_URL": "PUBLIC_URL",
    "SEARCH_INDEX_DIR": "SEARCH_INDEX_DIR",
    "SEARCH_WRITER": "SEARCH_WRITER",
    "SEARCH_COUNT_BUDGET": "SEARCH_COUNT_BUDGET",
    "SEARCH_WRITER_PROCS": "SEARCH_WRITER_PROCS",
    "JOBS_RUNNER": "JOBS_RUNNER",
    "JOBS_MODULES": "JOBS_MODULES",  # a JSON list or comma-separated module names
    "JOBS_THREADS": "JOBS_THREADS",
    "JOBS_POLL_SECONDS": "JOBS_POLL_SECONDS",
    "JOBS_LEASE_SECONDS": "JOBS_LEASE_SECONDS",
    "JOBS_STALL_SECONDS": "JOBS_STALL_SECONDS",
    "REDIS_URL": "REDIS_URL",
    "JOBS_QUEUE": "JOBS_QUEUE",
    "INTAKE_MAX_BYTES": "INTAKE_MAX_BYTES",
    "INTAKE_MAX_PAGES": "INTAKE_MAX_PAGES",
    "INTAKE_MAX_PAGE_PIXELS": "INTAKE_MAX_PAGE_PIXELS",
    "OCR_ENGINE": "OCR_ENGINE",
    "OCR_DPI": "OCR_DPI",
    "PDF_CHILD_MIN_CHARS": "PDF_CHILD_MIN_CHARS",
    "PDF_MEMORY_MB": "PDF_MEMORY_MB",
    "PDF_TIMEOUT_SECONDS": "PDF_TIMEOUT_SECONDS",
}


def from_environment(environ: os._Environ | dict | None = None) -> dict[str, object]:
    """Read the ``PORTAL_*`` variables that are set into config keys."""
    environ = os.environ if environ is None else environ
    found: dict[str, object] = {}
    for env_name, key in ENV_NAMES.items():
        raw = environ.get(f"PORTAL_{env_name}")
        if raw is None or raw == "":
            continue
        value: object = raw
        try:
            value = json.loads(raw)
        except ValueError:
            pass
        if key == "PERMANENT_SESSION_LIFETIME":
            value = timedelta(minutes=float(raw))
        elif key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "DEMO_PASSWORD", "STORAGE_DIR",
                     "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET", "S3_REGION",
                     "MASTER_KEY", "KEY_VAULT", "WATERMARK_FONT", "SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD",
                     "SMTP_FROM", "SMTP_DOMAIN", "PUBLIC_URL", "JOBS_RUNNER", "REDIS_URL", "JOBS_QUEUE"):
            value = raw
        found[key] = value
    return found
