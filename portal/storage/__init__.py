"""Object storage: chosen by configuration, one instance per app (``store()``)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from portal.storage.base import ObjectMissing, ObjectStore, ObjectVersion, StoreUnavailable

__all__ = ["ObjectMissing", "ObjectStore", "ObjectVersion", "StoreUnavailable", "make_store", "store"]


def make_store(config: dict, instance_path: str) -> ObjectStore:
    """``PORTAL_S3_ENDPOINT`` set → S3/MinIO; otherwise files under ``<instance>/objects``."""
    if config.get("S3_ENDPOINT"):
        from portal.storage.s3 import S3Store
        return S3Store(config["S3_ENDPOINT"], config.get("S3_ACCESS_KEY") or "",
                       config.get("S3_SECRET_KEY") or "", config.get("S3_BUCKET") or "portal-archives",
                       secure=bool(config.get("S3_SECURE")), region=config.get("S3_REGION") or None,
                       part_size=int(config.get("S3_PART_SIZE") or 5 * 1024 * 1024),
                       parallel=int(config.get("S3_PARALLEL_UPLOADS") or 3))
    from portal.storage.local import LocalStore
    root = config.get("STORAGE_DIR") or str(Path(instance_path) / "store")
    local = LocalStore(root)
    local.clear_temporary()  # pieces of writes cut off by a crash (never visible as objects)
    return local


def store(app: Flask | None = None) -> ObjectStore:
    app = app or current_app._get_current_object()
    existing = app.extensions.get("portal_store")
    if existing is None:
        existing = app.extensions["portal_store"] = make_store(app.config, app.instance_path)
    return existing
