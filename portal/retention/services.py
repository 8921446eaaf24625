"""Retention 保管期限: rules by classification, the retention status of an archive, termination
reviews 终止合作复核 and holds 冻结 (policy 004 §14, §17; 000 §7; SPEC §3).

The clock starts at the event — the termination date ``Archive.terminated_on`` — never at upload.
For an archive, one rule applies to the archive itself (its customer type and stage) and one to
each document type it holds (a rule naming that document type may be longer, e.g. contracts 合同 →
10 years); the most specific rule wins in each case (ties: the longer retention). The archive
becomes eligible for destruction only when *all* of them allow it (the latest date), and its
review is due at the earliest review date among them.

Interface used by other parts (keep these names)::

    from portal.retention import services as retention
    retention.status(archive) -> RetentionStatus
    retention.eligible_on(archive) -> date | None
    retention.is_eligible(archive, today=None) -> bool      # time only; holds: require_not_held
    retention.is_held(archive_id) / retention.active_hold(archive_id)
    retention.require_not_held(actor, archive)              # InvalidState (registered) when held
    retention.reviews_due(user=None, within_days=30)        # [ReviewItem] for reminders / KPIs
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import g, has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal import workcal
from portal.actor import Actor
from portal.admin.models import CustomerType
from portal.archives import permissions as perm
from portal.archives.forms import choice_label
from portal.archives.models import FILED, STAGES, TERMINATED, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import User
from portal.dbsetup import begin_write
from portal.errors import Conflict, InvalidState, NotFound, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.notifications import notify
from portal.register import actions
from portal.register.services import record, record_now
from portal.retention.models import (
    PROPOSE,
    RETAIN,
    RetentionHold,
    RetentionReview,
    RetentionRule,
    classification_key,
)

DESTROYED = "destroyed"  # Archive.status after destruction (set by portal.destruction)
DEFAULT_REVIEW_MONTHS, DEFAULT_RETAIN_YEARS = 6, 3  # policy 004 §14, §17 (if no rule is found)
DUE_WITHIN_DAYS = 30  # the review list shows reviews due within this many days, and overdue ones
RETAIN_DEFAULT_MONTHS = 12  # default next review after "retain"
PROPOSE_RECHECK_MONTHS = 3  # a proposal that did not end in destruction comes back to the list
MAX_NEXT_REVIEW_YEARS = 10
MAX_REVIEW_MONTHS, MAX_RETAIN_YEARS = 120, 100
REASON_MAX = 2000
SHANGHAI_OFFSET = timedelta(hours=8)

# States of RetentionStatus.state
NOT_TERMINATED = "not_terminated"
DATE_MISSING = "date_missing"
PENDING_REVIEW = "pending_review"
REVIEW_DUE = "review_due"
REVIEW_OVERDUE = "review_overdue"
RETAINED = "retained"
ELIGIBLE = "eligible"
HELD = "held"
STATE_DESTROYED = "destroyed"
STATE_LABELS = {
    NOT_TERMINATED: _l("In custody (retention period not started)"),
    DATE_MISSING: _l("Termination date missing"),
    PENDING_REVIEW: _l("Terminated, review not yet due"),
    REVIEW_DUE: _l("Termination review due"),
    REVIEW_OVERDUE: _l("Termination review overdue"),
    RETAINED: _l("Retained as a terminated-customer archive"),
    ELIGIBLE: _l("Eligible for destruction"),
    HELD: _l("On hold"),
    STATE_DESTROYED: _l("Destroyed"),
}
DECISION_LABELS = {
    RETAIN: _l("Retain as a terminated-customer archive"),
    PROPOSE: _l("Propose destruction"),
}


# --- dates ----------------------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """``day`` plus whole months; the 31st becomes the month's last day when needed."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


# --- who may do what ------------------------------------------------------------------------------

REVIEW_READERS = frozenset({roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER})
HOLD_READERS = frozenset({roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER})


def _role(user) -> str | None:
    return user.role if user is not None and user.is_authenticated and user.active else None


def can_read_reviews(user) -> bool:
    return _role(user) in REVIEW_READERS


def can_review(user) -> bool:
    """The archivist decides termination reviews (policy 004 §14)."""
    return _role(user) == roles.ARCHIVIST


def can_read_holds(user) -> bool:
    return _role(user) in HOLD_READERS


