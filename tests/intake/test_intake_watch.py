"""The watched folder: files are taken only when completely written, then moved to done/ or
failed/ (with the reason beside them)."""
from __future__ import annotations

import os
import time

import pytest
import scans

from portal.extensions import db
from portal.intake.models import SOURCE_WATCH, WAITING, IntakeItem
from portal.intake.watch import Watcher


def _watcher(folder, user, **kw):
    return Watcher(folder, user("archivist").id, settle=1, min_age=0, **kw)


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "scanner"  # (tmp_path itself holds the test's database)
    path.mkdir()
    return path


def test_a_file_is_taken_only_once_it_stops_changing(folder, user, run_jobs, item_of):
    w = _watcher(folder, user)
    data = scans.text_pdf([[scans.FILLER + "扫描仪写入中"], [scans.FILLER + "第二页"]])
    target = folder / "scan-0001.pdf"
    with open(target, "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        assert w.scan_once() == []  # first sight: not yet
        fh.write(data[len(data) // 2:])
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 1000))
    assert w.scan_once() == []  # it changed since the last scan
    outcomes = w.scan_once()
    assert len(outcomes) == 1 and outcomes[0].item_id
    assert not target.exists()
    done = list((folder / "done").iterdir())
    assert len(done) == 1 and done[0].name.endswith("scan-0001.pdf") and done[0].read_bytes() == data
    item = db.session.get(IntakeItem, outcomes[0].item_id)
    assert item.source == SOURCE_WATCH and item.created_by.username == "archivist"
    run_jobs()
    assert item_of(item.id).state == WAITING  # no archive: the queue


def test_refused_files_go_to_failed_with_the_reason_and_partial_names_are_left_alone(folder, user):
    w = _watcher(folder, user)
    (folder / "setup.exe.pdf").write_bytes(b"MZ" + b"\0" * 300)
    (folder / "still-copying.pdf.part").write_bytes(b"%PDF-1.7")
    (folder / ".hidden.pdf").write_bytes(b"%PDF-1.7")
    w.scan_once()
    outcomes = w.scan_once()
    assert [o.name for o in outcomes] == ["setup.exe.pdf"] and outcomes[0].error
    failed = sorted(p.name for p in (folder / "failed").iterdir())
    assert len(failed) == 2 and failed[1].endswith(".reason.txt")
    reason = (folder / "failed" / failed[1]).read_text(encoding="utf-8")
    assert "setup.exe.pdf" in reason
    assert (folder / "still-copying.pdf.part").exists() and (folder / ".hidden.pdf").exists()
    assert db.session.query(IntakeItem).count() == 0


def test_the_command_takes_everything_once_and_exits(app, folder, filed):
    archive = filed()
    (folder / "a.pdf").write_bytes(scans.text_pdf([[scans.FILLER + "命令行一"]]))
    (folder / "b.pdf").write_bytes(scans.text_pdf([[scans.FILLER + "命令行二"]]))
    old = time.time() - 10
    for name in ("a.pdf", "b.pdf"):
        os.utime(folder / name, (old, old))
    result = app.test_cli_runner().invoke(args=["intake", "watch", str(folder), "--as", "archivist",
                                                "--archive", archive.number, "--type", "合同", "--once",
                                                "--interval", "0.05"])
    assert result.exit_code == 0, result.output
    assert result.output.count("intake item") == 2
    db.session.expire_all()
    items = db.session.query(IntakeItem).all()
    assert {i.archive_id for i in items} == {archive.id} and len(items) == 2
    assert len(list((folder / "done").iterdir())) == 2
