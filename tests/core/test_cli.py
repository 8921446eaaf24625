"""The ``portal`` command that later work and the README rely on."""
from __future__ import annotations

import sqlalchemy as sa

from portal.cli import init_command, token_group, user_group
from portal.extensions import db


def test_init_is_idempotent_and_keeps_the_admin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(init_command, ["--admin-user", "admin"])
    assert result.exit_code == 0, result.output
    assert "Database ready" in result.output
    result = runner.invoke(init_command, ["--admin-user", "root2", "--admin-password", "secret-pass-1"])
    assert result.exit_code == 0 and "root2 created" in result.output
    from portal.auth.models import User
    db.session.commit()
    assert db.session.scalar(sa.select(User.role).where(User.username == "root2")) == "admin"


def test_user_create_then_log_in(app, client):
    result = app.test_cli_runner().invoke(user_group, [
        "create", "new_staff", "--password", "pass-word-9", "--role", "staff", "--department", "SAL"])
    assert result.exit_code == 0, result.output
    response = client.post("/login", data={"username": "new_staff", "password": "pass-word-9"})
    assert response.status_code == 303


def test_user_create_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(user_group, [
        "create", "weak", "--password", "short", "--department", "SAL"])
    assert result.exit_code != 0 and "8" in result.output


def test_token_create_prints_a_working_token(app, client):
    result = app.test_cli_runner().invoke(token_group, ["create", "archivist"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/archives", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and "total" in response.get_json()