def can_hold(user) -> bool:
    """Management places and lifts holds."""
    return _role(user) == roles.MANAGER


def can_manage_rules(user) -> bool:
    return _role(user) == roles.ADMIN


def require(actor: Actor, allowed: bool, message, what: str, archive: Archive | None = None) -> None:
    """Refuse with 403 and an ``access_denied`` register entry unless ``allowed``."""
    if not allowed:
        raise deny(actor, message, archive, what)


def require_view(actor: Actor, archive: Archive, what: str) -> None:
    reason = perm.view_refusal(actor.user, archive)
    if reason is not None:
        raise deny(actor, reason, archive, what)


# --- rules ----------------------------------------------------------------------------------------

def rules() -> list[RetentionRule]:
    """All rules (a small table), read once per request."""
    if has_request_context() and "retention_rules" in g:
        return g.retention_rules
    found = list(db.session.scalars(sa.select(RetentionRule).order_by(RetentionRule.id)))
    if has_request_context():
        g.retention_rules = found
    return found


def _forget_rules() -> None:
    if has_request_context():
        g.pop("retention_rules", None)


def get_rule(rule_id: int) -> RetentionRule:
    rule = db.session.get(RetentionRule, rule_id)
    if rule is None:
        raise NotFound(_l("No such retention rule."))
    return rule


def scope_text(rule: RetentionRule) -> str:
    """The classification a rule covers, e.g. "跨境电商 · 任何阶段 · 合同"."""
    return _scope(rule.customer_type_id, rule.stage, rule.doc_type)


def _scope(customer_type_id: int | None, stage: str | None, doc_type: str | None) -> str:
    ctype = db.session.get(CustomerType, customer_type_id) if customer_type_id is not None else None
    parts = [ctype.name if ctype is not None else _("any customer type"),
             choice_label("stage", stage) if stage else _("any stage"),
             doc_type if doc_type else _("any document type")]
    return " · ".join(parts)


def terms_text(rule: RetentionRule) -> str:
    return _terms(rule.review_months, rule.retain_years)


def _terms(months: int, years: int) -> str:
    return _("review within %(months)s months, destruction allowed %(years)s years after termination",
             months=months, years=years)


def describe(rule: RetentionRule) -> str:
    return _("%(scope)s: %(terms)s", scope=scope_text(rule), terms=terms_text(rule))


def _fallback_rule() -> RetentionRule:
    return RetentionRule(id=0, classification="*|*|*", review_months=DEFAULT_REVIEW_MONTHS,
                         retain_years=DEFAULT_RETAIN_YEARS, note="", is_default=True)


def rule_for(all_rules: list[RetentionRule], archive: Archive, doc_type: str | None) -> RetentionRule:
    """The most specific rule for the archive (``doc_type`` None) or for its documents of a type;
    among equally specific rules the longer retention wins (the safe side)."""
    candidates = [
        r for r in all_rules
        if r.customer_type_id in (None, archive.customer_type_id)
        and r.stage in (None, archive.stage)
        and (r.doc_type is None if doc_type is None else r.doc_type in (None, doc_type))
    ]
    if not candidates:
        return _fallback_rule()
    return max(candidates, key=lambda r: (r.specificity, r.retain_years, -r.review_months, -r.id))


@dataclass
class Applied:
    """One rule applying to an archive: to the archive itself (``doc_type`` None) or to its
    documents of ``doc_type``."""
    doc_type: str | None
    rule: RetentionRule
    review_due: date | None
    eligible_on: date | None


def applied_rules(archive: Archive, doc_types, all_rules=None) -> list[Applied]:
    all_rules = rules() if all_rules is None else all_rules
    event = archive.terminated_on
    out = []
    seen = set()
    for doc_type in [None, *sorted(t for t in set(doc_types) if t)]:
        rule = rule_for(all_rules, archive, doc_type)
        if doc_type is not None and rule.doc_type is None:
            continue  # documents of this type follow the archive's own rule
        if (doc_type, rule.id) in seen:
            continue
        seen.add((doc_type, rule.id))
        out.append(Applied(doc_type, rule,
                           add_months(event, rule.review_months) if event else None,
                           add_years(event, rule.retain_years) if event else None))
    return out


