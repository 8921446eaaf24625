"""The ``portal`` command: init, demo, run, user, token, register."""
from __future__ import annotations

import os
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from portal.actor import cli_actor
from portal.auth import roles


def _create_app():
    from portal import create_app
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main():
    """客户档案管理门户 — Customer Archive Portal."""


def register_cli(app) -> None:
    """Commands are attached to the app so ``flask --app portal`` sees them too."""
    for command in (init_command, demo_command, run_command, user_group, token_group, register_group):
        app.cli.add_command(command)


@click.command("init")
@click.option("--admin-user", envvar="PORTAL_ADMIN_USER", default="admin", show_default=True)
@click.option("--admin-password", envvar="PORTAL_ADMIN_PASSWORD", default=None)
@with_appcontext
def init_command(admin_user: str, admin_password: str | None):
    """Create or migrate the database, add reference data and the administrator."""
    from flask_migrate import upgrade

    from portal.auth import services
    from portal.auth.models import User
    from portal.extensions import db
    from portal.seed import department, seed_reference_data

    upgrade()
    seed_reference_data()
    if db.session.scalar(sa.select(User.id).where(User.username == admin_user)) is None:
        if not admin_password:
            admin_password = click.prompt(f"Password for {admin_user}", hide_input=True,
                                          confirmation_prompt=True)
        services.create_user(cli_actor(), username=admin_user, password=admin_password,
                             display_name="系统管理员", role=roles.ADMIN, clearance=roles.PUBLIC,
                             department_id=department("IT").id)
        click.echo(f"Administrator {admin_user} created.")
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("demo")
@click.option("--archives", default=50, show_default=True, help="How many demo archives.")
@with_appcontext
def demo_command(archives: int):
    """Load demo users (password from PORTAL_DEMO_PASSWORD) and demo archives."""
    from portal.demo import load_demo

    summary = load_demo(archives=archives, password=current_app.config["DEMO_PASSWORD"])
    click.echo(summary)


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's development server with reloader instead of gunicorn.")
def run_command(host: str, port: int, workers: int, dev: bool):
    """Serve the portal (gunicorn with threads; --dev for the development server)."""
    if dev:
        _create_app().run(host=host, port=port, debug=True)
        return
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--threads", "4", "--access-logfile", "-",
            "--no-control-socket",  # gunicorn 27 shares one control socket between instances
            "portal.wsgi:app"]
    click.echo(f"Serving on http://{host}:{port}/")
    os.execv(sys.executable, argv)


@click.group("user")
def user_group():
    """Manage user accounts."""


@user_group.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(roles.ROLES), default=roles.STAFF, show_default=True)
@click.option("--clearance", type=click.IntRange(1, 3), default=2, show_default=True,
              help="1 = 一级 secret, 2 = 二级 internal, 3 = 三级 public")
@click.option("--department", "department_code", default=None, help="Department code, e.g. SAL.")
@click.option("--name", "display_name", default="")
@with_appcontext
def user_create(username, password, role, clearance, department_code, display_name):
    """Create a user account."""
    from portal.auth import services
    from portal.errors import PortalError
    from portal.seed import department

    dept = department(department_code) if department_code else None
    if department_code and dept is None:
        raise click.BadParameter(f"no department with code {department_code}")
    try:
        services.create_user(cli_actor(), username=username, password=password, role=role,
                             clearance=clearance, department_id=dept.id if dept else None,
                             display_name=display_name)
    except PortalError as exc:
        raise click.ClickException(str(exc.message)) from exc
    click.echo(f"User {username} created.")


@click.group("token")
def token_group():
    """API tokens."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True)
@click.option("--days", default=None, type=int, help="Validity in days (default from configuration).")
@with_appcontext
def token_create(username, name, days):
    """Create an API token for USERNAME and print it (shown only once)."""
    from portal.auth import services
    from portal.auth.models import User
    from portal.extensions import db

    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username}")
    click.echo(services.create_token(cli_actor(), user, name=name, days=days))


@click.group("register")
def register_group():
    """The access register."""


@register_group.command("verify")
@with_appcontext
def register_verify():
    """Re-check the hash chain; exit status 1 and the first broken entry if altered."""
    from portal.register.services import verify

    result = verify()
    if result.ok:
        click.echo(f"OK: {result.checked} entries, chain intact.")
        return
    click.echo(f"BROKEN at entry {result.first_bad_seq}: {result.problem} "
               f"({result.checked} entries before it are intact).", err=True)
    sys.exit(1)
