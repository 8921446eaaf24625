"""After a destruction nothing of the archive can be found (issue 7, "Done when"): not by search (name,
ID number, phone, a phrase of a document's text or of an OCR'd / intake page), not by guessing
document URLs, not in the store (every version listed, local and S3), not in the database file;
its key is gone; what remains is the tombstone — and its number is never given again."""
from __future__ import annotations

import io
from pathlib import Path

import destruction_helpers as dh
import doc_samples as samples
import sqlalchemy as sa

from portal import jobs
from portal.archives import services as archive_services
from portal.archives.models import Archive
from portal.archives.subrecords import BY_KEY
from portal.documents import services as documents
from portal.documents.models import ArchiveKey, Document, DocumentEvent, DocumentVersion
from portal.extensions import db
from portal.intake import services as intake
from portal.intake.models import IntakeItem, IntakePage
from portal.storage import store

NAME = "甄销毁"
ID_NUMBER = "110101199003071234"
PHONE = "13987654321"
DOC_PHRASE = "鹦鹉螺合同条款"
V2_PHRASE = "鹈鹕补充协议"
INTAKE_PHRASE = "收件文本"
NOTE_PHRASE = "蜂鸟备注内容"


def _index_terms(app, needle: str) -> set[str]:
    """Terms of every index generation on disk that contain ``needle`` (deleted documents included
    until their segment is rewritten)."""
    from portal.search import indexing

    found = set()
    root = indexing.index_root(app)
    for path in root.glob("ix-*"):
        ix = indexing.open_index(path)
        with ix.reader() as reader:
            for fieldname, term in reader.all_terms():
                text = term.decode("utf-8", "replace") if isinstance(term, bytes) else str(term)
                if needle in text:
                    found.add(f"{fieldname}:{text}")
    return found


def _db_files(app) -> list[Path]:
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        return []
    base = Path(url.database)
    return [p for p in (base, Path(f"{base}-wal")) if p.exists()]


def test_after_destruction_nothing_of_the_archive_can_be_found(app, login, user, make_archive, upload, find,
                                                                 register_entries):
    _destroy_and_look_everywhere(app, login, user, make_archive, upload, find, register_entries)


def _destroy_and_look_everywhere(app, login, user, make_archive, upload, find, register_entries):
    archive = dh.terminated(make_archive, kind="individual", name=NAME, id_number=ID_NUMBER, phone=PHONE,
                            notes=NOTE_PHRASE)
    archive_id, number = archive.id, archive.number
    staff = dh.as_(user("staff_sales"))
    archive_services.add_record(staff, archive, BY_KEY["communications"],
                                {"occurred_on": dh.LONG_AGO, "topic": f"{NOTE_PHRASE}会谈"})
    contract = upload("staff_sales", archive, samples.pdf([f"{DOC_PHRASE} 第一条", "甲方 甄销毁"]), "甄销毁合同.pdf",
                      title="甄销毁服务合同")
    documents.replace_file(staff, contract.id, io.BytesIO(samples.pdf([f"{V2_PHRASE} 第二版"])), "合同v2.pdf")
    photo = upload("staff_sales", archive, samples.image("PNG", text="ID CARD"), "身份证.png", doc_type="其他")
    item = intake.receive(dh.as_(user("archivist")), io.BytesIO(samples.pdf([f"{INTAKE_PHRASE} 扫描件"])),
                          "甄销毁扫描.pdf", archive=number, doc_type="往来函件")
    jobs.run_pending(app)
    db.session.commit()
    item = db.session.get(IntakeItem, item.id)
    assert item.state == "filed", item.reason
    doc_ids = [contract.id, photo.id, item.document_id]
    # (the staged intake file was removed when it was filed; scans still waiting in intake: test_execution.py)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IntakePage)
                             .where(IntakePage.item_id == item.id)) >= 1

    # Before: everything can be found (so that "nothing" afterwards means something).
    # (searches go on the access register, which keeps them: search parts of the phrases whose
    # full text is looked for in the database file below; the current version's text is indexed)
    for term in (NAME, V2_PHRASE[:4], INTAKE_PHRASE[:2], NOTE_PHRASE[:4]):
        assert find("archivist", term).hits, term
    assert _index_terms(app, "鹈") and _index_terms(app, "收件")
    archivist = login("archivist")
    urls = []
    for doc_id in doc_ids:
        urls += [f"/documents/{doc_id}", f"/documents/{doc_id}/view", f"/documents/{doc_id}/download",
                 f"/documents/{doc_id}/thumbnail", f"/documents/{doc_id}/print", f"/documents/{doc_id}?version=1",
                 f"/documents/{doc_id}/view?version=1"]
    assert archivist.get(f"/documents/{contract.id}").status_code == 200
    assert archivist.get(f"/documents/{contract.id}/download").status_code == 200
    prefix = f"archives/{archive_id}/"
    assert len(list(store().list_versions(prefix))) == 4  # contract v1 + v2, photo, intake filing

    app_ = dh.approve_chain(dh.apply([archive]))
    app_ = dh.execute(app_)
    assert app_.status == "executed"
    rec = app_.records[0]
    assert (rec.documents, rec.versions, rec.objects, rec.state) == (3, 4, 4, "done")
    assert rec.key_destroyed and rec.bytes_removed > 0

    # SQLite: deleted content does not linger in free pages or the write-ahead log.
    for path in _db_files(app):
        data = path.read_bytes()
        for secret in (ID_NUMBER, PHONE, DOC_PHRASE, V2_PHRASE, INTAKE_PHRASE, NOTE_PHRASE):
            assert secret.encode() not in data, (path.name, secret)

    # Search: by name, ID number, phone, document phrases, intake text, profile notes — nobody finds it.
    for who in ("archivist", "manager", "staff_sales", "head_sales", "supervisor"):
        for term in (NAME, ID_NUMBER, PHONE, DOC_PHRASE, V2_PHRASE, INTAKE_PHRASE, NOTE_PHRASE, number):
            assert not find(who, term).hits, (who, term)
    # … and the index itself holds none of its terms any more (segments rewritten, old generations too)
    assert not _index_terms(app, "鹈"), _index_terms(app, "鹈")
    assert not _index_terms(app, "收件")

    # Guessed document URLs: 404 for everyone (the rows are gone).
    for client in (archivist, login("staff_sales"), login("manager")):
        for url in urls:
            assert client.get(url).status_code == 404, url

    # The store: nothing under the archive's prefix, no version of any of its objects anywhere.
    assert list(store().list_versions(prefix)) == []
    assert not [o for o in store().list_versions("") if o.key.startswith(prefix)]

    # The database: key destroyed, documents, versions, history, texts, intake pages gone.
    key = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive_id))
    assert key.wrapped_key is None and key.destroyed_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document).where(Document.id.in_(doc_ids))) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentVersion)
                             .where(DocumentVersion.document_id.in_(doc_ids))) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentEvent)
                             .where(DocumentEvent.document_id.in_(doc_ids))) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IntakePage)
                             .where(IntakePage.item_id == item.id)) == 0
    item = db.session.get(IntakeItem, item.id)
    assert item.document_id is None and "甄" not in item.filename
    tomb = db.session.get(Archive, archive_id)
    assert (tomb.status, tomb.number, tomb.name) == ("destroyed", number, NAME)  # the name is kept by default
    assert (tomb.id_number, tomb.phone, tomb.notes) == ("", "", "")
    assert tomb.terminated_on == dh.LONG_AGO and tomb.filed_at is not None
    for kind in BY_KEY.values():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(kind.model)
                                 .where(kind.model.archive_id == archive_id)) == 0

    # Registered: one execution per archive, the key's destruction.
    assert register_entries(action="destruction_execute", archive_id=archive_id, result="ok")
    assert register_entries(action="key_destroy", archive_id=archive_id)