def _clean_int(value, name: str, low: int, high: int, errors: dict) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors[name] = _("Enter a whole number.")
        return None
    if number < low or number > high:
        errors[name] = _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return number


def save_rule(actor: Actor, rule: RetentionRule | None, *, customer_type_id=None, stage=None,
              doc_type=None, review_months=None, retain_years=None, note: str = "") -> RetentionRule:
    """Create or change a rule (administrator only); the default rule keeps its classification.

    Raises ValidationFailed with ``fields`` for bad input (positive whole numbers, a review before
    destruction is allowed, a classification no other rule has)."""
    require(actor, can_manage_rules(actor.user),
            _l("Only the system administrator configures retention rules."), "retention rule")
    begin_write(*([rule] if rule is not None else []))
    errors: dict[str, str] = {}
    months = _clean_int(review_months, "review_months", 1, MAX_REVIEW_MONTHS, errors)
    years = _clean_int(retain_years, "retain_years", 1, MAX_RETAIN_YEARS, errors)
    if months is not None and years is not None and months > years * 12:
        errors["review_months"] = _("The review must fall before destruction is allowed "
                                    "(at most %(max)s months).", max=years * 12)
    note = (note or "").strip()
    if len(note) > REASON_MAX:
        errors["note"] = _("At most %(n)s characters.", n=REASON_MAX)
    if rule is not None and rule.is_default:
        customer_type_id, stage, doc_type = None, None, None
    else:
        customer_type_id = int(customer_type_id) if str(customer_type_id or "").isdigit() else None
        if customer_type_id is not None and db.session.get(CustomerType, customer_type_id) is None:
            errors["customer_type_id"] = _("Choose a valid customer type.")
        stage = stage or None
        if stage is not None and stage not in STAGES:
            errors["stage"] = _("Choose a valid cooperation stage.")
        doc_type = (doc_type or "").strip() or None
        if doc_type is not None:
            from portal.documents.services import document_types
            known = set(document_types()) | {r.doc_type for r in rules() if r.doc_type}
            if doc_type not in known:
                errors["doc_type"] = _("Choose a document type from the list.")
    key = classification_key(customer_type_id, stage, doc_type)
    if "customer_type_id" not in errors and "stage" not in errors and "doc_type" not in errors:
        clash = db.session.scalar(sa.select(RetentionRule).where(RetentionRule.classification == key))
        if clash is not None and (rule is None or clash.id != rule.id):
            errors["_form"] = _("A rule for this classification exists already (%(scope)s); edit it "
                                "instead.", scope=scope_text(clash))
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    after = _("%(scope)s: %(terms)s", scope=_scope(customer_type_id, stage, doc_type), terms=_terms(months, years))
    if rule is None:
        rule = RetentionRule(classification=key, customer_type_id=customer_type_id, stage=stage,
                             doc_type=doc_type, review_months=months, retain_years=years, note=note,
                             is_default=False, updated_by_id=actor.user.id)
        db.session.add(rule)
        detail = f"created {after}; note: {note}"
    else:
        before = describe(rule)
        if (before, rule.note) == (after, note):
            db.session.rollback()
            return rule
        detail = f"#{rule.id} {before} → {after}"
        if rule.note != note:
            detail += f"; note: {rule.note} → {note}"
        rule.classification, rule.customer_type_id, rule.stage, rule.doc_type = key, customer_type_id, stage, doc_type
        rule.review_months, rule.retain_years, rule.note = months, years, note
        rule.updated_by_id = actor.user.id
    try:
        db.session.flush()
    except IntegrityError:  # another administrator saved the same classification at this moment
        db.session.rollback()
        message = _("A rule for this classification exists already; edit it instead.")
        raise ValidationFailed(message, fields={"_form": message}) from None
    record(actor, actions.RETENTION_RULE_SAVE, detail=detail)
    db.session.commit()
    _forget_rules()
    return rule


def delete_rule(actor: Actor, rule: RetentionRule) -> None:
    require(actor, can_manage_rules(actor.user),
            _l("Only the system administrator configures retention rules."), "retention rule delete")
    begin_write(rule)
    if rule.is_default:
        raise InvalidState(_l("The default rule of the policy cannot be deleted; change its periods "
                              "instead."))
    detail = f"deleted #{rule.id} {describe(rule)}; note: {rule.note}"
    db.session.delete(rule)
    record(actor, actions.RETENTION_RULE_SAVE, detail=detail)
    db.session.commit()
    _forget_rules()


