"""Tamper detection from the archivist's side: the verify button, the CLI, and the database itself."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.register.models import RegisterEntry


def _alter(sql: str, params: dict) -> None:
    """Change the register behind the application's back, as someone with database access could."""
    db.session.rollback()  # end the test session's transaction: SQLite has one writer at a time
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE register_entry DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER register_entry_no_update"))
        conn.execute(sa.text(sql), params)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE register_entry ENABLE TRIGGER USER"))
    db.session.expire_all()


def _verify_cli(app):
    from portal.cli import register_group

    return app.test_cli_runner().invoke(register_group, ["verify"])


def test_verify_page_reports_an_intact_register(login, register_entries):
    login("staff_sales")
    client = login("supervisor")
    response = client.post("/register/verify")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    checked = len(register_entries()) - 1  # all entries before the verification's own
    assert "登记簿完好" in page and f"已核验 {checked} 条记录" in page
    done = register_entries(action="register_verify")
    assert len(done) == 1 and done[0].username == "supervisor"
    assert done[0].detail == f"intact, {checked} entries"
    assert _verify_cli(client.application).exit_code == 0


def test_verify_with_htmx_returns_the_result_box(login):
    client = login("archivist")
    index = client.get("/register/").get_data(as_text=True)
    assert 'action="/register/verify"' in index and 'hx-target="#verify-result"' in index
    response = client.post("/register/verify", headers={"HX-Request": "true", "HX-Target": "verify-result"})
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="verify-result"') and "<html" not in fragment


def test_altered_entry_is_named_on_the_page_and_by_the_cli(app, login, register_entries):
    for name in ("staff_sales", "head_sales", "manager"):
        login(name)
    client = login("archivist")
    target = register_entries(action="login", username="head_sales")[0]
    _alter("UPDATE register_entry SET detail = 'nothing to see' WHERE seq = :seq", {"seq": target.seq})

    page = client.post("/register/verify").get_data(as_text=True)
    assert "登记簿已被篡改" in page
    assert f"第一条异常记录：序号 {target.seq}。" in page and "哈希值不符" in page
    assert "head_sales" in page  # the altered entry is shown
    done = register_entries(action="register_verify")
    assert done[-1].detail == f"broken at {target.seq}: entry altered (hash mismatch)"

    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"BROKEN at entry {target.seq}" in result.output


def test_deleted_entry_is_reported(app, login, register_entries):
    for name in ("staff_sales", "head_sales"):
        login(name)
    seq = register_entries(action="login", username="staff_sales")[0].seq
    db.session.rollback()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE register_entry DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER register_entry_no_delete"))
        conn.execute(sa.text("DELETE FROM register_entry WHERE seq = :seq"), {"seq": seq})
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE register_entry ENABLE TRIGGER USER"))
    db.session.expire_all()
    page = login("supervisor").post("/register/verify").get_data(as_text=True)
    assert f"序号 {seq}" in page and "缺少一条记录" in page
    assert _verify_cli(app).exit_code == 1


@pytest.mark.parametrize("sql", ["UPDATE register_entry SET detail = 'x'", "DELETE FROM register_entry"])
def test_database_refuses_plain_changes(login, sql):
    login("staff_sales")
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(sql))
    assert db.session.scalar(sa.select(sa.func.count(RegisterEntry.id))) >= 1
