"""System administration pages 系统管理 under ``/admin``: only the role ``admin`` gets in.

Views parse forms, call ``portal.admin.services`` and redirect (Post/Redirect/Get) or render a page;
htmx requests for a list or the number preview get just that fragment.
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, render_template, request
from flask_babel import gettext as _
from flask_login import login_user

from portal.admin import services
from portal.admin.forms import (
    CustomerTypeForm,
    DepartmentForm,
    DocumentTypesForm,
    NumberingForm,
    PasswordResetForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
    role_choices,
)
from portal.admin.models import get_setting
from portal.auth import services as auth_services
from portal.errors import ValidationFailed
from portal.web import actor, htmx_target, page_or_fragment, see_other

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    """Refuse (403 page + ``access_denied`` register entry) anyone who is not a system administrator."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        services.check_admin(actor(), f"{request.method} {request.path}")
        return view(*args, **kwargs)

    return wrapped


def _show_error(form, exc: ValidationFailed, errors: list[str]) -> None:
    """Put a service's refusal next to the field it concerns, else above the form."""
    field = form._fields.get(exc.detail.get("field") or "")
    if field is not None:
        field.errors = [*field.errors, str(exc.message)]
    else:
        errors.append(str(exc.message))


def _found(obj):
    if obj is None:
        abort(404)
    return obj


# --- overview ---------------------------------------------------------------------------------

@bp.route("/")
@admin_required
def index():
    return render_template("admin/index.html", overview=services.overview())


# --- users ------------------------------------------------------------------------------------

def _user_filter(formdata) -> UserFilterForm:
    form = UserFilterForm(formdata)
    form.role.choices = [("", _("All"))] + role_choices()
    form.department.choices = [(0, _("All"))] + [(d.id, d.name) for d in services.all_departments()]
    return form


@bp.route("/users")
@admin_required
def users():
    form = _user_filter(request.args)
    if not form.validate():  # unknown values in the address: show everyone
        form = _user_filter(None)
    rows = services.list_users(services.UserFilter(
        role=form.role.data or "", department_id=form.department.data or None,
        active=form.active.data or ""))
    locked = {u.id for u in rows if auth_services.is_locked(u.username)}
    return page_or_fragment("admin/users.html", {"user-rows": "admin/_user_rows.html"},
                            form=form, users=rows, locked=locked)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_create():
    form = UserCreateForm()
    form.fill_choices(services.active_departments())
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            new = services.create_user(
                actor(), username=form.username.data, display_name=form.display_name.data,
                role=form.role.data, clearance=form.clearance.data,
                department_id=form.department_id.data or None, password=form.password.data)
        except ValidationFailed as exc:
            _show_error(form, exc, errors)
        else:
            flash(_("User %(name)s created. They can log in now with the initial password.",
                    name=new.username), "success")
            return see_other("admin.user_edit", user_id=new.id)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form, errors=errors), status


def _user_page(user, form=None, password_form=None, errors=(), password_errors=(), status=200):
    if form is None:
        form = UserEditForm(obj=user, formdata=None)
        form.department_id.data = user.department_id or 0
        form.fill_choices(services.active_departments(), user.department)
    return render_template("admin/user_edit.html", user=user, form=form,
                           password_form=password_form or PasswordResetForm(formdata=None),
                           locked=auth_services.is_locked(user.username),
                           errors=list(errors), password_errors=list(password_errors)), status


def _keep_own_session(user) -> None:
    """A change that ended the user's sessions must not log out the administrator making it."""
    me = actor().user
    if me is not None and me.id == user.id:
        login_user(user)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int):
    user = _found(services.get_user(user_id))
    if request.method == "GET":
        return _user_page(user)
    form = UserEditForm()
    form.fill_choices(services.active_departments(), user.department)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            changes = services.update_user(
                actor(), user, display_name=form.display_name.data, role=form.role.data,
                clearance=form.clearance.data, department_id=form.department_id.data or None,
                active=form.active.data)
        except ValidationFailed as exc:
            _show_error(form, exc, errors)
        else:
            if not changes:
                flash(_("Nothing was changed."), "info")
            elif services.SESSIONS_ENDED in changes:
                _keep_own_session(user)
                flash(_("Changes saved. %(name)s has to log in again for them to take effect.",
                        name=user.display_name), "success")
            else:
                flash(_("Changes saved."), "success")
            return see_other("admin.user_edit", user_id=user.id)
    return _user_page(user, form=form, errors=errors, status=422)


