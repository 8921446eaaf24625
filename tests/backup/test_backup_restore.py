"""portal backup → wipe → portal restore: every document byte-identical, every table's rows equal,
the register chain intact — on the local store and on S3, SQLite and PostgreSQL. And the reason
for the key vault: backup → destroy → restore the OLDER backup → the destroyed archive stays
unreadable while the others open."""
from __future__ import annotations

import io
import json

import doc_samples as samples
import pytest
import sqlalchemy as sa
from backup_helpers import all_rows, contents, empty_database, new_instance, run_cli

from portal.actor import Actor, cli_actor
from portal.backup.models import BackupRun
from portal.documents import services
from portal.extensions import db
from portal.register import actions
from portal.register.models import RegisterEntry


@pytest.fixture
def populated(app, make_archive, upload, user):
    """Two filed archives with documents (one replaced: two versions), a staged intake file."""
    from portal.intake import services as intake

    first = make_archive(status="filed", name="备份客户甲")
    second = make_archive(status="filed", name="备份客户乙", sensitivity=3)
    doc = upload("staff_sales", first, samples.pdf(["甲 合同 第一版"]), "甲合同.pdf", title="合同")
    services.replace_file(Actor(user("staff_sales"), "127.0.0.1"), doc.id,
                          io.BytesIO(samples.pdf(["甲 合同 第二版"])), "甲合同v2.pdf")
    upload("staff_sales", first, samples.image("PNG"), "扫描.png", doc_type="资质文件")
    upload("staff_sales", second, samples.pdf(["乙 往来函件"]), "乙函件.pdf", doc_type="往来函件")
    intake.receive(Actor(user("archivist"), "127.0.0.1"), io.BytesIO(samples.pdf(["待处理扫描件"])),
                   "scan.pdf", archive=first.number)
    db.session.commit()
    return {"first": first.id, "second": second.id}


@pytest.fixture
def target(app, tmp_path, store_config, s3_config, request):
    """``target()`` → a new, migrated, empty instance (after ``portal init``)."""
    stack = []

    def _make(init: bool = True):
        ctx = empty_database(tmp_path)
        url = ctx.__enter__()
        stack.append(ctx)
        server = request.getfixturevalue("s3_server") if store_config else None
        other = new_instance(app, url, tmp_path, store_config, s3_config, server)
        if init:
            result = run_cli(other, "init", "--admin-password", "Restore-Admin-1")
            assert result.exit_code == 0, result.output
        return other

    yield _make
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def backup(app, dest, *extra):
    result = run_cli(app, "backup", str(dest), *extra)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("OK: "))
    from pathlib import Path
    return Path(line[4:].strip())