def rule_choices() -> dict:
    """Choice lists of the rule form."""
    from portal.documents.services import document_types
    types = db.session.scalars(sa.select(CustomerType).order_by(CustomerType.sort_order, CustomerType.id))
    return {
        "customer_types": [(t.id, t.name) for t in types],
        "stages": [(value, str(label)) for value, label in
                   [(s, choice_label("stage", s)) for s in STAGES]],
        "doc_types": sorted(set(document_types()) | {r.doc_type for r in rules() if r.doc_type},
                            key=lambda t: (t not in document_types(), t)),
    }


# --- status ---------------------------------------------------------------------------------------

@dataclass
class RetentionStatus:
    state: str
    label: str
    event_date: date | None = None
    review_due: date | None = None
    eligible_on: date | None = None
    rule: str = ""  # the rule that sets the destruction date, described
    held: bool = False
    hold: RetentionHold | None = None
    last_review: RetentionReview | None = None  # the latest decision about the current termination
    applied: list[Applied] = field(default_factory=list)
    today: date | None = None

    @property
    def clock_started(self) -> bool:
        return self.event_date is not None and self.state not in (NOT_TERMINATED, DATE_MISSING)

    @property
    def overdue(self) -> bool:
        return bool(self.review_due and self.today and self.review_due < self.today
                    and self.state not in (STATE_DESTROYED, NOT_TERMINATED, DATE_MISSING))

    @property
    def eligible(self) -> bool:
        return bool(self.eligible_on and self.today and self.eligible_on <= self.today
                    and self.state != STATE_DESTROYED)

    @property
    def warning(self) -> bool:
        return self.state == DATE_MISSING

    @property
    def decision_label(self) -> str:
        return str(DECISION_LABELS[self.last_review.decision]) if self.last_review else ""


def _state(archive: Archive, applied: list[Applied], live: RetentionReview | None,
           hold: RetentionHold | None, day: date) -> tuple[str, date | None, date | None, str]:
    """(state, review due, eligible on, rule text) of an archive whose facts are given."""
    if archive.status == DESTROYED:
        return STATE_DESTROYED, None, None, ""
    if archive.stage != TERMINATED:
        return (HELD if hold else NOT_TERMINATED), None, None, ""
    if archive.terminated_on is None:
        return (HELD if hold else DATE_MISSING), None, None, ""
    governing = max(applied, key=lambda a: (a.eligible_on, a.doc_type is not None))
    eligible = governing.eligible_on
    due = min(a.review_due for a in applied)
    if live is not None and live.next_review_on is not None:
        due = live.next_review_on
    rule_text = describe(governing.rule)
    if hold is not None:
        state = HELD
    elif eligible <= day and not (live is not None and live.decision == RETAIN and due > day):
        state = ELIGIBLE
    elif live is not None and live.decision == RETAIN and due > day + timedelta(days=DUE_WITHIN_DAYS):
        state = RETAINED
    elif due < day:
        state = REVIEW_OVERDUE
    elif due <= day + timedelta(days=DUE_WITHIN_DAYS):
        state = REVIEW_DUE
    elif live is not None and live.decision == RETAIN:
        state = RETAINED
    else:
        state = PENDING_REVIEW
    return state, due, eligible, rule_text


def _build(archive: Archive, doc_types, last: RetentionReview | None, hold: RetentionHold | None,
           day: date, all_rules=None) -> RetentionStatus:
    live = last if (last is not None and last.event_date == archive.terminated_on) else None
    applied = (applied_rules(archive, doc_types, all_rules)
               if archive.stage == TERMINATED and archive.terminated_on and archive.status != DESTROYED
               else [])
    state, due, eligible, rule_text = _state(archive, applied, live, hold, day)
    return RetentionStatus(state=state, label=str(STATE_LABELS[state]), event_date=archive.terminated_on,
                           review_due=due, eligible_on=eligible, rule=rule_text, held=hold is not None,
                           hold=hold, last_review=live, applied=applied, today=day)


def _doc_types(archive_id: int) -> list[str]:
    from portal.documents.models import Document
    return list(db.session.scalars(sa.select(Document.doc_type).where(Document.archive_id == archive_id)
                                   .distinct()))