@bp.post("/users/<int:user_id>/password")
@admin_required
def user_password(user_id: int):
    user = _found(services.get_user(user_id))
    form = PasswordResetForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.reset_password(actor(), user, form.password.data)
        except ValidationFailed as exc:
            _show_error(form, exc, errors)
        else:
            _keep_own_session(user)
            flash(_("New password set for %(name)s. Tell them in person; their open sessions have "
                    "ended.", name=user.display_name), "success")
            return see_other("admin.user_edit", user_id=user.id)
    return _user_page(user, password_form=form, password_errors=errors, status=422)


@bp.post("/users/<int:user_id>/unlock")
@admin_required
def user_unlock(user_id: int):
    user = _found(services.get_user(user_id))
    if services.unlock_user(actor(), user):
        flash(_("%(name)s is unlocked and can log in again.", name=user.display_name), "success")
    else:
        flash(_("%(name)s was not locked.", name=user.display_name), "info")
    return see_other("admin.user_edit", user_id=user.id)


# --- departments ------------------------------------------------------------------------------

def _departments_page(form=None, errors=(), status=200):
    return page_or_fragment("admin/departments.html", {"dept-list": "admin/_departments_table.html"},
                            status=status, departments=services.list_departments(),
                            form=form or DepartmentForm(formdata=None), errors=list(errors),
                            fragment=htmx_target() == "dept-list")


@bp.route("/departments")
@admin_required
def departments():
    return _departments_page()


@bp.post("/departments/new")
@admin_required
def department_create():
    form = DepartmentForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            dept = services.save_department(actor(), None, name=form.name.data, code=form.code.data)
        except ValidationFailed as exc:
            _show_error(form, exc, errors)
        else:
            flash(_("Department %(name)s created.", name=dept.name), "success")
            return see_other("admin.departments")
    return _departments_page(form, errors, status=422)


@bp.route("/departments/<int:dept_id>", methods=["GET", "POST"])
@admin_required
def department_edit(dept_id: int):
    dept = _found(services.get_department(dept_id))
    form = DepartmentForm(obj=dept)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.save_department(actor(), dept, name=form.name.data, code=form.code.data)
        except ValidationFailed as exc:
            _show_error(form, exc, errors)
        else:
            flash(_("Department saved."), "success")
            return see_other("admin.departments")
    status = 422 if request.method == "POST" else 200
    return render_template("admin/department_edit.html", dept=dept, form=form, errors=errors), status


@bp.post("/departments/<int:dept_id>/active")
@admin_required
def department_active(dept_id: int):
    dept = _found(services.get_department(dept_id))
    want = request.form.get("active") == "1"
    try:
        if services.set_department_active(actor(), dept, want):
            flash(_("%(name)s activated.", name=dept.name) if want else
                  _("%(name)s deactivated.", name=dept.name), "success")
    except ValidationFailed as exc:
        flash(str(exc.message), "error")
    if htmx_target() == "dept-list":
        return _departments_page()
    return see_other("admin.departments")


# --- customer types 客户类型 --------------------------------------------------------------------

def _types_page(form=None, errors=(), status=200):
    if form is None:
        form = CustomerTypeForm(formdata=None)
        form.sort_order.data = (max((t.sort_order for t in services.list_customer_types()), default=-1) + 1)
    return page_or_fragment("admin/customer_types.html", {"type-list": "admin/_customer_types_table.html"},
                            status=status, types=services.list_customer_types(), form=form,
                            errors=list(errors),
                            fragment=htmx_target() == "type-list")


@bp.route("/customer-types")
@admin_required
def customer_types():
    return _types_page()


@bp.post("/customer-types/new")
@admin_required
def customer_type_create():
    form = CustomerTypeForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            ctype = services.save_customer_type(actor(), None, name=form.name.data, code=form.code.data,
                                                sort_order=form.sort_order.data, active=form.active.data)
        except ValidationFailed as exc:
            _show_error(form, exc, errors)
        else:
            flash(_("Customer type %(name)s created.", name=ctype.name), "success")
            return see_other("admin.customer_types")
    return _types_page(form, errors, status=422)