def _strip(rows, *columns):
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def test_backup_wipe_restore_everything_identical(app, populated, tmp_path, target, store_kind):
    before_contents = contents(app)
    assert len(before_contents) == 3
    path = backup(app, tmp_path / "backups")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["counts"]["archives"] == 2 and manifest["counts"]["objects"] == 5  # 4 versions + intake
    assert "master_key" in manifest["not_included"] and "key_vault" in manifest["not_included"]
    assert manifest["alembic_revision"] and manifest["register_head"]["seq"] > 0
    # contents stay encrypted in the backup
    for obj in manifest["objects"]:
        assert (path / obj["file"]).read_bytes()[:8] == b"CAPSTRM1"
    source_rows = all_rows(app)

    other = target()
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "hash chain intact" in result.output

    assert contents(other) == before_contents  # decrypted content byte-identical
    restored = all_rows(other)
    assert set(restored) == set(source_rows)
    head_seq = manifest["register_head"]["seq"]
    for table, rows in source_rows.items():
        if table in ("backup_run", "search_outbox", "register_head"):
            continue
        if table == "register_entry":
            assert restored[table][:head_seq] == rows[:head_seq]
            continue
        if table == "document_version":  # new version ids in the new store; thumbnails resealed for them
            assert _strip(restored[table], "store_version", "thumbnail") == _strip(rows, "store_version", "thumbnail")
            continue
        if table == "intake_item":
            assert _strip(restored[table], "staged_version") == _strip(rows, "staged_version")
            continue
        assert restored[table] == rows, table

    with other.app_context():
        from portal.intake.models import IntakeItem
        from portal.intake.services import staged_plaintext
        from portal.register.services import verify

        assert verify().ok
        # the register says who restored and when; the backup register has the run
        entry = db.session.scalar(sa.select(RegisterEntry).where(RegisterEntry.action == actions.BACKUP_RESTORE))
        assert entry.result == "ok" and entry.seq == head_seq + 1
        run = db.session.scalar(sa.select(BackupRun).where(BackupRun.kind == "restore"))
        assert run.result == "ok" and run.objects == 5
        item = db.session.scalar(sa.select(IntakeItem))
        assert b"".join(staged_plaintext(item)).startswith(b"%PDF")
        # thumbnails were resealed for the new version ids
        from portal.auth.models import User
        from portal.documents.models import Document
        archivist = db.session.scalar(sa.select(User).where(User.username == "archivist"))
        png_doc = db.session.scalar(sa.select(Document).where(Document.doc_type == "资质文件"))
        thumb = services.thumbnail(Actor(archivist, "127.0.0.1"), png_doc.id)
        assert thumb is None or thumb.startswith(b"\x89PNG")
        # the instance works on: a new upload gets fresh ids (PostgreSQL sequences reset)
        from portal.archives.models import Archive
        archive = db.session.scalar(sa.select(Archive).order_by(Archive.id))
        new = services.upload(Actor(db.session.scalar(sa.select(User).where(User.username == "staff_sales")),
                                    "127.0.0.1"), archive.id, io.BytesIO(samples.pdf(["恢复后新上传"])),
                              "新.pdf", services.Details(doc_type="合同"))
        assert new.id > max(before_contents)
        db.session.remove()


def test_destroyed_key_stays_destroyed_after_restoring_an_older_backup(app, populated, tmp_path, target,
                                                                       user, register_entries):
    from portal.archives.models import Archive
    from portal.documents.models import Document

    path = backup(app, tmp_path / "backups")
    before = contents(app)
    first_docs = db.session.scalars(sa.select(Document.id).where(Document.archive_id == populated["first"])).all()
    number = db.session.get(Archive, populated["first"]).number
    assert first_docs
    # the first archive's key is destroyed after the backup was made
    services.destroy_data_key(Actor(user("archivist"), "127.0.0.1"), populated["first"])
    db.session.commit()

    check = run_cli(app, "backup", "--verify", str(path))
    assert check.exit_code == 0, check.output
    assert "Archive keys absent from the live key vault: 1" in check.output
    assert "archives whose sealed rows the live vault cannot open: 1" in check.output

    other = target()
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "Restored as tombstones only" in result.output and number in result.output
    with other.app_context():
        from portal.auth.models import User
        from portal.documents.models import ArchiveKey

        archivist = Actor(db.session.scalar(sa.select(User).where(User.username == "archivist")), "127.0.0.1")
        # the archive whose key is gone came back as its tombstone only: no documents at all
        tomb = db.session.get(Archive, populated["first"])
        assert (tomb.status, tomb.number, tomb.name) == ("destroyed", number, "")
        assert not db.session.scalars(sa.select(Document).where(Document.archive_id == populated["first"])).all()
        key = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == populated["first"]))
        assert key.wrapped_key is None and key.destroyed_at is not None
        others = db.session.scalars(sa.select(Document).order_by(Document.id)).all()
        assert others and {d.id for d in others} == set(before) - set(first_docs)
        for doc in others:
            import hashlib
            data = b"".join(services.open_content(archivist, doc.id, purpose="核对"))
            assert hashlib.sha256(data).hexdigest() == before[doc.id]
        db.session.remove()
    # guessed document URLs: not found; the archive page shows the tombstone
    with other.app_context():
        client = other.test_client()
        client.post("/login", data={"username": "archivist", "password": "demo12345"})
        for doc_id in first_docs:
            assert client.get(f"/documents/{doc_id}/view").status_code == 404
        page = client.get(f"/archives/{populated['first']}")
        assert page.status_code == 200 and "已销毁" in page.get_data(as_text=True)
        assert "备份客户甲" not in page.get_data(as_text=True)
        db.session.remove()


