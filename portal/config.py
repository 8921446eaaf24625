"""Configuration: built-in defaults, then the instance file, then ``PORTAL_*`` environment."""
from __future__ import annotations

import json
import os
from datetime import timedelta

DEFAULTS: dict[str, object] = {
    "SECRET_KEY": None,  # generated into the instance folder on first start when unset
    "SQLALCHEMY_DATABASE_URI": None,  # SQLite in the instance folder when unset
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh_CN", "en"],
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "portal_session",
    # Inactivity timeout: the signed cookie is refused by the server once it is older than this.
    "PERMANENT_SESSION_LIFETIME": timedelta(minutes=30),
    "SESSION_REFRESH_EACH_REQUEST": True,
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    # Failed logins: after LOGIN_SLOWDOWN_AFTER failures each try must wait an increasing delay,
    # after LOGIN_LOCK_AFTER failures the account is locked for LOGIN_LOCK_MINUTES.
    "LOGIN_SLOWDOWN_AFTER": 3,
    "LOGIN_LOCK_AFTER": 6,
    "LOGIN_LOCK_MINUTES": 15,
    "PAGE_SIZE": 20,
    # Which clearance (1 = 一级 secret … 3 = 三级 public) a viewer needs to see a personal field
    # unmasked (脱敏 otherwise), policy 001 §4.
    "FIELD_CLEARANCE": {
        "id_number": 1,
        "bank_account": 1,
        "phone": 2,
        "email": 2,
        "address": 2,
    },
    "DEMO_PASSWORD": "demo12345",
    "API_TOKEN_DAYS": 365,
}

# Environment variables read as PORTAL_<NAME>; the value is JSON when it parses as JSON.
ENV_NAMES = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "SESSION_MINUTES": "PERMANENT_SESSION_LIFETIME",
    "MAX_UPLOAD_BYTES": "MAX_CONTENT_LENGTH",
    "LOGIN_SLOWDOWN_AFTER": "LOGIN_SLOWDOWN_AFTER",
    "LOGIN_LOCK_AFTER": "LOGIN_LOCK_AFTER",
    "LOGIN_LOCK_MINUTES": "LOGIN_LOCK_MINUTES",
    "PAGE_SIZE": "PAGE_SIZE",
    "FIELD_CLEARANCE": "FIELD_CLEARANCE",
    "DEMO_PASSWORD": "DEMO_PASSWORD",
    "SESSION_COOKIE_SECURE": "SESSION_COOKIE_SECURE",
}


def from_environment(environ: os._Environ | dict | None = None) -> dict[str, object]:
    """Read the ``PORTAL_*`` variables that are set into config keys."""
    environ = os.environ if environ is None else environ
    found: dict[str, object] = {}
    for env_name, key in ENV_NAMES.items():
        raw = environ.get(f"PORTAL_{env_name}")
        if raw is None or raw == "":
            continue
        value: object = raw
        try:
            value = json.loads(raw)
        except ValueError:
            pass
        if key == "PERMANENT_SESSION_LIFETIME":
            value = timedelta(minutes=float(raw))
        elif key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "DEMO_PASSWORD"):
            value = raw
        found[key] = value
    return found
