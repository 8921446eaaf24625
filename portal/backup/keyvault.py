"""The key vault 密钥库: one key-encryption key (KEK) per archive, outside the database and backups.

Why: an archive's data key is stored (wrapped) in the database, and a backup holds the database.
Were it wrapped by the master key alone, restoring a backup made before a destruction would bring
the destroyed archive's key back (the operator keeps the master key). So the data key is wrapped by
a per-archive KEK, and the KEK lives here, in a folder of its own (``PORTAL_KEY_VAULT``, default
``<instance>/keyvault``), itself wrapped by the master key. Destroying the archive's key deletes
its KEK file: every copy of the wrapped data key — in the live database, in every backup, in every
replica — becomes useless, while the master key and all other archives stay intact.

Rules (README “备份与恢复 Backups”): the vault is never part of a backup; several machines share one
vault path (like the master key it is provisioned separately); it is replicated only by mirroring
*with deletions* (``rsync --delete``, DRBD, a replicated file system), never by snapshots or
versioned copies, which would keep destroyed keys.

Layout: ``<vault>/VAULT`` (marker, written when the vault is made; its absence means the volume is
not mounted — an outage, never "every key destroyed") and ``<vault>/<kek id>.kek`` (JSON: format,
archive id, master key id, the KEK wrapped by the master key with AES key wrap), and for each KEK
destroyed ``<vault>/<kek id>.destroyed`` (JSON: archive id and time; no key material), so that a
key missing from the vault is told apart: destroyed here, or never in this vault (a machine not
sharing the vault, an old copy mounted: ``KeyMissing``, an outage). Files are written to
a temporary name, fsynced, mode 0600, renamed into place and the folder fsynced; a deletion
overwrites the file with zeros, fsyncs, unlinks it and fsyncs the folder.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from portal import crypto
from portal.errors import PortalError

FORMAT = 1
MARKER = "VAULT"
ID_RE = re.compile(r"^[0-9a-f]{32}$")


class VaultUnavailable(PortalError):
    """The vault folder cannot be read or written (not mounted, no permission)."""

    status = 503

    def __init__(self, message=None, **detail):
        super().__init__(message or _l("The key vault is not reachable right now. Nothing was changed; "
                                       "ask the administrator to check the key vault folder."), **detail)


class KeyMissing(VaultUnavailable):
    """A live archive's key-encryption key is not in this vault: the vault is not the one the key
    was made in (machines not sharing one vault path, an old copy mounted), never a destruction."""

    def __init__(self, **detail):
        super().__init__(_l("The encryption key of this archive is not in this server's key vault (the archive "
                            "was not destroyed). Every server of the portal must use the same key vault folder; "
                            "ask the administrator to check PORTAL_KEY_VAULT."), **detail)


@dataclass(frozen=True)
class VaultEntry:
    kek_id: str
    archive_id: int
    master_key_id: str


def new_kek_id() -> str:
    return secrets.token_hex(16)


class KeyVault:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # --- folder -----------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.path / MARKER).is_file()

    def ensure_ready(self) -> None:
        """Make the vault (folder mode 0700 and its marker) if it does not exist yet."""
        if self.exists():
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_atomic(self.path / MARKER, json.dumps({"format": FORMAT, "purpose": "portal key vault"}).encode())
        except OSError as exc:
            raise VaultUnavailable(detail=str(exc)) from exc

    def _require(self) -> None:
        if not self.exists():
            raise VaultUnavailable(detail=f"{self.path}: no vault here (volume not mounted?)")

    def _file(self, kek_id: str) -> Path:
        if not ID_RE.match(kek_id or ""):
            raise ValueError(f"invalid key id {kek_id!r}")
        return self.path / f"{kek_id}.kek"

    # --- keys -------------------------------------------------------------------------------

    def create(self, master: bytes, archive_id: int) -> tuple[str, bytes]:
        """A new KEK for the archive, stored wrapped by ``master``: (kek id, KEK)."""
        self.ensure_ready()
        kek_id, kek = new_kek_id(), crypto.new_data_key()
        payload = {"format": FORMAT, "archive_id": archive_id, "master_key_id": crypto.key_id(master),
                   "kek": base64.b64encode(crypto.wrap(master, kek)).decode()}
        try:
            _write_atomic(self._file(kek_id), json.dumps(payload).encode())
        except OSError as exc:
            raise VaultUnavailable(detail=str(exc)) from exc
        return kek_id, kek

    def kek(self, master: bytes, kek_id: str) -> bytes | None:
        """The unwrapped KEK, or None when it was destroyed (VaultUnavailable if no vault at all)."""
        self._require()
        try:
            raw = self._file(kek_id).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise VaultUnavailable(detail=str(exc)) from exc
        try:
            payload = json.loads(raw)
            wrapped = base64.b64decode(payload["kek"])
        except (ValueError, KeyError, TypeError) as exc:
            raise crypto.DecryptionFailed(f"vault entry {kek_id} is damaged") from exc
        return crypto.unwrap(master, wrapped)

    def has(self, kek_id: str) -> bool:
        self._require()
        return self._file(kek_id).is_file()

    def delete(self, kek_id: str) -> bool:
        """Overwrite, unlink and fsync; True if a key was there. Raises VaultUnavailable on failure."""
        self._require()
        path = self._file(kek_id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise VaultUnavailable(detail=str(exc)) from exc
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"\0" * size)
                os.fsync(fd)
            finally:
                os.close(fd)
            path.unlink()
            _fsync_dir(self.path, strict=True)
        except FileNotFoundError:
            return False  # deleted at the same moment by another process
        except OSError as exc:
            raise VaultUnavailable(detail=str(exc)) from exc
        return True

    def mark_destroyed(self, kek_id: str, archive_id: int) -> None:
        """Record (before the deletion) that this KEK is destroyed on purpose."""
        self._require()
        path = self._file(kek_id).with_suffix(".destroyed")
        payload = {"format": FORMAT, "archive_id": archive_id, "destroyed_at": datetime.now(UTC).isoformat()}
        try:
            _write_atomic(path, json.dumps(payload).encode())
        except OSError as exc:
            raise VaultUnavailable(detail=str(exc)) from exc

    def destroyed(self, kek_id: str) -> bool:
        """Whether this KEK was destroyed in this vault (not merely absent from it)."""
        self._require()
        return self._file(kek_id).with_suffix(".destroyed").is_file()

    def entries(self) -> Iterator[VaultEntry]:
        """Every key in the vault (for `portal keys status` and checks)."""
        if not self.exists():
            return
        for path in sorted(self.path.glob("*.kek")):
            try:
                payload = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            yield VaultEntry(path.stem, int(payload.get("archive_id") or 0), str(payload.get("master_key_id") or ""))

    def missing(self, kek_ids: list[str]) -> list[str]:
        """Which of these keys this vault never had: neither the key nor its destruction is here."""
        self._require()
        return [k for k in kek_ids if not self._file(k).is_file() and not self.destroyed(k)]

    def health(self) -> tuple[bool, str]:
        if not self.exists():
            return False, f"key vault {self.path}: missing (not mounted?)"
        if not os.access(self.path, os.W_OK):
            return False, f"key vault {self.path}: not writable"
        return True, f"key vault {self.path}"


def vault(app: Flask | None = None) -> KeyVault:
    """The app's key vault (``KEY_VAULT`` or ``<instance>/keyvault``)."""
    app = app or current_app._get_current_object()
    existing = app.extensions.get("portal_key_vault")
    if existing is None:
        path = app.config.get("KEY_VAULT") or str(Path(app.instance_path) / "keyvault")
        existing = app.extensions["portal_key_vault"] = KeyVault(path)
    return existing


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(path: Path, strict: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if strict:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise
    finally:
        os.close(fd)
