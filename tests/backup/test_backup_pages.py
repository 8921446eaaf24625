"""The backup register page /backups: rows, the overdue warning, refused roles (403 + register),
the printout, its PDF (Chinese text embedded) and Excel; /healthz's backup component."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.backup.models import BackupRun
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions


@pytest.fixture
def store_config():
    return {}  # pages only: the local store is enough


@pytest.fixture
def runs(app, user):
    admin = user("admin")
    now = utcnow()
    rows = [
        BackupRun(kind="backup", started_at=now - timedelta(days=10, minutes=5), finished_at=now - timedelta(days=10),
                  username="admin", user_id=admin.id, host="archive-srv", result="ok",
                  location="/srv/backups/portal-backup-20260101T020000Z", manifest_hash="a" * 64,
                  tables=40, rows=1234, archives=12, documents=30, objects=45, bytes=52428800),
        BackupRun(kind="verify", started_at=now - timedelta(days=9), finished_at=now - timedelta(days=9),
                  username="os:portal", host="archive-srv", result="failed",
                  location="/srv/backups/portal-backup-20260101T020000Z", manifest_hash="a" * 64,
                  error="objects/archives/3/abc/v1: SHA-256 differs from the manifest (altered)"),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


@pytest.mark.parametrize("username", ["admin", "archivist", "supervisor"])
def test_readers_see_the_runs_and_the_overdue_warning(login, runs, username):
    page = login(username).get("/backups/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "备份登记" in text
    assert "portal-backup-20260101T020000Z" in text
    assert "SHA-256 differs from the manifest" in text
    assert "每周全量备份已逾期" in text  # 10 days since the last successful backup
    assert 'href="/backups/"' in text  # the header link


def test_no_warning_after_a_recent_backup(login, runs):
    db.session.add(BackupRun(kind="backup", started_at=utcnow(), finished_at=utcnow(), username="admin",
                             result="ok", location="/srv/b/portal-backup-x"))
    db.session.commit()
    text = login("archivist").get("/backups/").get_data(as_text=True)
    assert "每周全量备份已逾期" not in text


def test_filter_by_kind(login, runs):
    text = login("supervisor").get("/backups/?kind=verify").get_data(as_text=True)
    assert "SHA-256 differs" in text and "共 1 条记录" in text
    assert "portal-backup-20260101T020000Z" in text


@pytest.mark.parametrize("username", ["manager", "staff_sales", "head_service"])
def test_other_roles_are_refused_and_registered(login, runs, username, register_entries):
    client = login(username)
    assert client.get("/backups/").status_code == 403
    assert client.get("/backups/print?format=pdf").status_code == 403
    refused = [e for e in register_entries(action=actions.ACCESS_DENIED, username=username)]
    assert len(refused) == 2 and "backup register" in refused[0].detail
    assert 'href="/backups/"' not in client.get("/").get_data(as_text=True)


@pytest.mark.skipif(not __import__("portal.printing").printing.cjk_fonts(), reason="no CJK font installed")
def test_print_view_and_pdf(login, runs, register_entries):
    from pypdf import PdfReader

    client = login("archivist")
    page = client.get("/backups/print")
    assert page.status_code == 200 and "质量监督专员" in page.get_data(as_text=True)
    response = client.get("/backups/print?format=pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = "".join(p.extract_text() for p in reader.pages)
    assert "备份登记簿" in text and "每周备份已逾期" in text and "档案管理员 质量监督专员 日期" in text
    assert "portal-backup-20260101T020" in text.replace("\n", "")
    assert "第 1 页 / 共 1 页" in text
    prints = register_entries(action=actions.LEDGER_PRINT)
    assert [e.detail.split(":")[0] for e in prints] == ["backup register (print)", "backup register (pdf)"]


def test_excel(login, runs):
    from openpyxl import load_workbook

    response = login("supervisor").get("/backups/print?format=xlsx")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.data)).active
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert "备份登记簿" in values and "/srv/backups/portal-backup-20260101T020000Z" in values


def test_healthz_backup_component(client, runs):
    state = client.get("/healthz").get_json()["components"]["backup"]
    assert state["required"] is False and state["ok"] is False and state["age_hours"] >= 240
    db.session.add(BackupRun(kind="backup", started_at=utcnow(), finished_at=utcnow(), username="a",
                             result="ok", location="x"))
    db.session.commit()
    state = client.get("/healthz").get_json()["components"]["backup"]
    assert state["ok"] is True


def test_healthz_overall_status_ignores_a_missing_backup(client):
    body = client.get("/healthz").get_json()
    assert body["components"]["backup"]["ok"] is False
    assert body["components"]["keyvault"]["ok"] is True


def test_no_backup_yet(login):
    text = login("admin").get("/backups/").get_data(as_text=True)
    assert "尚无成功的备份记录" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BackupRun)) == 0
