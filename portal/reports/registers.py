"""The registers index 台账 (``/ledgers/``): every printable register and report the reader may
open, each with its print / PDF / Excel forms.

Registers of other packages are listed only when their page exists in this application
(``endpoint in current_app.view_functions``) and the reader's role may open it; the page itself
still decides (every route checks on the server).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from portal.archives import permissions as perm
from portal.auth import roles
from portal.auth.models import User
from portal.reports import rules


def _borrowing_reader(user: User) -> bool:
    from portal.workflows.borrowing_rules import can_read_ledger

    return can_read_ledger(user)


def _not_admin(user: User) -> bool:
    return user.role != roles.ADMIN


def _foreign(module: str, name: str) -> Callable[[User], bool]:
    """Another package's permission function, looked up when asked (an app without that package
    lists nothing of it)."""
    def allowed(user: User) -> bool:
        fn = foreign_check(module, name)
        return bool(fn and fn(user))
    allowed.target = (module, name)
    return allowed


def foreign_check(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


@dataclass(frozen=True)
class Spec:
    key: str
    title: object
    description: object
    view: str  # endpoint of the register's page
    allowed: Callable[[User], bool]
    print_endpoint: str | None = None  # endpoint of the print page (?format=pdf / ?format=xlsx)
    pdf: bool = True
    xlsx: bool = True
    print_allowed: Callable[[User], bool] | None = None  # when printing needs more than viewing


SPECS = (
    Spec("ledger", _l("Customer archive ledger"),
         _l("Every filed archive: number, customer, classification, department and responsible person, "
            "dates, paper file location and number of documents."),
         "reports.ledger", rules.can_read_ledger, "reports.ledger_print"),
    Spec("access", _l("Customer archive access register"),
         _l("Every view, download, print, query, export, borrowing, change and destruction, with who, "
            "when, from where and the result."),
         "register.index", perm.can_read_register, "register.print_view"),
    Spec("borrowing", _l("Borrowing register of paper customer archives"),
         _l("Every application to borrow paper files, with hand-over, due date and return."),
         "borrowing.register", _borrowing_reader, "borrowing.register_print"),
    Spec("changes", _l("Customer archive change log"),
         _l("Every change request of the archives you may open: old and new values, reason, approvals."),
         "requests.change_index", _not_admin, "requests.change_print"),
    Spec("handovers", _l("Register of archive handovers"),
         _l("Archives handed over when staff leave or customers move, with the receipt confirmations."),
         "reports.handovers", rules.can_list_handovers, "reports.handovers_print",
         print_allowed=rules.can_read_handover_register),
    # from the other parts of issue 7: their own permission functions decide
    Spec("destruction", _l("Destruction register"),
         _l("Destroyed archives with their approvals, executor, witness and destruction certificates."),
         "destruction.register", _foreign("portal.destruction.services", "can_read_register"),
         "destruction.register_print"),
    Spec("backup", _l("Backup register"),
         _l("Every backup, verification and restore, with its manifest and result."),
         "backup.index", _foreign("portal.backup.register", "can_read"), "backup.print_view"),
    Spec("inspection", _l("Inspection records"),
         _l("Quarterly random-sample inspections: checklist results, findings and rectification."),
         "inspection.index", _foreign("portal.inspection.services", "can_read_inspections"),
         "inspection.list_print"),
    Spec("reviews", _l("Termination review list"),
         _l("Archives of terminated customers due for their review: retain or propose destruction."),
         "retention.reviews", _foreign("portal.retention.services", "can_read_reviews"),
         "retention.reviews_print"),
    Spec("kpi", _l("KPI dashboard"),
         _l("Filing and update timeliness, completeness, overdue loans and late approvals by department "
            "and month."),
         "oversight.dashboard", _foreign("portal.oversight.kpi", "can_read"), "oversight.dashboard"),
)


@dataclass
class Entry:
    spec: Spec
    url: str
    print_url: str | None
    pdf_url: str | None
    xlsx_url: str | None


def _exists(endpoint: str | None) -> bool:
    return bool(endpoint) and endpoint in current_app.view_functions


def entries(user: User | None) -> list[Entry]:
    """The registers ``user`` may open, in the order of SPECS."""
    if user is None or not user.is_authenticated:
        return []
    out = []
    for spec in SPECS:
        if not _exists(spec.view) or not spec.allowed(user):
            continue
        printable = spec.print_endpoint if _exists(spec.print_endpoint) else None
        if printable and spec.print_allowed is not None and not spec.print_allowed(user):
            printable = None
        out.append(Entry(
            spec, url_for(spec.view),
            url_for(printable) if printable else None,
            url_for(printable, format="pdf") if printable and spec.pdf else None,
            url_for(printable, format="xlsx") if printable and spec.xlsx else None))
    return out


def has_any(user: User | None) -> bool:
    """Whether the header shows the 台账 link (no database query)."""
    if user is None or not user.is_authenticated:
        return False
    return any(_exists(spec.view) and spec.allowed(user) for spec in SPECS)
