"""Quarterly inspection 抽查 (policy 004 §14, §21): draw, check, rectify, close.

Who (every service checks it; refused attempts go on the register):
- the **archivist** draws samples, records the checklist, assigns, verifies and closes
  rectifications and closes the inspection;
- the **quality supervisor** and **management** read every inspection; the supervisor reads and
  signs the printed record — they do not check (the checker and the one who oversees the check
  are different people);
- a **department head** reads the inspections that sampled archives of their department and sees
  only those archives (other departments' rows are hidden, counts are of their rows);
- **staff** see only the rectifications assigned to them (inbox, rectification page), and report
  them done.

The draw is reproducible: population = ids of the filed archives in scope (destroyed, draft or
unfiled archives never count), sorted ascending; sample = ``random.Random(seed).sample(population,
k)`` with the seed as a string. The inspection stores seed, population count, the SHA-256 of the id
list (``"1,5,9"`` in ASCII) and the list itself, so anyone can draw again and compare.

Closing: allowed once every sampled archive is fully checked and every finding has a rectification
assigned. Open rectifications do not block closing — the quarter's check is done when its results
are recorded, while a rectification's deadline can reach into the next quarter; the inspection then
shows "closed, rectifications open" until the last one is verified (policy 004 §14: 整改完成后进行复查
— the verification is that re-check).
"""
from __future__ import annotations

import hashlib
import math
import random
import re
import secrets
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import workcal
from portal.actor import Actor
from portal.admin.models import SETTING_DEFAULTS, CustomerType, Setting, get_setting
from portal.archives.models import FILED, Archive
from portal.archives.services import deny
from portal.auth import roles
from portal.auth.models import Department, User
from portal.dbsetup import begin_write
from portal.errors import Conflict, InvalidState, NotFound, ValidationFailed
from portal.extensions import db
from portal.inspection import checklist
from portal.inspection.models import (
    CLOSED,
    NONCONFORM,
    OPEN,
    R_CLOSED,
    R_OPEN,
    R_REPORTED,
    RESULTS,
    SCOPE_ALL,
    SCOPE_DEPARTMENT,
    SCOPE_TYPE,
    Inspection,
    InspectionCheck,
    InspectionSample,
    Rectification,
    RectificationEvent,
)
from portal.models_base import utcnow
from portal.notifications import notify
from portal.register import actions
from portal.register.services import record
from portal.workflows import inbox

SAMPLE_SETTING = "inspection_sample_size"
SAMPLE_DEFAULT = SETTING_DEFAULTS.get(SAMPLE_SETTING, "10")
RECTIFY_DAYS = 5  # default deadline of a rectification, working days
MAX_DAYS = 60
MAX_SAMPLE = 500
NOTE_MAX = 2000
ASSIGNABLE_ROLES = (roles.STAFF, roles.DEPT_HEAD, roles.ARCHIVIST)
READER_ROLES = frozenset({roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER, roles.DEPT_HEAD})
STATE_LABELS = {OPEN: _l("Under way"), CLOSED: _l("Closed"),
                "closed_open": _l("Closed, rectifications open")}
R_STATE_LABELS = {R_OPEN: _l("Being rectified"), R_REPORTED: _l("Reported done, awaiting verification"),
                  R_CLOSED: _l("Verified and closed"), "late": _l("Overdue"),
                  "returned": _l("Sent back, being rectified")}
SCOPE_LABELS = {SCOPE_ALL: _l("All filed archives"), SCOPE_DEPARTMENT: _l("Department"),
                SCOPE_TYPE: _l("Customer type")}


# --- who ----------------------------------------------------------------------------------------

def _role(user) -> str | None:
    return getattr(user, "role", None) if user is not None and user.is_authenticated else None


def can_draw(user) -> bool:
    return _role(user) == roles.ARCHIVIST


can_check = can_draw  # the archivist checks; the supervisor reads and signs


def can_read_inspections(user) -> bool:
    """Whether the user may open the inspection list (heads: their department's part)."""
    role = _role(user)
    return role in READER_ROLES and (role != roles.DEPT_HEAD or user.department_id is not None)


def sees_everything(user) -> bool:
    return _role(user) in (roles.ARCHIVIST, roles.SUPERVISOR, roles.MANAGER)


def sees_sample(user, sample: InspectionSample) -> bool:
    if sees_everything(user):
        return True
    return _role(user) == roles.DEPT_HEAD and sample.department_id == user.department_id


def can_read(user, inspection: Inspection) -> bool:
    if sees_everything(user):
        return True
    return _role(user) == roles.DEPT_HEAD and any(sees_sample(user, s) for s in inspection.samples)


def visible_samples(user, inspection: Inspection) -> list[InspectionSample]:
    return [s for s in inspection.samples if sees_sample(user, s)]


