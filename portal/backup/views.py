"""Pages of backup: the backup register 备份登记 (list, print, PDF, Excel)."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, render_template, request

from portal import printing
from portal.backup import register
from portal.backup.models import KIND_LABELS, RESULT_LABELS
from portal.dbsetup import writes
from portal.templating import local_time
from portal.web import actor, int_arg, page_or_fragment

bp = Blueprint("backup", __name__, url_prefix="/backups")


def _context(f, errors) -> dict:
    return {"filter": f, "filter_args": f.args(), "errors": errors,
            "kind_choices": [(k, str(v)) for k, v in KIND_LABELS.items()],
            "result_choices": [(k, str(v)) for k, v in RESULT_LABELS.items()],
            "megabytes": register.megabytes, "location_name": register.location_name}


@bp.route("/")
@writes  # a refusal is registered
def index():
    """The backup register: every backup, verification and restore, newest first."""
    f, errors = register.parse_filter(request.args)
    page = register.browse(actor(), f, page=int_arg("page", 1) or 1)
    return page_or_fragment("backup/index.html", {"backup-results": "backup/_results.html"},
                            result=page, backup_state=register.status(), **_context(f, errors))


@bp.route("/print")
@writes
def print_view():
    """The register on A4 (landscape) with signature lines; ?format=pdf / ?format=xlsx."""
    me = actor()
    f, errors = register.parse_filter(request.args)
    fmt = "pdf" if printing.wants("pdf") else "xlsx" if printing.wants("xlsx") else "print"
    runs, total = register.for_print(me, f, fmt)
    if fmt == "xlsx":
        return printing.xlsx_response(register.to_xlsx(runs, f, me.user, total, local_time), "backup-register")
    context = dict(runs=runs, total=total, filter_text=register.describe(f), backup_state=register.status(),
                   printed_at=local_time(datetime.now(UTC).replace(tzinfo=None)), **_context(f, errors))
    if fmt == "pdf":
        return printing.pdf_response("backup/print.html", "backup-register", **context)
    return render_template("backup/print.html", **context)


@bp.record_once
def _template_helpers(state) -> None:
    from flask_login import current_user

    state.app.jinja_env.globals.update(reads_backup_register=lambda: register.can_read(current_user))
