"""``portal demo``: demo users and ~50 demo archives through the real filing workflow."""
from __future__ import annotations

import re

import sqlalchemy as sa

from portal.archives import permissions as perm
from portal.archives.models import Archive, Contact, Cooperation
from portal.demo import DEMO_USERS, demo_specs, load_demo
from portal.extensions import db
from portal.register.models import RegisterEntry
from portal.register.services import verify

PASSWORD = "demo12345"


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_demo_data_is_complete_and_loading_twice_adds_nothing(app, login, user):
    # 25 archives (one full cycle of the demo's status pattern) keep the test quick; ``portal
    # demo`` loads 50 by default, checked without the database in the next test.
    summary = load_demo(archives=25, password=PASSWORD)
    assert "25 demo archives created" in summary

    # Every demo user (the fixed names of the README) can log in with the demo password.
    for username in [u[0] for u in DEMO_USERS] + ["admin"]:
        login(username, PASSWORD)

    archives = list(db.session.scalars(sa.select(Archive)))
    assert len(archives) == 25
    for kind in ("individual", "organisation"):
        assert {a.stage for a in archives if a.kind == kind} == {"potential", "active", "terminated"}
    assert {a.status for a in archives} == {"draft", "submitted", "approved", "rejected", "filed"}
    assert {a.department.code for a in archives} == {"SAL", "MKT"}
    assert {a.sensitivity for a in archives} == {1, 2, 3}
    assert {a.importance for a in archives} <= {"A", "B", "C", "D"}
    assert len({a.customer_type.code for a in archives}) == 5

    filed = [a for a in archives if a.status == "filed"]
    assert len(filed) > len(archives) / 2
    numbers = [a.number for a in filed]
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"海外-\d{4}-(电商|外贸|本土|协会|个人)-\d{3}", n) for n in numbers)
    assert all(a.number is None for a in archives if a.status != "filed")
    assert all(a.review_note for a in archives if a.status == "rejected")
    assert all(a.contract_signed_on for a in archives if a.stage == "active")
    assert all(a.terminated_on and a.terminated_on > a.contract_signed_on
               for a in archives if a.stage == "terminated")

    # Personal data in the shapes masking is made for.
    individuals = [a for a in archives if a.kind == "individual"]
    assert all(re.fullmatch(r"\d{17}[\dX]", a.id_number) for a in individuals)
    assert any(re.fullmatch(r"1[3-9]\d{9}", a.phone) for a in archives)
    assert all("@" in a.email and a.bank_account for a in archives)

    # Sub-records: 1–3 contacts each, contracts with numbers like HT-2025-0137.
    for a in archives:
        assert 1 <= db.session.scalar(sa.select(sa.func.count()).where(Contact.archive_id == a.id)) <= 3
    contract_numbers = [n for n in db.session.scalars(sa.select(Cooperation.contract_number)) if n]
    assert contract_numbers and all(re.fullmatch(r"HT-\d{4}-\d{4}", n) for n in contract_numbers)
    assert len(set(contract_numbers)) == len(contract_numbers)

    # The 一级 (secret) archives are refused to internal-clearance staff, open to the archivist.
    secret = [a for a in archives if a.sensitivity == 1]
    assert secret and all(a.status == "filed" for a in secret)
    heads = {"SAL": user("head_sales"), "MKT": user("head_marketing")}
    assert all(not perm.can_view(heads[a.department.code], a) for a in secret)
    assert all(perm.can_view(user("archivist"), a) for a in archives)
    assert all(not perm.can_view(user("staff_marketing"), a) for a in archives if a.sensitivity < 3)
    # Staff of 市场部 (三级 clearance) see the archives they are responsible for.
    assert any(perm.can_view(user("staff_marketing"), a) for a in archives)

    # The workflow left its entries on the register and the chain is intact.
    actions = set(db.session.scalars(sa.select(RegisterEntry.action)))
    assert {"archive_create", "subrecord_add", "archive_submit", "archive_approve", "archive_reject",
            "archive_file"} <= actions
    assert verify().ok

    # Material: contracts (PDF with a text layer), letters, invoices, scans, readable and intact.
    from portal.documents.models import Document, DocumentVersion
    from portal.documents.services import verify_store
    documents = list(db.session.scalars(sa.select(Document)))
    assert documents and {d.doc_type for d in documents} >= {"合同", "往来函件"}
    assert all(d.archive.status == "filed" for d in documents)
    contracts = [d for d in documents if d.doc_type == "合同"]
    assert all("保密义务" in d.latest.text and d.latest.page_count == 2 for d in contracts)
    assert {v.media_type.split("/")[0] for v in db.session.scalars(sa.select(DocumentVersion))} >= {"application"}
    assert verify_store().ok

    entries = _count(RegisterEntry)
    again = load_demo(archives=25, password=PASSWORD)
    assert "none added" in again
    assert _count(Archive) == 25
    assert _count(Document) == len(documents)
    assert _count(RegisterEntry) == entries