def can_read_rectification(user, rect: Rectification) -> bool:
    return sees_sample(user, rect.check.sample) or (user is not None and user.is_authenticated
                                                    and rect.assignee_id == user.id)


# --- loading with permission checks -----------------------------------------------------------

def require_inspection(actor: Actor, inspection_id: int) -> Inspection:
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound(_l("No such inspection."))
    if not can_read(actor.user, inspection):
        raise deny(actor, _l("You may read only inspections that sampled archives of your department."),
                   None, f"inspection {inspection.label}")
    return inspection


def require_sample(actor: Actor, sample_id: int) -> InspectionSample:
    sample = db.session.get(InspectionSample, sample_id)
    if sample is None:
        raise NotFound(_l("No such sampled archive."))
    if not sees_sample(actor.user, sample):
        raise deny(actor, _l("This sampled archive belongs to another department's part of the inspection."),
                   sample.archive, f"inspection {sample.inspection.label}")
    return sample


def require_rectification(actor: Actor, rect_id: int) -> Rectification:
    rect = db.session.get(Rectification, rect_id)
    if rect is None:
        raise NotFound(_l("No such rectification."))
    if not can_read_rectification(actor.user, rect):
        raise deny(actor, _l("This rectification is neither assigned to you nor in your department."),
                   rect.check.sample.archive, f"rectification {rect.id}")
    return rect


def require_reader(actor: Actor) -> None:
    if not can_read_inspections(actor.user):
        raise deny(actor, _l("Inspections are read by the archivist, the quality supervisor, management "
                             "and department heads. Rectifications assigned to you are in your inbox."),
                   None, "inspections")


# --- quarters, scopes, sample size, seed --------------------------------------------------------

def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_label(year: int, quarter: int) -> str:
    return _("%(year)s Q%(quarter)s", year=year, quarter=quarter)


def quarter_value(year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}"


def quarter_choices(today: date | None = None) -> list[tuple[str, str]]:
    """This quarter, the four before it and the next one (newest first)."""
    year, quarter = quarter_of(today or workcal.today())
    index = year * 4 + quarter - 1 + 1
    out = []
    for i in range(index, index - 6, -1):
        y, q = divmod(i, 4)
        out.append((quarter_value(y, q + 1), quarter_label(y, q + 1)))
    return out


def parse_quarter(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{4})-?Q([1-4])\s*", text or "", re.IGNORECASE)
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        raise ValidationFailed(_l("Choose a quarter."), field="quarter")
    return int(m.group(1)), int(m.group(2))