@bp.route("/customer-types/<int:type_id>", methods=["GET", "POST"])
@admin_required
def customer_type_edit(type_id: int):
    ctype = _found(services.get_customer_type(type_id))
    form = CustomerTypeForm(obj=ctype)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.save_customer_type(actor(), ctype, name=form.name.data, code=form.code.data,
                                        sort_order=form.sort_order.data, active=form.active.data)
        except ValidationFailed as exc:
            _show_error(form, exc, errors)
        else:
            flash(_("Customer type saved."), "success")
            return see_other("admin.customer_types")
    status = 422 if request.method == "POST" else 200
    return render_template("admin/customer_type_edit.html", ctype=ctype, form=form, errors=errors,
                           example=services.next_number(get_setting("number_template"),
                                                        get_setting("number_prefix"), ctype.code)), status


@bp.post("/customer-types/<int:type_id>/active")
@admin_required
def customer_type_active(type_id: int):
    ctype = _found(services.get_customer_type(type_id))
    want = request.form.get("active") == "1"
    try:
        if services.set_customer_type_active(actor(), ctype, want):
            flash(_("%(name)s is offered for new archives again.", name=ctype.name) if want else
                  _("%(name)s is no longer offered for new archives; existing archives keep it.",
                    name=ctype.name), "success")
    except ValidationFailed as exc:
        flash(str(exc.message), "error")
    if htmx_target() == "type-list":
        return _types_page()
    return see_other("admin.customer_types")


# --- archive-number rule 档案编号规则 -----------------------------------------------------------

def _preview(template: str, prefix: str) -> dict:
    """Context for the preview fragment: the next numbers, or why the template is refused."""
    try:
        template, prefix = services.validate_numbering(template, prefix)
    except ValidationFailed as exc:
        return {"preview": [], "preview_error": str(exc.message)}
    return {"preview": services.preview_numbers(template, prefix), "preview_error": ""}


def _numbering_page(form, status=200, errors=(), **preview):
    return page_or_fragment("admin/numbering.html", {"number-preview": "admin/_number_preview.html"},
                            status=status, form=form, errors=list(errors), year=services.current_year(),
                            defaults=services.numbering_defaults(), **preview)


@bp.route("/numbering", methods=["GET", "POST"])
@admin_required
def numbering():
    if request.method == "GET":
        form = NumberingForm(formdata=None, number_template=get_setting("number_template"),
                             number_prefix=get_setting("number_prefix"))
        return _numbering_page(form, **_preview(form.number_template.data, form.number_prefix.data))
    form = NumberingForm()
    preview = _preview(form.number_template.data, form.number_prefix.data)
    if not form.validate_on_submit():
        return _numbering_page(form, 422, **preview)
    if request.form.get("action") == "preview":  # the no-JavaScript preview: show, do not save
        return _numbering_page(form, 200, **preview)
    try:
        changes = services.save_numbering(actor(), template=form.number_template.data,
                                          prefix=form.number_prefix.data)
    except ValidationFailed as exc:
        errors: list[str] = []
        _show_error(form, exc, errors)
        return _numbering_page(form, 422, errors=errors, **preview)
    flash(_("Archive-number rule saved. Archives filed from now on get numbers like %(example)s.",
            example=preview["preview"][0][1]) if changes and preview["preview"] else
          _("Archive-number rule saved.") if changes else _("Nothing was changed."),
          "success" if changes else "info")
    return see_other("admin.numbering")


@bp.route("/numbering/preview")
@admin_required
def numbering_preview():
    """Live preview for htmx (the fragment); without JavaScript the whole page with these values."""
    form = NumberingForm(request.args, meta={"csrf": False})
    return _numbering_page(form, **_preview(form.number_template.data or "", form.number_prefix.data or ""))


# --- document types ---------------------------------------------------------------------------

@bp.route("/document-types", methods=["GET", "POST"])
@admin_required
def document_types():
    from portal.documents.services import document_types as current_types

    errors: list[str] = []
    if request.method == "GET":
        form = DocumentTypesForm(formdata=None, types="\n".join(current_types()))
        status = 200
    else:
        form = DocumentTypesForm()
        status = 422
        if form.validate_on_submit():
            try:
                changed = services.save_document_types(actor(), form.types.data)
            except ValidationFailed as exc:
                _show_error(form, exc, errors)
            else:
                flash(_("Document types saved.") if changed else _("Nothing was changed."),
                      "success" if changed else "info")
                return see_other("admin.document_types")
    return render_template("admin/document_types.html", form=form, errors=errors,
                           current=current_types(), usage=services.document_type_usage()), status
