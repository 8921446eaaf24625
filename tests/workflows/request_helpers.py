"""Helpers of the query/change request tests (import as ``import request_helpers as rh``)."""
from __future__ import annotations

import io
import threading
from datetime import date

import sqlalchemy as sa

from portal import workcal
from portal.actor import Actor
from portal.archives import services as archive_services
from portal.extensions import db


def as_(user) -> Actor:
    return Actor(user, "127.0.0.1")


def set_today(monkeypatch, day: date) -> None:
    """Move the portal's clock (Beijing date) to ``day``."""
    monkeypatch.setattr(workcal, "today", lambda: day)


def secret_archive(make_archive, user, **fields):
    """A filed archive classified 一级 by the archivist when filing (staff cannot enter 一级)."""
    archive = make_archive(status="approved", **fields)
    archive_services.file_archive(as_(user("archivist")), archive, sensitivity=1)
    return archive


def png(seed: int = 0) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40 + seed, 60), (200, 210 + seed % 40, 220)).save(out, format="PNG")
    return out.getvalue()


def document(archive, by, level: int | None = None, seed: int = 0, title: str = "合同扫描件"):
    """A document uploaded through the real service."""
    from portal.documents import services as documents

    return documents.upload(as_(by), archive.id, io.BytesIO(png(seed)), f"{title}{seed}.png",
                            documents.Details(doc_type="合同", title=f"{title}{seed}", sensitivity=level))


def in_threads(app, jobs):
    """Run ``jobs`` at the same moment, each in its own thread and app context (one shared app);
    returns their results or exceptions."""
    db.session.commit()
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def work(index, job):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[index] = job()
            except Exception as exc:  # noqa: BLE001 (handed back to the test)
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def fresh(model, ident):
    """The row as committed now (ends the session's snapshot first)."""
    db.session.commit()
    db.session.expire_all()
    return db.session.get(model, ident)


def user_named(username: str):
    from portal.auth.models import User

    return db.session.scalar(sa.select(User).where(User.username == username))