def test_restore_refuses_a_non_empty_instance(app, populated, tmp_path, target):
    path = backup(app, tmp_path / "backups")
    other = target()
    assert run_cli(other, "restore", str(path)).exit_code == 0
    again = run_cli(other, "restore", str(path))
    assert again.exit_code == 1
    assert "本实例不是空的" in again.output and "2 个档案" in again.output
    # and the live source itself is refused
    same = run_cli(app, "restore", str(path))
    assert same.exit_code == 1 and "本实例不是空的" in same.output


def test_restore_refuses_a_tampered_backup_and_changes_nothing(app, populated, tmp_path, target):
    path = backup(app, tmp_path / "backups")
    obj = json.loads((path / "manifest.json").read_text())["objects"][0]
    data = bytearray((path / obj["file"]).read_bytes())
    data[100] ^= 0x01
    (path / obj["file"]).write_bytes(bytes(data))
    other = target()
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 1
    assert obj["file"] in result.output and "未恢复任何内容" in result.output
    with other.app_context():
        from portal.archives.models import Archive
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Archive)) == 0
        run = db.session.scalar(sa.select(BackupRun).where(BackupRun.kind == "restore"))
        assert run.result == "failed"
        db.session.remove()


def test_restore_refuses_without_the_right_vault(app, populated, tmp_path, target):
    path = backup(app, tmp_path / "backups")
    other = target()
    other.config["KEY_VAULT"] = str(tmp_path / "empty-vault")
    other.extensions.pop("portal_key_vault", None)
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 1 and "密钥库" in result.output


def test_restore_refuses_an_older_copy_of_the_vault(app, populated, tmp_path, target):
    """A vault copy lacking one key that was never destroyed would silently make that archive a
    tombstone: the restore refuses instead, and says why."""
    import shutil

    from portal.backup.keyvault import vault
    from portal.documents.models import ArchiveKey

    path = backup(app, tmp_path / "backups")
    stale = tmp_path / "stale-vault"
    shutil.copytree(vault().path, stale)
    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == populated["second"]))
    (stale / f"{row.vault_key_id}.kek").unlink()  # made after the copy was taken
    other = target()
    other.config["KEY_VAULT"] = str(stale)
    other.extensions.pop("portal_key_vault", None)
    verify = run_cli(other, "backup", "--verify", str(path))
    assert "NOT recorded as destroyed in this vault" in verify.output
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 1 and "不是门户的密钥库" in result.output, result.output
    with other.app_context():
        from portal.archives.models import Archive
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Archive)) == 0  # nothing restored


def test_backup_keeps_the_n_newest(app, populated, tmp_path):
    dest = tmp_path / "backups"
    first = backup(app, dest)
    second = backup(app, dest, "--keep", "1")
    assert not first.exists() and second.exists()


def test_backup_register_rows_and_access_register(app, populated, tmp_path, register_entries):
    path = backup(app, tmp_path / "backups", "--as", "admin")
    run_cli(app, "backup", "--verify", str(path.parent))
    db.session.rollback()
    runs = db.session.scalars(sa.select(BackupRun).order_by(BackupRun.id)).all()
    assert [(r.kind, r.result) for r in runs] == [("backup", "ok"), ("verify", "ok")]
    assert runs[0].username == "admin" and runs[0].manifest_hash and runs[0].objects == 5
    assert runs[0].location == str(path)
    assert register_entries(action=actions.BACKUP_RUN)[0].username == "admin"
    assert register_entries(action=actions.BACKUP_VERIFY)[0].result == "ok"