def scope_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped options: all, departments, customer types."""
    depts = db.session.scalars(sa.select(Department).order_by(Department.name))
    types = db.session.scalars(sa.select(CustomerType).order_by(CustomerType.sort_order, CustomerType.name))
    return [
        ("", [(SCOPE_ALL, str(SCOPE_LABELS[SCOPE_ALL]))]),
        (str(SCOPE_LABELS[SCOPE_DEPARTMENT]), [(f"{SCOPE_DEPARTMENT}:{d.id}", d.name) for d in depts]),
        (str(SCOPE_LABELS[SCOPE_TYPE]), [(f"{SCOPE_TYPE}:{t.id}", t.name) for t in types]),
    ]


def parse_scope(text: str) -> tuple[str, int | None, str]:
    """(kind, id, label) of a scope option."""
    text = (text or SCOPE_ALL).strip()
    if text == SCOPE_ALL:
        return SCOPE_ALL, None, str(SCOPE_LABELS[SCOPE_ALL])
    kind, _sep, ident = text.partition(":")
    if ident.isdigit():
        if kind == SCOPE_DEPARTMENT:
            dept = db.session.get(Department, int(ident))
            if dept is not None:
                return kind, dept.id, dept.name
        if kind == SCOPE_TYPE:
            ctype = db.session.get(CustomerType, int(ident))
            if ctype is not None:
                return kind, ctype.id, ctype.name
    raise ValidationFailed(_l("Choose the archives to draw from."), field="scope")


def scope_text(inspection: Inspection) -> str:
    if inspection.scope_kind == SCOPE_ALL:
        return str(SCOPE_LABELS[SCOPE_ALL])
    return f"{SCOPE_LABELS.get(inspection.scope_kind, inspection.scope_kind)}：{inspection.scope_label}"


@dataclass(frozen=True)
class SampleSize:
    text: str  # as entered, normalised: "10" or "10%"
    number: int | None = None
    percent: int | None = None

    def of(self, population: int) -> int:
        if self.percent is not None:
            wanted = math.ceil(population * self.percent / 100)
        else:
            wanted = self.number or 0
        return max(0, min(wanted, population))


def parse_sample_size(text: str, field_name: str = "sample") -> SampleSize:
    """A number of archives (1–500) or a percentage (1%–100%)."""
    raw = (text or "").strip().replace("％", "%").replace(" ", "")
    m = re.fullmatch(r"(\d{1,4})(%?)", raw)
    if m and m.group(2):
        value = int(m.group(1))
        if 1 <= value <= 100:
            return SampleSize(f"{value}%", percent=value)
    elif m:
        value = int(m.group(1))
        if 1 <= value <= MAX_SAMPLE:
            return SampleSize(str(value), number=value)
    raise ValidationFailed(_l("Enter a number of archives from 1 to %(max)s, or a percentage such as 10%%.",
                              max=MAX_SAMPLE), field=field_name)


def default_sample_size() -> str:
    value = get_setting(SAMPLE_SETTING)
    try:
        return parse_sample_size(value).text
    except ValidationFailed:
        return SAMPLE_DEFAULT


def new_seed() -> str:
    """A fresh random seed: 12 decimal digits (easy to read out and type in again)."""
    return f"{secrets.randbelow(10**12):012d}"


def parse_seed(text: str) -> str:
    seed = (text or "").strip()
    if not seed:
        return new_seed()
    if len(seed) > 64 or not re.fullmatch(r"[0-9A-Za-z_.:-]+", seed):
        raise ValidationFailed(_l("A seed has at most 64 letters, digits or . _ : - (no spaces)."),
                               field="seed")
    return seed


# --- the draw -------------------------------------------------------------------------------------

def population(scope_kind: str, scope_id: int | None) -> list[int]:
    """Ids of the filed archives in scope, ascending (destroyed and unfiled archives never count)."""
    q = sa.select(Archive.id).where(Archive.status == FILED)
    if scope_kind == SCOPE_DEPARTMENT:
        q = q.where(Archive.department_id == scope_id)
    elif scope_kind == SCOPE_TYPE:
        q = q.where(Archive.customer_type_id == scope_id)
    return sorted(db.session.scalars(q))


def population_text(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def population_hash(ids: list[int]) -> str:
    return hashlib.sha256(population_text(ids).encode("ascii")).hexdigest()


def draw_sample(seed: str, ids: list[int], k: int) -> list[int]:
    """The sample: ``random.Random(seed).sample(sorted ids, k)`` — same seed, same population,
    same sample, on any machine."""
    return random.Random(str(seed)).sample(sorted(ids), k)


@dataclass
class DrawForm:
    quarter: str = ""
    scope: str = SCOPE_ALL
    sample: str = ""
    seed: str = ""
    note: str = ""

    @classmethod
    def from_mapping(cls, data) -> DrawForm:
        return cls(**{name: (data.get(name) or "").strip() for name in ("quarter", "scope", "sample",
                                                                         "seed", "note")})


def validate_draw(form: DrawForm) -> tuple[dict, dict[str, str]]:
    """Cleaned values and field errors of a draw form."""
    errors: dict[str, str] = {}
    clean: dict = {}
    for name, parse in (("quarter", parse_quarter), ("scope", parse_scope),
                        ("sample", parse_sample_size), ("seed", parse_seed)):
        try:
            clean[name] = parse(getattr(form, name))
        except ValidationFailed as exc:
            errors[name] = str(exc.message)
    if len(form.note) > NOTE_MAX:
        errors["note"] = _("At most %(n)s characters.", n=NOTE_MAX)
    clean["note"] = form.note
    return clean, errors


def draw(actor: Actor, form: DrawForm) -> Inspection:
    """Draw a sample and open the inspection (archivist)."""
    if not can_draw(actor.user):
        raise deny(actor, _l("Only the archivist draws inspection samples."), None, "inspection draw")
    begin_write()
    clean, errors = validate_draw(form)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), errors=errors)
    year, quarter = clean["quarter"]
    scope_kind, scope_id, scope_label = clean["scope"]
    ids = population(scope_kind, scope_id)
    if not ids:
        raise ValidationFailed(_l("There is no filed archive in this scope to draw from."),
                               errors={"scope": _("There is no filed archive in this scope to draw from.")})
    size: SampleSize = clean["sample"]
    k = size.of(len(ids)) or 1
    seed = clean["seed"]
    drawn = draw_sample(seed, ids, k)
    inspection = Inspection(
        year=year, quarter=quarter, scope_kind=scope_kind, scope_id=scope_id, scope_label=scope_label,
        sample_requested=size.text, sample_size=len(drawn), seed=seed, population_count=len(ids),
        population_hash=population_hash(ids), population_ids=population_text(ids), note=clean["note"],
        status=OPEN, created_by_id=actor.user.id)
    db.session.add(inspection)
    archives = {a.id: a for a in db.session.scalars(sa.select(Archive).where(Archive.id.in_(drawn)))}
    for position, archive_id in enumerate(drawn, start=1):
        archive = archives[archive_id]
        sample = InspectionSample(position=position, archive_id=archive.id, archive_number=archive.label,
                                  department_id=archive.department_id)
        sample.checks = [InspectionCheck(key=key) for key in checklist.KEYS]
        inspection.samples.append(sample)
    db.session.flush()
    record(actor, actions.INSPECTION_DRAW, detail=(
        f"{inspection.label} {quarter_label(year, quarter)}; {scope_text(inspection)}; "
        f"sample {size.text} → {len(drawn)} of {len(ids)}; seed {seed}; population sha256 "
        f"{inspection.population_hash}; drawn: " + ", ".join(archives[i].label for i in drawn)))
    db.session.commit()
    return inspection


@dataclass
class Reproduction:
    """What the inspection page shows under 复现抽样."""

    sample_ids: list[int]
    reproduced_ids: list[int]
    stored_hash: str
    stored_hash_ok: bool
    current_count: int
    current_hash: str

    @property
    def identical(self) -> bool:
        return self.sample_ids == self.reproduced_ids and self.stored_hash_ok

    @property
    def population_unchanged(self) -> bool:
        return self.current_hash == self.stored_hash


def reproduce(inspection: Inspection) -> Reproduction:
    ids = inspection.ids
    drawn = [s.archive_id for s in sorted(inspection.samples, key=lambda s: s.position)]
    current = population(inspection.scope_kind, inspection.scope_id)
    return Reproduction(sample_ids=drawn, reproduced_ids=draw_sample(inspection.seed, ids, len(drawn)),
                        stored_hash=inspection.population_hash,
                        stored_hash_ok=population_hash(ids) == inspection.population_hash,
                        current_count=len(current), current_hash=population_hash(current))


# --- checking ------------------------------------------------------------------------------------

@dataclass
class CheckValues:
    """A submitted checklist: per key (result, note), the paper document count, the form's version."""

    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    paper_count: str = ""
    version: str = ""

    @classmethod
    def from_mapping(cls, data) -> CheckValues:
        return cls(results={key: ((data.get(f"result_{key}") or "").strip(),
                                  (data.get(f"note_{key}") or "").strip()) for key in checklist.KEYS},
                   paper_count=(data.get("paper_count") or "").strip(),
                   version=(data.get("version") or "").strip())

    @classmethod
    def of(cls, sample: InspectionSample) -> CheckValues:
        return cls(results={c.key: (c.result, c.note) for c in sample.checks},
                   paper_count="" if sample.paper_count is None else str(sample.paper_count),
                   version=str(sample.version))


