"""Log-in with throttling and lock-out, users and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.actor import Actor
from portal.auth import roles
from portal.auth.models import ApiToken, LoginThrottle, User
from portal.auth.passwords import MIN_LENGTH, check_password, hash_password, needs_rehash
from portal.dbsetup import begin_write
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.services import record


@dataclass
class LoginOutcome:
    user: User | None
    message: object = None  # user-facing reason when refused
    retry_after: int = 0  # seconds the user must wait before the next try
    blocked: bool = False  # refused without checking the password (locked, or too fast)


def _throttle_delay(failures: int) -> int:
    """Seconds to wait after ``failures`` failed tries: none at first, then 2, 4, 8 … (max 60)."""
    slow_after = current_app.config["LOGIN_SLOWDOWN_AFTER"]
    if failures < slow_after:
        return 0
    return min(2 ** (failures - slow_after + 1), 60)


def authenticate(actor: Actor, username: str, password: str, *, purpose: str = "") -> LoginOutcome:
    """Check a log-in attempt; failures slow down, then lock the name; all of it registered.

    ``purpose`` (e.g. "destruction XH-2026-001: witness"): a password confirmed at the moment of an
    action, not a log-in — no session is started and no log-in is registered on success (the
    action registers itself); failures count toward the lock-out and are registered like failed
    log-ins, with the purpose in the detail.
    """
    prefix = f"{purpose}: " if purpose else ""
    begin_write()
    username = (username or "").strip()[:64]
    key = username.lower()
    now = utcnow()
    throttle = db.session.get(LoginThrottle, key)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        wait = int((throttle.locked_until - now).total_seconds()) + 1
        record(actor, actions.LOGIN_FAILED, username=username, result="denied", detail=f"{prefix}locked")
        db.session.commit()
        return LoginOutcome(None, _l("This account is locked after too many failed log-ins. Try again "
                                     "in %(minutes)s minutes or ask the administrator.",
                                     minutes=max(1, wait // 60)), wait, blocked=True)
    if throttle and throttle.last_failure_at:
        wait_until = throttle.last_failure_at + timedelta(seconds=_throttle_delay(throttle.failures))
        if wait_until > now:
            wait = int((wait_until - now).total_seconds()) + 1
            record(actor, actions.LOGIN_FAILED, username=username, result="denied", detail=f"{prefix}too fast")
            db.session.commit()
            return LoginOutcome(None, _l("Too many failed log-ins. Wait %(seconds)s seconds before "
                                         "trying again.", seconds=wait), wait, blocked=True)

    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.username) == key))
    ok = check_password(user.password_hash if user else None, password)
    if ok and user.active:
        if throttle:
            db.session.delete(throttle)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        if not purpose:
            record(Actor(user, actor.client_addr, actor.via), actions.LOGIN)
        db.session.commit()
        return LoginOutcome(user)

    if throttle is None:
        throttle = LoginThrottle(username=key, failures=0)
        db.session.add(throttle)
    throttle.failures += 1
    throttle.last_failure_at = now
    detail = "inactive account" if (ok and user and not user.active) else "wrong password"
    record(actor, actions.LOGIN_FAILED, username=username, result="failed",
           detail=f"{prefix}{detail} ({throttle.failures})")
    if throttle.failures >= current_app.config["LOGIN_LOCK_AFTER"]:
        throttle.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        record(actor, actions.LOGIN_LOCKED, username=username, result="denied",
               detail=f"{current_app.config['LOGIN_LOCK_MINUTES']} min")
    db.session.commit()
    return LoginOutcome(None, _l("Wrong user name or password."), _throttle_delay(throttle.failures))


def logout(actor: Actor) -> None:
    begin_write()
    record(actor, actions.LOGOUT)
    db.session.commit()


def unlock(actor: Actor, username: str) -> bool:
    begin_write()
    throttle = db.session.get(LoginThrottle, username.lower())
    if throttle is None:
        return False
    db.session.delete(throttle)
    record(actor, actions.USER_UNLOCK, username=actor.username, detail=username)
    db.session.commit()
    return True


def is_locked(username: str) -> bool:
    throttle = db.session.get(LoginThrottle, username.lower())
    return bool(throttle and throttle.locked_until and throttle.locked_until > utcnow())


def validate_password(password: str) -> None:
    if len(password or "") < MIN_LENGTH:
        raise ValidationFailed(_l("The password must have at least %(n)s characters.", n=MIN_LENGTH))


def create_user(actor: Actor | None, *, username: str, password: str, display_name: str = "",
                role: str = roles.STAFF, clearance: int = roles.INTERNAL,
                department_id: int | None = None, commit: bool = True) -> User:
    """Create an account; the caller's permission has been checked (admin view or CLI)."""
    begin_write()
    username = username.strip()
    if not username or len(username) > 64:
        raise ValidationFailed(_l("Enter a user name of at most 64 characters."))
    if role not in roles.ROLES:
        raise ValidationFailed(_l("Unknown role."))
    if clearance not in roles.LEVELS:
        raise ValidationFailed(_l("Unknown clearance level."))
    validate_password(password)
    if db.session.scalar(sa.select(User.id).where(sa.func.lower(User.username) == username.lower())):
        raise ValidationFailed(_l("The user name %(name)s is taken.", name=username))
    if role in (roles.STAFF, roles.DEPT_HEAD) and department_id is None:
        raise ValidationFailed(_l("Staff and department heads must belong to a department."))
    user = User(username=username, display_name=display_name or username,
                password_hash=hash_password(password), role=role, clearance=clearance,
                department_id=department_id)
    db.session.add(user)
    db.session.flush()
    record(actor, actions.USER_CREATE, detail=f"{username} ({role}, clearance {clearance})",
           username=actor.username if actor else "")
    if commit:
        db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    validate_password(password)
    user.password_hash = hash_password(password)
    user.session_epoch += 1  # ends the user's other sessions


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_token(actor: Actor | None, user: User, name: str = "", days: int | None = None) -> str:
    """A new bearer token for ``user``; only its hash is kept, the token is shown once."""
    begin_write(user)
    token = "pat_" + secrets.token_urlsafe(32)
    days = days if days is not None else current_app.config["API_TOKEN_DAYS"]
    db.session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), name=name,
                            expires_at=utcnow() + timedelta(days=days)))
    record(actor, actions.TOKEN_CREATE, detail=f"{user.username} {name}".strip(),
           username=actor.username if actor and actor.user else "")
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The active user owning a valid, unexpired, unrevoked token."""
    if not token:
        return None
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    now = utcnow()
    if row is None or row.revoked or (row.expires_at and row.expires_at < now) or not row.user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now  # coarse, to avoid a write per call
    return row.user


def last_seen_ok(last_seen: float | None, now: datetime, lifetime: timedelta) -> bool:
    if last_seen is None:
        return True
    return now.timestamp() - last_seen <= lifetime.total_seconds()
