"""In-app notifications 通知, and e-mail copies through SMTP when it is configured.

``notify(user, text, url)`` adds a notification to the caller's session: it is saved with the
caller's change when the caller commits, and not at all when the caller rolls back. The e-mail
copy (only when ``PORTAL_SMTP_HOST`` is set and the user has an address) is queued on the
session and sent *after* the commit, never inside the transaction; a failing mail server is
logged and does not break the request.

Users' e-mail addresses: the user's own address entered on the notifications page
(``NotificationAddress``), else ``<username>@<SMTP_DOMAIN>`` when ``PORTAL_SMTP_DOMAIN`` is set.
"""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr

import sqlalchemy as sa
from flask import current_app, has_app_context, url_for
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.auth.models import User
from portal.extensions import db
from portal.models_base import utcnow

log = logging.getLogger(__name__)

_PENDING_KEY = "portal_pending_mail"


class Notification(db.Model):
    """One message for one user; ``read_at`` is set when the user marks it read."""

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_user_unread", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(sa.String(500))
    url: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class NotificationAddress(db.Model):
    """The e-mail address a user wants notification copies sent to (set by the user)."""

    __tablename__ = "notification_address"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class _Mail:
    to: str
    subject: str
    body: str


def notify(user: User, text: str, url: str | None = None) -> Notification:
    """Add a notification for ``user`` to the caller's transaction (the caller commits).

    When SMTP is configured and the user has an address, an e-mail copy is sent after the
    commit succeeds.
    """
    note = Notification(user_id=user.id, text=text[:500], url=(url or None) and url[:500])
    db.session.add(note)
    address = mail_address(user) if smtp_configured() else ""
    if address:
        body = text
        if url:
            body += "\n\n" + _absolute(url)
        session = db.session()
        session.info.setdefault(_PENDING_KEY, []).append(
            _Mail(to=address, subject=_subject(text), body=body))
    return note


def unread_count(user) -> int:
    """How many notifications ``user`` has not marked read (0 for anonymous users)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id))
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def notifications_of(user: User, limit: int = 200) -> list[Notification]:
    """The user's notifications, unread first, newest first."""
    return list(db.session.scalars(
        sa.select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(),
                  Notification.id.desc())
        .limit(limit)))


def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one (or, with ``None``, all) of the user's notifications read; commits.

    Only the user's own notifications are touched: another user's id changes nothing.
    Returns how many were marked.
    """
    stmt = sa.update(Notification).where(Notification.user_id == user.id,
                                         Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = db.session.execute(stmt.values(read_at=utcnow()))
    db.session.commit()
    return result.rowcount or 0


def mail_address(user: User) -> str:
    """The address e-mail copies go to, or "" when the user has none."""
    row = db.session.get(NotificationAddress, user.id)
    if row is not None and row.email:
        return row.email
    domain = current_app.config.get("SMTP_DOMAIN") if has_app_context() else None
    return f"{user.username}@{domain}" if domain else ""


def own_address(user: User) -> str:
    row = db.session.get(NotificationAddress, user.id)
    return row.email if row is not None else ""


def set_address(user: User, email: str) -> str:
    """Set (or with "" clear) the user's own notification address; commits. Raises ValidationFailed."""
    from flask_babel import gettext as _

    from portal.errors import ValidationFailed

    email = (email or "").strip()
    if email and (len(email) > 254 or "@" not in email or " " in email
                  or email.startswith("@") or email.endswith("@")):
        raise ValidationFailed(_("Enter a valid e-mail address, e.g. name@example.com."))
    row = db.session.get(NotificationAddress, user.id)
    if not email:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(NotificationAddress(user_id=user.id, email=email))
    else:
        row.email = email
    db.session.commit()
    return email


def smtp_configured() -> bool:
    return has_app_context() and bool(current_app.config.get("SMTP_HOST"))


def _subject(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    prefix = "[客户档案管理门户] "
    return prefix + (first[:80] + "…" if len(first) > 80 else first)


def _absolute(url: str) -> str:
    if "://" in url:
        return url
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/") if has_app_context() else ""
    return base + url if base else url


def send_mail(mails: list[_Mail]) -> int:
    """Send through the configured SMTP server; logs and swallows failures. Returns how many went."""
    if not mails or not smtp_configured():
        return 0
    cfg = current_app.config
    sender = cfg.get("SMTP_FROM") or "portal@localhost"
    sent = 0
    try:
        with smtplib.SMTP(cfg["SMTP_HOST"], int(cfg.get("SMTP_PORT") or 25),
                          timeout=float(cfg.get("SMTP_TIMEOUT") or 10)) as smtp:
            if cfg.get("SMTP_STARTTLS"):
                smtp.starttls()
            if cfg.get("SMTP_USER"):
                smtp.login(cfg["SMTP_USER"], cfg.get("SMTP_PASSWORD") or "")
            for mail in mails:
                msg = EmailMessage()
                msg["From"] = formataddr(("客户档案管理门户", sender)) if "<" not in sender else sender
                msg["To"] = mail.to
                msg["Subject"] = mail.subject
                msg.set_content(mail.body)
                try:
                    smtp.send_message(msg)
                    sent += 1
                except smtplib.SMTPException as exc:  # one bad recipient must not stop the others
                    log.warning("notification mail to %s refused: %s", mail.to, exc)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("notification mail not sent (%d message(s)): SMTP %s:%s: %s", len(mails) - sent,
                  cfg.get("SMTP_HOST"), cfg.get("SMTP_PORT"), exc)
    return sent


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    mails = session.info.pop(_PENDING_KEY, None)
    if mails:
        try:
            send_mail(mails)
        except Exception:  # noqa: BLE001 — never let mail break a committed request
            log.exception("notification mail failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction: nothing was saved
        session.info.pop(_PENDING_KEY, None)


def notification_url(note: Notification) -> str:
    return note.url or url_for("notifications.index")