def _hold_and_last_review(archive_id: int) -> tuple[RetentionHold | None, RetentionReview | None]:
    """The active hold and the latest review of one archive, in one query."""
    latest = (sa.select(sa.func.max(RetentionReview.id)).where(RetentionReview.archive_id == archive_id)
              .scalar_subquery())
    row = db.session.execute(
        sa.select(RetentionHold, RetentionReview)
        .select_from(sa.select(sa.literal(1).label("one")).subquery())
        .outerjoin(RetentionHold, sa.and_(RetentionHold.archive_id == archive_id,
                                          RetentionHold.lifted_at.is_(None)))
        .outerjoin(RetentionReview, RetentionReview.id == latest)).first()
    return (row[0], row[1]) if row is not None else (None, None)


def status(archive: Archive, today: date | None = None) -> RetentionStatus:
    """The archive's retention status (see the module doc): two queries, plus the rules once per
    request."""
    day = today or workcal.today()
    if archive.status == DESTROYED:
        return RetentionStatus(STATE_DESTROYED, str(STATE_LABELS[STATE_DESTROYED]),
                               event_date=archive.terminated_on, today=day)
    hold, last = _hold_and_last_review(archive.id)
    doc_types = _doc_types(archive.id) if archive.stage == TERMINATED and archive.terminated_on else []
    return _build(archive, doc_types, last, hold, day)


def eligible_on(archive: Archive) -> date | None:
    """The day destruction becomes allowed (all rules of the archive and its document types), or
    None while the clock has not started (not terminated, or no termination date)."""
    if archive.stage != TERMINATED or archive.terminated_on is None or archive.status == DESTROYED:
        return None
    applied = applied_rules(archive, _doc_types(archive.id))
    return max(a.eligible_on for a in applied)


def is_eligible(archive: Archive, today: date | None = None) -> bool:
    """Whether the retention period has ended (time only: a hold is checked by require_not_held)."""
    day = today or workcal.today()
    when = eligible_on(archive)
    return when is not None and when <= day


# --- holds ----------------------------------------------------------------------------------------

def active_hold(archive_id: int) -> RetentionHold | None:
    return db.session.scalar(sa.select(RetentionHold).where(RetentionHold.archive_id == archive_id,
                                                            RetentionHold.lifted_at.is_(None)))


def is_held(archive_id: int) -> bool:
    return db.session.scalar(sa.select(sa.func.count(RetentionHold.id)).where(
        RetentionHold.archive_id == archive_id, RetentionHold.lifted_at.is_(None))) > 0


def held_message(hold: RetentionHold):
    return _l("This archive is on hold (冻结) since %(date)s: %(reason)s. It cannot be destroyed or "
              "deleted by anyone until management lifts the hold.",
              date=_local_date(hold.placed_at).isoformat(), reason=hold.reason)


def require_not_held(actor: Actor, archive: Archive, *, what: str = "") -> None:
    """Raise InvalidState (409) — after registering the refused attempt — when the archive is on hold.

    Called by destruction (application, approval, execution) and by deleting a draft."""
    hold = active_hold(archive.id)
    if hold is None:
        return
    message = str(held_message(hold))
    detail = f"refused, archive on hold #{hold.id}" + (f": {what}" if what else "")
    record_now(actor, actions.ACCESS_DENIED, archive=archive, detail=detail, result="denied")
    raise InvalidState(message, archive=archive)


def _clean_text(value, name: str, errors: dict, required: bool, limit: int = REASON_MAX) -> str:
    text = (value or "").strip()
    if required and not text:
        errors[name] = _("Give a reason.") if name.endswith("reason") else _("This field is required.")
    elif len(text) > limit:
        errors[name] = _("At most %(n)s characters.", n=limit)
    return text


def _archivists() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.role == roles.ARCHIVIST,
                                                         User.active.is_(True))))


