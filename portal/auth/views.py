"""Log in, log out, language choice."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal.auth import services
from portal.auth.forms import LoginForm
from portal.extensions import db, login_manager
from portal.web import actor

bp = Blueprint("auth", __name__)


@login_manager.unauthorized_handler
def _unauthorized():
    """Send anonymous visitors to the log-in page (htmx: a full-page redirect, not a swap)."""
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    flash(_("Please log in to continue."), "info")
    return redirect(target)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after log-in (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("archives.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        outcome = services.authenticate(actor(), form.username.data, form.password.data)
        if outcome.user is not None:
            session.clear()  # new session id material on log-in (fixation)
            login_user(outcome.user)
            session.permanent = True
            session["_seen"] = time.time()
            if outcome.user.locale:
                session["lang"] = outcome.user.locale
            return redirect(_safe_next(request.args.get("next")) or url_for("archives.index"), 303)
        flash(str(outcome.message), "error")
        status = 429 if outcome.blocked else 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    services.logout(actor())
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"), 303)


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language; remembered on the account when logged in."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    back = _safe_next(request.form.get("next")) or url_for("archives.index")
    return redirect(back, 303)
