"""Masking 脱敏 of personal data for viewers without the clearance a field needs (001 §4)."""
from __future__ import annotations

from flask import current_app

from portal.auth.models import User

# Which masking rule each personal field follows; the clearance it needs is configuration.
FIELD_KINDS = {
    "id_number": "id_number",
    "bank_account": "bank_account",
    "phone": "phone",
    "email": "email",
    "address": "address",
    "address_overseas": "address",
}


def mask(value: str | None, kind: str) -> str:
    """Masked form of ``value``: ``13812341234`` → ``138****1234``, ``li@x.cn`` → ``l*@x.cn``."""
    if not value:
        return ""
    v = str(value)
    if kind == "email" and "@" in v:
        local, _, domain = v.partition("@")
        return (local[:1] + "*" * max(len(local) - 1, 1)) + "@" + domain
    if kind == "address":
        keep = min(6, max(len(v) // 3, 1))
        return v[:keep] + "****"
    if kind == "id_number":
        return v[:3] + "*" * max(len(v) - 7, 4) + v[-4:] if len(v) > 7 else "*" * len(v)
    if kind == "bank_account":
        return "*" * max(len(v) - 4, 4) + v[-4:] if len(v) > 4 else "*" * len(v)
    # phone and anything else: keep the first three and last four
    digits = v.replace(" ", "")
    if len(digits) > 7:
        return digits[:3] + "****" + digits[-4:]
    return digits[:1] + "*" * max(len(digits) - 1, 1)


def may_see(user: User | None, kind: str) -> bool:
    """Whether the viewer's clearance lets them see fields of ``kind`` unmasked."""
    if user is None or not user.is_authenticated:
        return False
    needed = current_app.config["FIELD_CLEARANCE"].get(kind, 1)
    return user.clearance <= needed


def shown(user: User | None, value: str | None, field: str) -> str:
    """The value as ``user`` may see it: whole, or masked."""
    kind = FIELD_KINDS.get(field, field)
    if may_see(user, kind):
        return value or ""
    return mask(value, kind)