def validate_checks(sample: InspectionSample, values: CheckValues) -> dict[str, str]:
    errors: dict[str, str] = {}
    by_key = {c.key: c for c in sample.checks}
    for key, (result, note) in values.results.items():
        if result and result not in RESULTS:
            errors[f"result_{key}"] = _("Choose 符合, 不符合 or 不适用.")
        elif result == NONCONFORM and not note:
            errors[f"note_{key}"] = _("Describe what does not conform.")
        elif len(note) > NOTE_MAX:
            errors[f"note_{key}"] = _("At most %(n)s characters.", n=NOTE_MAX)
        check = by_key.get(key)
        if check is not None and check.rectification is not None and result != NONCONFORM:
            errors[f"result_{key}"] = _("A rectification is assigned for this finding: the result stays "
                                        "“does not conform”; the rectification records the fix.")
    if values.paper_count and (not values.paper_count.isdigit() or int(values.paper_count) > 100000):
        errors["paper_count"] = _("Enter the number of documents in the paper file (a whole number).")
    return errors


def save_checks(actor: Actor, sample_id: int, values: CheckValues) -> InspectionSample:
    """Record the checklist of one sampled archive (archivist; the inspection must be open).

    ``values.version`` is the version the form was loaded with: if someone saved in between, the
    save is refused with Conflict (409) and the form comes back with the submitted values.
    """
    sample = db.session.get(InspectionSample, sample_id)
    if sample is None:
        raise NotFound(_l("No such sampled archive."))
    if not can_check(actor.user):
        raise deny(actor, _l("Only the archivist records inspection checks; the quality supervisor reads "
                             "and signs the record."), sample.archive, f"inspection {sample.inspection.label}")
    begin_write(sample)
    if sample.inspection.status != OPEN:
        raise InvalidState(_l("This inspection is closed; its checks can no longer change."))
    if values.version != str(sample.version):
        raise Conflict(_l("Someone saved this checklist while you were editing it. Your entries are "
                          "kept below; compare them with the saved results and save again."),
                       current=CheckValues.of(sample))
    errors = validate_checks(sample, values)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), errors=errors)
    now = utcnow()
    changes = []
    for check in sample.checks:
        result, note = values.results.get(check.key, (check.result, check.note))
        if (result, note) != (check.result, check.note):
            changes.append(f"{checklist.label(check.key)}: {_result_text(check.result)} → "
                           f"{_result_text(result)}{'（' + note + '）' if note else ''}")
            check.result, check.note = result, note
            check.checked_by_id, check.checked_at = actor.user.id, now
    paper = int(values.paper_count) if values.paper_count else None
    if paper != sample.paper_count:
        changes.append(f"paper documents: {sample.paper_count} → {paper}")
    sample.paper_count = paper
    sample.electronic_count = checklist.electronic_count(sample.archive)
    sample.completeness = checklist.completeness(sample.archive)[0]
    sample.checked_by_id, sample.checked_at = actor.user.id, now  # also bumps the version
    record(actor, actions.INSPECTION_CHECK, archive=sample.archive,
           detail=f"{sample.inspection.label}: " + ("; ".join(changes) if changes else "no change"))
    db.session.commit()
    return sample