def test_default_demo_set_is_deterministic_and_varied():
    first, second = demo_specs(50), demo_specs(50)
    assert [s.data for s in first] == [s.data for s in second]
    assert [s.records for s in first] == [s.records for s in second]
    for kind in ("individual", "organisation"):
        assert {s.data["stage"] for s in first if s.data["kind"] == kind} == {
            "potential", "active", "terminated"}
    statuses = [s.status for s in first]
    assert statuses.count("filed") == 36 and statuses.count("rejected") == 2
    assert {s.author for s in first} == {"staff_sales", "head_sales", "staff_marketing", "head_marketing"}
    assert sum(s.secret for s in first) == 6
    # More archives on request (``portal demo --archives 200``) still get distinct names.
    assert len({s.data["name"] for s in demo_specs(200)}) == 200


def test_issue7_demo_pages_are_alive_and_portal_demo_twice_adds_nothing(app, login, user):
    """``portal demo`` leaves every retention, destruction, handover, inspection, check and backup
    page with data (made through the services), and a second run adds nothing."""
    from pathlib import Path

    from portal.backup.models import BackupRun
    from portal.demo_oversight import HOLD_REFERENCE
    from portal.destruction.models import DestructionApplication
    from portal.inspection.models import Inspection, Rectification
    from portal.oversight.models import MonthlyCheck
    from portal.reports.models import Handover
    from portal.retention import services as retention
    from portal.retention.models import RetentionHold, RetentionReview

    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--archives", "25"])
    assert result.exit_code == 0, result.output
    assert "25 demo archives created" in result.output and "executed" in result.output

    archivist, manager, head_sales, staff = (login(name) for name in
                                             ("archivist", "manager", "head_sales", "staff_sales"))

    # Termination reviews due: on the archivist's review list and in the inbox.
    due = retention.reviews_due(user("archivist"))
    assert due
    page = archivist.get("/retention/reviews").get_data(as_text=True)
    inbox = archivist.get("/inbox/").get_data(as_text=True)
    assert all(item.archive.number in page and item.archive.number in inbox for item in due)

    # A hold placed by management, with the court's case number.
    hold = db.session.scalar(sa.select(RetentionHold))
    assert hold.placed_by.username == "manager" and hold.lifted_at is None
    page = manager.get("/retention/holds").get_data(as_text=True)
    assert HOLD_REFERENCE in page and "合同纠纷诉讼中" in page

    # One executed destruction: in the register, with its certificate; the archive is a tombstone,
    # which a department head cannot open at all.
    executed, waiting = db.session.scalars(sa.select(DestructionApplication).order_by(DestructionApplication.id))
    assert executed.status == "executed" and executed.executor.username == "archivist"
    assert executed.witness.username == "supervisor"
    destroyed = executed.records[0].archive
    assert destroyed.status == "destroyed"
    assert executed.number in archivist.get("/destruction/register").get_data(as_text=True)
    tombstone = archivist.get(f"/archives/{destroyed.id}").get_data(as_text=True)
    assert "已销毁" in tombstone and executed.number in tombstone and "周质检" in tombstone
    certificate = archivist.get(f"/destruction/{executed.id}/certificate")
    assert certificate.status_code == 200 and certificate.data.startswith(b"%PDF")
    assert head_sales.get(f"/archives/{destroyed.id}").status_code == 404

    # The other application waits for the sales head (in the inbox), not for the marketing head.
    assert waiting.status == "pending_departments"
    assert waiting.number in head_sales.get("/inbox/").get_data(as_text=True)
    assert waiting.number not in login("head_marketing").get("/inbox/").get_data(as_text=True)

    # Handovers (岗位调整): one confirmed, one waiting for the sales head's confirmation.
    confirmed, pending = db.session.scalars(sa.select(Handover).order_by(Handover.id))
    assert (confirmed.status, pending.status) == ("confirmed", "pending")
    page = archivist.get("/ledgers/handovers").get_data(as_text=True)
    assert confirmed.number in page and pending.number in page and "岗位调整" in page
    assert pending.number in head_sales.get("/inbox/").get_data(as_text=True)

    # The quarter's inspection: 5 drawn, 3 checked, a finding with a rectification for the staff.
    inspection = db.session.scalar(sa.select(Inspection))
    assert inspection.sample_size == 5 and inspection.seed
    assert sum(1 for s in inspection.samples if s.checked_at is not None) == 3
    rect = db.session.scalar(sa.select(Rectification))
    assert rect.assignee.role == "staff" and rect.deadline
    page = archivist.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "发现问题" in page and rect.check.note in page
    assert "整改" in login(rect.assignee.username).get("/inbox/").get_data(as_text=True)

    # staff_sales: part of this month's checks confirmed; a birthday and a follow-up in the inbox.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MonthlyCheck)) > 0
    assert "已确认" in staff.get("/oversight/checks").get_data(as_text=True)
    inbox = staff.get("/inbox/").get_data(as_text=True)
    assert "生日" in inbox and "跟进" in inbox

    # One backup in the instance folder, on the backup register.
    run = db.session.scalar(sa.select(BackupRun))
    assert run.result == "ok" and Path(run.location).parent == Path(app.instance_path) / "backups"
    assert "成功" in archivist.get("/backups/").get_data(as_text=True)
    assert verify().ok

    counted = (RegisterEntry, DestructionApplication, Handover, Inspection, Rectification, RetentionHold,
               RetentionReview, MonthlyCheck, BackupRun, Archive)
    before = {model: _count(model) for model in counted}
    again = runner.invoke(args=["demo", "--archives", "25"])
    assert again.exit_code == 0, again.output
    assert "none added" in again.output and "already present" in again.output
    db.session.rollback()
    assert {model: _count(model) for model in counted} == before
