"""portal backup --verify: a flipped byte, a missing object file, an edited manifest (even with its
hash file redone), an extra file — each found, named, exit status 1; a clean backup passes."""
from __future__ import annotations

import hashlib
import json

import doc_samples as samples
import pytest
import sqlalchemy as sa
from backup_helpers import run_cli

from portal.backup.models import BackupRun
from portal.extensions import db


@pytest.fixture
def made(app, make_archive, upload, tmp_path):
    archive = make_archive(status="filed", name="校验客户")
    upload("staff_sales", archive, samples.pdf(["校验 备份"]), "合同.pdf")
    upload("staff_sales", archive, samples.pdf(["校验 备份 二"]), "合同二.pdf")
    result = run_cli(app, "backup", str(tmp_path / "backups"))
    assert result.exit_code == 0, result.output
    path = next((tmp_path / "backups").iterdir())
    return path, json.loads((path / "manifest.json").read_text())


def verify(app, path):
    return run_cli(app, "backup", "--verify", str(path))


def test_a_clean_backup_verifies(app, made):
    path, manifest = made
    result = verify(app, path)
    assert result.exit_code == 0, result.output
    assert "OK: every file is present" in result.output
    assert manifest["name"] in result.output
    # a folder of backups: its newest is checked
    assert verify(app, path.parent).exit_code == 0


def test_flipped_byte_in_an_object(app, made):
    path, manifest = made
    rel = manifest["objects"][0]["file"]
    data = bytearray((path / rel).read_bytes())
    data[len(data) // 2] ^= 0x40
    (path / rel).write_bytes(bytes(data))
    result = verify(app, path)
    assert result.exit_code == 1
    assert f"{rel}: SHA-256 differs from the manifest (altered)" in result.output
    db.session.rollback()
    run = db.session.scalar(sa.select(BackupRun).where(BackupRun.kind == "verify"))
    assert run.result == "failed" and rel in run.error


def test_flipped_byte_in_the_database_dump(app, made):
    path, manifest = made
    rel = manifest["tables"]["archive"]["file"]
    data = bytearray((path / rel).read_bytes())
    data[-5] ^= 0x01
    (path / rel).write_bytes(bytes(data))
    result = verify(app, path)
    assert result.exit_code == 1 and rel in result.output


def test_missing_object_file(app, made):
    path, manifest = made
    rel = manifest["objects"][1]["file"]
    (path / rel).unlink()
    result = verify(app, path)
    assert result.exit_code == 1
    assert f"{rel}: missing" in result.output


def test_edited_manifest(app, made):
    path, manifest = made
    manifest["counts"]["archives"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = verify(app, path)
    assert result.exit_code == 1
    assert "manifest.json: SHA-256" in result.output and "the manifest was changed" in result.output


def test_edited_manifest_with_its_hash_redone_is_still_caught(app, made):
    """Someone drops an object and rewrites the manifest AND manifest.sha256 to match."""
    path, manifest = made
    dropped = manifest["objects"].pop()
    del manifest["files"][dropped["file"]]
    (path / dropped["file"]).unlink()
    data = json.dumps(manifest).encode()
    (path / "manifest.json").write_bytes(data)
    (path / "manifest.sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  manifest.json\n")
    result = verify(app, path)
    assert result.exit_code == 1
    assert "not authenticated by this instance's master key" in result.output
    assert f"object {dropped['key']}@{dropped['version']} is not in the backup" in result.output


def test_extra_file(app, made):
    path, _manifest = made
    (path / "objects" / "planted.bin").write_bytes(b"x")
    result = verify(app, path)
    assert result.exit_code == 1 and "objects/planted.bin: not listed in the manifest" in result.output


def test_not_a_backup(app, tmp_path):
    result = verify(app, tmp_path)
    assert result.exit_code == 1 and "不是备份" in result.output


def test_object_deleted_during_the_backup_starts_a_new_snapshot(app, made, tmp_path, monkeypatch):
    """A version deleted between the snapshot and its copy (a destruction running meanwhile):
    the backup starts again from a new snapshot instead of keeping a row pointing at nothing."""
    from portal.storage import ObjectMissing, store

    s = store()
    real_get = type(s).get
    calls = {"n": 0}

    def flaky(self, key, version, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ObjectMissing()
        return real_get(self, key, version, *args, **kwargs)

    monkeypatch.setattr(type(s), "get", flaky)
    result = run_cli(app, "backup", str(tmp_path / "again"))
    assert result.exit_code == 0, result.output
    assert "starting again from a new snapshot" in result.output
    db.session.rollback()
    run = db.session.scalars(sa.select(BackupRun).order_by(BackupRun.id.desc())).first()
    assert run.result == "ok" and "attempts 2" in run.notes
    assert len(list((tmp_path / "again").iterdir())) == 1  # no partial folder left


def test_backup_into_an_unwritable_place_fails_and_is_registered(app, made, tmp_path, register_entries):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    result = run_cli(app, "backup", str(blocker / "sub"))
    assert result.exit_code == 1
    failed = [e for e in register_entries(action="backup_run") if e.result == "failed"]
    assert len(failed) == 1


def test_writes_during_the_backup_are_not_in_it(app, made, make_archive, upload, tmp_path, monkeypatch):
    """The rows come from one snapshot: a document uploaded while the backup runs (after the snapshot
    was taken) is neither in the dump nor among the copied objects — and the portal kept working."""
    import gzip

    from portal.backup import services as backup_services
    from portal.documents.models import Document

    real_begin = backup_services._begin_run
    archive_id = db.session.scalar(sa.select(Document.archive_id).limit(1))
    archive = make_archive(status="filed", name="备份期间新增")

    def begin_and_write(*args, **kwargs):
        run_id = real_begin(*args, **kwargs)
        upload("staff_sales", archive, samples.pdf(["备份进行中上传"]), "期间.pdf")
        return run_id

    monkeypatch.setattr(backup_services, "_begin_run", begin_and_write)
    result = run_cli(app, "backup", str(tmp_path / "during"))
    assert result.exit_code == 0, result.output
    path = next((tmp_path / "during").iterdir())
    manifest = json.loads((path / "manifest.json").read_text())
    dumped = [json.loads(line) for line in gzip.open(path / "db" / "document.jsonl.gz")]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 3
    assert len(dumped) == 2 and manifest["counts"]["objects"] == 2
    assert {d["_archive"] for d in dumped} == {archive_id}  # sealed with their archive's key
    assert verify(app, path).exit_code == 0