def _result_text(result: str) -> str:
    return str(checklist.RESULT_LABELS.get(result, "—")) if result else "—"


def sample_state(sample: InspectionSample) -> str:
    """unchecked | partial | conform | findings"""
    results = [c.result for c in sample.checks]
    if not any(results):
        return "unchecked"
    if not all(results):
        return "partial"
    return "findings" if NONCONFORM in results else "conform"


SAMPLE_STATE_LABELS = {"unchecked": _l("Not checked"), "partial": _l("Partly checked"),
                       "conform": _l("Conforms"), "findings": _l("Findings")}


# --- rectification ------------------------------------------------------------------------------

def assignable_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.active.is_(True), User.role.in_(ASSIGNABLE_ROLES))
                                   .order_by(User.department_id, User.role, User.display_name)))


def default_assignee(archive: Archive) -> User | None:
    """The archive's responsible staff, else its department head."""
    if archive.responsible is not None and archive.responsible.active:
        return archive.responsible
    return db.session.scalar(sa.select(User).where(User.role == roles.DEPT_HEAD, User.active.is_(True),
                                                   User.department_id == archive.department_id).limit(1))


def rect_url(rect_id: int) -> str:
    if has_request_context():
        return url_for("inspection.rectification", rectification_id=rect_id)
    return f"/inspections/rectifications/{rect_id}"


def _tell(user: User, message, url: str) -> None:
    """Notify in the user's own language (``message`` is called under that locale)."""
    with force_locale(user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        text = message()
    notify(user, text, url)


def _event(rect: Rectification, actor: Actor, action: str, note: str = "") -> None:
    rect.events.append(RectificationEvent(user_id=actor.user.id if actor.user else None, action=action,
                                          note=note))


def parse_days(text: str, field_name: str = "days", *, required: bool = True) -> int | None:
    text = (text or "").strip()
    if not text and not required:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise ValidationFailed(_l("Enter a whole number of working days from 1 to %(max)s.", max=MAX_DAYS),
                               field=field_name)
    return int(text)


def assign(actor: Actor, check_id: int, *, assignee_id: str | int, days: str | int = RECTIFY_DAYS,
           instruction: str = "") -> Rectification:
    """Assign the rectification of a finding to a person, due in ``days`` working days (archivist)."""
    check = db.session.get(InspectionCheck, check_id)
    if check is None:
        raise NotFound(_l("No such finding."))
    sample = check.sample
    if not can_check(actor.user):
        raise deny(actor, _l("Only the archivist assigns rectifications."), sample.archive,
                   f"inspection {sample.inspection.label}")
    begin_write(sample)
    if check.result != NONCONFORM:
        raise InvalidState(_l("Only an item that does not conform needs a rectification."))
    if check.rectification is not None:
        raise InvalidState(_l("A rectification is already assigned for this finding."))
    errors: dict[str, str] = {}
    assignee = db.session.get(User, int(assignee_id)) if str(assignee_id).isdigit() else None
    if assignee is None or not assignee.active or assignee.role not in ASSIGNABLE_ROLES:
        errors["assignee"] = _("Choose who rectifies it.")
    try:
        n = parse_days(str(days))
    except ValidationFailed as exc:
        errors["days"] = str(exc.message)
    instruction = (instruction or "").strip()
    if len(instruction) > NOTE_MAX:
        errors["instruction"] = _("At most %(n)s characters.", n=NOTE_MAX)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), errors=errors)
    deadline = workcal.add_working_days(workcal.today(), n)
    rect = Rectification(inspection_id=sample.inspection_id, check=check, assignee=assignee,
                         instruction=instruction or check.note, working_days=n, deadline=deadline,
                         status=R_OPEN, assigned_by_id=actor.user.id)
    db.session.add(rect)
    _event(rect, actor, "assign", _("To %(name)s, due %(date)s. %(note)s", name=assignee.display_name,
                                    date=deadline.isoformat(), note=rect.instruction))
    db.session.flush()
    record(actor, actions.RECTIFICATION_ASSIGN, archive=sample.archive, detail=(
        f"{sample.inspection.label} #{rect.id} {checklist.label(check.key)} → {assignee.username}, "
        f"due {deadline.isoformat()} ({n} WD): {rect.instruction}"))
    archive = sample.archive
    _tell(assignee, lambda: _("Rectification for %(archive)s: %(item)s — due %(date)s.",
                               archive=f"{archive.label} {archive.name}", item=checklist.label(check.key),
                               date=deadline.isoformat()), rect_url(rect.id))
    db.session.commit()
    return rect