def test_backup_snapshot_excludes_its_own_running_row(app, populated, tmp_path):
    path = backup(app, tmp_path / "backups")
    import gzip
    rows = [json.loads(line) for line in gzip.open(path / "db" / "backup_run.jsonl.gz")]
    assert rows == []


def test_legacy_keys_are_moved_into_the_vault_before_a_backup(app, populated, tmp_path):
    from portal import crypto
    from portal.backup.keyvault import vault
    from portal.documents.models import ArchiveKey

    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == populated["second"]))
    plain = services.unwrap_data_key(row)
    vault().delete(row.vault_key_id)
    row.wrapped_key, row.vault_key_id = crypto.wrap(services.master_key(), plain), None
    db.session.commit()
    result = run_cli(app, "backup", str(tmp_path / "b"))
    assert result.exit_code == 0 and "Moved 1 legacy data key" in result.output
    manifest = json.loads(next((tmp_path / "b").iterdir()).joinpath("manifest.json").read_text())
    assert manifest["keys"]["legacy"] == 0 and manifest["keys"]["in_vault"] == 2


def test_cli_actor_backup_without_as(app, populated, tmp_path):
    backup(app, tmp_path / "b")
    db.session.rollback()
    run = db.session.scalar(sa.select(BackupRun))
    assert run.username.startswith("os:") and run.user_id is None
    assert cli_actor().via == "cli"


def test_restore_records_the_version_id_mapping(app, populated, tmp_path, target):
    path = backup(app, tmp_path / "backups")
    other = target()
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.strip().startswith("Object version ids changed"))
    mapping = json.loads(open(line.rsplit("old → new: ", 1)[1].strip()).read())
    assert mapping["backup"] == path.name and len(mapping["versions"]) == 5
    with other.app_context():
        from portal.documents.models import DocumentVersion
        restored = set(db.session.scalars(sa.select(DocumentVersion.store_version)))
        assert restored <= {v["restored_version"] for v in mapping["versions"]}
        db.session.remove()


def test_keys_status(app, populated):
    result = run_cli(app, "keys", "status")
    assert result.exit_code == 0, result.output
    assert "in the vault 2" in result.output
    services.destroy_data_key(cli_actor(), populated["first"])
    db.session.commit()
    result = run_cli(app, "keys", "status")
    assert "destroyed 1" in result.output and result.exit_code == 0
    # a key absent from the vault without having been destroyed there: a problem, named as such
    from portal.backup.keyvault import vault
    from portal.documents.models import ArchiveKey
    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == populated["second"]))
    (vault().path / f"{row.vault_key_id}.kek").unlink()
    result = run_cli(app, "keys", "status")
    assert result.exit_code == 1 and "KEK missing from the vault 1 (0 destroyed in this vault" in result.output
    assert "1 never in this vault" in result.output


@pytest.mark.skipif(not __import__("os").environ.get("PORTAL_TEST_DATABASE_URL"),
                    reason="needs PostgreSQL (PORTAL_TEST_DATABASE_URL)")
def test_postgresql_backup_restores_into_sqlite_and_back(app, populated, tmp_path, store_config, s3_config,
                                                        request):
    """The dump is logical: PostgreSQL → SQLite → PostgreSQL gives the same rows and contents."""
    from backup_helpers import new_instance

    before = contents(app)
    first = backup(app, tmp_path / "pg")
    server = request.getfixturevalue("s3_server") if store_config else None
    lite = new_instance(app, f"sqlite:///{tmp_path / 'lite.sqlite3'}", tmp_path, store_config, s3_config, server)
    assert run_cli(lite, "init", "--admin-password", "Restore-Admin-1").exit_code == 0
    result = run_cli(lite, "restore", str(first))
    assert result.exit_code == 0, result.output
    assert contents(lite) == before
    second = backup(lite, tmp_path / "lite")
    assert json.loads((second / "manifest.json").read_text())["database_dialect"] == "sqlite"
    with empty_database(tmp_path) as url:
        pg = new_instance(app, url, tmp_path, store_config, s3_config, server)
        assert run_cli(pg, "init", "--admin-password", "Restore-Admin-1").exit_code == 0
        result = run_cli(pg, "restore", str(second))
        assert result.exit_code == 0, result.output
        assert contents(pg) == before
        rows_lite, rows_pg = all_rows(lite), all_rows(pg)
        for table in ("archive", "document", "archive_key", "user_account", "intake_item"):
            assert _strip(rows_pg[table], "staged_version") == _strip(rows_lite[table], "staged_version"), table
        with pg.app_context():
            db.engine.dispose()


