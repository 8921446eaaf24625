"""Backup rows sealed per archive 按档案密封: destruction reaches the database dump of old backups too.

Why: destroying an archive destroys its data key (the KEK in the key vault), so the stored files in
every backup become unreadable. The database dump of an older backup, however, would still hold the
profile, the sub-records, the documents' metadata, extracted and OCR text, request values … in
plain JSON, and restoring it would bring them back. So every row that belongs to an archive is
written SEALED with that archive's own key:

    {"_archive": 12, "_pk": {"id": 7}, "_clear": {...}, "_sealed": "<base64>"}

``_sealed`` = AES-256-GCM (``crypto.seal``: 12-byte nonce ‖ ciphertext ‖ tag) of the zlib-compressed
JSON of the row's other columns, under a sub-key ``HKDF-SHA256(data key, info="portal-backup-row")``
(a row of several archives — a scanned batch split among them — uses the data keys of all of them,
in archive order, as the HKDF input: any one destroyed and the row stays shut). The associated data
binds table, primary key, archives and the clear columns. ``_clear`` holds only what a tombstone
needs (``archive``: number, status, type, department, dates …; no name, no personal data) and the
object references ``--verify`` checks. Destroying the archive's key therefore shuts its rows in
every backup ever made, exactly like its files.

Restore: a sealed row is opened with the live vault's key. When the key is gone (destroyed after the
backup) the archive comes back as a TOMBSTONE only: the ``archive`` row from its clear columns with
status ``destroyed``; request and handover rows keep their structure with the texts blank (as a
destruction leaves them); sub-records, documents, versions, events, intake pages and notifications
are not restored; references to rows left out are set to NULL (or the referring row is left out
when the column is required).

Not sealed (decided per table, see ``NOT_SEALED``): the registers and records kept by law or by
policy for ever — the access register (hash-chained; it names archives by number and, in details,
the customer's name at creation), the destruction tables (the permanent record of the destruction),
borrowing, retention reviews and holds, inspections, monthly checks — and ``archive_key`` itself.

Which archives: those whose key exists and opens (``SEAL``); archives already destroyed and
scrubbed (key destroyed) are tombstones and written as they are (``PLAIN``); an archive whose key
is gone while its rows are not scrubbed yet (a destruction under way) has only its clear columns
written, the rest withheld (``WITHHOLD``: ``"_sealed": null``). Every other archive must have a key
before the snapshot (``ensure_archive_keys``); one created meanwhile makes the backup start again.
"""
from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal import crypto

ROW_INFO = b"portal-backup-row"
SCHEME = ("AES-256-GCM; key HKDF-SHA256(data key of each archive of the row, in archive order; "
          "info 'portal-backup-row'); plaintext zlib(JSON of the columns not in _clear); associated "
          "data JSON [table, _pk, _archive, _clear]")
DESTROYED = "destroyed"  # archives.models.DESTROYED (not imported: this module is read by the loader)
SEAL, PLAIN, WITHHOLD = "seal", "plain", "withhold"


@dataclass(frozen=True)
class Policy:
    """How one table's rows are sealed.

    ``clear``: columns written in the clear — what the tombstone keeps when the key is gone;
    ``refs``: object references also in the clear (for ``--verify``), never kept by a tombstone;
    ``tombstone``: with the key gone, restore the row from its clear columns (True) or leave it out.
    """

    clear: frozenset = frozenset()
    refs: tuple = ()
    tombstone: bool = False