def _load_rect_for_update(actor: Actor, rect_id: int) -> Rectification:
    rect = db.session.get(Rectification, rect_id)
    if rect is None:
        raise NotFound(_l("No such rectification."))
    return rect


def _check_version(rect: Rectification, version: str | int | None) -> None:
    if version not in (None, "") and str(version) != str(rect.version):
        raise Conflict(_l("This rectification changed while you were looking at it (%(state)s). "
                          "Reload the page to see its current state.", state=rect_state_label(rect)))


def report_done(actor: Actor, rect_id: int, note: str, version: str | None = None) -> Rectification:
    """The assignee reports the rectification done, with a note on what was done."""
    rect = _load_rect_for_update(actor, rect_id)
    if actor.user is None or rect.assignee_id != actor.user.id:
        raise deny(actor, _l("Only the person the rectification is assigned to reports it done."),
                   rect.check.sample.archive, f"rectification {rect.id}")
    begin_write(rect)
    _check_version(rect, version)
    if rect.status != R_OPEN:
        raise InvalidState(_l("This rectification is not waiting for you (%(state)s).",
                              state=rect_state_label(rect)))
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(_l("Describe what was done."), errors={"note": _("Describe what was done.")})
    if len(note) > NOTE_MAX:
        raise ValidationFailed(_l("At most %(n)s characters.", n=NOTE_MAX),
                               errors={"note": _("At most %(n)s characters.", n=NOTE_MAX)})
    rect.status, rect.reported_at, rect.report_note = R_REPORTED, utcnow(), note
    late = rect.reported_late()
    _event(rect, actor, "report", note)
    sample = rect.check.sample
    record(actor, actions.RECTIFICATION_REPORT, archive=sample.archive, detail=(
        f"{sample.inspection.label} #{rect.id} {checklist.label(rect.check.key)}"
        f"{' (late, due ' + rect.deadline.isoformat() + ')' if late else ''}: {note}"))
    archivist = rect.assigned_by
    if archivist is not None and archivist.active:
        _tell(archivist, lambda: _("%(name)s reports the rectification of %(archive)s done; please verify.",
                                    name=actor.user.display_name, archive=sample.archive.label), rect_url(rect.id))
    db.session.commit()
    return rect


def close_rectification(actor: Actor, rect_id: int, note: str = "", version: str | None = None) -> Rectification:
    """The archivist verifies the reported rectification and closes it (复查)."""
    rect = _load_rect_for_update(actor, rect_id)
    if not can_check(actor.user):
        raise deny(actor, _l("Only the archivist verifies and closes rectifications."),
                   rect.check.sample.archive, f"rectification {rect.id}")
    begin_write(rect)
    _check_version(rect, version)
    if rect.status != R_REPORTED:
        raise InvalidState(_l("Only a rectification reported done can be verified (%(state)s).",
                              state=rect_state_label(rect)))
    note = (note or "").strip()[:NOTE_MAX]
    rect.status, rect.closed_at, rect.closed_by_id, rect.close_note = R_CLOSED, utcnow(), actor.user.id, note
    _event(rect, actor, "close", note)
    sample = rect.check.sample
    record(actor, actions.RECTIFICATION_CLOSE, archive=sample.archive, detail=(
        f"{sample.inspection.label} #{rect.id} {checklist.label(rect.check.key)} verified: {note}"))
    _tell(rect.assignee, lambda: _("Your rectification of %(archive)s was verified and closed.",
                                    archive=sample.archive.label), rect_url(rect.id))
    db.session.commit()
    return rect


def send_back(actor: Actor, rect_id: int, reason: str, days: str = "", version: str | None = None) -> Rectification:
    """The archivist sends a reported rectification back with a reason (optionally a new deadline)."""
    rect = _load_rect_for_update(actor, rect_id)
    if not can_check(actor.user):
        raise deny(actor, _l("Only the archivist verifies rectifications."),
                   rect.check.sample.archive, f"rectification {rect.id}")
    begin_write(rect)
    _check_version(rect, version)
    if rect.status != R_REPORTED:
        raise InvalidState(_l("Only a rectification reported done can be sent back (%(state)s).",
                              state=rect_state_label(rect)))
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("Give the reason for sending it back.")
    elif len(reason) > NOTE_MAX:
        errors["reason"] = _("At most %(n)s characters.", n=NOTE_MAX)
    try:
        n = parse_days(days, "days", required=False)
    except ValidationFailed as exc:
        errors["days"] = str(exc.message)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), errors=errors)
    old = rect.deadline
    if n:
        rect.deadline = workcal.add_working_days(workcal.today(), n)
        rect.working_days = n
    rect.status, rect.return_reason = R_OPEN, reason
    rect.returned_count += 1
    _event(rect, actor, "return", reason + (f" ({old.isoformat()} → {rect.deadline.isoformat()})"
                                            if rect.deadline != old else ""))
    sample = rect.check.sample
    record(actor, actions.RECTIFICATION_RETURN, archive=sample.archive, detail=(
        f"{sample.inspection.label} #{rect.id} sent back, due {rect.deadline.isoformat()}: {reason}"))
    _tell(rect.assignee, lambda: _("Your rectification of %(archive)s was sent back: %(reason)s",
                                    archive=sample.archive.label, reason=reason), rect_url(rect.id))
    db.session.commit()
    return rect


