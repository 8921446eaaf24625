"""Objects as files under the instance folder, with the same semantics as a versioned bucket.

Layout: ``<root>/objects/<key>/<version_id>``; a version is written to ``<root>/tmp/`` first,
flushed to disk and then renamed into place, so no reader ever sees a partial version and a crash
leaves at most a temporary file (removed when the store is opened and by ``portal verify``).
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from portal.storage.base import ObjectMissing, ObjectVersion, StoreUnavailable

KEY_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-./]*$")


def check_key(key: str) -> str:
    if not KEY_RE.match(key) or ".." in key.split("/") or "//" in key or key.endswith("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


class LocalStore:
    kind = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"

    def ensure_ready(self) -> None:
        try:
            self.objects.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(detail=str(exc)) from exc

    def clear_incomplete(self, prefix: str = "", older_than: float = 3600) -> int:
        return self.clear_temporary(older_than)

    def clear_temporary(self, older_than: float = 3600) -> int:
        """Remove temporary files left by an interrupted write (older than ``older_than`` s)."""
        removed = 0
        if not self.tmp.is_dir():
            return 0
        for path in self.tmp.iterdir():
            try:
                if time.time() - path.stat().st_mtime > older_than:
                    path.unlink()
                    removed += 1
            except OSError:
                pass
        return removed

    def _dir(self, key: str) -> Path:
        return self.objects / check_key(key)

    def put(self, key: str, data: BinaryIO, length: int) -> ObjectVersion:
        self.ensure_ready()
        # Time-ordered version ids sort like the store's history.
        version_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        target_dir = self._dir(key)
        tmp_path = self.tmp / f"{uuid.uuid4().hex}.part"
        written = 0
        try:
            with open(tmp_path, "xb") as out:
                while written < length:
                    chunk = data.read(min(1024 * 1024, length - written))
                    if not chunk:
                        break
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if written != length:
                raise StoreUnavailable(detail=f"short write: {written} of {length} bytes")
            for attempt in range(3):
                target_dir.mkdir(parents=True, exist_ok=True)
                try:
                    os.replace(tmp_path, target_dir / version_id)
                    break
                except FileNotFoundError:
                    # delete_version of the key's last version removed the empty folder meanwhile
                    if attempt == 2 or not tmp_path.exists():
                        raise
            _fsync_dir(target_dir)
        except OSError as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        finally:
            if tmp_path.exists():
                tmp_path.unlink()
        return ObjectVersion(key, version_id, written)

    def _path(self, key: str, version_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f\-]+", version_id or ""):
            raise ObjectMissing()
        return self._dir(key) / version_id

    def _missing(self) -> Exception:
        """An object not found: missing — unless the whole store folder is gone (an unmounted
        volume), which is an outage, not a lost file."""
        if not self.objects.is_dir():
            return StoreUnavailable(detail=f"{self.objects} is not there (volume not mounted?)")
        return ObjectMissing()

    def get(self, key: str, version_id: str, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        path = self._path(key, version_id)
        try:
            handle = open(path, "rb")
        except FileNotFoundError as exc:
            raise self._missing() from exc
        except OSError as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        return _read_chunks(handle, chunk_size)

    def stat(self, key: str, version_id: str) -> ObjectVersion:
        try:
            size = self._path(key, version_id).stat().st_size
        except FileNotFoundError as exc:
            raise self._missing() from exc
        except OSError as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        return ObjectVersion(key, version_id, size)

    def delete_version(self, key: str, version_id: str) -> None:
        path = self._path(key, version_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        parent = path.parent
        while parent != self.objects:
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        if not self.objects.is_dir():
            return
        for dirpath, _dirs, files in os.walk(self.objects):
            rel = Path(dirpath).relative_to(self.objects).as_posix()
            if rel == "." or not rel.startswith(prefix):
                continue
            for name in sorted(files):
                try:
                    size = (Path(dirpath) / name).stat().st_size
                except FileNotFoundError:  # deleted while we walked
                    continue
                yield ObjectVersion(rel, name, size)

    def health(self) -> tuple[bool, str]:
        try:
            self.ensure_ready()
            if not os.access(self.objects, os.W_OK) or not os.access(self.tmp, os.W_OK):
                return False, f"local store {self.root}: not writable"
            free = shutil.disk_usage(self.root).free
        except (OSError, StoreUnavailable) as exc:
            return False, f"local store {self.root}: {exc}"
        return True, f"local {self.root} ({free // (1024 * 1024)} MB free)"


def _read_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
