"""Rows sealed per archive: a destruction reaches the database dump of every older backup.

- a backup's files hold no plaintext of a profile (ID number, phone, notes, sub-records, document
  and intake text, request values); the archive number is there in the clear, as the tombstone;
- backup → destroy the archive (the real destruction) → restore the OLDER backup into an empty
  instance → the archive is a tombstone only, nothing of it in the restored database or search,
  the other archive byte-identical; with or without the destruction application in the backup;
- backup → wipe → restore → every row identical, sealed tables included;
- a scanned batch shared by two archives, a destruction under way, the classification of tables.
"""
from __future__ import annotations

import gzip
import io
import json
import sys
from datetime import date
from pathlib import Path

import doc_samples as samples
import pytest
import sqlalchemy as sa
from backup_helpers import all_rows, contents, empty_database, new_instance, run_cli

from portal import jobs
from portal.actor import Actor
from portal.extensions import db

sys.path.insert(0, str(Path(__file__).parent.parent / "destruction"))
import destruction_helpers as dh  # noqa: E402

NAME = "甄密封客户"
ID_NUMBER = "110101198807154321"
PHONE = "13712345678"
NOTE = "蜻蜓档案备注"
TOPIC = "蝾螈会谈纪要"
CONTACT = "獾联系人"
CONTACT_PHONE = "13698765432"
DOC_PHRASE = "鸬鹚合同条款"
INTAKE_PHRASE = "鹡鸰扫描件"
CHANGE_REASON = "鼹鼠变更理由"
NEW_PHONE = "13511112222"
PURPOSE = "貘查询目的"
SECRETS = (ID_NUMBER, PHONE, NOTE, TOPIC, CONTACT, CONTACT_PHONE, DOC_PHRASE, INTAKE_PHRASE, CHANGE_REASON,
           NEW_PHONE)
# What the access register itself records (the customer's name at creation, the stated purpose of a
# query): kept by law, hash-chained, never sealed — a destruction keeps these entries too.
REGISTERED = (NAME, PURPOSE)
KEPT_NAME = "乙保留密封客户"
KEPT_TOPIC = "保留客户的会谈"


@pytest.fixture
def target(app, tmp_path, store_config, s3_config, request):
    """``target()`` → a new, migrated, empty instance (same master key and vault, its own store)."""
    stack = []

    def _make():
        ctx = empty_database(tmp_path)
        url = ctx.__enter__()
        stack.append(ctx)
        server = request.getfixturevalue("s3_server") if store_config else None
        other = new_instance(app, url, tmp_path, store_config, s3_config, server)
        result = run_cli(other, "init", "--admin-password", "Restore-Admin-1")
        assert result.exit_code == 0, result.output
        return other

    yield _make
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def backup(app, dest) -> Path:
    result = run_cli(app, "backup", str(dest))
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("OK: "))
    return Path(line[4:].strip())


