"""``bench/bulk.py`` (the benchmarks' data loader) keeps working as the schema grows: it had been
broken for weeks without anyone noticing (the register's hash gained a field)."""
from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

from portal.archives.models import Archive
from portal.demo import load_demo
from portal.extensions import db
from portal.register.services import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def test_bulk_load_adds_archives_the_portal_reads_and_a_register_that_verifies(app, login):
    import bulk

    load_demo(archives=5, password="demo12345")
    result = bulk.bulk_load(total=120, log=lambda *_: None)
    db.session.commit()
    assert result["added"] == 115
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Archive)) == 120
    assert verify().ok
    filed = db.session.scalar(sa.select(Archive).where(Archive.status == "filed").order_by(Archive.id.desc()).limit(1))
    page = login("archivist", "demo12345").get(f"/archives/{filed.id}")
    assert page.status_code == 200 and filed.name in page.get_data(as_text=True)
    assert bulk.bulk_load(total=120, log=lambda *_: None) == {"added": 0}
