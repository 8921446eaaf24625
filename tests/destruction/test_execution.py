"""Execution details: the certificate 销毁清册 (PDF made at execution, unchanged afterwards), the
destruction register and its printouts, a crash in the middle (resumable, idempotent), scans still
waiting in intake, the name setting, the web path from application to execution."""
from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import destruction_helpers as dh
import doc_samples as samples
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader

from portal import printing
from portal.archives.models import Archive
from portal.destruction import purge
from portal.destruction import services as svc
from portal.destruction.models import DestructionApplication
from portal.extensions import db
from portal.intake import services as intake
from portal.intake.models import IntakeItem
from portal.storage import store

needs_pdf = pytest.mark.skipif(not printing.cjk_fonts(), reason="no CJK font installed")
SCREENS = Path("/tmp/screens")


def _fresh(app_id: int) -> DestructionApplication:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(DestructionApplication, app_id)


def _fonts(data: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in page.get("/Resources", {}).get("/Font", {}).values():
            names.add(str(ref.get_object().get("/BaseFont")))
    return names


def _render(data: bytes, name: str, tmp_path) -> list[Path]:
    """PDF → PNG pages (kept under /tmp/screens for looking at)."""
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(data)
    SCREENS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(SCREENS / name)], check=True)
    return sorted(SCREENS.glob(f"{name}*.png"))


@needs_pdf
@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs poppler-utils")
def test_the_certificate_is_made_at_execution_and_never_changes(app, login, make_archive, upload,
                                                                  register_entries, tmp_path, store_kind):
    sales = dh.terminated(make_archive, name="庚销毁客户有限公司")
    marketing = dh.terminated(make_archive, by="head_marketing", name="辛市场客户")
    upload("staff_sales", sales, samples.pdf(["合同正文"], pages=3), "合同.pdf")
    app_ = dh.execute(dh.approve_chain(dh.apply([sales, marketing], reason="终止合作满三年，经各部门确认无留存必要")))
    stored = app_.certificate_pdf
    assert hashlib.sha256(stored).hexdigest() == app_.certificate_sha256
    for who in ("staff_sales", "head_sales", "head_service", "admin"):
        assert login(who).get(f"/destruction/{app_.id}/certificate").status_code == 403, who
    response = login("supervisor").get(f"/destruction/{app_.id}/certificate")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    assert response.data == stored  # the very bytes made at execution
    assert response.headers["X-Content-SHA256"] == app_.certificate_sha256
    assert register_entries(action="destruction_print", archive_id=sales.id, username="supervisor")
    reader = PdfReader(io.BytesIO(response.data))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 portrait
    text = "".join(page.extract_text() for page in reader.pages).replace("\n", "").replace(" ", "")
    for expected in ("销毁清册", app_.number, sales.number, marketing.number, "庚销毁客户有限公司", "监销人",
                     "周质检", "陈档案", "孙客服经理", "李销售经理", "赵市场经理", "王总", "碎纸",
                     "对象存储所有版本删除", "数据密钥销毁", "第1页"):
        assert expected in text, expected
    assert any("CJK" in name or "WenQuanYi" in name for name in _fonts(response.data))
    if store_kind == "local":
        assert _render(response.data, "destruction-certificate", tmp_path)
    # the setting changing later does not change a certificate made earlier
    login("admin").post("/destruction/settings", data={})
    assert login("manager").get(f"/destruction/{app_.id}/certificate").data == stored


@pytest.fixture
def executed(make_archive):
    """One executed, one rejected and one withdrawn application."""
    done = dh.execute(dh.approve_chain(dh.apply([dh.terminated(make_archive, name="壬客户")])))
    rejected = dh.apply([dh.terminated(make_archive, name="癸客户")])
    svc.reject(dh.as_(dh.user_named("head_service")), rejected, "尚在诉讼时效内")
    withdrawn = dh.apply([dh.terminated(make_archive, name="子客户")])
    svc.withdraw(dh.as_(dh.user_named("archivist")), withdrawn)
    return done, rejected, withdrawn


def test_the_destruction_register_lists_executions_and_on_request_closed_applications(
        app, login, executed, register_entries, tmp_path, store_kind):
    done, rejected, withdrawn = executed
    for who in ("staff_sales", "head_sales", "head_service", "admin"):
        for url in ("/destruction/register", "/destruction/register/print",
                    "/destruction/register/print?format=pdf", "/destruction/register/print?format=xlsx"):
            assert login(who).get(url).status_code == 403, (who, url)
    client = login("manager")
    page = client.get("/destruction/register").get_data(as_text=True)
    assert done.number in page and rejected.number not in page and "壬客户" in page
    page = client.get("/destruction/register?status=rejected").get_data(as_text=True)
    assert rejected.number in page and "尚在诉讼时效内" in page and done.number not in page
    page = client.get("/destruction/register?status=all").get_data(as_text=True)
    assert all(a.number in page for a in (done, rejected, withdrawn))
    printed = client.get("/destruction/register/print?status=all").get_data(as_text=True)
    assert "销毁登记" in printed and withdrawn.number in printed and "format=pdf" in printed
    sheet = load_workbook(io.BytesIO(client.get("/destruction/register/print?format=xlsx").data)).active
    values = [c.value for row in sheet.iter_rows() for c in row if c.value]
    assert any("销毁登记" in str(v) for v in values) and done.number in values and done.certificate_sha256 in values
    assert len(register_entries(action="destruction_print", username="manager")) == 2
    if printing.cjk_fonts() and store_kind == "local":
        pdf = client.get("/destruction/register/print?format=pdf&status=all")
        assert pdf.status_code == 200
        reader = PdfReader(io.BytesIO(pdf.data))
        text = reader.pages[0].extract_text()
        assert "销毁登记" in text and done.number in text and "第 1 页" in text
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (842, 595)  # A4 landscape
        if shutil.which("pdftoppm"):
            assert _render(pdf.data, "destruction-register", tmp_path)


