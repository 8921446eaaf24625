"""Reading the access register 查阅登记 (SPEC §5): who may, and every reading is itself registered.

The pages and the JSON API both go through these functions, so browsing, printing, exporting
and verifying leave the same entries whichever way they were done.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.actor import Actor
from portal.archives import permissions as perm
from portal.archives.services import deny
from portal.dbsetup import begin_write
from portal.extensions import db
from portal.register import actions
from portal.register.models import RegisterEntry
from portal.register.services import RegisterFilter, VerifyResult, filtered_query, record, verify

RESULTS = ("ok", "denied", "failed")
RESULT_LABELS = {"ok": _l("Succeeded"), "denied": _l("Refused"), "failed": _l("Failed")}
PRINT_CAP = 5000  # rows on one printout; more would be an unwieldy stack of paper
EXPORT_CAP = 50000
# Query parameter ↔ RegisterFilter attribute (the same names on the page and in the API).
PARAMS = {"from": "date_from", "to": "date_to", "user": "username", "archive": "archive",
          "action": "action", "result": "result"}


# verify()'s problem descriptions (English, as the CLI prints them) → what the page says.
PROBLEMS = {
    "missing entry (deleted)": _l("An entry is missing (deleted)."),
    "link to previous entry broken": _l("The link to the previous entry is broken."),
    "entry altered (hash mismatch)": _l("The entry was altered after it was written (hash mismatch)."),
    "chain end does not match the head (entries removed at the end?)":
        _l("The chain ends before the last recorded entry (entries removed at the end?)."),
}


def problem_label(problem: str) -> str:
    return str(PROBLEMS.get(problem, problem))


def result_label(result: str) -> str:
    return str(RESULT_LABELS.get(result, result))


def parse_filter(args: Mapping) -> tuple[RegisterFilter, dict[str, object]]:
    """A RegisterFilter from query parameters, and user-facing errors for the ones ignored."""
    errors: dict[str, object] = {}

    def text(name: str, limit: int) -> str:
        return (args.get(name) or "").strip()[:limit]

    def day(name: str) -> date | None:
        raw = text(name, 20)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = _l("Enter the date as YYYY-MM-DD.")
            return None

    action = text("action", 40)
    if action and action not in actions.LABELS:
        errors["action"] = _l("Unknown action.")
        action = ""
    result = text("result", 20)
    if result and result not in RESULTS:
        errors["result"] = _l("Unknown result.")
        result = ""
    f = RegisterFilter(date_from=day("from"), date_to=day("to"), username=text("user", 64),
                       archive=text("archive", 80), action=action, result=result)
    return f, errors


def filter_args(f: RegisterFilter) -> dict[str, str]:
    """The filter as query parameters (for links to other pages, print and export)."""
    out = {}
    for param, attr in PARAMS.items():
        value = getattr(f, attr)
        if value:
            out[param] = value.isoformat() if isinstance(value, date) else value
    return out


def describe(f: RegisterFilter) -> str:
    """The filter as the register entry's detail (stable, language-neutral)."""
    args = filter_args(f)
    return " ".join(f"{k}={v}" for k, v in args.items()) or "all"


def require_reader(actor: Actor, what: str) -> None:
    """Only the archivist and the quality supervisor read the register; others are refused on it."""
    if not perm.can_read_register(actor.user):
        raise deny(actor, _l("Only the archivist and the quality supervisor may read the access "
                             "register."), what=what)


def _via(actor: Actor, detail: str) -> str:
    return f"api {detail}" if actor.via == "api" else detail


def _keep(entries: list[RegisterEntry]) -> list[RegisterEntry]:
    """Detach the rows so the commit that records the reading does not expire (and reload) them."""
    for entry in entries:
        db.session.expunge(entry)
    return entries


@dataclass
class EntryPage:
    entries: list[RegisterEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _count(q: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))


def browse(actor: Actor, f: RegisterFilter, page: int = 1, per_page: int = 50) -> EntryPage:
    """One page of matching entries, newest first; the viewing is registered (REGISTER_VIEW)."""
    begin_write()
    require_reader(actor, "register")
    q = filtered_query(f)
    page = max(1, page)
    total = _count(q)
    entries = _keep(list(db.session.scalars(q.offset((page - 1) * per_page).limit(per_page))))
    record(actor, actions.REGISTER_VIEW, detail=_via(actor, f"{describe(f)} page={page}"))
    db.session.commit()
    return EntryPage(entries, total, page, per_page)


def _ledger(actor: Actor, f: RegisterFilter, cap: int, action: str, what: str, form: str = ""):
    begin_write()
    require_reader(actor, what)
    q = filtered_query(f).order_by(None).order_by(RegisterEntry.seq)  # ledger order: oldest first
    total = _count(q)
    entries = _keep(list(db.session.scalars(q.limit(cap))))
    prefix = f"{form} " if form else ""
    record(actor, action, detail=_via(actor, f"{prefix}{describe(f)} rows={len(entries)}"))
    db.session.commit()
    return entries, total


def for_print(actor: Actor, f: RegisterFilter, form: str = "") -> tuple[list[RegisterEntry], int]:
    """Matching entries in order (at most PRINT_CAP) and the total; printing is registered
    (``form`` = "pdf" names the PDF form in the entry)."""
    return _ledger(actor, f, PRINT_CAP, actions.REGISTER_PRINT, "register print", form)


def for_export(actor: Actor, f: RegisterFilter, cap: int = EXPORT_CAP,
               form: str = "") -> tuple[list[RegisterEntry], int]:
    """Matching entries in order (at most ``cap``) and the total; the export is registered
    (``form`` = "xlsx" names the Excel form in the entry)."""
    return _ledger(actor, f, cap, actions.REGISTER_EXPORT, "register export", form)


@dataclass
class Verification:
    result: VerifyResult
    broken_entry: RegisterEntry | None  # the first entry found wrong, if it still exists


def verify_chain(actor: Actor) -> Verification:
    """Re-check the hash chain and register that it was checked, with the outcome."""
    begin_write()
    require_reader(actor, "register verify")
    result = verify()
    # verify() empties the session as it goes; the acting user must be back in it to be recorded.
    if actor.user is not None and actor.user not in db.session:
        db.session.add(actor.user)
    broken = None
    if result.ok:
        detail = f"intact, {result.checked} entries"
    else:
        detail = f"broken at {result.first_bad_seq}: {result.problem}"
        broken = db.session.scalar(sa.select(RegisterEntry).where(RegisterEntry.seq == result.first_bad_seq))
    record(actor, actions.REGISTER_VERIFY, detail=_via(actor, detail))
    db.session.commit()
    return Verification(result, broken)
