"""``/healthz``: the state of each component, as JSON, for monitoring."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from portal.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
VAULT_SAMPLE = 200  # the newest live archive keys /healthz looks for in the key vault


def component_states() -> dict[str, dict]:
    """Check each component the portal depends on; later features add theirs here."""
    states: dict[str, dict] = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        from portal.register.models import RegisterHead
        head = db.session.get(RegisterHead, 1)
        states["database"] = {"ok": True, "dialect": db.engine.dialect.name}
        states["register"] = {"ok": True, "entries": head.last_seq if head else 0}
    except Exception as exc:  # noqa: BLE001 - report any failure as a state
        db.session.rollback()
        states["database"] = {"ok": False, "error": exc.__class__.__name__}
    states["translations"] = {"ok": bool(current_app.extensions.get("babel"))}
    states["store"] = _store_state()
    states["search"] = _search_state()
    states["jobs"] = _jobs_state()
    from portal import printing
    states["pdf"] = printing.health()
    states["keyvault"] = _vault_state()
    states["backup"] = _backup_state()
    return states


def _store_state() -> dict:
    """The document store (local folder or S3/MinIO bucket). Its address and path stay in the log:
    /healthz is public."""
    try:
        from portal.storage import store
        object_store = store()
        ok, description = object_store.health()
    except Exception as exc:  # noqa: BLE001 - report any failure as a state
        log.warning("store health check failed: %r", exc)
        return {"ok": False, "error": exc.__class__.__name__}
    if not ok:
        log.warning("store unhealthy: %s", description)
        return {"ok": False, "kind": object_store.kind, "error": "unavailable"}
    return {"ok": True, "kind": object_store.kind}


def _search_state() -> dict:
    """The full-text index: readable, writer idle or busy, changes waiting. A missing or unreadable
    index starts a rebuild."""
    try:
        from portal.search import indexing
        return indexing.health()
    except Exception as exc:  # noqa: BLE001 - report any failure as a state
        log.warning("search health check failed: %r", exc)
        return {"ok": False, "error": exc.__class__.__name__}


def _jobs_state() -> dict:
    """Background jobs: counts per state, the oldest waiting job, jobs of dead workers, Redis."""
    try:
        from portal import jobs
        return jobs.health()
    except Exception as exc:  # noqa: BLE001 - report any failure as a state
        db.session.rollback()
        log.warning("jobs health check failed: %r", exc)
        return {"ok": False, "error": exc.__class__.__name__}


def _vault_state() -> dict:
    """The key vault (per-archive key-encryption keys): reachable. Its path stays in the log."""
    try:
        import sqlalchemy as sa

        from portal.backup.keyvault import vault
        from portal.documents.models import ArchiveKey
        ok, description = vault().health()
        if not ok:
            in_use = db.session.scalar(sa.select(sa.func.count()).select_from(ArchiveKey)
                                       .where(ArchiveKey.vault_key_id.is_not(None)))
            if not in_use:
                return {"ok": True, "state": "not made yet"}  # made with the first archive key
            log.warning("key vault unhealthy: %s", description)
            return {"ok": False, "error": "unavailable"}
        # The newest live keys must be in this vault: a machine with a vault folder of its own
        # (not the shared one) would otherwise take the archives made elsewhere for destroyed.
        from portal.archives.models import DESTROYED, Archive
        newest = list(db.session.scalars(
            sa.select(ArchiveKey.vault_key_id).join(Archive, Archive.id == ArchiveKey.archive_id)
            .where(ArchiveKey.vault_key_id.is_not(None), ArchiveKey.wrapped_key.is_not(None),
                   Archive.status != DESTROYED)
            .order_by(ArchiveKey.id.desc()).limit(VAULT_SAMPLE)))
        missing = vault().missing(newest)
        if missing:
            log.error("key vault %s lacks %d of the %d newest live archive keys (not the shared vault?)",
                      vault().path, len(missing), len(newest))
            return {"ok": False, "error": "keys missing", "missing": len(missing), "checked": len(newest)}
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - report any failure as a state
        db.session.rollback()
        log.warning("key vault health check failed: %r", exc)
        return {"ok": False, "error": exc.__class__.__name__}


def _backup_state() -> dict:
    """The age of the last successful backup (not required: a missed backup harms nothing live)."""
    from portal.backup.services import health
    return health()


@bp.route("/healthz")
def healthz():
    states = component_states()
    # A component marked required=False (PDF output) degrades a feature, not the portal.
    ok = all(s.get("ok") for s in states.values() if s.get("required", True))
    return jsonify(status="ok" if ok else "degraded", components=states), 200 if ok else 503