def restore(other, path: Path) -> str:
    result = run_cli(other, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "hash chain intact" in result.output
    return result.output


@pytest.fixture
def rich(app, make_archive, upload, user):
    """A terminated archive full of personal data in every sealed table, and a second one kept."""
    from portal import notifications
    from portal.archives import services as archive_services
    from portal.archives.subrecords import BY_KEY
    from portal.documents import services as documents
    from portal.intake import services as intake
    from portal.intake.models import IntakeItem
    from portal.reports.models import Handover, HandoverItem
    from portal.workflows import change_requests, query_requests

    staff = dh.as_(user("staff_sales"))
    doomed = make_archive("staff_sales", status="draft", kind="individual", name=NAME, id_number=ID_NUMBER,
                          phone=PHONE, notes=NOTE, stage="terminated", terminated_on=dh.LONG_AGO)
    archive_services.add_record(staff, doomed, BY_KEY["contacts"], {"name": CONTACT, "phone": CONTACT_PHONE})
    archive_services.submit(staff, doomed)
    archive_services.approve(dh.as_(user("head_sales")), doomed)
    archive_services.file_archive(dh.as_(user("archivist")), doomed)
    kept = make_archive(status="filed", name=KEPT_NAME)
    bare = make_archive(status="filed", name="丙无文件客户")  # no document: no key until the backup
    archive_services.add_record(staff, doomed, BY_KEY["communications"], {"occurred_on": dh.LONG_AGO, "topic": TOPIC})
    archive_services.add_record(staff, kept, BY_KEY["communications"], {"occurred_on": dh.LONG_AGO,
                                                                        "topic": KEPT_TOPIC})
    contract = upload("staff_sales", doomed, samples.pdf([f"{DOC_PHRASE} 第一条"]), "合同.pdf", title="服务合同")
    documents.replace_file(staff, contract.id, io.BytesIO(samples.pdf([f"{DOC_PHRASE} 第二版"])), "合同v2.pdf")
    upload("staff_sales", kept, samples.pdf(["保留客户的合同"]), "合同.pdf")
    item = intake.receive(dh.as_(user("archivist")), io.BytesIO(samples.pdf([f"{INTAKE_PHRASE} 第一页"])),
                          "扫描.pdf", archive=doomed.number, doc_type="往来函件")
    jobs.run_pending(app)
    db.session.commit()
    assert db.session.get(IntakeItem, item.id).state == "filed"
    change_requests.propose(staff, doomed, {"phone": NEW_PHONE}, CHANGE_REASON, contract.id)
    query_requests.submit(dh.as_(user("staff_marketing")), purpose=PURPOSE, scope="all", period_days=2,
                          archive_ref=doomed.number)
    handover = Handover(handover_date=date(2024, 5, 6), giver_id=user("staff_sales").id,
                        receiver_id=user("head_sales").id, reason="leave", created_by_id=user("archivist").id)
    db.session.add(handover)
    db.session.flush()
    db.session.add(HandoverItem(handover_id=handover.id, archive_id=doomed.id, archive_number=doomed.number,
                                archive_name=NAME))
    # an inbox message about the archive (as the reminders write them: its label, a link to it)
    notifications.notify(user("staff_sales"), f"{doomed.number} {NAME}：生日提醒", f"/archives/{doomed.id}")
    db.session.commit()
    return {"doomed": doomed.id, "kept": kept.id, "bare": bare.id, "number": doomed.number,
            "item": item.id, "contract": contract.id}


def backup_texts(path: Path) -> dict[str, str]:
    """Every file of a backup as text (gzip files unpacked)."""
    out = {}
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        data = file.read_bytes()
        if file.suffix == ".gz":
            data = gzip.decompress(data)
        out[file.relative_to(path).as_posix()] = data.decode("utf-8", "replace")
    return out


def db_texts(app) -> dict[str, str]:
    """Every table of a database as one text (every column's value)."""
    out = {}
    for table, rows in all_rows(app).items():
        parts = []
        for row in rows:
            for value in row.values():
                if isinstance(value, (bytes, bytearray, memoryview)):
                    value = bytes(value).decode("utf-8", "replace")
                parts.append(str(value))
        out[table] = "\n".join(parts)
    return out


def test_a_backup_holds_no_plaintext_of_a_profile(app, rich, tmp_path):
    result = run_cli(app, "backup", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert "archive keys made first" in result.output  # the archive without a document got its key
    path = Path(next(x for x in result.output.splitlines() if x.startswith("OK: "))[4:].strip())
    texts = backup_texts(path)
    for secret in SECRETS:
        assert not [name for name, text in texts.items() if secret in text], secret
    # the name and the query's purpose only in the access register (kept by law), nowhere else
    for kept in REGISTERED:
        assert [name for name, text in texts.items() if kept in text] == ["db/register_entry.jsonl.gz"], kept
    # the number is in the clear: the tombstone
    lines = [json.loads(x) for x in texts["db/archive.jsonl.gz"].splitlines()]
    line = next(x for x in lines if x.get("_archive") == rich["doomed"])
    assert line["_clear"]["number"] == rich["number"] and "name" not in line["_clear"] and line["_sealed"]
    assert set(line) == {"_archive", "_pk", "_clear", "_sealed"}
    manifest = json.loads(texts["manifest.json"])
    sealed = manifest["sealing"]["sealed_rows"]
    for table in ("archive", "archive_communication", "archive_contact", "document", "document_version",
                  "document_event", "intake_item", "intake_page", "change_request", "change_request_item",
                  "query_request", "handover_item", "notification"):
        assert sealed.get(table), table
    assert manifest["sealing"]["sealed_archives"] == 3 and manifest["format_version"] == 2
    assert all(o["archives"] for o in manifest["objects"] if o["table"] == "document_version")
    # a backup verifies, and says every archive's rows open with the live vault
    check = run_cli(app, "backup", "--verify", str(path))
    assert check.exit_code == 0, check.output
    assert "archives whose sealed rows the live vault cannot open: 0" in check.output


def _destroy(archive_id):
    from portal.archives.models import Archive

    application = dh.approve_chain(dh.apply([db.session.get(Archive, archive_id)]))
    return application


def _search_hits(other, term: str, who: str = "archivist") -> int:
    from portal.auth.models import User
    from portal.search import services as search

    with other.app_context():
        reader = db.session.scalar(sa.select(User).where(User.username == who))
        found = search.search(Actor(reader, "127.0.0.1"), search.SearchRequest.from_args({"q": term}))
        db.session.remove()
        return len(found.hits)


def _kept_rows(rows: dict, kept_id: int, doc_ids: set) -> dict:
    strip = ("store_version", "thumbnail")
    return {
        "archive": [r for r in rows["archive"] if r["id"] == kept_id],
        "archive_communication": [r for r in rows["archive_communication"] if r["archive_id"] == kept_id],
        "document": [r for r in rows["document"] if r["archive_id"] == kept_id],
        "document_version": [{k: v for k, v in r.items() if k not in strip}
                             for r in rows["document_version"] if r["document_id"] in doc_ids],
        "archive_key": [r for r in rows["archive_key"] if r["archive_id"] == kept_id],
    }


@pytest.mark.parametrize("backup_when", ["before_application", "after_approval"])
def test_destroyed_after_the_backup_comes_back_as_a_tombstone_only(app, rich, tmp_path, target, backup_when):
    from portal.documents.models import Document

    kept_docs = set(db.session.scalars(sa.select(Document.id).where(Document.archive_id == rich["kept"])))
    application = None
    if backup_when == "after_approval":
        application = _destroy(rich["doomed"])
        application_id = application.id
    before_contents = contents(app)
    source_rows = all_rows(app)
    path = backup(app, tmp_path / "backups")
    if application is None:
        application = _destroy(rich["doomed"])
        application_id = application.id
    assert dh.execute(application).status == "executed"
    # a backup made after the destruction: the tombstone has nothing left to seal and is written as it is
    later = backup(app, tmp_path / "later")
    line = next(json.loads(x) for x in gzip.open(later / "db" / "archive.jsonl.gz")
                if json.loads(x).get("id") == rich["doomed"])
    assert "_sealed" not in line and line["status"] == "destroyed" and line["number"] == rich["number"]
    assert not [x for x in map(json.loads, gzip.open(later / "db" / "archive_communication.jsonl.gz"))
                if rich["doomed"] in (x.get("_archive"), x.get("archive_id"))]

    other = target()
    output = restore(other, path)
    assert "Restored as tombstones only" in output and rich["number"] in output
    assert "destruction register" in output

    # nothing of the archive anywhere in the restored database, except its name in the access register
    texts = db_texts(other)
    for secret in SECRETS:
        assert not [t for t, text in texts.items() if secret in text], secret
    assert [t for t, text in texts.items() if PURPOSE in text] == ["register_entry"]
    # the name: in the access register; and in the destruction register when the backup holds the
    # application (its record names the customer while the policy keeps names, 销毁清册)
    assert sorted(t for t, text in texts.items() if NAME in text) == \
        (["destruction_record", "register_entry"] if backup_when == "after_approval" else ["register_entry"])
    # … nor by search (the index was rebuilt from the restored rows)
    for term in (NAME, ID_NUMBER, PHONE, TOPIC, DOC_PHRASE, INTAKE_PHRASE, rich["number"]):
        assert _search_hits(other, term) == 0, term
        assert _search_hits(other, term, "manager") == 0, term
    assert _search_hits(other, KEPT_TOPIC) >= 1  # the other archive is searchable

    with other.app_context():
        from portal.archives.models import Archive
        from portal.destruction.models import DestructionApplication
        from portal.documents.models import ArchiveKey
        from portal.intake.models import IntakeItem, IntakePage
        from portal.register.services import verify
        from portal.reports.models import HandoverItem
        from portal.storage import store
        from portal.workflows.requests import ChangeRequest, QueryRequest

        tomb = db.session.get(Archive, rich["doomed"])
        assert (tomb.status, tomb.number, tomb.name, tomb.id_number, tomb.phone, tomb.notes) == \
            ("destroyed", rich["number"], "", "", "", "")
        assert tomb.terminated_on == dh.LONG_AGO and tomb.filed_at is not None
        assert not db.session.scalars(sa.select(Document).where(Document.archive_id == rich["doomed"])).all()
        key = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == rich["doomed"]))
        assert key.wrapped_key is None and key.destroyed_at is not None
        assert list(store().list_versions(f"archives/{rich['doomed']}/")) == []
        item = db.session.get(IntakeItem, rich["item"])
        assert item.document_id is None and item.filename == f"#{item.id}" and item.staged_key is None
        assert not db.session.scalars(sa.select(IntakePage).where(IntakePage.item_id == item.id)).all()
        change = db.session.scalar(sa.select(ChangeRequest).where(ChangeRequest.archive_id == rich["doomed"]))
        assert change.reason == "" and change.evidence_document_id is None
        assert change.items and all(i.old_value == i.new_value == "" for i in change.items)
        query = db.session.scalar(sa.select(QueryRequest).where(QueryRequest.archive_id == rich["doomed"]))
        assert query.purpose == "" and query.archive_ref == rich["number"]
        handed = db.session.scalar(sa.select(HandoverItem).where(HandoverItem.archive_id == rich["doomed"]))
        assert handed.archive_name == "" and handed.archive_number == rich["number"]
        assert verify().ok
        restored_app = db.session.get(DestructionApplication, application_id)
        if backup_when == "before_application":
            assert restored_app is None  # the destruction register of the instance that destroyed it has it
        else:
            # the application came back as it was (approved); finishing it here completes the record
            assert restored_app.status == "approved"
            assert dh.execute(restored_app).status == "executed"
            assert verify().ok
        db.session.remove()
    # the other archive: intact and byte-identical
    assert contents(other) == {k: v for k, v in before_contents.items() if k in kept_docs}
    assert _kept_rows(all_rows(other), rich["kept"], kept_docs) == _kept_rows(source_rows, rich["kept"], kept_docs)
    # the tombstone page, for the archivist
    with other.app_context():
        client = other.test_client()
        client.post("/login", data={"username": "archivist", "password": "demo12345"})
        page = client.get(f"/archives/{rich['doomed']}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert rich["number"] in text and "已销毁" in text and NAME not in text
        assert client.get(f"/documents/{rich['contract']}").status_code == 404
        db.session.remove()


def test_backup_wipe_restore_sealed_tables_identical(app, rich, tmp_path, target):
    before = contents(app)
    path = backup(app, tmp_path / "backups")
    source = all_rows(app)
    other = target()
    output = restore(other, path)
    assert "tombstones" not in output
    assert contents(other) == before
    restored = all_rows(other)
    head = json.loads((path / "manifest.json").read_text())["register_head"]["seq"]
    for table, rows in source.items():
        if table in ("backup_run", "search_outbox", "register_head"):
            continue
        if table == "register_entry":
            assert restored[table][:head] == rows[:head]
        elif table == "document_version":
            strip = ("store_version", "thumbnail")
            assert [{k: v for k, v in r.items() if k not in strip} for r in restored[table]] == \
                [{k: v for k, v in r.items() if k not in strip} for r in rows], table
        elif table == "intake_item":
            assert [{k: v for k, v in r.items() if k != "staged_version"} for r in restored[table]] == \
                [{k: v for k, v in r.items() if k != "staged_version"} for r in rows], table
        else:
            assert restored[table] == rows, table
    assert len(source["notification"]) and len(source["change_request_item"]) and len(source["intake_page"])


def test_a_scanned_batch_of_two_archives_whose_one_is_destroyed(app, make_archive, user, tmp_path, target):
    """A received file split among two archives: its row and its file are sealed with both keys;
    one destroyed after the backup → the file and that archive's part and pages stay out, the other
    archive's pages come back, its part (still waiting) is rejected: its file went with the other."""
    from portal.documents import services as documents
    from portal.intake import services as intake
    from portal.intake.models import IntakeItem, IntakePage

    a = make_archive(status="filed", name="分册甲客户")
    b = make_archive(status="filed", name="分册乙客户")
    root = intake.receive(dh.as_(user("archivist")), io.BytesIO(samples.pdf(["封面", "甲一", "甲二", "乙一"])),
                          "合订扫描.pdf")
    root = db.session.get(IntakeItem, root.id)
    root.state = "split"
    root.job_id = None
    db.session.execute(sa.delete(IntakePage).where(IntakePage.item_id == root.id))
    for number, text in ((1, "封面"), (2, "甲客户页面文字一"), (3, "甲客户页面文字二"), (4, "乙客户页面文字")):
        db.session.add(IntakePage(item_id=root.id, number=number, kind="page", text=text))
    parts = []
    for archive, first, last in ((a, 2, 3), (b, 4, 4)):
        part = IntakeItem(parent_id=root.id, source=root.source, filename=f"{archive.name}.pdf", archive_id=archive.id,
                          page_from=first, page_to=last, page_count=last - first + 1, state="waiting",
                          title=f"{archive.name}函件", created_by_id=root.created_by_id)
        db.session.add(part)
        parts.append(part)
    db.session.commit()
    part_a, part_b = parts[0].id, parts[1].id
    root_id, a_id, staged = root.id, a.id, root.staged_key
    assert staged
    path = backup(app, tmp_path / "backups")
    lines = [json.loads(x) for x in gzip.open(path / "db" / "intake_item.jsonl.gz")]
    root_line = next(x for x in lines if x.get("_pk", {}).get("id") == root_id)
    assert sorted(root_line["_archive"]) == sorted([a.id, b.id])  # sealed with both keys
    staged_obj = next(o for o in json.loads((path / "manifest.json").read_text())["objects"] if o["key"] == staged)
    assert sorted(staged_obj["archives"]) == sorted([a.id, b.id])

    documents.destroy_data_key(dh.as_(user("archivist")), a_id)
    db.session.commit()
    other = target()
    output = restore(other, path)
    assert a.number in output and b.number not in output.split("Restored as tombstones only")[1]
    with other.app_context():
        from portal.storage import store

        r = db.session.get(IntakeItem, root_id)
        assert r.staged_key is None and r.wrapped_key is None and r.filename == f"#{root_id}"
        assert list(store().list_versions("intake/")) == []
        pa, pb = db.session.get(IntakeItem, part_a), db.session.get(IntakeItem, part_b)
        assert (pa.filename, pa.title, pa.state) == (f"#{part_a}", "", "rejected")
        assert pb.title == "分册乙客户函件" and pb.state == "rejected" and pb.reason  # its file is gone
        pages = {p.number: p.text for p in db.session.scalars(sa.select(IntakePage).where(
            IntakePage.item_id == root_id))}
        assert pages == {1: "封面", 4: "乙客户页面文字"}
        db.session.remove()


def test_an_archive_whose_key_went_before_its_rows_is_written_as_a_tombstone(app, make_archive, upload, tmp_path,
                                                                                target):
    """A destruction under way (KEK deleted, rows not scrubbed yet): the backup cannot seal the rows and
    must not write them in the clear — it writes the tombstone columns only."""
    from portal.backup.keyvault import vault
    from portal.documents.models import ArchiveKey

    archive = make_archive(status="filed", kind="individual", name=NAME, phone=PHONE, id_number=ID_NUMBER)
    upload("staff_sales", archive, samples.pdf([DOC_PHRASE]), "合同.pdf")
    make_archive(status="filed", name=KEPT_NAME)  # (a vault without any of the backup's keys is refused)
    key = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive.id))
    vault().mark_destroyed(key.vault_key_id, archive.id)  # as the destruction does it
    vault().delete(key.vault_key_id)
    archive_id, number = archive.id, archive.number
    path = backup(app, tmp_path / "backups")
    texts = backup_texts(path)
    for secret in (ID_NUMBER, PHONE, DOC_PHRASE):
        assert not [name for name, text in texts.items() if secret in text], secret
    manifest = json.loads(texts["manifest.json"])
    assert manifest["sealing"]["withheld_archives"] == [archive_id]
    assert manifest["objects"] == []  # its files are unreadable: not copied
    line = next(json.loads(x) for x in texts["db/archive.jsonl.gz"].splitlines() if json.loads(x).get("_archive") == archive_id)
    assert line["_sealed"] is None and line["_clear"]["number"] == number
    check = run_cli(app, "backup", "--verify", str(path))
    assert check.exit_code == 0 and "cannot open: 1" in check.output
    other = target()
    output = restore(other, path)
    assert number in output
    with other.app_context():
        from portal.archives.models import Archive
        assert db.session.get(Archive, archive_id).status == "destroyed"
        db.session.remove()


