"""The backup register 备份登记: who may read it, what it lists, its printed and Excel forms."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.actor import Actor
from portal.archives.services import deny
from portal.auth import roles
from portal.backup import services
from portal.backup.models import KIND_LABELS, KINDS, RESULT_LABELS, BackupRun
from portal.dbsetup import begin_write
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record

READERS = (roles.ADMIN, roles.ARCHIVIST, roles.SUPERVISOR)
PRINT_CAP = 2000


def can_read(user) -> bool:
    return bool(user) and getattr(user, "role", None) in READERS


def require_reader(actor: Actor, what: str = "read backup register") -> None:
    if not can_read(actor.user):
        raise deny(actor, _l("Only the administrator, the archivist and the quality supervisor read the "
                             "backup register."), None, what)


@dataclass
class RunFilter:
    kind: str = ""
    result: str = ""

    def args(self) -> dict:
        return {k: v for k, v in (("kind", self.kind), ("result", self.result)) if v}


def parse_filter(args: Mapping) -> tuple[RunFilter, dict]:
    errors = {}
    kind = (args.get("kind") or "").strip()
    if kind and kind not in KINDS:
        errors["kind"] = _l("Unknown kind of run.")
        kind = ""
    result = (args.get("result") or "").strip()
    if result and result not in RESULT_LABELS:
        errors["result"] = _l("Unknown result.")
        result = ""
    return RunFilter(kind, result), errors


def describe(f: RunFilter) -> str:
    parts = []
    if f.kind:
        parts.append(_("Kind: %(kind)s", kind=KIND_LABELS[f.kind]))
    if f.result:
        parts.append(_("Result: %(result)s", result=RESULT_LABELS[f.result]))
    return "; ".join(parts) if parts else _("All runs")


@dataclass
class Status:
    """What the page's head says: the last successful backup and whether the weekly one was missed."""

    last: BackupRun | None
    last_verify: BackupRun | None
    age: timedelta | None
    overdue: bool

    @property
    def age_days(self) -> float | None:
        return None if self.age is None else round(self.age.total_seconds() / 86400, 1)


def status() -> Status:
    last = services.last_success()
    last_verify = db.session.scalar(sa.select(BackupRun).where(BackupRun.kind == "verify", BackupRun.result == "ok")
                                    .order_by(BackupRun.finished_at.desc()).limit(1))
    age = utcnow() - last.finished_at if last and last.finished_at else None
    return Status(last, last_verify, age, age is None or age > services.WEEKLY)


@dataclass
class Page:
    runs: list
    total: int
    page: int
    pages: int


def browse(actor: Actor, f: RunFilter, page: int = 1, per_page: int = 50) -> Page:
    require_reader(actor)
    q = services.runs_query(f.kind, f.result)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    runs = list(db.session.scalars(q.offset((page - 1) * per_page).limit(per_page)))
    return Page(runs, total, page, pages)


def for_print(actor: Actor, f: RunFilter, fmt: str) -> tuple[list, int]:
    """Runs for the printout (capped) — the print itself goes on the access register."""
    require_reader(actor, "print backup register")
    q = services.runs_query(f.kind, f.result)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))
    runs = list(db.session.scalars(q.limit(PRINT_CAP)))
    begin_write()
    record(actor, actions.LEDGER_PRINT, detail=f"backup register ({fmt}): {describe(f)}; {len(runs)} of {total} runs")
    db.session.commit()
    return runs, total


HEADERS = (_l("No."), _l("Kind"), _l("Started"), _l("Finished"), _l("Run by"), _l("Host"), _l("Backup"),
           _l("Archives"), _l("Documents"), _l("Objects"), _l("Size (MB)"), _l("Manifest SHA-256"),
           _l("Result"), _l("Problem / notes"))


def megabytes(n: int | None) -> str:
    return f"{(n or 0) / 1048576:.1f}"


def location_name(run: BackupRun) -> str:
    """The backup folder's name (the full path is on screen in its title)."""
    return run.location.rstrip("/").rsplit("/", 1)[-1] if run.location else ""


def to_xlsx(runs: list, f: RunFilter, user, total: int, local_time) -> bytes:
    from portal import printing

    rows = [(r.id, r.kind_label, local_time(r.started_at, "%Y-%m-%d %H:%M"),
             local_time(r.finished_at, "%Y-%m-%d %H:%M") if r.finished_at else "", r.username, r.host,
             r.location, r.archives, r.documents, r.objects, float(megabytes(r.bytes)), r.manifest_hash,
             r.result_label, r.error or r.notes) for r in runs]
    lines = [_("Filter: %(filter)s", filter=describe(f)),
             _("Printed %(time)s by %(name)s", time=local_time(utcnow(), "%Y-%m-%d %H:%M"),
               name=user.display_name or user.username)]
    if total > len(runs):
        lines.append(_("Only the first %(shown)s of %(total)s runs.", shown=len(runs), total=total))
    return printing.workbook(_("Backup register"), [str(h) for h in HEADERS], rows, lines=lines,
                             widths=[6, 8, 16, 16, 12, 14, 40, 8, 8, 8, 9, 30, 8, 40],
                             signatures=(_("Archivist"), _("Quality supervisor"), _("Date")))
