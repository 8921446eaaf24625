"""Housekeeping of staging data: what is cleared, when, and how a run stays safe to repeat.

**Intake page texts.** Each page of a received scan keeps its text (text layer or OCR) in
``intake_page.text``, in the clear, so that an interrupted job resumes and the archivist can read
the pages while deciding. Once the item is FINISHED (``intake.models.FINISHED``: filed, already in
the archive, rejected) that copy serves no purpose: the filed document keeps its own text (its
version, encrypted store, search index). ``housekeeping_text_days`` days (default 30) after the
item finished, its pages' texts are blanked; what the page was stays (kind, OCR confidence,
rotation, straightening, cover-sheet number and type) and ``intake_item.texts_cleared_at`` records
when. The finish time is the item's last change (``updated_at``): a finished item does not change
any more, and housekeeping's own updates keep it as it was. Items that still wait for someone —
queued, processing, waiting, refused, failed (also a queued item whose job failed for good) — are
never touched. A part of a batch split at cover sheets owns pages ``page_from``–``page_to`` of its
batch: those are cleared with the part; the batch itself (its cover pages) once every part is.

**Jobs.** Finished jobs (``jobs.models.FINISHED``: done, failed, cancelled) are deleted
``housekeeping_job_days`` days (default 90) after they ended (``finished_at``, else when made).
A job that an unfinished intake item still refers to is kept (the item's state may depend on it:
``intake.services.effective_state``); finished items' references (``intake_item.job_id``, the only
foreign key to ``job.id``) are set to NULL first.

One run is one write transaction; a run that changed something is one access-register entry
(``HOUSEKEEPING``, with the counts). After the commit the database is compacted as a destruction
does it (``destruction.purge.compact_database``: SQLite checkpoints and truncates its write-ahead
log — ``PRAGMA secure_delete`` is on for every connection, see ``portal.dbsetup`` — PostgreSQL
vacuums the tables). A second run finds nothing due and changes nothing (cron-safe).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from portal.actor import Actor, cli_actor
from portal.admin.models import SETTING_DEFAULTS, get_setting
from portal.dbsetup import begin_write
from portal.extensions import db
from portal.intake.models import FINISHED, SPLIT, IntakeItem, IntakePage
from portal.jobs.models import FINISHED as JOB_FINISHED
from portal.jobs.models import Job
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record

log = logging.getLogger(__name__)

TEXT_DAYS = "housekeeping_text_days"
JOB_DAYS = "housekeeping_job_days"
SETTING_KEYS = {"text_days": TEXT_DAYS, "job_days": JOB_DAYS}
LIMITS = {"text_days": (1, 3650), "job_days": (1, 3650)}
LABELS = {
    "text_days": _l("Clear the page texts of finished intake items after (days)"),
    "job_days": _l("Delete finished background jobs after (days)"),
}
COMPACTED_TABLES = ("intake_page", "intake_item", "job")
CHUNK = 500  # item ids per statement (SQLite's limit on bound parameters)


# --- settings ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    text_days: int = int(SETTING_DEFAULTS[TEXT_DAYS])
    job_days: int = int(SETTING_DEFAULTS[JOB_DAYS])


def settings() -> Settings:
    """The two periods in force (a stored value that is not a whole number counts as the default)."""
    values = {}
    for attr, key in SETTING_KEYS.items():
        text = str(get_setting(key)).strip()
        low, high = LIMITS[attr]
        values[attr] = int(text) if text.isdigit() and low <= int(text) <= high else int(SETTING_DEFAULTS[key])
    return Settings(**values)


def clean_settings(raw: dict) -> Settings:
    """Settings from form values; ValidationFailed (with the field) for a value out of range."""
    from portal.admin.services import clean_whole_numbers

    return Settings(**clean_whole_numbers(raw, LIMITS, LABELS))


def save_settings(actor: Actor, raw: dict) -> list[str]:
    """Store the two periods (system administrator only); returns the changes (registered)."""
    from portal.admin.services import save_whole_numbers

    return save_whole_numbers(actor, "change housekeeping settings", SETTING_KEYS, lambda: clean_settings(raw),
                              settings)


# --- what is due ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What a run cleared (or, with ``dry_run``, would clear)."""

    text_days: int
    job_days: int
    dry_run: bool = False
    items: int = 0  # intake items whose page texts were cleared (texts_cleared_at set)
    pages: int = 0  # pages whose (non-empty) text was blanked
    jobs: int = 0  # finished jobs deleted
    unlinked: int = 0  # finished intake items whose reference to such a job was removed

    @property
    def changed(self) -> bool:
        return bool(self.items or self.pages or self.jobs or self.unlinked)

    def detail(self) -> str:
        return (f"portal housekeeping: page texts of {self.items} finished intake items cleared "
                f"({self.pages} pages; finished more than {self.text_days} days ago); {self.jobs} finished "
                f"jobs deleted (ended more than {self.job_days} days ago; references from {self.unlinked} "
                f"finished intake items removed first)")


