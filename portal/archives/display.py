"""How archive and sub-record values appear on pages: choice labels, dates, masking 脱敏.

Templates get ``display(obj, field)`` (see ``views.py``); it returns a ``Shown`` that says whether
the value was masked, so the page can style it (``.masked``) and forms can keep it out of inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from portal.archives import forms, masking
from portal.archives.labels import KIND_LABELS, STATUS_LABELS
from portal.archives.profile import Field
from portal.auth import roles
from portal.auth.models import User


@dataclass(frozen=True)
class Shown:
    text: str
    masked: bool = False

    def __bool__(self) -> bool:
        return bool(self.text)

    def __str__(self) -> str:
        return self.text


def may_see_unmasked(user: User | None, field_name: str) -> bool:
    """Whether ``user`` sees the personal field ``field_name`` in full."""
    return masking.may_see(user, masking.FIELD_KINDS.get(field_name, field_name))


def masked_fields(user: User | None, obj, fields) -> set[str]:
    """Personal fields of ``obj`` that hold a value ``user`` may only see masked.

    Edit forms must not carry these values (the HTML would reveal them); they show the masked
    form as a placeholder and keep the stored value when the input is left empty.
    """
    return {f.name for f in fields
            if f.personal and getattr(obj, f.name, None) and not may_see_unmasked(user, f.name)}


def _choice_text(obj, f: Field, value) -> str:
    if f.choices == "customer_type":
        return obj.customer_type.name if getattr(obj, "customer_type", None) else str(value)
    if f.choices == "department":
        return obj.department.name if getattr(obj, "department", None) else str(value)
    if f.choices == "responsible":
        return obj.responsible.display_name if getattr(obj, "responsible", None) else str(value)
    if f.choices == "sensitivity":
        return str(roles.LEVEL_LABELS.get(value, value))
    return forms.choice_label(f.choices, value)


def format_decimal(value: Decimal) -> str:
    """``12.50`` stays ``12.50``; ``3.00`` becomes ``3`` (quantities read better without .00)."""
    return f"{value:,.2f}".removesuffix(".00")


def display(user: User | None, obj, f: Field) -> Shown:
    """The value of field ``f`` of ``obj`` as ``user`` may see it, ready for the page."""
    value = getattr(obj, f.name, None)
    if value is None or value == "":
        return Shown("")
    if f.personal:
        text = masking.shown(user, value, f.name)
        return Shown(text, masked=text != str(value))
    if f.type == "choice":
        return Shown(_choice_text(obj, f, value))
    if isinstance(value, date):
        return Shown(value.isoformat())
    if isinstance(value, Decimal):
        return Shown(format_decimal(value))
    return Shown(str(value))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def level_label(level: int) -> str:
    return str(roles.LEVEL_LABELS.get(level, level))
