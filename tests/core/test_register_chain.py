"""The access register: every entry chained, appends serialised, tampering found."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from portal.actor import Actor
from portal.dbsetup import begin_write
from portal.extensions import db
from portal.register import services as register
from portal.register.models import RegisterEntry


def _tamper(sql: str, params: dict) -> None:
    """Change the table behind the application's back, as someone with database access could."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text("ALTER TABLE register_entry DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER register_entry_no_update"))
            conn.execute(sa.text("DROP TRIGGER register_entry_no_delete"))
        conn.execute(sa.text(sql), params)
        if dialect == "postgresql":
            conn.execute(sa.text("ALTER TABLE register_entry ENABLE TRIGGER USER"))


def _append(n: int, user) -> None:
    for i in range(n):
        begin_write()
        register.record(Actor(user, "10.0.0.1"), "archive_view", detail=f"entry {i}")
        db.session.commit()


def test_fresh_chain_verifies(app, user):
    _append(5, user("archivist"))
    result = register.verify()
    assert result.ok and result.checked == db.session.scalar(sa.select(sa.func.count(RegisterEntry.id)))


def test_altered_entry_is_found(app, user):
    _append(5, user("archivist"))
    target = db.session.scalars(sa.select(RegisterEntry).order_by(RegisterEntry.seq.desc())).all()[2]
    _tamper("UPDATE register_entry SET detail = 'nothing happened' WHERE seq = :seq", {"seq": target.seq})
    db.session.commit()  # end the read snapshot: see what other connections committed
    result = register.verify()
    assert not result.ok and result.first_bad_seq == target.seq and "altered" in result.problem


def test_deleted_entry_is_found(app, user):
    _append(5, user("archivist"))
    last = db.session.scalar(sa.select(sa.func.max(RegisterEntry.seq)))
    _tamper("DELETE FROM register_entry WHERE seq = :seq", {"seq": last - 2})
    db.session.commit()  # end the read snapshot: see what other connections committed
    result = register.verify()
    assert not result.ok and result.first_bad_seq == last - 2


def test_removed_tail_is_found(app, user):
    _append(3, user("archivist"))
    last = db.session.scalar(sa.select(sa.func.max(RegisterEntry.seq)))
    _tamper("DELETE FROM register_entry WHERE seq = :seq", {"seq": last})
    db.session.commit()  # end the read snapshot: see what other connections committed
    assert not register.verify().ok


def test_database_refuses_update_and_delete(app, user):
    _append(1, user("archivist"))
    for sql in ("UPDATE register_entry SET detail = 'x'", "DELETE FROM register_entry"):
        try:
            with db.engine.begin() as conn:
                conn.execute(sa.text(sql))
        except sa.exc.DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{sql} was allowed")


def test_concurrent_appends_keep_one_unbroken_chain(app, user):
    """Eight threads appending at once: no fork, no gap, no duplicate position."""
    archivist_id = user("archivist").id
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                from portal.auth.models import User
                _append(15, db.session.get(User, archivist_id))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    before = db.session.scalar(sa.select(sa.func.count(RegisterEntry.id)))
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    db.session.commit()  # end the read snapshot: see what other connections committed
    assert db.session.scalar(sa.select(sa.func.count(RegisterEntry.id))) == before + 120
    assert register.verify().ok


def test_cli_verify_reports_the_broken_entry(app, user):
    from portal.cli import register_group

    _append(3, user("archivist"))
    runner = app.test_cli_runner()
    result = runner.invoke(register_group, ["verify"])
    assert result.exit_code == 0 and "chain intact" in result.output
    seq = db.session.scalar(sa.select(sa.func.max(RegisterEntry.seq))) - 1
    _tamper("UPDATE register_entry SET username = 'someone_else' WHERE seq = :seq", {"seq": seq})
    db.session.commit()  # end the read snapshot: see what other connections committed
    result = runner.invoke(register_group, ["verify"])
    assert result.exit_code == 1 and f"entry {seq}" in result.output
