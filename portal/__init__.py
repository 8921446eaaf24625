"""Customer Archive Portal 客户档案管理门户."""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from portal import config as config_module
from portal.extensions import babel, csrf, db, htmx, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent
# Endpoints reachable without logging in (everything else requires a session or an API token).
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "auth.set_language", "health.healthz"})


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults → instance ``config.py`` → ``PORTAL_*`` env → ``test_config``."""
    # A test's own instance folder wins over the environment's (``make test`` exports one).
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("PORTAL_INSTANCE_PATH")
    app = Flask(__name__, instance_path=str(Path(instance_path).resolve()) if instance_path else None,
                instance_relative_config=True, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.config.from_mapping(config_module.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config_module.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
        if app.config.get("TESTING") and "SEARCH_WRITER" not in test_config:
            app.config["SEARCH_WRITER"] = "manual"  # search tests ask for "sync"
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'portal.sqlite3'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))

    from portal.i18n import compile_catalogs, select_locale

    compile_catalogs()
    import portal.models  # noqa: F401  (all tables known before the engine and Alembic start)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(
        Path(__file__).parent / "translations"))
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.session_protection = "basic"

    with app.app_context():
        from portal.dbsetup import configure_engine
        configure_engine(db.engine)

    from portal.search import indexing
    indexing.install()
    from portal import jobs
    jobs.install()  # background jobs: dispatched after the commit that enqueued them (issue 4)

    _register_blueprints(app)
    _register_request_hooks(app)

    from portal.web.errors import register_error_handlers
    register_error_handlers(app)
    from portal.templating import register_template_helpers
    register_template_helpers(app)
    from portal.cli import register_cli
    register_cli(app)
    return app


def _instance_secret(instance: Path) -> str:
    """A random secret key kept in the instance folder, made once."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _register_blueprints(app: Flask) -> None:
    import portal.admin.views_calendar  # noqa: F401  (working-day calendar routes on admin_bp, issue 5)
    import portal.housekeeping.views  # noqa: F401  (/admin/housekeeping on admin_bp)
    from portal.admin.views import bp as admin_bp
    from portal.api.views import bp as api_bp
    from portal.archives.views import bp as archives_bp
    from portal.auth.views import bp as auth_bp
    from portal.documents.views import bp as documents_bp
    from portal.health import bp as health_bp
    from portal.register.views import bp as register_bp

    for bp in (auth_bp, archives_bp, documents_bp, register_bp, admin_bp, health_bp):
        app.register_blueprint(bp)
    from portal.search.views import bp as search_bp  # the search page (issue 6)
    app.register_blueprint(search_bp)
    # borrowing 借阅 and notifications 通知 (issue 5)
    from portal.workflows.views_borrowing import bp as borrowing_bp
    from portal.workflows.views_notifications import bp as notifications_bp
    app.register_blueprint(borrowing_bp)
    app.register_blueprint(notifications_bp)
    # query requests 查询申请, change requests 变更申请 and the inbox 待办 (issue 5)
    from portal.workflows.views_inbox import bp as inbox_bp
    from portal.workflows.views_requests import bp as requests_bp
    app.register_blueprint(requests_bp)
    app.register_blueprint(inbox_bp)
    csrf.exempt(api_bp)  # bearer tokens, not cookies: CSRF does not apply
    from portal.intake.views import bp as intake_bp  # scan intake (issue 4)
    app.register_blueprint(intake_bp)
    # retention, destruction, backups, registers, inspections, oversight (issue 7)
    from portal.backup.views import bp as backup_bp
    from portal.destruction.views import bp as destruction_bp
    from portal.inspection.views import bp as inspection_bp
    from portal.oversight.views import bp as oversight_bp
    from portal.reports.views import bp as reports_bp
    from portal.retention.views import bp as retention_bp
    for bp in (retention_bp, destruction_bp, backup_bp, reports_bp, inspection_bp, oversight_bp):
        app.register_blueprint(bp)
    app.register_blueprint(api_bp)


def _register_request_hooks(app: Flask) -> None:
    from portal.auth.models import User
    from portal.web.security import add_security_headers

    @login_manager.user_loader
    def _load_user(session_id: str):
        user_id, _, epoch = session_id.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or str(user.session_epoch) != epoch or not user.active:
            return None
        return user

    @app.before_request
    def _transaction_kind():
        if request.mimetype == "multipart/form-data":
            # Receive an upload's body (spooled to disk by werkzeug) before anything opens a
            # database transaction: a slow 200 MB upload must not hold SQLite's write lock.
            request.files  # noqa: B018
        if db.session().in_transaction():
            db.session.commit()  # each request starts its own transaction (matters in tests)
        # Tests run requests inside one long-lived app context, whose ``g`` would otherwise carry
        # the previous request's user (Flask-Login caches it there) and transaction kind.
        g.pop("_login_user", None)
        g.pop("write_tx", None)
        view = app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, "_writes", False):
            g.write_tx = True
        elif request.blueprint == "api":
            g.write_tx = True  # every API call is registered or touches its token

    @app.before_request
    def _require_login():
        if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint == "api" or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        # Inactivity timeout (the signed cookie also expires after the same lifetime).
        now = time.time()
        last = session.get("_seen")
        lifetime = app.permanent_session_lifetime.total_seconds()
        if last is not None and now - last > lifetime:
            from portal.actor import Actor
            from portal.register import actions
            from portal.register.services import record_now
            g.write_tx = True
            record_now(Actor(current_user._get_current_object(), request.remote_addr or ""),
                       actions.SESSION_EXPIRED)
            logout_user()
            session.clear()
            flash(_l("Your session ended after inactivity. Please log in again."), "warning")
            return redirect(url_for("auth.login", next=request.full_path))
        session["_seen"] = now
        session.permanent = True
        return None

    app.after_request(add_security_headers)
