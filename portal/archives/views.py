"""Archive pages: the list with active search, and the archive page (SPEC §1, §4).

Forms (new/edit), workflow actions and sub-records live in ``views_forms``, ``views_workflow``
and ``views_records``; they register their routes on the same blueprint ``archives``.
"""
from __future__ import annotations

from math import ceil

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.admin.models import CustomerType
from portal.archives import display as disp
from portal.archives import forms, profile, services, subrecords
from portal.archives import permissions as perm
from portal.archives.labels import KIND_LABELS, STATUS_LABELS
from portal.archives.models import APPROVED, DESTROYED, DRAFT, REJECTED, SUBMITTED, Archive
from portal.auth import roles
from portal.auth.models import Department, User
from portal.dbsetup import writes
from portal.errors import PortalError
from portal.extensions import db
from portal.web import actor, htmx_target, int_arg, page_or_fragment
from portal.web.errors import render_error

bp = Blueprint("archives", __name__)

# The archive page shows profile sections and sub-record tables in the order of SPEC §1.
PAGE_LAYOUT = (
    ("profile", "basic"), ("records", "contacts"), ("profile", "classification"),
    ("profile", "market"), ("records", "cooperation"), ("records", "transactions"),
    ("profile", "needs"), ("records", "communications"), ("records", "services"),
    ("records", "feedback"), ("profile", "credit"), ("profile", "other"),
    ("records", "anniversaries"), ("profile", "responsibility"), ("profile", "paper"),
)
SECTIONS_BY_KEY = {s.key: s for s in profile.SECTIONS}
SORT_LABELS = (
    ("updated", _l("Recently updated")), ("created", _l("Recently created")), ("name", _l("Name")),
    ("number", _l("Archive number")), ("importance", _l("Importance")),
)


def current() -> User:
    return current_user._get_current_object()


@bp.context_processor
def _helpers():
    """Formatting helpers for the archive templates."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return {
        "display": lambda obj, f: disp.display(user, obj, f),
        "status_label": disp.status_label,
        "kind_label": disp.kind_label,
        "level_label": disp.level_label,
        "choice_label": forms.choice_label,
        "KINDS": subrecords.KINDS,
    }


@bp.errorhandler(PortalError)
def _portal_error(exc: PortalError):
    """Errors as pages; an htmx request that edits part of a page gets the message shown in the
    section's message area (``g.error_target``) instead of a table row turning into a paragraph."""
    body, status = render_error(exc.status, str(exc.message))
    response = make_response(body, status)
    if htmx_target():
        response.headers["HX-Retarget"] = g.get("error_target", "#messages")
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def refuse_unless(allowed: bool, archive: Archive | None, what: str, reason) -> None:
    """Raise (and register) a refusal unless ``allowed``; a viewer who may not even open the
    archive is told that reason rather than the narrower one."""
    if allowed:
        return
    user = current()
    if archive is not None and not perm.can_view(user, archive):
        reason = perm.view_refusal(user, archive)
    raise services.deny(actor(), reason, archive, what)


def refuse_admin() -> None:
    """The system administrator never sees archive pages (separation of duties)."""
    if perm.is_admin(current()):
        # view_refusal answers for the administrator before it looks at the archive.
        raise services.deny(actor(), perm.view_refusal(current(), None), None, request.path)


# --- the list ----------------------------------------------------------------------------

def _filter_from_args() -> services.ArchiveFilter:
    args = request.args
    sort = args.get("sort", "updated")
    return services.ArchiveFilter(
        q=args.get("q", "").strip()[:100],
        customer_type_id=int_arg("customer_type_id"),
        stage=args.get("stage", ""),
        region=args.get("region", "").strip()[:100],
        industry=args.get("industry", "").strip()[:100],
        importance=args.get("importance", ""),
        department_id=int_arg("department_id"),
        responsible_id=int_arg("responsible_id"),
        status=args.get("status", ""),
        kind=args.get("kind", ""),
        sort=sort if sort in services.SORTS else "updated",
        page=int_arg("page", 1) or 1,
        per_page=current_app.config.get("PAGE_SIZE", 20),
    )


def _quick_filters(user: User) -> list[dict]:
    """What waits for this user: reviews for a head, filing for the archivist, corrections for staff."""
    wanted: list[tuple[str, dict]] = []
    if user.role == roles.DEPT_HEAD:
        wanted.append((_("Waiting for my review"), {"status": SUBMITTED}))
        wanted.append((_("Returned for correction"), {"status": REJECTED}))
    elif user.role == roles.ARCHIVIST:
        wanted.append((_("Waiting for filing"), {"status": APPROVED}))
    elif user.role == roles.STAFF:
        wanted.append((_("Returned to me for correction"), {"status": REJECTED, "responsible_id": user.id}))
        wanted.append((_("My drafts"), {"status": DRAFT, "responsible_id": user.id}))
        wanted.append((_("I am responsible for"), {"responsible_id": user.id}))
    if not wanted:
        return []
    # One query counts them all (FILTER clauses), over what the user may see.
    counts = db.session.execute(sa.select(*[
        sa.func.count().filter(sa.and_(*(getattr(Archive, k) == v for k, v in args.items())))
        for _label, args in wanted]).where(perm.visible_clause(user))).one()
    current_args = {k: v for k, v in request.args.items() if v and k not in ("page", "sort")}
    quick = []
    for (label, args), count in zip(wanted, counts, strict=True):
        as_strings = {k: str(v) for k, v in args.items()}
        quick.append({"label": label, "url": url_for("archives.index", **args), "count": count,
                      "active": current_args == as_strings})
    return quick


