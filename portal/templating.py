"""Jinja globals and filters shared by all templates."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import request
from flask_babel import get_locale
from flask_login import current_user

from portal.archives import masking
from portal.archives import permissions as perm
from portal.auth import roles

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Stored UTC → Beijing time, as a plain string."""
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(SHANGHAI).strftime(fmt)


def iso_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def register_template_helpers(app) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["iso_date"] = iso_date
    app.jinja_env.globals.update(
        roles=roles,
        perm=perm,
        shown=lambda value, field: masking.shown(current_user, value, field),
        html_lang=lambda: "zh-CN" if str(get_locale()).startswith("zh") else "en",
        current_locale=lambda: str(get_locale()),
    )

    @app.context_processor
    def _nav():
        return {"request_path": request.path}