def place_hold(actor: Actor, archive: Archive, reason: str, reference: str = "") -> RetentionHold:
    """Management puts an archive on hold; the archivists are told."""
    require(actor, can_hold(actor.user), _l("Only management places a hold on an archive."),
            "place hold", archive)
    begin_write(archive)
    require_view(actor, archive, "place hold")
    if archive.status == DESTROYED:
        raise InvalidState(_l("This archive has been destroyed."))
    errors: dict[str, str] = {}
    reason = _clean_text(reason, "reason", errors, True)
    reference = _clean_text(reference, "reference", errors, False, 200)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    current = active_hold(archive.id)
    if current is not None:
        raise Conflict(_l("This archive is already on hold (since %(date)s, by %(name)s).",
                          date=_local_date(current.placed_at).isoformat(),
                          name=current.placed_by.display_name))
    hold = RetentionHold(archive_id=archive.id, reason=reason, reference=reference,
                         placed_by_id=actor.user.id, placed_at=utcnow())
    db.session.add(hold)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(_l("This archive was put on hold by someone else a moment ago.")) from None
    record(actor, actions.HOLD_PLACE, archive=archive,
           detail=f"hold #{hold.id}: {reason}" + (f" ({reference})" if reference else ""))
    url = url_for("archives.show", archive_id=archive.id) if has_request_context() else None
    for person in _archivists():
        notify(person, _("Hold placed on archive %(archive)s by %(name)s: %(reason)s. It must not be "
                         "destroyed or deleted until the hold is lifted.",
                         archive=str(archive), name=actor.user.display_name, reason=reason), url)
    db.session.commit()
    return hold


def lift_hold(actor: Actor, archive: Archive, reason: str, hold_id: int | None = None) -> RetentionHold:
    """Management lifts the archive's hold with a reason (``hold_id``: the hold the form showed —
    a hold lifted or replaced meanwhile is refused with 409)."""
    require(actor, can_hold(actor.user), _l("Only management lifts a hold."), "lift hold", archive)
    begin_write(archive)
    require_view(actor, archive, "lift hold")
    hold = active_hold(archive.id)
    if hold is None or (hold_id is not None and hold.id != hold_id):
        raise Conflict(_l("This hold has been lifted already (or replaced by another). Reload the page."))
    errors: dict[str, str] = {}
    reason = _clean_text(reason, "lift_reason", errors, True)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    hold.lifted_at = utcnow()
    hold.lifted_by_id = actor.user.id
    hold.lift_reason = reason
    record(actor, actions.HOLD_LIFT, archive=archive, detail=f"hold #{hold.id} lifted: {reason}")
    url = url_for("archives.show", archive_id=archive.id) if has_request_context() else None
    for person in _archivists():
        notify(person, _("Hold on archive %(archive)s lifted by %(name)s: %(reason)s.",
                         archive=str(archive), name=actor.user.display_name, reason=reason), url)
    db.session.commit()
    return hold


def holds(user: User, *, active_only: bool = False, limit: int = 500) -> list[RetentionHold]:
    """Holds on archives the user may see: active ones first, newest first."""
    q = (sa.select(RetentionHold).join(Archive, Archive.id == RetentionHold.archive_id)
         .where(perm.visible_clause(user)))
    if active_only:
        q = q.where(RetentionHold.lifted_at.is_(None))
    q = q.order_by(RetentionHold.lifted_at.is_not(None), RetentionHold.placed_at.desc(),
                   RetentionHold.id.desc()).limit(limit)
    return list(db.session.scalars(q))


def hold_history(archive_id: int) -> list[RetentionHold]:
    return list(db.session.scalars(sa.select(RetentionHold).where(RetentionHold.archive_id == archive_id)
                                   .order_by(RetentionHold.placed_at.desc(), RetentionHold.id.desc())))


# --- termination reviews --------------------------------------------------------------------------

@dataclass
class ReviewItem:
    archive: Archive
    status: RetentionStatus

    @property
    def due(self) -> date | None:
        return self.status.review_due

    @property
    def overdue(self) -> bool:
        return self.status.overdue


def _terminated_filed(user: User | None, department_id: int | None):
    conds = [Archive.status == FILED, Archive.stage == TERMINATED]
    if user is not None:
        conds.append(perm.visible_clause(user))
    if department_id:
        conds.append(Archive.department_id == department_id)
    return conds


