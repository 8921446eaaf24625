"""Error pages: domain errors and HTTP errors as Chinese pages, JSON under /api."""
from __future__ import annotations

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.errors import PortalError
from portal.web import htmx_target

TITLES = {
    400: _l("Bad request"),
    401: _l("Not logged in"),
    403: _l("Access refused"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Too large"),
    422: _l("Invalid input"),
    428: _l("Purpose required"),
    429: _l("Too many requests"),
    500: _l("Server error"),
    503: _l("Temporarily unavailable"),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, message: str):
    if _wants_json():
        return jsonify(error=message, status=status), status
    title = str(TITLES.get(status, _("Error")))
    template = "errors/_message.html" if htmx_target() else "errors/error.html"
    response = render_template(template, status=status, title=title, message=message), status
    return response


def register_error_handlers(app) -> None:
    @app.errorhandler(PortalError)
    def _portal_error(exc: PortalError):
        return render_error(exc.status, str(exc.message))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return render_error(400, _("The form expired or was not sent from this portal. Reload the "
                                   "page and submit again; nothing was saved."))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        messages = {
            404: _("The page or record does not exist."),
            405: _("This address does not accept that kind of request."),
            413: _("The upload is larger than the portal accepts.") + " " + _(
                "At most %(file)s MB per file and %(request)s MB per upload; nothing was saved. Upload "
                "fewer or smaller files at a time.",
                file=current_app.config["DOCUMENT_MAX_BYTES"] // 1048576,
                request=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // 1048576),
        }
        return render_error(exc.code or 500, messages.get(exc.code, exc.description or ""))

    if app.testing:
        return  # let tests see the real traceback

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        from portal.extensions import db
        db.session.rollback()
        return render_error(500, _("Something went wrong on the server. Nothing was saved; the "
                                   "administrator can find the details in the log."))
