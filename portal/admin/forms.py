"""Forms of the administration pages (Flask-WTF: CSRF token in every form)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from portal.auth import roles
from portal.auth.passwords import MIN_LENGTH


def role_choices():
    return [(role, str(label)) for role, label in roles.ROLE_LABELS.items()]


def level_choices():
    return [(level, str(label)) for level, label in roles.LEVEL_LABELS.items()]


def department_choices(departments, keep=None):
    """Active departments, plus the current (possibly deactivated) one so an edit can keep it."""
    choices = [(0, str(_l("— none —")))]
    seen = set()
    for dept in departments:
        choices.append((dept.id, dept.name))
        seen.add(dept.id)
    if keep is not None and keep.id not in seen:
        choices.append((keep.id, str(_l("%(name)s (deactivated)", name=keep.name))))
    return choices


class UserFilterForm(FlaskForm):
    """Filters of the user list (GET, no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    role = SelectField(_l("Role"), validators=[Optional()])
    department = SelectField(_l("Department"), coerce=int, default=0, validators=[Optional()])
    active = SelectField(_l("Status"), validators=[Optional()], choices=[
        ("", _l("All")), ("1", _l("Enabled")), ("0", _l("Deactivated"))])


class _UserFields(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=80)])
    role = SelectField(_l("Role"), validators=[InputRequired()])
    clearance = SelectField(_l("Clearance"), coerce=int, default=roles.INTERNAL, validators=[InputRequired()])
    department_id = SelectField(_l("Department"), coerce=int, validators=[Optional()])

    def fill_choices(self, departments, keep=None):
        self.role.choices = role_choices()
        self.clearance.choices = level_choices()
        self.department_id.choices = department_choices(departments, keep)


class UserCreateForm(_UserFields):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(min=MIN_LENGTH, max=256)])
    password_again = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class UserEditForm(_UserFields):
    active = BooleanField(_l("Account active (may log in)"))


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_LENGTH, max=256)])
    password_again = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])


class CustomerTypeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    code = StringField(_l("Code in archive numbers"), validators=[DataRequired(), Length(max=20)])
    sort_order = IntegerField(_l("Order"), default=0, validators=[
        InputRequired(message=_l("Enter a whole number.")), NumberRange(min=0, max=9999)])
    active = BooleanField(_l("Offered for new archives"), default=True)


class DocumentTypesForm(FlaskForm):
    types = TextAreaField(_l("Document types, one per line"), validators=[Length(max=4000)])


class NumberingForm(FlaskForm):
    number_template = StringField(_l("Number template"), validators=[DataRequired(), Length(max=120)])
    number_prefix = StringField(_l("Prefix"), validators=[DataRequired(), Length(max=40)])