def test_the_tombstone_page_and_lists(app, login, make_archive, register_entries):
    archive = dh.terminated(make_archive, name="乙墓碑客户")
    other = dh.terminated(make_archive, name="乙保留客户")
    dh.execute(dh.approve_chain(dh.apply([archive])))
    for who in ("archivist", "supervisor", "manager"):
        page = login(who).get(f"/archives/{archive.id}")
        assert page.status_code == 200, who
        text = page.get_data(as_text=True)
        assert archive.number in text and "已销毁" in text and "2020-03-01" in text
        assert "乙墓碑客户" in text  # the name stays by default (the policy's 销毁清册 names customers)
    assert register_entries(action="archive_view", archive_id=archive.id, detail="tombstone")
    for who in ("staff_sales", "head_sales", "head_service", "admin"):
        assert login(who).get(f"/archives/{archive.id}").status_code == 404, who
    for who in ("archivist", "staff_sales"):
        client = login(who)
        listing = client.get("/?q=乙").get_data(as_text=True)
        assert other.number in listing and archive.number not in listing
        assert client.get(f"/archives/n/{archive.number}").status_code == 404


def test_the_number_is_never_reused(app, make_archive):
    first = dh.terminated(make_archive, name="丙客户")
    dh.execute(dh.approve_chain(dh.apply([first])))
    after = make_archive("staff_sales", status="filed", name="丁客户")
    assert after.number != first.number
    assert int(after.number.rsplit("-", 1)[1]) > int(first.number.rsplit("-", 1)[1])


def test_freed_pages_are_zeroed_even_where_sqlite_does_not_do_it_by_default(app, login, user, make_archive, upload,
                                                                            find, register_entries, store_kind):
    """Debian's SQLite zeroes deleted content by default, other builds do not: the portal turns
    ``secure_delete`` on for every connection, so texts deleted or moved before the destruction
    (uploads, replacements, intake, page splits) leave nothing in the file either."""
    import pytest

    if db.engine.dialect.name != "sqlite" or store_kind != "local":
        pytest.skip("SQLite file check (the store is irrelevant here)")

    @sa.event.listens_for(db.engine, "connect", insert=True)
    def _build_default_off(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA secure_delete=OFF")  # before the portal's own settings

    db.session.remove()
    db.engine.dispose()
    try:
        _destroy_and_look_everywhere(app, login, user, make_archive, upload, find, register_entries)
    finally:
        sa.event.remove(db.engine, "connect", _build_default_off)