def _filter_options(user: User) -> dict:
    all_departments = user.role in roles.ALL_DEPARTMENT_ROLES
    staff_q = sa.select(User).where(User.role.in_((roles.STAFF, roles.DEPT_HEAD))).order_by(User.display_name)
    if not all_departments:
        staff_q = staff_q.where(User.department_id == user.department_id)

    return {
        "customer_types": list(db.session.scalars(sa.select(CustomerType).order_by(
            CustomerType.sort_order, CustomerType.id))),
        "departments": list(db.session.scalars(sa.select(Department).where(Department.active.is_(True))
                                               .order_by(Department.id))) if all_departments else [],
        "staff": list(db.session.scalars(staff_q)),
        "stages": forms.FIXED_CHOICES["stage"],
        "importances": forms.FIXED_CHOICES["importance"],
        "statuses": [(k, v) for k, v in STATUS_LABELS.items() if k != DESTROYED],  # tombstones: never listed
        "kinds": list(KIND_LABELS.items()),
        "sorts": SORT_LABELS,
    }


def _row_labels() -> dict:
    """Labels the result rows need, translated once per request rather than once per row."""
    return {
        "stage_labels": {v: str(label) for v, label in forms.FIXED_CHOICES["stage"]},
        "importance_labels": {v: str(label) for v, label in forms.FIXED_CHOICES["importance"]},
        "status_labels": {k: str(v) for k, v in STATUS_LABELS.items()},
        "level_labels": {k: str(v) for k, v in roles.LEVEL_LABELS.items()},
    }


@bp.route("/")
def index():
    """The archive list: filters, sort, pages, and the active search that swaps only the results."""
    user = current()
    if perm.is_admin(user):
        flash(str(perm.view_refusal(user, None)), "info")
        return redirect(url_for("admin.index"), 303)
    f = _filter_from_args()
    items, total = services.list_archives(user, f)
    pages = max(1, ceil(total / f.per_page))
    if f.page > pages:
        f.page = pages
        items, total = services.list_archives(user, f)
    args = {k: v for k, v in request.args.items()
            if v and k != "page" and not (k == "sort" and v == "updated")}

    def page_url(n: int) -> str:
        return url_for("archives.index", **args, page=n) if n > 1 else url_for("archives.index", **args)

    context = {"items": items, "total": total, "f": f, "pages": pages, "page_url": page_url,
               "filtered": bool(args.keys() - {"sort"}), **_row_labels()}
    if htmx_target() != "archive-results":
        context.update(options=_filter_options(user), quick=_quick_filters(user),
                       can_create=perm.can_create(user))
    response = page_or_fragment("archives/index.html", {"archive-results": "archives/_results.html"},
                                **context)
    if htmx_target() == "archive-results":
        # The search form sends every field, empty or not; the address bar gets the short form.
        response.headers["HX-Push-Url"] = page_url(f.page)
    return response


@bp.route("/archives/")
def list_redirect():
    """Old or typed address of the list; the list itself sends the administrator away."""
    return redirect(url_for("archives.index", **request.args), 302)


# --- the archive page --------------------------------------------------------------------

def page_context(archive: Archive) -> dict:
    """Everything the archive page shows (also used when a form on it is re-rendered)."""
    user = current()
    return {
        "archive": archive,
        "layout": PAGE_LAYOUT,
        "sections": SECTIONS_BY_KEY,
        "kinds": subrecords.BY_KEY,
        "records": {k.key: services.records_of(archive, k) for k in subrecords.KINDS},
        "can": {
            "edit": perm.can_edit(user, archive),
            "submit": perm.can_submit(user, archive),
            "withdraw": perm.can_withdraw(user, archive),
            "review": perm.can_review(user, archive),
            "file": perm.can_file(user, archive),
            "delete": perm.can_delete_draft(user, archive),
        },
    }


@bp.route("/archives/<int:archive_id>")
@writes
def show(archive_id: int):
    """The archive page; opening it is recorded in the access register (refusals too)."""
    from portal.destruction.views import tombstone_page  # a destroyed archive: only its tombstone

    tombstone = tombstone_page(archive_id)
    if tombstone is not None:
        return tombstone
    archive = services.open_archive(actor(), archive_id)
    from portal.documents.views_manage import list_context  # the documents section (档案材料)

    return render_template("archives/page.html", **page_context(archive), **list_context(archive))


@bp.route("/archives/n/<path:number>")
@writes
def by_number(number: str):
    """``/archives/n/海外-2026-电商-001`` → the archive page (only for those who may open it)."""
    archive = services.get_archive(number.strip())
    refuse_unless(perm.can_view(current(), archive), archive, "view", None)
    return redirect(url_for("archives.show", archive_id=archive.id), 303)


from portal.archives import views_forms, views_records, views_workflow  # noqa: E402,F401  (routes)
