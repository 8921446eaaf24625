"""WTForms built from the profile description (``profile.py``, ``subrecords.py``).

The same forms validate the web pages and the JSON API (``meta={"csrf": False}`` there).
"""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.admin.models import CustomerType
from portal.archives.models import ACTIVE, IMPORTANCE_LEVELS, POTENTIAL, TERMINATED
from portal.archives.profile import Field
from portal.auth import roles
from portal.auth.models import User
from portal.extensions import db

# Fixed choice lists: stored value → label.
FIXED_CHOICES: dict[str, list[tuple[str, object]]] = {
    "gender": [("", _l("—")), ("male", _l("Male")), ("female", _l("Female")), ("other", _l("Other"))],
    "stage": [(POTENTIAL, _l("Potential")), (ACTIVE, _l("Active")), (TERMINATED, _l("Terminated"))],
    "importance": [("A", _l("A · key")), ("B", _l("B · important")), ("C", _l("C · normal")),
                   ("D", _l("D · minor"))],
    "credit": [("", _l("—")), ("AAA", "AAA"), ("AA", "AA"), ("A", "A"), ("B", "B"), ("C", "C")],
    "channel": [("", _l("—")), ("phone", _l("Phone")), ("email", _l("E-mail")), ("wechat", _l("WeChat")),
                ("whatsapp", "WhatsApp"), ("video", _l("Video call")), ("meeting", _l("Meeting")),
                ("letter", _l("Letter")), ("fax", _l("Fax")), ("other", _l("Other"))],
    "feedback_kind": [("feedback", _l("Feedback")), ("complaint", _l("Complaint"))],
    "satisfaction": [("", _l("—"))] + [(str(i), str(i)) for i in range(1, 6)],
    "kind": [("organisation", _l("Organisation")), ("individual", _l("Individual"))],
}
INT_CHOICES = {"customer_type", "department", "responsible", "sensitivity", "satisfaction"}
assert set(IMPORTANCE_LEVELS) == {v for v, _ in FIXED_CHOICES["importance"]}


def choice_label(list_name: str, value) -> str:
    """Label of a stored value of a fixed choice list (the value itself if unknown)."""
    for v, label in FIXED_CHOICES.get(list_name, []):
        if v == ("" if value is None else str(value)):
            return str(label)
    return "" if value is None else str(value)


def dynamic_choices(user: User, department_id: int | None = None,
                    current: dict | None = None) -> dict[str, list[tuple]]:
    """Choice lists that depend on the database and on who is filling in the form."""
    current = current or {}
    types = db.session.scalars(sa.select(CustomerType).order_by(CustomerType.sort_order, CustomerType.id))
    dept_id = department_id or user.department_id
    staff = db.session.scalars(
        sa.select(User).where(User.department_id == dept_id, User.active.is_(True),
                              User.role.in_((roles.STAFF, roles.DEPT_HEAD))).order_by(User.display_name))
    dept = user.department
    return {
        "customer_type": [(t.id, t.name) for t in types if t.active or t.id == current.get("customer_type_id")],
        "department": [(dept.id, dept.name)] if dept else [],
        "responsible": [("", _l("—"))] + [(u.id, u.display_name) for u in staff],
        "sensitivity": [(lvl, roles.LEVEL_LABELS[lvl]) for lvl in roles.LEVELS if lvl >= user.clearance],
    }


def _coerce_int(value):
    if value in (None, ""):
        return None
    return int(value)


def _wtf_field(f: Field, choices: dict[str, list[tuple]]):
    validators = [InputRequired() if f.type == "choice" else DataRequired()] if f.required else [Optional()]
    if f.max_length:
        validators.append(Length(max=f.max_length))
    if f.type == "text":
        return TextAreaField(f.label, validators=validators + [Length(max=20000)])
    if f.type == "date":
        return DateField(f.label, validators=validators)
    if f.type == "decimal":
        return DecimalField(f.label, places=2, validators=validators + [
            NumberRange(min=Decimal("-1e12"), max=Decimal("1e12"))])
    if f.type == "choice":
        options = choices.get(f.choices) or FIXED_CHOICES.get(f.choices, [])
        coerce = _coerce_int if f.choices in INT_CHOICES else str
        return SelectField(f.label, choices=options, coerce=coerce, validators=validators,
                           validate_choice=True)
    return StringField(f.label, validators=validators, filters=[lambda v: v.strip() if isinstance(v, str) else v])


def build_form(fields: list[Field], choices: dict[str, list[tuple]], *, with_version: bool = False,
               **form_kwargs) -> FlaskForm:
    """A form instance with one input per field (request data bound by Flask-WTF as usual)."""

    class _Form(FlaskForm):
        pass

    for f in fields:
        setattr(_Form, f.name, _wtf_field(f, choices))
    if with_version:
        _Form.version = HiddenField()
    return _Form(**form_kwargs)


def cleaned(form, fields: list[Field]) -> dict:
    """Form values ready for the model: '' for empty text, None for empty dates and numbers."""
    data = {}
    for f in fields:
        value = form[f.name].data
        if f.type in ("str", "text") or (f.type == "choice" and f.choices not in INT_CHOICES):
            value = value or ""
        data[f.name] = value
    return data


def error_list(form) -> dict[str, list[str]]:
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}