def test_a_crash_after_the_store_was_purged_is_finished_by_running_again(app, make_archive, upload, monkeypatch,
                                                                         register_entries):
    archive = dh.terminated(make_archive, name="丑客户")
    upload("staff_sales", archive, samples.pdf(["丑客户合同"]), "合同.pdf")
    app_ = dh.approve_chain(dh.apply([archive]))

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(purge, "scrub_database", crash)
    with pytest.raises(RuntimeError):
        dh.execute(app_)
    app_ = _fresh(app_.id)
    assert app_.status == "executing" and app_.records[0].state == "executing"
    assert db.session.get(Archive, archive.id).status == "destroyed"  # out of every list already
    assert list(store().list_versions(f"archives/{archive.id}/")) == []
    assert not register_entries(action="destruction_execute", result="ok")
    monkeypatch.undo()
    listed = app.test_cli_runner().invoke(args=["destruction", "list", "--open"])
    assert app_.number in listed.output and "executing" in listed.output
    result = app.test_cli_runner().invoke(args=["destruction", "resume", app_.number])
    assert result.exit_code == 0, result.output
    finished = _fresh(app_.id)
    assert finished.status == "executed" and finished.records[0].state == "done"
    assert finished.records[0].documents == 1 and finished.records[0].objects == 1  # counted before the crash
    assert len(register_entries(action="destruction_execute", result="ok", archive_id=archive.id)) == 1
    assert svc.resume(dh.as_(dh.user_named("archivist")), app_.id).status == "executed"  # nothing done twice
    assert len(register_entries(action="destruction_execute", result="ok", archive_id=archive.id)) == 1


def test_a_store_outage_stops_before_the_database_and_is_resumed(app, make_archive, upload, monkeypatch):
    archive = dh.terminated(make_archive, name="寅客户")
    for i in range(3):
        upload("staff_sales", archive, samples.pdf([f"寅客户文件{i}"]), f"f{i}.pdf")
    app_ = dh.approve_chain(dh.apply([archive]))
    real = type(store()).delete_version
    calls = {"n": 0}

    def flaky(self, key, version_id):
        calls["n"] += 1
        if calls["n"] == 2:
            from portal.storage import StoreUnavailable
            raise StoreUnavailable()
        return real(self, key, version_id)

    monkeypatch.setattr(type(store()), "delete_version", flaky)
    with pytest.raises(Exception) as err:
        dh.execute(app_)
    assert getattr(err.value, "status", None) == 503
    assert len(list(store().list_versions(f"archives/{archive.id}/"))) == 2
    monkeypatch.undo()
    done = dh.execute(_fresh(app_.id))  # the archivist runs it again (re-authenticating)
    assert done.status == "executed" and done.records[0].objects == 3
    assert list(store().list_versions(f"archives/{archive.id}/")) == []


def test_scans_waiting_in_intake_go_with_the_archive(app, make_archive, user):
    archive = dh.terminated(make_archive, name="卯客户")
    item = intake.receive(dh.as_(user("staff_sales")), io.BytesIO(samples.pdf(["卯客户扫描件"])), "卯客户身份证.pdf",
                          archive=archive.number, doc_type="其他")
    assert item.staged_key and list(store().list_versions(item.staged_key))
    staged_key = item.staged_key
    dh.execute(dh.approve_chain(dh.apply([archive])))
    assert list(store().list_versions(staged_key)) == []
    item = db.session.get(IntakeItem, item.id)
    assert item.staged_key is None and item.wrapped_key is None
    assert item.state == "rejected" and "卯客户" not in item.filename


def test_copies_the_watched_folder_kept_go_too(app, make_archive, user, tmp_path):
    from portal.intake.watch import Watcher

    archive = dh.terminated(make_archive, name="未客户")
    folder = tmp_path / "scanner"
    folder.mkdir()
    (folder / "未客户回执.pdf").write_bytes(samples.pdf(["未客户回执扫描"]))
    other = samples.pdf(["别的客户的扫描"])
    (folder / "other.pdf").write_bytes(other)
    watcher = Watcher(folder, user("archivist").id, archive=archive.number, settle=0, min_age=0)
    taken = watcher.take(folder / "未客户回执.pdf")
    assert taken.item_id and len(list((folder / "done").iterdir())) == 1
    Watcher(folder, user("archivist").id, settle=0, min_age=0).take(folder / "other.pdf")  # to the queue
    app_ = dh.execute(dh.approve_chain(dh.apply([archive])))
    left = [p.read_bytes() for p in (folder / "done").iterdir()]
    assert left == [other]  # ours overwritten and removed, the other customer's copy untouched
    assert "watched-folder copies removed" in app_.records[0].notes


