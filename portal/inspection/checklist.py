"""The checklist of the quarterly inspection and the facts the portal gathers to help the checker.

The items follow policy 004 §14 (档案核查: 电子档案与纸质档案的一致性、信息的真实性与完整性), §15
(命名规则 客户名称-档案类型-年份, 分类归档), §16 (借阅手续) and §13 (变更手续), §20 (密级). The checker
decides each item (符合 / 不符合 / 不适用); the facts below only point at what to look at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.archives.models import Archive
from portal.archives.profile import ALL_FIELDS, PERSONAL_FIELDS
from portal.auth import roles
from portal.extensions import db
from portal.inspection.models import CONFORM, NONCONFORM, NOT_APPLICABLE


@dataclass(frozen=True)
class Item:
    key: str
    label: object
    guide: object  # what the checker looks at


CHECKLIST: tuple[Item, ...] = (
    Item("paper", _l("Paper and electronic files agree"),
         _l("The paper file is at the recorded location and holds as many documents as the portal.")),
    Item("profile", _l("Basic information complete"),
         _l("The required profile fields are filled and agree with the paper file.")),
    Item("materials", _l("Contracts and other key materials present"),
         _l("Contracts, correspondence and other key documents of the cooperation are in the file.")),
    Item("naming", _l("Naming follows the rule"),
         _l("Stored file names follow 客户名称-档案类型-年份 (policy 004 §15).")),
    Item("classification", _l("Classification marked correctly"),
         _l("The archive's and documents' levels fit their content (personal data not public).")),
    Item("procedures", _l("Borrowing and change procedures complete"),
         _l("Every loan was approved and returned in order; profile changes went through change requests.")),
)
KEYS = tuple(item.key for item in CHECKLIST)
BY_KEY = {item.key: item for item in CHECKLIST}
RESULT_LABELS = {CONFORM: _l("Conforms"), NONCONFORM: _l("Does not conform"),
                 NOT_APPLICABLE: _l("Not applicable")}


def label(key: str) -> str:
    item = BY_KEY.get(key)
    return str(item.label) if item else key


# --- completeness -------------------------------------------------------------------------------

def completeness(archive: Archive) -> tuple[int, list[str]]:
    """(per cent of required profile fields filled, labels of the missing ones) — the KPI
    dashboard's definition (``portal.oversight.kpi.completeness``), so both pages agree."""
    from portal.oversight.kpi import completeness as kpi_completeness

    score, missing = kpi_completeness(archive)
    return int(score), [str(getattr(f, "label", f)) for f in missing]


# --- facts for the checker --------------------------------------------------------------------

@dataclass
class Fact:
    text: str
    warn: bool = False  # points at a possible non-conformity


def _documents(archive: Archive) -> list:
    from portal.documents.models import Document
    return list(db.session.scalars(sa.select(Document).where(Document.archive_id == archive.id)
                                   .order_by(Document.id)))


def electronic_count(archive: Archive) -> int:
    from portal.documents.models import Document
    return db.session.scalar(sa.select(sa.func.count(Document.id)).where(
        Document.archive_id == archive.id)) or 0


def name_follows_rule(archive: Archive, doc) -> bool:
    """Whether the stored name is 客户名称-档案类型-年份[-n] for the archive's current name."""
    from portal.documents.filetypes import stored_name_base
    base = stored_name_base(archive.name, doc.doc_type, 2000)[:-len("-2000")]
    pattern = re.escape(base) + r"-\d{4}(-\d+)?"
    return re.fullmatch(pattern, doc.stored_name or "") is not None