POLICIES: dict[str, Policy] = {
    # the profile: only what a tombstone shows (as a destruction leaves it: number, classification,
    # department, dates), never the name or any personal field
    "archive": Policy(frozenset({"id", "number", "kind", "status", "sensitivity", "customer_type_id", "stage",
                                 "importance", "department_id", "created_by_id", "created_at", "updated_at",
                                 "filed_at", "terminated_on", "version"}), tombstone=True),
    # sub-records, documents and everything read from them: gone with the key
    "archive_contact": Policy(), "archive_cooperation": Policy(), "archive_transaction": Policy(),
    "archive_communication": Policy(), "archive_service": Policy(), "archive_feedback": Policy(),
    "archive_anniversary": Policy(),
    "document": Policy(), "document_event": Policy(),
    "document_version": Policy(refs=("store_key", "store_version")),
    "intake_page": Policy(),
    "query_request_document": Policy(),
    "notification": Policy(),  # inbox messages linking to the archive (their texts name the customer)
    # scanned files: the item keeps its place in the intake history; file name, title, the staged
    # file's key and the link to the document go
    "intake_item": Policy(frozenset({"id", "parent_id", "source", "media_type", "size", "sha256", "master_key_id",
                                     "page_from", "page_to", "page_count", "pages_done", "archive_id", "doc_type",
                                     "state", "ocr_engine", "job_id", "created_at", "created_by_id", "client_addr",
                                     "updated_at", "filer_id", "decided_by_id", "decided_at",
                                     "texts_cleared_at"}),
                          refs=("staged_key", "staged_version"), tombstone=True),
    "job": Policy(frozenset({"id", "kind", "payload", "state", "attempts", "max_attempts", "key", "active_key",
                             "created_at", "run_after", "started_at", "finished_at", "heartbeat_at", "lease_until",
                             "worker", "created_by_id"}), tombstone=True),
    # requests: who asked what when stays (a workflow record); reasons, notes and values go
    "change_request": Policy(frozenset({"id", "archive_id", "proposed_by_id", "created_at", "status", "needs_service",
                                        "head_id", "head_at", "service_id", "service_at", "applied_by_id",
                                        "applied_at", "rejected_by_id", "rejected_at", "withdrawn_at"}),
                             tombstone=True),
    "change_request_item": Policy(frozenset({"id", "request_id", "position", "field"}), tombstone=True),
    "query_request": Policy(frozenset({"id", "requester_id", "archive_id", "scope", "period_days", "until", "status",
                                       "created_at", "needs_manager", "archivist_id", "archivist_at", "manager_id",
                                       "manager_at", "rejected_by_id", "rejected_at", "withdrawn_at", "granted_at",
                                       "expires_at", "doc_floor"}), tombstone=True),
    # handover records are kept; the customer's name in them is not
    "handover_item": Policy(frozenset({"id", "handover_id", "archive_id", "archive_number", "from_department_id",
                                       "to_department_id", "paper", "paper_count"}), tombstone=True),
}

# Tables that name an archive or a document and are NOT sealed, and why (a test checks that every
# table with such a column is in one of the two lists).
NOT_SEALED: dict[str, str] = {
    "archive_key": "the wrapped data key itself: it opens the sealed rows (and only with the vault's KEK)",
    "register_entry": "the access register: append-only, hash-chained, kept by law; a destruction keeps it",
    "destruction_record": "the destruction register: the permanent record of what was destroyed",
    "loan_item": "the borrowing register, kept by law: which archive was lent (number only), no profile data",
    "retention_review": "retention decisions: the grounds of a later destruction, kept with it",
    "retention_hold": "holds (litigation, regulator): legal records; a held archive is never destroyed",
    "inspection_sample": "the quarterly inspection record (archive number, counts)",
    "monthly_check": "the monthly check record (who checked which archive when)",
}

_URL_OWNERS = (
    (re.compile(r"/archives/(\d+)(?![\d])"), "archive"),
    (re.compile(r"/retention/reviews/(\d+)(?![\d])"), "archive"),
    (re.compile(r"/documents/(\d+)(?![\d])"), "document"),
    (re.compile(r"/requests/changes/(\d+)(?![\d])"), "change"),
    (re.compile(r"/requests/query/(\d+)(?![\d])"), "query"),
)


def subkey(data_keys: Iterable[bytes]) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=ROW_INFO).derive(b"".join(data_keys))