def _finished(item) -> sa.ColumnElement[bool]:
    """SQL: ``item`` (an IntakeItem alias) needs nobody any more — filed, duplicate or rejected, or
    a batch split at cover sheets whose parts all are."""
    part = aliased(IntakeItem)
    return sa.or_(item.state.in_(FINISHED),
                  sa.and_(item.state == SPLIT,
                          ~sa.exists().where(part.parent_id == item.id, part.state.not_in(FINISHED))))


def _due_items(cutoff: datetime) -> list[int]:
    """Finished items without parts (a whole file, or a part of a split batch) whose texts are
    still kept and that finished before ``cutoff``."""
    part = aliased(IntakeItem)
    return list(db.session.scalars(
        sa.select(IntakeItem.id).where(IntakeItem.state.in_(FINISHED), IntakeItem.texts_cleared_at.is_(None),
                                       IntakeItem.updated_at < cutoff,
                                       ~sa.exists().where(part.parent_id == IntakeItem.id))
        .order_by(IntakeItem.id)))


def _due_batches(cutoff: datetime, clearing: set[int]) -> list[int]:
    """Batches split at cover sheets, finished before ``cutoff``, whose every part's texts are
    cleared (or are being cleared in this run: ``clearing``)."""
    batches = (sa.select(IntakeItem.id).where(IntakeItem.state == SPLIT, IntakeItem.texts_cleared_at.is_(None),
                                              IntakeItem.updated_at < cutoff))
    ids = list(db.session.scalars(batches.order_by(IntakeItem.id)))
    if not ids:
        return []
    pending = set()
    for chunk in _chunks(ids):
        for parent_id, part_id, cleared in db.session.execute(
                sa.select(IntakeItem.parent_id, IntakeItem.id, IntakeItem.texts_cleared_at)
                .where(IntakeItem.parent_id.in_(chunk))):
            if cleared is None and part_id not in clearing:
                pending.add(parent_id)
    return [i for i in ids if i not in pending]


def _pages_of_items(ids: list[int]) -> sa.ColumnElement[bool]:
    """SQL on IntakePage: the page belongs to one of the items ``ids`` (a whole file's pages are
    its own rows; a part's are rows of its batch in its page range)."""
    owner = aliased(IntakeItem)
    return sa.exists().where(owner.id.in_(ids), sa.or_(
        sa.and_(owner.parent_id.is_(None), owner.id == IntakePage.item_id),
        sa.and_(owner.parent_id == IntakePage.item_id,
                IntakePage.number.between(owner.page_from, owner.page_to))))


def _pages_of_batches(ids: list[int]) -> sa.ColumnElement[bool]:
    """SQL on IntakePage: a page of one of the batches ``ids`` that none of its parts holds (the
    cover sheets; the parts' pages went with the parts)."""
    part = aliased(IntakeItem)
    return sa.and_(IntakePage.item_id.in_(ids), ~sa.exists().where(
        part.parent_id == IntakePage.item_id, IntakePage.number.between(part.page_from, part.page_to)))


def _deletable_jobs(cutoff: datetime):
    """Finished jobs that ended before ``cutoff`` and that no unfinished intake item refers to."""
    holder = aliased(IntakeItem)
    return sa.select(Job.id).where(
        Job.state.in_(JOB_FINISHED), sa.func.coalesce(Job.finished_at, Job.created_at) < cutoff,
        ~sa.exists().where(holder.job_id == Job.id, ~_finished(holder)))


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _count(query) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0


def _count_pages(where) -> int:
    return db.session.scalar(sa.select(sa.func.count(IntakePage.id)).where(IntakePage.text != "", where)) or 0