def facts(archive: Archive) -> dict[str, list[Fact]]:
    """Per checklist key, what the portal knows about this archive."""
    docs = _documents(archive)
    out: dict[str, list[Fact]] = {key: [] for key in KEYS}

    # paper ↔ electronic
    if archive.paper_location:
        out["paper"].append(Fact(_("Paper file location: %(place)s", place=archive.paper_location)))
    else:
        out["paper"].append(Fact(_("No paper file location is recorded."), warn=True))
    out["paper"].append(Fact(_("%(count)s documents in the portal.", count=len(docs))))
    from portal.workflows.borrowing import out_with
    loan = out_with(archive.id)
    if loan is not None:
        out["paper"].append(Fact(_("The paper file is out on loan with %(name)s until %(date)s.",
                                   name=loan.borrower.display_name,
                                   date=loan.due_date.isoformat() if loan.due_date else "?"), warn=True))

    # completeness
    score, missing = completeness(archive)
    out["profile"].append(Fact(_("Completeness %(score)s %%", score=score), warn=score < 100))
    if missing:
        out["profile"].append(Fact(_("Missing: %(fields)s", fields="、".join(missing)), warn=True))

    # key materials
    types: dict[str, int] = {}
    for doc in docs:
        types[doc.doc_type] = types.get(doc.doc_type, 0) + 1
    contracts = sum(n for t, n in types.items() if "合同" in t)
    if types:
        out["materials"].append(Fact(_("Documents by type: %(types)s",
                                       types="、".join(f"{t} {n}" for t, n in sorted(types.items())))))
    if not contracts:
        out["materials"].append(Fact(_("No contract document is stored."),
                                     warn=archive.stage == "active" or archive.contract_signed_on is not None))
    if archive.contract_signed_on:
        out["materials"].append(Fact(_("Contract signed on %(date)s.", date=archive.contract_signed_on.isoformat())))

    # naming
    wrong = [d for d in docs if not name_follows_rule(archive, d)]
    if docs:
        out["naming"].append(Fact(_("%(good)s of %(total)s stored names follow the rule.",
                                    good=len(docs) - len(wrong), total=len(docs)), warn=bool(wrong)))
    else:
        out["naming"].append(Fact(_("No documents stored.")))
    for doc in wrong[:5]:
        out["naming"].append(Fact(_("Not following the rule: %(name)s", name=doc.stored_name), warn=True))

    # classification
    out["classification"].append(Fact(_("Archive level: %(level)s",
                                        level=roles.LEVEL_LABELS.get(archive.sensitivity, archive.sensitivity))))
    levels: dict[int, int] = {}
    for doc in docs:
        levels[doc.sensitivity] = levels.get(doc.sensitivity, 0) + 1
    if levels:
        out["classification"].append(Fact(_("Documents by level: %(levels)s", levels="、".join(
            f"{roles.LEVEL_LABELS.get(level, level)} {n}" for level, n in sorted(levels.items())))))
    personal = [str(ALL_FIELDS[n].label) for n in sorted(PERSONAL_FIELDS)
                if archive.kind in ALL_FIELDS[n].kinds and getattr(archive, n, "")]
    if personal and archive.sensitivity == roles.PUBLIC:
        out["classification"].append(Fact(_("Personal data (%(fields)s) in a public archive.",
                                            fields="、".join(personal)), warn=True))

    # procedures: loans and change requests
    out["procedures"].extend(_procedure_facts(archive))
    return out


def _procedure_facts(archive: Archive) -> list[Fact]:
    from portal import workcal
    from portal.workflows.borrowing_models import COMPLETE, LENT, RETURNED, Loan, LoanItem
    from portal.workflows.requests import C_APPLIED, C_OPEN, ChangeRequest

    loans = list(db.session.scalars(sa.select(Loan).join(LoanItem, LoanItem.loan_id == Loan.id)
                                    .where(LoanItem.archive_id == archive.id)))
    today = workcal.today()
    lent = [loan for loan in loans if loan.status == LENT]
    overdue = [loan for loan in lent if loan.due_date and loan.due_date < today]
    returned = [loan for loan in loans if loan.status == RETURNED]
    damaged = [loan for loan in returned if loan.return_condition and loan.return_condition != COMPLETE]
    result = [Fact(_("Loans: %(total)s, returned %(returned)s, out now %(out)s.", total=len(loans),
                     returned=len(returned), out=len(lent)))]
    if overdue:
        result.append(Fact(_("%(count)s loan(s) overdue.", count=len(overdue)), warn=True))
    if damaged:
        result.append(Fact(_("%(count)s loan(s) came back damaged or incomplete.", count=len(damaged)),
                           warn=True))
    changes = list(db.session.scalars(sa.select(ChangeRequest.status).where(
        ChangeRequest.archive_id == archive.id)))
    result.append(Fact(_("Change requests: %(applied)s applied, %(open)s open.",
                         applied=sum(1 for s in changes if s == C_APPLIED),
                         open=sum(1 for s in changes if s in C_OPEN))))
    return result