def _canon(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def aad(table: str, pk: dict, archives: list[int], clear: dict) -> bytes:
    return _canon([table, pk, archives, clear])


def owners_of_line(line: dict) -> list[int]:
    owner = line.get("_archive")
    if owner is None:
        return []
    return [owner] if isinstance(owner, int) else list(owner)


def is_sealed_line(line: dict) -> bool:
    return "_sealed" in line


# --- the backup side ------------------------------------------------------------------------------

class MissingKey(Exception):
    """An archive of the snapshot has no key (created after the keys were made): snapshot again."""


@dataclass
class Stats:
    sealed_rows: dict = field(default_factory=dict)  # table -> rows sealed
    withheld_rows: dict = field(default_factory=dict)
    sealed_archives: set = field(default_factory=set)
    withheld_archives: set = field(default_factory=set)
    plain_tombstones: set = field(default_factory=set)


@dataclass
class Written:
    line: dict
    archives: list  # the archives whose keys seal it ([] = plain)
    withheld: bool = False


class Sealer:
    """Built inside the backup's snapshot: which archive each row belongs to, and each archive's key."""

    def __init__(self, conn, metadata: sa.MetaData, unwrap):
        """``unwrap(archive_key row) -> data key | None`` (None: its KEK is gone from the vault)."""
        self.names = set(metadata.tables)
        self.tables = metadata.tables
        self.stats = Stats()
        self._keys: dict[int, bytes] = {}
        self._subkeys: dict[tuple, bytes] = {}
        self.mode: dict[int, str] = {}
        q = lambda sql: conn.execute(sa.text(sql)).all()  # noqa: E731
        key_rows = {r.archive_id: r for r in conn.execute(sa.text(
            "SELECT archive_id, wrapped_key, vault_key_id, master_key_id FROM archive_key")).all()} \
            if "archive_key" in self.names else {}
        done = {r[0] for r in q("SELECT archive_id FROM destruction_record WHERE state = 'done'")} \
            if "destruction_record" in self.names else set()
        missing = []
        for archive_id, status in q("SELECT id, status FROM archive"):
            row = key_rows.get(archive_id)
            if row is None:
                if status != DESTROYED:
                    missing.append(archive_id)
                self.mode[archive_id] = PLAIN if archive_id in done else WITHHOLD
            elif row.wrapped_key is None:
                self.mode[archive_id] = PLAIN if status == DESTROYED else WITHHOLD
            else:
                key = unwrap(row)  # None: its KEK is gone (a destruction under way)
                if key is None:
                    self.mode[archive_id] = WITHHOLD
                else:
                    self._keys[archive_id] = key
                    self.mode[archive_id] = SEAL
        if missing:
            raise MissingKey(f"{len(missing)} archive(s) without a key (e.g. {missing[0]}), made after the keys")
        self.plain_tombstones = {a for a, m in self.mode.items() if m == PLAIN}
        self.doc = dict(q("SELECT id, archive_id FROM document")) if "document" in self.names else {}
        self.change = dict(q("SELECT id, archive_id FROM change_request")) if "change_request" in self.names else {}
        self.query = dict(q("SELECT id, archive_id FROM query_request WHERE archive_id IS NOT NULL")) \
            if "query_request" in self.names else {}
        self._intake(q)

    # which archives a row belongs to ----------------------------------------------------------------

    def _intake(self, q) -> None:
        self.item_owners: dict[int, set] = {}
        self.job_owners: dict[int, set] = {}
        self.pages: dict[int, list] = {}  # item id -> [(from, to, owners)] of its parts
        if "intake_item" not in self.names:
            return
        items = q("SELECT id, parent_id, archive_id, document_id, job_id, page_from, page_to FROM intake_item")
        own = {i.id: {a for a in (i.archive_id, self.doc.get(i.document_id)) if a is not None} for i in items}
        parent = {i.id: i.parent_id for i in items}
        owners = {i.id: set(own[i.id]) for i in items}
        for item in items:  # every ancestor shares its parts' archives (their pages and file are its)
            seen, up = set(), parent.get(item.id)
            while up is not None and up in owners and up not in seen:
                seen.add(up)
                owners[up] |= own[item.id]
                self.pages.setdefault(up, []).append((item.page_from, item.page_to, own[item.id]))
                up = parent.get(up)
        self.item_own = own
        self.item_owners = owners
        for item in items:
            if item.job_id is not None:
                self.job_owners.setdefault(item.job_id, set()).update(owners[item.id])

    def _page_owners(self, row: dict) -> set:
        item_id, number = row.get("item_id"), row.get("number")
        parts = self.pages.get(item_id)
        if not parts:
            return set(self.item_owners.get(item_id, ()))
        base = set(self.item_own.get(item_id, ()))
        for start, end, owners in parts:
            if start is not None and number is not None and start <= number <= (end or start):
                return base | owners
        return base

    def _url_owners(self, url: str | None) -> set:
        found = set()
        for pattern, kind in _URL_OWNERS:
            for match in pattern.finditer(url or ""):
                ident = int(match.group(1))
                archive = {"archive": ident if ident in self.mode else None, "document": self.doc.get(ident),
                           "change": self.change.get(ident), "query": self.query.get(ident)}[kind]
                if archive is not None:
                    found.add(archive)
        return found

    def owners(self, table: str, row: dict) -> set:
        if table == "archive":
            return {row["id"]}
        if table in ("document_version", "document_event", "query_request_document"):
            archive = self.doc.get(row.get("document_id"))
            return {archive} if archive is not None else set()
        if table == "change_request_item":
            archive = self.change.get(row.get("request_id"))
            return {archive} if archive is not None else set()
        if table == "intake_item":
            return set(self.item_owners.get(row["id"], ()))
        if table == "intake_page":
            return self._page_owners(row)
        if table == "job":
            return set(self.job_owners.get(row["id"], ()))
        if table == "notification":
            return self._url_owners(row.get("url"))
        archive = row.get("archive_id")
        return {archive} if archive is not None else set()

    # writing ---------------------------------------------------------------------------------------

    def _subkey(self, archives: tuple) -> bytes:
        key = self._subkeys.get(archives)
        if key is None:
            key = self._subkeys[archives] = subkey(self._keys[a] for a in archives)
        return key

    def write(self, table: str, row: dict, encode) -> Written:
        policy = POLICIES.get(table)
        if policy is None:
            return Written({c: encode(v) for c, v in row.items()}, [])
        owners = self.owners(table, row)
        live = sorted(a for a in owners if self.mode.get(a) != PLAIN)  # scrubbed tombstones hold nothing
        if not live:
            return Written({c: encode(v) for c, v in row.items()}, [])
        pk = {c.name: encode(row[c.name]) for c in self.tables[table].primary_key.columns}
        clear_cols = [c for c in row if c in policy.clear]
        archive_field = live[0] if len(live) == 1 else live
        if any(self.mode.get(a) != SEAL for a in live):  # a key already gone: keep only the clear part
            clear = {c: encode(row[c]) for c in clear_cols}
            self.stats.withheld_rows[table] = self.stats.withheld_rows.get(table, 0) + 1
            self.stats.withheld_archives.update(live)
            return Written({"_archive": archive_field, "_pk": pk, "_clear": clear, "_sealed": None}, live,
                           withheld=True)
        clear = {c: encode(row[c]) for c in (*clear_cols, *(r for r in policy.refs if r in row))}
        rest = {c: encode(v) for c, v in row.items() if c not in clear}
        plaintext = zlib.compress(_canon(rest), 6)
        sealed = crypto.seal(self._subkey(tuple(live)), plaintext, aad(table, pk, live, clear))
        self.stats.sealed_rows[table] = self.stats.sealed_rows.get(table, 0) + 1
        self.stats.sealed_archives.update(live)
        line = {"_archive": archive_field, "_pk": pk}
        if clear:
            line["_clear"] = clear
        line["_sealed"] = base64.b64encode(sealed).decode()
        return Written(line, live)


# --- the restore side -----------------------------------------------------------------------------

class Opener:
    """The live vault's keys for the archives of a backup (``keys``: archive id -> data key)."""

    def __init__(self, keys: dict[int, bytes]):
        self.keys = keys
        self._subkeys: dict[tuple, bytes] = {}

    def can_open(self, line: dict) -> bool:
        return line.get("_sealed") is not None and all(a in self.keys for a in owners_of_line(line))

    def open(self, table: str, line: dict) -> dict:
        """The row's columns (JSON-encoded values): clear ∪ sealed. Raises DecryptionFailed."""
        archives = owners_of_line(line)
        key = self._subkeys.get(tuple(archives))
        if key is None:
            key = self._subkeys[tuple(archives)] = subkey(self.keys[a] for a in archives)
        clear = line.get("_clear") or {}
        try:
            plaintext = crypto.open_sealed(key, base64.b64decode(line["_sealed"]),
                                           aad(table, line.get("_pk") or {}, archives, clear))
        except crypto.DecryptionFailed:
            raise
        except Exception as exc:  # noqa: BLE001 (bad base64, wrong tag: the same thing to the caller)
            raise crypto.DecryptionFailed(f"{table} {line.get('_pk')}: sealed row does not open") from exc
        return {**clear, **json.loads(zlib.decompress(plaintext))}


def blank(column: sa.Column):
    """What a column of a tombstone row holds when its value was sealed away."""
    if column.nullable:
        return None
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return False
    if kind in (int, float):
        return kind(0)
    if kind in (dict, list):
        return kind()
    if kind is bytes:
        return b""
    return ""
