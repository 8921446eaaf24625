"""Demo data for retention, holds, destruction, handovers, inspections, monthly checks, reminders
and backups (issue 7), made through the real services after the demo archives (``portal demo``),
so the register, the notifications and the inbox agree with what the pages show.

What a new user finds after ``make run`` (the demo archives' dates are set for it in
``portal.demo``: RETENTION_OLD, RETENTION_ENDED_DAYS, BIRTHDAY_IN_DAYS):

- **retention**: two terminated archives whose 6-month review is due or overdue (the archivist's
  review list and inbox), one retained as 终止合作客户档案 with a reason and a next review date,
  destruction proposed for the two archives of the destruction demo;
- **hold** 冻结: management holds an archive whose customer is in litigation (with a case number);
- **destruction** 销毁: one application executed (archivist, the quality supervisor as witness —
  both with the demo password; store purged, key destroyed, certificate 销毁清册 stored) and one
  waiting for the owning department's head after the customer-service head approved it;
- **handovers** 移交: staff_sales' archives to the sales head (岗位调整), one handover confirmed, one
  awaiting receipt;
- **inspection** 抽查 of the current quarter: 5 archives drawn with a fixed seed, 3 checked, one
  finding with a rectification assigned to the archive's responsible staff;
- **monthly checks**: staff_sales confirmed half of their archives this month;
- **reminders**: a communication whose follow-up is due in 2 days (a birthday comes from the demo
  archives);
- **backup**: one backup into ``<instance>/backups`` so the backup register is not empty.

Each part is skipped when its kind of data exists already, so loading twice adds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from portal import workcal
from portal.actor import Actor
from portal.archives.models import FILED, INDIVIDUAL, TERMINATED, Archive, Communication
from portal.auth import roles
from portal.auth.models import User
from portal.extensions import db
from portal.printing import PdfUnavailable

DEMO_ADDR = "demo"
INSPECTION_SEED = "20260101"  # the demo's seed: the draw can be reproduced on the inspection page
INSPECTION_SAMPLE = "5"
INSPECTION_CHECKED = 3
HOLD_REASON = ("合同纠纷诉讼中：客户就服务合同尾款结算向法院提起诉讼，案件审理期间本档案作为证据材料须完整保存，"
               "不得销毁或删除。")
HOLD_REFERENCE = "（2026）粤0305民初12345号"
PROPOSE_REASON = "终止合作已满3年，经复核无继续留存必要（制度004第十七条），提出销毁。"
RETAIN_REASON = ("客户虽已终止合作，但仍有未结清的售后质保责任，且客户表示明年可能恢复合作；依据制度004第十四条"
                 "留存为终止合作客户档案，一年后再次复核。")
DESTRUCTION_REASON = "终止合作满3年，保管期限届满，经终止合作复核无留存必要（制度004第十七条、制度000第7条）。"
HANDOVER_NOTE = "张小销调整至新客户开发岗位，名下部分存量客户交由销售部经理直接跟进。"


def _users() -> dict[str, User]:
    return {u.username: u for u in db.session.scalars(sa.select(User))}


def _as(user: User) -> Actor:
    return Actor(user, DEMO_ADDR, "cli")


def _exists(query) -> bool:
    return db.session.scalar(query.limit(1)) is not None


@dataclass
class Plan:
    """Which demo archive plays which part (chosen by what the archives are, not by id)."""

    execute: Archive | None = None  # destroyed
    pending: Archive | None = None  # destruction application waiting for the department head
    hold: Archive | None = None
    retain: Archive | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def ids(self) -> set[int]:
        return {a.id for a in (self.execute, self.pending, self.hold, self.retain) if a is not None}


def _plan(users: dict[str, User]) -> Plan:
    from portal.retention import services as retention

    plan = Plan()
    terminated = list(db.session.scalars(sa.select(Archive).where(
        Archive.status == FILED, Archive.stage == TERMINATED, Archive.terminated_on.is_not(None))
        .order_by(Archive.id)))
    eligible = [a for a in terminated if retention.is_eligible(a) and not retention.is_held(a.id)]
    head = users.get("head_sales")
    # The waiting application belongs to 销售部 (its head sees it in the inbox), within the head's
    # clearance; the destroyed archive is another one, not secret either.
    plan.pending = next((a for a in eligible if head is not None and a.department_id == head.department_id
                         and a.sensitivity >= head.clearance), None)
    rest = [a for a in eligible if a is not plan.pending]
    plan.execute = next((a for a in rest if a.sensitivity > roles.SECRET), None)
    rest = [a for a in rest if a is not plan.execute]
    # Litigation on an archive that would otherwise be destroyable shows what a hold is for; with
    # a small demo set, any filed archive of an ongoing customer with a contract.
    plan.hold = rest[0] if rest else db.session.scalar(sa.select(Archive).where(
        Archive.status == FILED, Archive.stage != TERMINATED, Archive.contract_signed_on.is_not(None),
        Archive.id.not_in(sorted(plan.ids) or [0])).order_by(Archive.id.desc()).limit(1))
    # Retain the longest-overdue review when at least two others remain on the review list.
    due = [item for item in retention.reviews_due(None)
           if item.archive.id not in plan.ids and not item.status.held and not item.status.eligible]
    if len(due) >= 3:
        plan.retain = due[0].archive
    return plan


# --- the parts ----------------------------------------------------------------------------------

def _hold(plan: Plan, users: dict[str, User]) -> str | None:
    from portal.retention import services as retention
    from portal.retention.models import RetentionHold

    if plan.hold is None or _exists(sa.select(RetentionHold.id)):
        return None
    retention.place_hold(_as(users["manager"]), plan.hold, HOLD_REASON, HOLD_REFERENCE)
    return f"hold on {plan.hold.label}"


def _reviews(plan: Plan, users: dict[str, User]) -> str | None:
    from portal.retention import services as retention
    from portal.retention.models import RetentionReview

    if _exists(sa.select(RetentionReview.id)):
        return None
    archivist = _as(users["archivist"])
    proposed = 0
    for archive in (plan.execute, plan.pending):
        if archive is not None:
            retention.propose(archivist, archive, PROPOSE_REASON)
            proposed += 1
    parts = [f"{proposed} proposed for destruction"]
    if plan.retain is not None:
        retention.retain(archivist, plan.retain, RETAIN_REASON,
                         retention.add_months(workcal.today(), retention.RETAIN_DEFAULT_MONTHS))
        parts.insert(0, f"{plan.retain.label} retained")
    due = len(retention.reviews_due(users["archivist"]))
    return "termination reviews: " + ", ".join(parts) + f", {due} due or overdue"


def _destruction(plan: Plan, users: dict[str, User], password: str) -> str | None:
    from portal.destruction import services as destruction
    from portal.destruction.models import RETENTION, S_DEPARTMENTS, DestructionApplication
    from portal.destruction.services import ExecutionRefused

    if _exists(sa.select(DestructionApplication.id)):
        return None
    archivist, service_head = _as(users["archivist"]), _as(users["head_service"])
    done = []
    if plan.execute is not None:
        app = destruction.apply(archivist, grounds=RETENTION, reason=DESTRUCTION_REASON,
                                lines=[destruction.Line(plan.execute.id, "")])
        destruction.approve(service_head, app, "已核对销毁清单与复核记录，同意销毁。")
        while app.status == S_DEPARTMENTS:
            destruction.approve(_as(destruction.next_deciders(app)[0]), app, "本部门确认该客户已无业务往来，同意。")
        destruction.approve(_as(users["manager"]), app, "同意按制度销毁。")
        try:
            app = destruction.execute(archivist, app.id, "supervisor", password, password, paper_method="碎纸")
            done.append(f"{app.number} executed ({plan.execute.label})")
        except ExecutionRefused:  # the demo users have other passwords: it waits for the archivist
            db.session.rollback()
            done.append(f"{app.number} approved, waiting for execution (demo password refused)")
        except PdfUnavailable:  # no Chinese font for the certificate: it waits for the archivist
            db.session.rollback()
            done.append(f"{app.number} approved, waiting for execution (no Chinese font for the certificate)")
    if plan.pending is not None:
        app = destruction.apply(archivist, grounds=RETENTION, reason=DESTRUCTION_REASON,
                                lines=[destruction.Line(plan.pending.id, "")])
        destruction.approve(service_head, app, "已核对，同意，请销售部确认。")
        done.append(f"{app.number} waiting for {', '.join(u.username for u in destruction.next_deciders(app))}")
    return "destruction: " + "; ".join(done) if done else None


def _handovers(plan: Plan, users: dict[str, User]) -> str | None:
    from portal.reports import handovers
    from portal.reports.models import REASSIGNED, Handover

    giver, receiver = users.get("staff_sales"), users.get("head_sales")
    if giver is None or receiver is None or _exists(sa.select(Handover.id)):
        return None
    # The newest first; not those that give staff_sales a reminder (birthday, follow-up) — they
    # stay with them for the reminders demo.
    from portal.oversight.reminders import reminders_for

    keep = sorted({r.archive_id for r in reminders_for(giver) if r.archive_id} | plan.ids) or [0]
    archives = list(db.session.scalars(sa.select(Archive).where(
        Archive.responsible_id == giver.id, Archive.status == FILED, Archive.stage != TERMINATED,
        Archive.sensitivity >= receiver.clearance, Archive.id.not_in(keep))
        .order_by(Archive.id.desc()).limit(3)))
    if len(archives) < 2:
        return None
    archivist = _as(users["archivist"])
    made = []
    # One handover confirmed by the receiver (2 archives when there are enough), one awaiting receipt.
    for batch, confirm in ((archives[:-1], True), (archives[-1:], False)):
        form = handovers.HandoverForm(
            giver_id=giver.id, receiver_id=receiver.id, reason=REASSIGNED, reason_text=HANDOVER_NOTE,
            handover_date=workcal.today(), selected=[a.id for a in batch],
            versions={a.id: a.version for a in batch}, paper={a.id: True for a in batch},
            paper_count={a.id: str(2 + a.id % 3) for a in batch})
        handover = handovers.hand_over(archivist, form).handover
        if confirm:
            handovers.confirm_receipt(_as(receiver), handover.id, "纸质档案已逐盒清点，与移交清单一致。")
        made.append(f"{handover.number} ({len(batch)} archive{'s' if len(batch) > 1 else ''}, "
                    f"{'confirmed' if confirm else 'awaiting receipt'})")
    return "handovers: " + "; ".join(made)


def _inspection(users: dict[str, User]) -> str | None:
    from portal.inspection import checklist
    from portal.inspection import services as inspections
    from portal.inspection.models import CONFORM, NONCONFORM, Inspection

    year, quarter = inspections.quarter_of(workcal.today())
    if _exists(sa.select(Inspection.id).where(Inspection.year == year, Inspection.quarter == quarter)):
        return None
    if not inspections.population(inspections.SCOPE_ALL, None):
        return None
    archivist = _as(users["archivist"])
    inspection = inspections.draw(archivist, inspections.DrawForm(
        quarter=inspections.quarter_value(year, quarter), scope=inspections.SCOPE_ALL,
        sample=INSPECTION_SAMPLE, seed=INSPECTION_SEED,
        note="本季度例行抽查（制度004第十四条）：核对纸质与电子档案的一致性和完整性。"))
    samples = sorted(inspection.samples, key=lambda s: s.position)
    sample_ids = [s.id for s in samples]

    def responsible_rank(sample) -> int:
        person = sample.archive.responsible
        if person is None or not person.active or person.role != roles.STAFF:
            return 2
        return 0 if person.username == "staff_sales" else 1

    finding = min(samples, key=responsible_rank)
    # The conforming ones: those with material first (a checker finds something to compare).
    others = sorted((s for s in samples if s.id != finding.id),
                    key=lambda s: (checklist.electronic_count(s.archive) == 0, s.position))
    chosen = [*others[:INSPECTION_CHECKED - 1], finding]
    rect = None
    for sample in sorted(chosen, key=lambda s: s.position):
        count = checklist.electronic_count(sample.archive)
        results = {key: (CONFORM, "") for key in checklist.KEYS}
        paper = count
        if sample.id == finding.id:
            if count:
                key, note = "paper", "纸质档案盒内缺少服务合同原件第2页，与系统中的电子版不一致。"
                paper = count - 1
            else:
                key, note = "materials", "纸质档案中有服务合同原件，系统中未上传扫描件，电子档案不完整。"
                paper = 2
            results[key] = (NONCONFORM, note)
        values = inspections.CheckValues(results=results, paper_count=str(paper), version=str(sample.version))
        saved = inspections.save_checks(archivist, sample.id, values)
        if sample.id == finding.id:
            check = next(c for c in saved.checks if c.result == NONCONFORM)
            assignee = inspections.default_assignee(saved.archive)
            if assignee is not None:
                rect = inspections.assign(archivist, check.id, assignee_id=assignee.id,
                                          days=inspections.RECTIFY_DAYS,
                                          instruction=f"{note}请在期限内补齐并报告整改完成。")
    text = (f"inspection {inspection.label}: {len(sample_ids)} drawn (seed {INSPECTION_SEED}), "
            f"{len(chosen)} checked, 1 finding")
    if rect is not None:
        text += f", rectification for {rect.assignee.username} due {rect.deadline.isoformat()}"
    return text


def _monthly_checks(users: dict[str, User]) -> str | None:
    from portal.oversight import checks
    from portal.oversight.kpi import month_start
    from portal.oversight.models import MonthlyCheck

    staff = users.get("staff_sales")
    if staff is None:
        return None
    month = month_start(workcal.today())
    if _exists(sa.select(MonthlyCheck.id).where(MonthlyCheck.checked_by_id == staff.id,
                                                MonthlyCheck.month == month)):
        return None
    rows = [r for r in checks.my_rows(staff, month) if not r.done]
    ids = [r.archive.id for r in rows[: (len(rows) + 1) // 2]]
    if not ids:
        return None
    count = checks.confirm_many(_as(staff), ids, "已核对客户基本信息、纸质档案存放位置与电子文件，信息现行有效。")
    return f"monthly checks: {count} of {len(rows)} confirmed by staff_sales"


def _monthly_check_history(months: int = 6) -> str | None:
    """Past months' checks, so the KPI dashboard's check rate has history: most archives confirmed
    in the last working days of each month, a few late, a few missed. Inserted as history (the
    portal confirms only the current month), so they have no access-register entries."""
    import random as _random
    from datetime import datetime, time

    from portal.dbsetup import begin_write
    from portal.oversight import checks
    from portal.oversight.kpi import month_start
    from portal.oversight.models import MonthlyCheck

    current = month_start(workcal.today())
    if _exists(sa.select(MonthlyCheck.id).where(MonthlyCheck.month < current)):
        return None
    begin_write()
    archives = db.session.execute(sa.select(Archive.id, Archive.responsible_id, Archive.filed_at).where(
        Archive.status == FILED, Archive.responsible_id.is_not(None))).all()
    added = 0
    month = current
    for _ in range(months):
        month = month_start(month - timedelta(days=1))
        due = checks.due_date(month)
        for archive_id, responsible_id, filed_at in archives:
            if filed_at is None or filed_at.date() >= month:
                continue  # filed during or after the month: counted from the next month
            rng = _random.Random(f"check:{archive_id}:{month.isoformat()}")
            roll = rng.random()
            if roll < 0.08:
                continue  # missed
            day = due + timedelta(days=rng.randint(1, 6)) if roll < 0.15 else due - timedelta(days=rng.randint(0, 3))
            db.session.add(MonthlyCheck(archive_id=archive_id, month=month, checked_by_id=responsible_id,
                                        checked_on=day, checked_at=datetime.combine(day, time(8, rng.randint(0, 59))),
                                        note="已核对基本信息、纸质档案位置与电子文件。"))
            added += 1
    db.session.commit()
    return f"monthly check history: {added} checks over {months} months"


def _follow_up(plan: Plan, users: dict[str, User]) -> str | None:
    from portal.archives import services
    from portal.archives.subrecords import BY_KEY

    staff = users.get("staff_sales")
    if staff is None or _exists(sa.select(Communication.id).where(Communication.follow_up_on.is_not(None))):
        return None
    archive = db.session.scalar(sa.select(Archive).where(
        Archive.responsible_id == staff.id, Archive.status == FILED, Archive.stage != TERMINATED,
        Archive.kind != INDIVIDUAL, Archive.id.not_in(sorted(plan.ids) or [0])).order_by(Archive.id).limit(1))
    if archive is None:
        return None
    today = workcal.today()
    services.add_record(_as(staff), archive, BY_KEY["communications"], dict(
        occurred_on=today, channel="video", topic="季度业务复盘与续约沟通",
        agreements="客户确认下季度继续投放 TikTok 达人营销，预算待其财务审批后书面确认。",
        disagreements="结算周期：客户希望由30天改为60天账期。",
        follow_up_on=today + timedelta(days=2)))
    return f"follow-up due {(today + timedelta(days=2)).isoformat()} on {archive.label}"


def _backup() -> str | None:
    from portal.backup.models import BackupRun
    from portal.backup.services import create_backup
    from portal.errors import PortalError

    if _exists(sa.select(BackupRun.id)):
        return None
    dest = Path(current_app.instance_path) / "backups"
    try:
        result = create_backup(dest, username="archivist")
    except (PortalError, OSError) as exc:  # the demo goes on; the register shows the failed run
        db.session.rollback()
        return f"backup into {dest} failed: {getattr(exc, 'message', exc)}"
    return f"backup {result.path.name} in {dest}"


def create_demo_oversight(password: str | None = None) -> str:
    """Add the issue-7 demo data (see the module doc); returns a summary line."""
    users = _users()
    needed = ("archivist", "manager", "supervisor", "head_service", "head_sales", "staff_sales")
    if any(name not in users for name in needed) or not _exists(sa.select(Archive.id)):
        return "Retention, destruction and inspection demo skipped (no demo users or archives)."
    password = password if password is not None else current_app.config["DEMO_PASSWORD"]
    plan = _plan(users)
    parts = [
        _hold(plan, users),
        _reviews(plan, users),
        _destruction(plan, users, password),
        _follow_up(plan, users),
        _handovers(plan, users),
        _inspection(users),
        _monthly_checks(users),
        _monthly_check_history(),
        _backup(),
    ]
    done = [p for p in parts if p]
    if not done:
        return "Retention, destruction, handover and inspection demo data already present, none added."
    return "Issue-7 demo data — " + "; ".join(done) + "."