def test_every_table_naming_an_archive_or_a_document_is_classified(app):
    """A new table with an archive_id / document_id must be sealed or say why not (portal.backup.sealing)."""
    from portal.backup.sealing import NOT_SEALED, POLICIES

    metadata = sa.MetaData()
    metadata.reflect(db.engine)
    for table in metadata.tables.values():
        names = {c.name for c in table.columns}
        targets = {fk.column.table.name for fk in table.foreign_keys}
        if names & {"archive_id", "document_id"} or targets & {"archive", "document"}:
            assert table.name in POLICIES or table.name in NOT_SEALED, table.name
    for name, policy in POLICIES.items():
        columns = {c.name for c in metadata.tables[name].columns}
        assert policy.clear <= columns and set(policy.refs) <= columns, name
    personal = {"name", "name_en", "phone", "email", "address", "id_number", "bank_account", "notes", "birth_date"}
    assert not POLICIES["archive"].clear & personal
    db.session.remove()


def test_sealed_rows_are_bound_to_their_place(app, rich, tmp_path, target):
    """A sealed line moved to another row (or its clear part edited) does not open: AES-GCM's
    associated data binds table, key, archives and the clear columns."""
    from portal.backup.sealing import Opener
    from portal.backup.services import open_keys
    from portal.crypto import DecryptionFailed

    path = backup(app, tmp_path / "backups")
    manifest = json.loads((path / "manifest.json").read_text())
    lines = [json.loads(x) for x in gzip.open(path / "db" / "archive_communication.jsonl.gz")]
    opener = Opener(open_keys(path, manifest))
    assert TOPIC in json.dumps(opener.open("archive_communication", lines[0]), ensure_ascii=False) or \
        TOPIC in json.dumps(opener.open("archive_communication", lines[1]), ensure_ascii=False)
    moved = dict(lines[0], _pk={"id": lines[0]["_pk"]["id"] + 100})
    with pytest.raises(DecryptionFailed):
        opener.open("archive_communication", moved)
    archive_line = next(json.loads(x) for x in gzip.open(path / "db" / "archive.jsonl.gz")
                        if json.loads(x).get("_archive") == rich["doomed"])
    archive_line["_clear"]["status"] = "draft"
    with pytest.raises(DecryptionFailed):
        opener.open("archive", archive_line)