def rect_state(rect: Rectification, today: date | None = None) -> str:
    today = today or workcal.today()
    if rect.is_late(today):
        return "late"
    if rect.status == R_OPEN and rect.returned_count:
        return "returned"
    return rect.status


def rect_state_label(rect: Rectification) -> str:
    return str(R_STATE_LABELS[rect_state(rect)])


def rectifications_of(inspection: Inspection, samples: list[InspectionSample] | None = None) -> list[Rectification]:
    ids = [s.id for s in (samples if samples is not None else inspection.samples)]
    if not ids:
        return []
    return list(db.session.scalars(
        sa.select(Rectification).join(InspectionCheck, InspectionCheck.id == Rectification.check_id)
        .where(InspectionCheck.sample_id.in_(ids)).order_by(Rectification.deadline, Rectification.id)))


# --- summary and closing -----------------------------------------------------------------------

@dataclass
class Summary:
    samples: int
    checked: int
    conforming: int
    findings: int
    unassigned: int
    open: int
    overdue: int

    @property
    def all_checked(self) -> bool:
        return self.checked == self.samples


def summary(inspection: Inspection, samples: list[InspectionSample] | None = None) -> Summary:
    samples = inspection.samples if samples is None else samples
    today = workcal.today()
    states = [sample_state(s) for s in samples]
    findings = [c for s in samples for c in s.checks if c.result == NONCONFORM]
    rects = rectifications_of(inspection, samples)
    return Summary(samples=len(samples), checked=sum(1 for st in states if st in ("conform", "findings")),
                   conforming=states.count("conform"), findings=len(findings),
                   unassigned=sum(1 for c in findings if c.rectification is None),
                   open=sum(1 for r in rects if r.status != R_CLOSED),
                   overdue=sum(1 for r in rects if r.is_late(today)))


def state(inspection: Inspection, s: Summary | None = None) -> str:
    if inspection.status == OPEN:
        return OPEN
    s = s or summary(inspection)
    return "closed_open" if s.open else CLOSED


def close(actor: Actor, inspection_id: int, note: str = "", version: str | None = None) -> Inspection:
    """Close the inspection once every sampled archive is checked and every finding assigned."""
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound(_l("No such inspection."))
    if not can_check(actor.user):
        raise deny(actor, _l("Only the archivist closes an inspection."), None, f"inspection {inspection.label}")
    begin_write(inspection)
    if version not in (None, "") and str(version) != str(inspection.version):
        raise Conflict(_l("The inspection changed while you were looking at it. Reload the page."))
    if inspection.status != OPEN:
        raise InvalidState(_l("This inspection is already closed."))
    s = summary(inspection)
    if not s.all_checked:
        raise InvalidState(_l("%(n)s sampled archive(s) are not fully checked yet.", n=s.samples - s.checked))
    if s.unassigned:
        raise InvalidState(_l("%(n)s finding(s) have no rectification assigned yet.", n=s.unassigned))
    note = (note or "").strip()[:NOTE_MAX]
    inspection.status, inspection.closed_at, inspection.closed_by_id = CLOSED, utcnow(), actor.user.id
    inspection.closing_note = note
    inspection.summary_checked, inspection.summary_conforming = s.checked, s.conforming
    inspection.summary_findings, inspection.summary_open = s.findings, s.open
    record(actor, actions.INSPECTION_CLOSE, detail=(
        f"{inspection.label}: checked {s.checked}, conforming {s.conforming}, findings {s.findings}, "
        f"rectifications open {s.open}" + (f"; {note}" if note else "")))
    db.session.commit()
    return inspection


# --- lists ----------------------------------------------------------------------------------------

@dataclass
class Row:
    inspection: Inspection
    samples: list[InspectionSample]
    summary: Summary
    state: str