def statuses(conds, day: date) -> list[ReviewItem]:
    """Status of every archive matching ``conds``, in a fixed number of queries."""
    from portal.documents.models import Document
    archives = list(db.session.scalars(sa.select(Archive).where(*conds).order_by(Archive.id)))
    if not archives:
        return []
    ids = sa.select(Archive.id).where(*conds)
    types: dict[int, set[str]] = {}
    for archive_id, doc_type in db.session.execute(
            sa.select(Document.archive_id, Document.doc_type).where(Document.archive_id.in_(ids)).distinct()):
        types.setdefault(archive_id, set()).add(doc_type)
    latest_ids = (sa.select(sa.func.max(RetentionReview.id)).where(RetentionReview.archive_id.in_(ids))
                  .group_by(RetentionReview.archive_id))
    last = {r.archive_id: r for r in db.session.scalars(
        sa.select(RetentionReview).where(RetentionReview.id.in_(latest_ids)))}
    held = {h.archive_id: h for h in db.session.scalars(
        sa.select(RetentionHold).where(RetentionHold.archive_id.in_(ids), RetentionHold.lifted_at.is_(None)))}
    all_rules = rules()
    return [ReviewItem(a, _build(a, types.get(a.id, ()), last.get(a.id), held.get(a.id), day, all_rules))
            for a in archives]


def reviews_due(user: User | None = None, within_days: int | None = DUE_WITHIN_DAYS, *,
                department_id: int | None = None, today: date | None = None,
                descending: bool = False) -> list[ReviewItem]:
    """Filed terminated archives whose termination review is due within ``within_days`` (None: any
    time) or overdue — including those whose "retain" decision's next review date has come —
    ordered by due date. ``user`` limits the list to archives the user may see."""
    day = today or workcal.today()
    horizon = None if within_days is None else day + timedelta(days=within_days)
    items = [i for i in statuses(_terminated_filed(user, department_id) + [Archive.terminated_on.is_not(None)], day)
             if i.due is not None and (horizon is None or i.due <= horizon)]
    items.sort(key=lambda i: (i.due, i.archive.label), reverse=descending)
    return items


def missing_dates(user: User | None = None, department_id: int | None = None) -> list[Archive]:
    """Filed archives marked terminated without a termination date (the clock cannot start)."""
    conds = _terminated_filed(user, department_id) + [Archive.terminated_on.is_(None)]
    return list(db.session.scalars(sa.select(Archive).where(*conds).order_by(Archive.number)))


def reviews_of(archive_id: int) -> list[RetentionReview]:
    return list(db.session.scalars(sa.select(RetentionReview).where(RetentionReview.archive_id == archive_id)
                                   .order_by(RetentionReview.id.desc())))


def latest_review_id(archive_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(RetentionReview.id), 0))
                             .where(RetentionReview.archive_id == archive_id)) or 0


def require_reviewer(actor: Actor, archive: Archive | None = None, what: str = "retention review") -> None:
    require(actor, can_review(actor.user),
            _l("Only the archivist decides termination reviews."), what, archive)
    if archive is not None:
        require_view(actor, archive, what)


def _reviewable(actor: Actor, archive: Archive, decision: str) -> None:
    """Refuse (409, registered) a decision the archive's state does not allow."""
    message = None
    if archive.status == DESTROYED:
        message = _l("This archive has been destroyed.")
    elif archive.status != FILED:
        message = _l("Only filed archives are reviewed.")
    elif archive.stage != TERMINATED:
        message = _l("This customer's cooperation has not ended, so there is nothing to review.")
    elif archive.terminated_on is None:
        message = _l("The termination date is missing: ask the department to enter it through a "
                     "change request before the review.")
    if message is not None:
        record_now(actor, actions.RETENTION_REVIEW, archive=archive, result="failed",
                   detail=f"{decision}: {message}")
        raise InvalidState(message)


def _check_stale(actor: Actor, archive: Archive, expected_last: int | None, decision: str) -> None:
    if expected_last is not None and latest_review_id(archive.id) != expected_last:
        message = _l("Someone decided this review while you had the form open. Reload to see the "
                     "decision.")
        record_now(actor, actions.RETENTION_REVIEW, archive=archive, result="failed",
                   detail=f"{decision}: stale form")
        raise Conflict(message)