def _blank(where) -> int:
    result = db.session.execute(sa.update(IntakePage).where(IntakePage.text != "", where).values(text="")
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0


def _mark_cleared(ids: list[int], now: datetime) -> None:
    # updated_at is the finish time: set to itself, so that the column's onupdate leaves it alone
    db.session.execute(sa.update(IntakeItem).where(IntakeItem.id.in_(ids))
                       .values(texts_cleared_at=now, updated_at=IntakeItem.updated_at)
                       .execution_options(synchronize_session=False))


# --- the run ---------------------------------------------------------------------------------------

def run(actor: Actor | None = None, *, now: datetime | None = None, dry_run: bool = False) -> Outcome:
    """Clear what is due at ``now`` (UTC, default: now). ``dry_run``: only count, change nothing."""
    actor = actor or cli_actor()
    now = now or utcnow()
    current = settings()
    text_cutoff = now - timedelta(days=current.text_days)
    job_cutoff = now - timedelta(days=current.job_days)
    outcome = Outcome(current.text_days, current.job_days, dry_run=dry_run)
    if dry_run:
        try:
            items = _due_items(text_cutoff)
            batches = _due_batches(text_cutoff, set(items))
            outcome.items = len(items) + len(batches)
            outcome.pages = (sum(_count_pages(_pages_of_items(c)) for c in _chunks(items))
                             + sum(_count_pages(_pages_of_batches(c)) for c in _chunks(batches)))
            deletable = _deletable_jobs(job_cutoff)
            outcome.jobs = _count(deletable)
            outcome.unlinked = _count(sa.select(IntakeItem.id).where(IntakeItem.job_id.in_(deletable)))
        finally:
            db.session.rollback()  # nothing was written: end the read transaction
        return outcome
    begin_write()
    try:
        items = _due_items(text_cutoff)
        for chunk in _chunks(items):
            outcome.pages += _blank(_pages_of_items(chunk))
            _mark_cleared(chunk, now)
        batches = _due_batches(text_cutoff, set(items))
        for chunk in _chunks(batches):
            outcome.pages += _blank(_pages_of_batches(chunk))
            _mark_cleared(chunk, now)
        outcome.items = len(items) + len(batches)
        deletable = _deletable_jobs(job_cutoff)
        outcome.unlinked = db.session.execute(
            sa.update(IntakeItem).where(IntakeItem.job_id.in_(deletable))
            .values(job_id=None, updated_at=IntakeItem.updated_at)
            .execution_options(synchronize_session=False)).rowcount or 0
        holder = aliased(IntakeItem)
        outcome.jobs = db.session.execute(
            sa.delete(Job).where(Job.state.in_(JOB_FINISHED),
                                 sa.func.coalesce(Job.finished_at, Job.created_at) < job_cutoff,
                                 ~sa.exists().where(holder.job_id == Job.id))
            .execution_options(synchronize_session=False)).rowcount or 0
        if not outcome.changed:
            db.session.rollback()
            return outcome
        record(actor, actions.HOUSEKEEPING, detail=outcome.detail())
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    db.session.expire_all()  # rows changed by statements, not through the loaded objects
    _compact()
    log.info("housekeeping: %s", outcome.detail())
    return outcome


def _compact() -> None:
    """After the commit, as a destruction does: best effort, never undoing the run."""
    from portal.destruction.purge import compact_database

    try:
        compact_database(current_app._get_current_object(), tables=COMPACTED_TABLES)
    except Exception:  # noqa: BLE001
        log.exception("housekeeping: database compaction failed")


# --- the intake item page ---------------------------------------------------------------------------

def cleared_pages(item: IntakeItem, pages) -> dict[int, datetime]:
    """Page number → when its text was cleared, for the pages of ``item`` shown on its page (a
    batch's page by the part that holds it, else by the item or its batch)."""
    out: dict[int, datetime] = {}
    parts = item.parts if item.parent_id is None else []
    root = item.root
    for page in pages:
        holder = next((p for p in parts if p.page_from is not None
                       and p.page_from <= page.number <= (p.page_to or p.page_from)), None)
        when = (holder.texts_cleared_at if holder is not None else None) or item.texts_cleared_at \
            or root.texts_cleared_at
        if when is not None:
            out[page.number] = when
    return out