def test_keys_are_made_in_bulk_and_one_made_meanwhile_is_kept(app, make_archive, monkeypatch):
    """Before a backup every archive gets its key, a batch at a time; a key an upload made at the same
    moment wins, the batch's KEK for it is deleted (no stray vault entries)."""
    import threading

    from portal.backup import services as backup_services
    from portal.backup.keyvault import KeyVault, vault
    from portal.documents import services as documents
    from portal.documents.models import ArchiveKey

    first = make_archive(status="filed", name="批量甲")
    second = make_archive(status="filed", name="批量乙")
    ids = [first.id, second.id]
    db.session.commit()
    real_create = KeyVault.create
    raced = []

    def create(self, master, archive_id):
        made = real_create(self, master, archive_id)
        if archive_id == ids[0] and not raced:
            raced.append(archive_id)

            def upload_meanwhile():
                with app.app_context():
                    documents.data_key(archive_id, create=True)
                    db.session.remove()

            thread = threading.Thread(target=upload_meanwhile)
            thread.start()
            thread.join()
        return made

    monkeypatch.setattr(KeyVault, "create", create)
    made = backup_services.ensure_archive_keys()
    assert raced and made >= 1
    rows = db.session.scalars(sa.select(ArchiveKey).where(ArchiveKey.archive_id.in_(ids))).all()
    assert sorted(r.archive_id for r in rows) == sorted(ids)
    for archive_id in ids:
        assert len(documents.data_key(archive_id)) == 32
    in_vault = [e for e in vault().entries() if e.archive_id in ids]
    assert sorted(e.archive_id for e in in_vault) == sorted(ids)  # one KEK each: the loser's was deleted
    assert backup_services.ensure_archive_keys() == 0
