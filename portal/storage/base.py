"""The object store interface: versioned, streamed, never a partial object visible.

Two implementations: ``LocalStore`` (files under the instance folder, the embedded default) and
``S3Store`` (MinIO or any S3 API server, through the ``minio`` SDK). Both keep every version of a
key; the database refers to (key, version_id) pairs. Contents reach the store already encrypted
(``portal.crypto``), so the store never sees a document in clear.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from flask_babel import lazy_gettext as _l

from portal.errors import PortalError


class StoreUnavailable(PortalError):
    """The store cannot be reached or refused the operation; nothing was written."""

    status = 503

    def __init__(self, message=None, **detail):
        super().__init__(message or _l("The document store is not reachable right now. Nothing was "
                                       "saved or changed; please try again in a few minutes."),
                         **detail)


class ObjectMissing(PortalError):
    """The database refers to an object version the store does not have."""

    status = 500

    def __init__(self, message=None, **detail):
        super().__init__(message or _l("The stored file is missing from the document store. The "
                                       "archivist has been told; run “portal verify”."), **detail)


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    size: int


class ObjectStore(Protocol):
    """What the portal needs of an object store."""

    kind: str

    def ensure_ready(self) -> None:
        """Create the bucket / folder (with versioning on) if needed; raise StoreUnavailable."""

    def put(self, key: str, data: BinaryIO, length: int) -> ObjectVersion:
        """Store ``length`` bytes read from ``data`` as a new version of ``key``.

        Either the whole object becomes visible as a new version or nothing does.
        """

    def get(self, key: str, version_id: str, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        """Stream one version. Raises ObjectMissing or StoreUnavailable (possibly mid-stream)."""

    def stat(self, key: str, version_id: str) -> ObjectVersion:
        """Size of one version; ObjectMissing if it does not exist."""

    def delete_version(self, key: str, version_id: str) -> None:
        """Remove one version for good (no delete marker)."""

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Every version of every key under ``prefix`` (for verification and destruction)."""

    def clear_incomplete(self, prefix: str = "", older_than: float = 3600) -> int:
        """Remove what interrupted writes left behind (temporary files, unfinished multipart
        uploads) older than ``older_than`` seconds; never visible as objects. Returns how many."""

    def health(self) -> tuple[bool, str]:
        """(ok, short description) for /healthz."""
