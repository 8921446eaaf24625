"""Archive numbers: policy shape, per-(prefix, year, type) sequences, no duplicates under
concurrent filing (threads and processes, SQLite and PostgreSQL), never reused."""
from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime

import pytest
import sqlalchemy as sa

from portal.actor import Actor
from portal.admin.models import Setting
from portal.archives import numbering, services
from portal.archives.models import Archive
from portal.errors import ValidationFailed
from portal.extensions import db

YEAR = datetime.now().year


def test_default_template_reproduces_policy_example():
    assert numbering.format_number("{prefix}-{year}-{type_code}-{seq:03}", prefix="海外", year=2026,
                                   type_code="电商", seq=1) == "海外-2026-电商-001"


@pytest.mark.parametrize("template", ["{prefix}-{year}-{type_code}", "{prefix}-{seq}", "{nope}-{seq}",
                                      "{prefix-{seq}", "{seq:zz}-{year}-{type_code}"])
def test_unsafe_or_broken_templates_are_refused(template):
    with pytest.raises(ValidationFailed):
        numbering.validate_template(template)


def test_sequences_run_per_type(make_archive):
    a = make_archive(status="filed", type_code="电商")
    b = make_archive(status="filed", type_code="外贸")
    c = make_archive(status="filed", type_code="电商")
    assert a.number.endswith("-电商-001")
    assert b.number.endswith("-外贸-001")
    assert c.number.endswith("-电商-002")


def test_deleted_draft_does_not_free_a_number(make_archive, user):
    first = make_archive(status="filed")
    draft = make_archive(status="draft")
    services.delete_draft(Actor(user("staff_sales")), draft)
    second = make_archive(status="filed")
    assert (first.number[-3:], second.number[-3:]) == ("001", "002")


def test_changed_template_never_meets_an_old_number(make_archive):
    make_archive(status="filed")  # 海外-YYYY-电商-001
    db.session.merge(Setting(key="number_template", value="{year}-{type_code}-{seq}"))
    db.session.merge(Setting(key="number_prefix", value="海外"))
    db.session.commit()
    assert make_archive(status="filed").number == f"{YEAR}-电商-2"


def _file_with(app, archive_ids: list[int]) -> list[str]:
    """File the given archives as the archivist, in an app context (and session) of its own."""
    from portal.auth.models import User

    numbers = []
    with app.app_context():
        archivist = db.session.scalar(sa.select(User).where(User.username == "archivist"))
        for archive_id in archive_ids:
            numbers.append(services.file_archive(Actor(archivist, "worker"), db.session.get(Archive, archive_id)))
        db.session.remove()
    return numbers


def _file_many(database_url: str, instance: str, archive_ids: list[int]) -> list[str]:
    """Run in another process: its own app and engine, filing the given archives."""
    from portal import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                      "INSTANCE_PATH": instance, "SECRET_KEY": "x"})
    numbers = _file_with(app, archive_ids)
    with app.app_context():
        db.engine.dispose()
    return numbers


def _approved(make_archive, n: int) -> list[int]:
    return [make_archive(status="approved", name=f"并发客户{i}").id for i in range(n)]


def _assert_contiguous(numbers: list[str], n: int) -> None:
    assert len(numbers) == len(set(numbers)) == n
    assert sorted(int(x.rsplit("-", 1)[1]) for x in numbers) == list(range(1, n + 1))
    stored = db.session.scalars(sa.select(Archive.number).where(Archive.number.is_not(None))).all()
    assert sorted(stored) == sorted(numbers)


def test_concurrent_filing_in_threads(app, make_archive):
    ids = _approved(make_archive, 24)
    db.session.commit()
    results: list[str] = []
    errors: list[BaseException] = []

    # One app shared by the threads (each its own session and connection), as in a threaded
    # server; building apps in parallel threads trips a CPython 3.11 compiler race instead.
    def worker(chunk):
        try:
            results.extend(_file_with(app, chunk))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    db.session.commit()  # end the read snapshot: see what other connections committed
    _assert_contiguous(results, 24)


def test_concurrent_filing_in_processes(app, make_archive):
    ids = _approved(make_archive, 16)
    url, instance = app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        chunks = pool.starmap(_file_many, [(url, instance, ids[i::4]) for i in range(4)])
    db.session.commit()  # end the read snapshot: see what other connections committed
    _assert_contiguous([n for chunk in chunks for n in chunk], 16)