def retain(actor: Actor, archive: Archive, reason: str, next_review_on, *,
           expected_last: int | None = None) -> RetentionReview:
    """Keep the archive as a 终止合作客户档案 until the next review date (in the future)."""
    require_reviewer(actor, archive, "retention review: retain")
    begin_write(archive)
    _reviewable(actor, archive, RETAIN)
    _check_stale(actor, archive, expected_last, RETAIN)
    day = workcal.today()
    errors: dict[str, str] = {}
    reason = _clean_text(reason, "reason", errors, True)
    when = next_review_on
    if isinstance(when, str):
        try:
            when = date.fromisoformat(when.strip()) if when.strip() else None
        except ValueError:
            errors["next_review_on"] = _("Enter the date as YYYY-MM-DD.")
            when = None
    if when is None and "next_review_on" not in errors:
        errors["next_review_on"] = _("Give the date of the next review.")
    elif when is not None and when <= day:
        errors["next_review_on"] = _("The next review must be in the future.")
    elif when is not None and when > add_years(day, MAX_NEXT_REVIEW_YEARS):
        errors["next_review_on"] = _("The next review must be within %(n)s years.", n=MAX_NEXT_REVIEW_YEARS)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    current = status(archive, day)
    review = RetentionReview(archive_id=archive.id, event_date=archive.terminated_on, decision=RETAIN,
                             reason=reason, next_review_on=when, eligible_on=current.eligible_on,
                             decided_by_id=actor.user.id, decided_at=utcnow())
    db.session.add(review)
    db.session.flush()
    record(actor, actions.RETENTION_REVIEW, archive=archive,
           detail=f"retain as terminated-customer archive until review on {when.isoformat()}: {reason}")
    db.session.commit()
    return review


def propose(actor: Actor, archive: Archive, reason: str, *, expected_last: int | None = None) -> RetentionReview:
    """Propose destruction: only for an eligible archive that is not on hold. The destruction
    application itself is made on the destruction pages."""
    require_reviewer(actor, archive, "retention review: propose destruction")
    begin_write(archive)
    _reviewable(actor, archive, PROPOSE)
    _check_stale(actor, archive, expected_last, PROPOSE)
    require_not_held(actor, archive, what="propose destruction")
    day = workcal.today()
    current = status(archive, day)
    if not current.eligible:
        message = _l("Destruction is allowed only from %(date)s (%(rule)s); keep the archive until then.",
                     date=current.eligible_on.isoformat(), rule=current.rule)
        record_now(actor, actions.RETENTION_REVIEW, archive=archive, result="failed",
                   detail=f"propose: not eligible before {current.eligible_on.isoformat()}")
        raise InvalidState(message)
    errors: dict[str, str] = {}
    reason = _clean_text(reason, "reason", errors, True)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    review = RetentionReview(archive_id=archive.id, event_date=archive.terminated_on, decision=PROPOSE,
                             reason=reason, next_review_on=add_months(day, PROPOSE_RECHECK_MONTHS),
                             eligible_on=current.eligible_on, decided_by_id=actor.user.id,
                             decided_at=utcnow())
    db.session.add(review)
    db.session.flush()
    record(actor, actions.RETENTION_REVIEW, archive=archive, detail=f"propose destruction: {reason}")
    db.session.commit()
    return review


def default_next_review() -> date:
    return add_months(workcal.today(), RETAIN_DEFAULT_MONTHS)


# --- helpers for pages and the inbox ----------------------------------------------------------------

def _local_date(moment: datetime | None) -> date | None:
    return (moment + SHANGHAI_OFFSET).date() if moment is not None else None


def departments() -> list:
    from portal.auth.models import Department
    return list(db.session.scalars(sa.select(Department).order_by(Department.name)))


def _inbox_items(user) -> list:
    from portal.workflows.inbox import InboxItem
    if not can_review(user):
        return []
    day = workcal.today()
    items = []
    for item in reviews_due(user):
        archive, st = item.archive, item.status
        midnight = datetime.combine(st.event_date, time()) - SHANGHAI_OFFSET
        items.append(InboxItem(
            kind="retention_review", kind_label=_("Termination review"),
            title=f"{archive.label} {archive.name}",
            url=url_for("retention.review", archive_id=archive.id),
            action_label=(_("Review again (retained until %(date)s)", date=item.due.isoformat())
                          if st.last_review is not None else
                          _("Retain as terminated-customer archive, or propose destruction")),
            requested_by=_("Terminated on %(date)s", date=st.event_date.isoformat()),
            requested_at=midnight, deadline=item.due, late=item.due < day))
    return items


def _register_inbox_source() -> None:
    from portal.workflows import inbox
    if _inbox_items not in inbox.SOURCES:
        inbox.source(_inbox_items)


_register_inbox_source()