def list_inspections(actor: Actor, *, year: int | None = None, status: str = "") -> list[Row]:
    require_reader(actor)
    user = actor.user
    q = sa.select(Inspection).order_by(Inspection.year.desc(), Inspection.quarter.desc(), Inspection.id.desc())
    if year:
        q = q.where(Inspection.year == year)
    if status in (OPEN, CLOSED):
        q = q.where(Inspection.status == status)
    if not sees_everything(user):
        q = q.where(Inspection.id.in_(sa.select(InspectionSample.inspection_id).where(
            InspectionSample.department_id == user.department_id)))
    rows = []
    for inspection in db.session.scalars(q):
        samples = visible_samples(user, inspection)
        s = summary(inspection, samples)
        rows.append(Row(inspection, samples, s, state(inspection, s if sees_everything(user) else None)))
    return rows


def years() -> list[int]:
    return list(db.session.scalars(sa.select(Inspection.year).distinct().order_by(Inspection.year.desc())))


def overdue_rectifications(user, today: date | None = None) -> list[Rectification]:
    """Overdue rectifications the user may read (all for archivist/supervisor/manager)."""
    today = today or workcal.today()
    q = (sa.select(Rectification).join(InspectionCheck, InspectionCheck.id == Rectification.check_id)
         .join(InspectionSample, InspectionSample.id == InspectionCheck.sample_id)
         .where(Rectification.status == R_OPEN, Rectification.deadline < today)
         .order_by(Rectification.deadline, Rectification.id))
    if not sees_everything(user):
        if _role(user) != roles.DEPT_HEAD:
            return []
        q = q.where(InspectionSample.department_id == user.department_id)
    return list(db.session.scalars(q))


# --- inbox -----------------------------------------------------------------------------------------

@inbox.source
def waiting_for(user) -> list[inbox.InboxItem]:
    """Rectifications waiting for the user: to do (assignee) or to verify (archivist)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    today = workcal.today()
    items = []
    mine = db.session.scalars(sa.select(Rectification).where(
        Rectification.assignee_id == user.id, Rectification.status == R_OPEN).order_by(Rectification.deadline))
    for rect in mine:
        archive = rect.check.sample.archive
        items.append(inbox.InboxItem(
            kind="rectification", kind_label=_("Rectification"),
            title=f"{archive.label} {archive.name} · {checklist.label(rect.check.key)}",
            url=rect_url(rect.id),
            action_label=str(R_STATE_LABELS[rect_state(rect, today)]),
            requested_by=rect.assigned_by.display_name, requested_at=rect.assigned_at,
            deadline=rect.deadline, late=rect.deadline < today))
    if can_check(user):
        for rect in db.session.scalars(sa.select(Rectification).where(Rectification.status == R_REPORTED)
                                       .order_by(Rectification.reported_at)):
            archive = rect.check.sample.archive
            items.append(inbox.InboxItem(
                kind="rectification", kind_label=_("Rectification"),
                title=f"{archive.label} {archive.name} · {checklist.label(rect.check.key)}",
                url=rect_url(rect.id), action_label=str(R_STATE_LABELS[R_REPORTED]),
                requested_by=rect.assignee.display_name, requested_at=rect.reported_at or rect.assigned_at))
    return items


# --- the archive page's panel ---------------------------------------------------------------------

def archive_panel(user, archive: Archive) -> dict | None:
    """Last inspection of this archive and its open rectifications, for those who may read them."""
    if user is None or not user.is_authenticated or archive.id is None:
        return None
    samples = list(db.session.scalars(
        sa.select(InspectionSample).join(Inspection, Inspection.id == InspectionSample.inspection_id)
        .where(InspectionSample.archive_id == archive.id)
        .order_by(Inspection.year.desc(), Inspection.quarter.desc(), Inspection.id.desc())))
    readable = [s for s in samples if sees_sample(user, s)]
    rects = []
    for s in samples:
        for c in s.checks:
            r = c.rectification
            if r is not None and r.status != R_CLOSED and (sees_sample(user, s) or r.assignee_id == user.id):
                rects.append(r)
    if not readable and not rects:
        return None
    last = readable[0] if readable else None
    return {"last": last, "last_state": sample_state(last) if last else None,
            "findings": [c for c in last.checks if c.result == NONCONFORM] if last else [],
            "rectifications": rects, "today": workcal.today()}


# --- settings ----------------------------------------------------------------------------------------

def save_sample_setting(actor: Actor, text: str) -> bool:
    """The default sample size (administrator). Returns whether it changed."""
    if _role(actor.user) != roles.ADMIN:
        raise deny(actor, _l("Only the system administrator changes this setting."), None,
                   "inspection settings")
    begin_write()
    size = parse_sample_size(text, "sample_size")
    old = get_setting(SAMPLE_SETTING)
    if old == size.text:
        db.session.rollback()
        return False
    row = db.session.get(Setting, SAMPLE_SETTING)
    if row is None:
        db.session.add(Setting(key=SAMPLE_SETTING, value=size.text))
    else:
        row.value = size.text
    record(actor, actions.SETTING_CHANGE, detail=f"{SAMPLE_SETTING}: {old} → {size.text}")
    db.session.commit()
    return True