def test_without_names_the_tombstone_keeps_only_the_number(app, login, make_archive, user):
    from portal.notifications import Notification

    login("admin").post("/destruction/settings", data={})  # keep_name unticked
    archive = dh.terminated(make_archive, name="辰无名客户")
    db.session.add(Notification(user_id=user("staff_sales").id, text="提醒：辰无名客户的合同将到期", url="/"))
    db.session.commit()
    app_ = dh.execute(dh.approve_chain(dh.apply([archive])))
    tomb = db.session.get(Archive, archive.id)
    assert (tomb.name, tomb.number) == ("", archive.number)
    assert app_.records[0].customer_name == ""
    texts = list(db.session.scalars(sa.select(Notification.text)))
    assert not [t for t in texts if "辰无名客户" in t] and any(archive.number in t for t in texts)
    page = login("archivist").get(f"/archives/{archive.id}").get_data(as_text=True)
    assert archive.number in page and "辰无名客户" not in page
    reader = PdfReader(io.BytesIO(app_.certificate_pdf))
    assert "辰无名客户" not in "".join(p.extract_text() for p in reader.pages)


def test_the_whole_path_through_the_pages(app, login, make_archive, register_entries):
    archive = dh.terminated(make_archive, name="巳网页客户")
    not_yet = make_archive("staff_sales", status="filed", name="午未到期客户")
    archivist = login("archivist")
    # the archive page proposes destruction; the form comes preselected
    page = archivist.get(f"/archives/{archive.id}").get_data(as_text=True)
    assert f"/destruction/new?archive={archive.id}" in page
    form = archivist.get(f"/destruction/new?archive={archive.id}").get_data(as_text=True)
    assert archive.number in form and 'name="line"' in form
    # search and add, then an ineligible archive is refused with the form kept (422)
    found = archivist.post("/destruction/new", data={"grounds": "retention", "q": "午未到期", "action": "search",
                                                    "line": [str(archive.id)]}).get_data(as_text=True)
    assert not_yet.number in found and archive.number in found
    refused = archivist.post("/destruction/new", data={
        "grounds": "retention", "reason": "保管期满", "action": "submit",
        "line": [str(archive.id), str(not_yet.id)], f"reason_{archive.id}": "已终止三年"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "保管期限尚未开始" in text and "已终止三年" in text and "保管期满" in text
    done = archivist.post("/destruction/new", data={
        "grounds": "retention", "reason": "保管期满", "action": "submit", "line": [str(archive.id)],
        f"reason_{archive.id}": "已终止三年"})
    assert done.status_code == 303
    app_id = int(done.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert "在销毁申请中" in archivist.get(f"/archives/{archive.id}").get_data(as_text=True)
    inbox = login("head_service").get("/inbox/").get_data(as_text=True)
    assert f"/destruction/{app_id}" in inbox  # the next decider's to-do list
    for who in ("head_service", "head_sales", "manager"):
        client = login(who)
        show = client.get(f"/destruction/{app_id}").get_data(as_text=True)
        assert "巳网页客户" in show and "approve" in show, who
        assert client.get("/destruction/").status_code == 200
        assert client.post(f"/destruction/{app_id}/approve", data={"note": "同意"}).status_code == 303
    assert login("head_marketing").get(f"/destruction/{app_id}").status_code == 403
    execute_page = archivist.get(f"/destruction/{app_id}/execute").get_data(as_text=True)
    assert "监销人" in execute_page and "碎纸" in execute_page
    result = archivist.post(f"/destruction/{app_id}/execute", data={
        "paper_method": "碎纸", "archivist_password": dh.PASSWORD, "witness_username": "supervisor",
        "witness_password": dh.PASSWORD})
    assert result.status_code == 303
    show = archivist.get(f"/destruction/{app_id}").get_data(as_text=True)
    assert "销毁清册" in show and "周质检" in show
    assert register_entries(action="destruction_execute", archive_id=archive.id, result="ok")


def test_compact_command(app):
    result = app.test_cli_runner().invoke(args=["destruction", "compact"])
    assert result.exit_code == 0 and "compacted" in result.output


def test_without_a_chinese_font_execution_is_refused_before_anything_is_destroyed(app, make_archive, monkeypatch):
    """The certificate is a PDF; a server that cannot make one must not destroy half-way."""
    archive = dh.terminated(make_archive)
    application = dh.approve_chain(dh.apply([archive]))
    monkeypatch.setitem(printing._problem_cache, "problem", "no font")
    with pytest.raises(printing.PdfUnavailable):
        dh.execute(application)
    db.session.rollback()
    assert db.session.get(Archive, archive.id).status == "filed"
    assert svc.get(application.id).status == "approved"