def test_backup_of_an_older_revision_restores_and_is_upgraded(app, populated, tmp_path, target, store_kind):
    """A backup made before the last migration: the empty target is taken down to the backup's
    revision, the rows are loaded there, then the database is upgraded to the current revision."""
    from flask_migrate import downgrade

    if store_kind == "s3":
        pytest.skip("the revision handling does not depend on the store")
    before = contents(app)
    db.session.remove()
    downgrade(revision="0013_inspection")
    path = backup(app, tmp_path / "old")
    assert json.loads((path / "manifest.json").read_text())["alembic_revision"] == "0013_inspection"
    other = target()
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "0013_inspection" in result.output
    assert contents(other) == before
    with other.app_context():
        from portal.backup.services import _current_revision, _script_revisions
        assert _current_revision() == _script_revisions()[0]
        db.session.remove()


def test_real_destruction_then_restoring_the_older_backup(app, make_archive, upload, tmp_path, target):
    """The issue's test: backup → destroy an archive (the full destruction: application, approvals,
    execution with a witness) → restore the older backup into an empty instance → the destroyed
    archive's documents cannot be decrypted; the other archive's can, byte for byte."""
    import hashlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent / "destruction"))
    import destruction_helpers as dh

    doomed = dh.terminated(make_archive, name="销毁备份客户")
    kept = make_archive(status="filed", name="保留备份客户")
    doomed_doc = upload("staff_sales", doomed, samples.pdf(["将被销毁 的合同"]), "合同.pdf")
    kept_doc = upload("staff_sales", kept, samples.pdf(["保留 的合同"]), "合同.pdf")
    kept_sha = kept_doc.latest.sha256
    doomed_doc_id = doomed_doc.id
    doomed_id, kept_doc_id = doomed.id, kept_doc.id  # (read here: inside the other app's context the
    db.session.commit()                               #  source session would bind to its engine)
    path = backup(app, tmp_path / "backups")

    application = dh.approve_chain(dh.apply([doomed]))
    done = dh.execute(application)
    assert done.status == "executed"

    check = run_cli(app, "backup", "--verify", str(path))
    assert check.exit_code == 0 and "Archive keys absent from the live key vault: 1" in check.output

    other = target()
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 0, result.output
    with other.app_context():
        from portal.archives.models import Archive
        from portal.auth.models import User
        from portal.documents.models import ArchiveKey, Document
        from portal.errors import PortalError

        archivist = Actor(db.session.scalar(sa.select(User).where(User.username == "archivist")), "127.0.0.1")
        # the older backup's rows of the destroyed archive stayed sealed: only its tombstone came back,
        # and its documents can be neither found nor decrypted
        assert not db.session.scalars(sa.select(Document).where(Document.archive_id == doomed_id)).all()
        assert db.session.get(Archive, doomed_id).status == "destroyed"
        with pytest.raises(PortalError):
            b"".join(services.open_content(archivist, doomed_doc_id, purpose="核对"))
        key = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == doomed_id))
        assert key.wrapped_key is None and key.destroyed_at is not None
        data = b"".join(services.open_content(archivist, kept_doc_id, purpose="核对"))
        assert hashlib.sha256(data).hexdigest() == kept_sha
        db.session.remove()
