"""Appending to and checking the access register."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from portal.actor import Actor
from portal.dbsetup import in_write_transaction, mark_write_transaction
from portal.extensions import db
from portal.models_base import utcnow
from portal.register.models import GENESIS_HASH, RegisterEntry, RegisterHead

HASHED_FIELDS = ("seq", "at", "user_id", "username", "role", "department", "action", "archive_id",
                 "archive_number", "detail", "purpose", "client_addr", "result")


def entry_hash(entry: RegisterEntry, prev_hash: str) -> str:
    """SHA-256 over the entry's fields in a fixed order plus the previous entry's hash."""
    payload = {name: getattr(entry, name) for name in HASHED_FIELDS}
    payload["at"] = entry.at.isoformat(timespec="microseconds")
    payload["prev"] = prev_hash
    if entry.document_id is not None:
        payload["document_id"] = entry.document_id
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(actor: Actor | None, action: str, *, archive=None, detail: str = "", purpose: str = "",
           result: str = "ok", username: str | None = None, document=None) -> RegisterEntry:
    """Append one entry in the caller's transaction (the caller commits with its own change).

    Locking the head row serialises concurrent appends on PostgreSQL; on SQLite the write
    transaction is already exclusive (``BEGIN IMMEDIATE``, see ``portal.dbsetup``).
    """
    if not db.session().in_transaction():
        mark_write_transaction()
    elif not in_write_transaction(db.session()):
        raise RuntimeError("register append inside a read-only SQLite transaction: call "
                           "begin_write() at the start of the service, or mark the GET view @writes")
    head = db.session.scalar(sa.select(RegisterHead).where(RegisterHead.id == 1).with_for_update())
    if head is None:
        head = RegisterHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        db.session.add(head)
        db.session.flush()
    user = actor.user if actor else None
    entry = RegisterEntry(
        seq=head.last_seq + 1,
        at=utcnow(),
        user_id=user.id if user else None,
        username=username if username is not None else (user.username if user else ""),
        role=user.role if user else "",
        department=user.department_name if user else "",
        action=action,
        archive_id=archive.id if archive is not None else None,
        archive_number=(archive.label if archive is not None else ""),
        document_id=document.id if document is not None else None,
        detail=detail[:2000],
        purpose=purpose[:300],
        client_addr=(actor.client_addr if actor else "")[:64],
        result=result,
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(entry, head.last_hash)
    head.last_seq = entry.seq
    head.last_hash = entry.hash
    db.session.add(entry)
    return entry


def record_now(actor: Actor | None, action: str, **kwargs) -> None:
    """Record in a transaction of its own, discarding whatever the caller had pending.

    Used for refusals and failed logins: the attempted action did not happen, but the
    attempt must be on the register even though the request ends in an error.
    """
    db.session.rollback()
    mark_write_transaction()
    record(actor, action, **kwargs)
    db.session.commit()


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify(batch: int = 2000) -> VerifyResult:
    """Walk the chain in order; report the first entry whose hash, link or position is wrong."""
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_id_seq = 0
    while True:
        rows = db.session.scalars(
            sa.select(RegisterEntry).where(RegisterEntry.seq > last_id_seq)
            .order_by(RegisterEntry.seq).limit(batch)).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, "missing entry (deleted)")
            if entry.prev_hash != prev:
                return VerifyResult(False, checked, entry.seq, "link to previous entry broken")
            if entry_hash(entry, prev) != entry.hash:
                return VerifyResult(False, checked, entry.seq, "entry altered (hash mismatch)")
            prev = entry.hash
            expected_seq += 1
            checked += 1
        last_id_seq = rows[-1].seq
        db.session.expunge_all()
    head = db.session.get(RegisterHead, 1)
    head_seq = head.last_seq if head else 0
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_seq != checked or head_hash != prev:
        return VerifyResult(False, checked, checked + 1 if head_seq > checked else checked,
                            "chain end does not match the head (entries removed at the end?)")
    return VerifyResult(True, checked)


@dataclass
class RegisterFilter:
    date_from: date | None = None
    date_to: date | None = None
    username: str = ""
    archive: str = ""
    action: str = ""
    result: str = ""


def filtered_query(f: RegisterFilter) -> sa.Select:
    """Entries matching the filter, newest first. Dates are local (Asia/Shanghai) days."""
    q = sa.select(RegisterEntry)
    shanghai = timedelta(hours=8)
    if f.date_from:
        q = q.where(RegisterEntry.at >= datetime.combine(f.date_from, time.min) - shanghai)
    if f.date_to:
        q = q.where(RegisterEntry.at < datetime.combine(f.date_to + timedelta(days=1), time.min) - shanghai)
    if f.username:
        q = q.where(RegisterEntry.username == f.username.strip())
    if f.archive:
        q = q.where(RegisterEntry.archive_number.contains(f.archive.strip()))
    if f.action:
        q = q.where(RegisterEntry.action == f.action)
    if f.result:
        q = q.where(RegisterEntry.result == f.result)
    return q.order_by(RegisterEntry.seq.desc())
