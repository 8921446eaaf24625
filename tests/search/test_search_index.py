"""The index follows the database: updates after commit, removal at once, recovery, rebuilds, and
concurrent writers — observed through searches, ``/healthz`` and ``portal reindex``."""
from __future__ import annotations

import io
import multiprocessing
import shutil
import threading
import time

import doc_samples as samples
import pytest
import sqlalchemy as sa
from seed_passages import lines, passage

from portal.actor import Actor
from portal.archives import services as archives
from portal.archives.models import Archive
from portal.auth.models import User
from portal.documents import services as documents
from portal.documents.models import ArchiveKey
from portal.extensions import db
from portal.models_base import utcnow
from portal.search import indexing
from portal.search.models import SearchOutbox


def A(archive):
    return ("archive", archive.id)


def D(document):
    return ("document", document.id)


def found(results) -> set[tuple[str, int]]:
    assert results.total == len(results.hits)
    return {(h.kind, h.id) for h in results.hits}


def pending() -> int:
    """Outbox rows not yet applied to the index (as another connection sees them)."""
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)
                             .where(SearchOutbox.done_at.is_(None)))


def pdf(text: str) -> bytes:
    return samples.pdf(lines(text))


def actor(user, name: str) -> Actor:
    return Actor(user(name), "127.0.0.1")


def in_thread(app, fn):
    """Run ``fn()`` in another thread with its own app context (another request), return its result."""
    out: list = []

    def target():
        try:
            with app.app_context():
                out.append(fn())
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            out.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


# --- updates after commit --------------------------------------------------------------------------

def test_an_edited_field_is_searched_by_its_new_text_only(make_archive, find, user):
    draft = make_archive(name="海拓跨境电商有限公司", business_scope=passage("hans_custody"))
    assert found(find("staff_sales", "借阅客户档案")) == {A(draft)}

    archives.update_draft(actor(user, "staff_sales"), draft, {"business_scope": passage("hans_maintenance")},
                          draft.version)
    assert found(find("staff_sales", "借阅客户档案")) == set()
    assert found(find("staff_sales", "未经授权的第三方")) == {A(draft)}
    assert pending() == 0


def test_every_edit_replaces_the_previous_text(make_archive, find, user):
    """Edit after edit with a search in between, all in one thread (one long-lived searcher)."""
    draft = make_archive(name="恒信照明电器有限公司", notes="第0版备注")
    for i in range(1, 8):
        archive = db.session.get(Archive, draft.id)
        archives.update_draft(actor(user, "staff_sales"), archive, {"notes": f"第{i}版备注"}, archive.version)
        assert found(find("staff_sales", f"第{i}版备注")) == {A(draft)}, i
        assert found(find("staff_sales", f"第{i - 1}版备注")) == set(), i
        assert found(find("staff_sales", "备注")) == {A(draft)}, i


def test_a_log_entry_added_to_a_filed_archive_is_found(make_archive, find, user):
    from datetime import date

    from portal.archives.subrecords import BY_KEY
    filed = make_archive(status="filed", name="云帆家居用品有限公司")
    assert found(find("staff_sales", "客户档案管理员")) == set()
    archives.add_record(actor(user, "staff_sales"), filed, BY_KEY["feedback"], dict(
        received_on=date(2026, 11, 20), kind="complaint", description=passage("hant_keeper")))
    assert found(find("staff_sales", "客户档案管理员")) == {A(filed)}


def test_a_replaced_file_and_edited_details_are_searched_as_they_are_now(make_archive, upload, find, user):
    filed = make_archive(status="filed", name="锦程户外用品有限公司")
    doc = upload("staff_sales", filed, pdf(passage("hans_backup")), "保管规定.pdf", doc_type="其他",
                 title="保管规定")
    assert found(find("staff_sales", "定期备份")) == {D(doc)}

    documents.replace_file(actor(user, "staff_sales"), doc.id, io.BytesIO(pdf(passage("hans_destroy"))),
                           "销毁规定.pdf", note="换成销毁规定")
    assert found(find("staff_sales", "定期备份")) == set()  # only the current version is searched
    assert found(find("staff_sales", "销毁应执行严格的程序")) == {D(doc)}

    doc = db.session.get(type(doc), doc.id)
    documents.update_details(actor(user, "staff_sales"), doc.id, documents.Details(
        doc_type="会议纪要", title="档案销毁程序纪要"), lock_version=doc.lock_version)
    assert found(find("staff_sales", "档案销毁程序纪要", doc_type="会议纪要")) == {D(doc)}
    assert found(find("staff_sales", "销毁", doc_type="其他")) == set()
    assert pending() == 0


def test_a_rolled_back_change_never_reaches_the_index(make_archive, find):
    draft = make_archive(name="朗悦化妆品有限公司", notes=passage("hans_custody"))
    before = pending()

    archive = db.session.get(Archive, draft.id)
    archive.notes = "董事会决议草稿：暂停合作"
    db.session.flush()  # the outbox row is written in the same transaction …
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)
                             .where(SearchOutbox.done_at.is_(None))) == before + 1
    db.session.rollback()  # … and goes with it

    assert pending() == before == 0
    assert found(find("staff_sales", "董事会决议草稿")) == set()
    make_archive(name="另一位客户有限公司")  # a later commit runs the writer again
    assert found(find("staff_sales", "董事会决议草稿")) == set()
    assert found(find("staff_sales", "借阅客户档案")) == {A(draft)}


def test_changes_wait_in_the_outbox_until_the_writer_applies_them(app, client, make_archive, find):
    assert found(find("archivist", "借阅客户档案")) == set()  # builds the (empty) index
    app.config["SEARCH_WRITER"] = "manual"  # no writer after commit: the outbox fills up
    archive = make_archive(status="filed", name="宏图照明电器有限公司", notes=passage("hans_custody"))
    waiting = pending()
    assert waiting > 0
    assert client.get("/healthz").json["components"]["search"]["pending"] == waiting
    assert found(find("archivist", "借阅客户档案")) == set()  # committed, not yet applied

    assert indexing.drain(app) == waiting
    assert pending() == 0  # every row done
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) == waiting  # kept a day
    assert found(find("archivist", "借阅客户档案")) == {A(archive)}
    assert client.get("/healthz").json["components"]["search"]["pending"] == 0


# --- removal -----------------------------------------------------------------------------------------

def test_a_deleted_draft_leaves_the_index_at_once(make_archive, find, user):
    draft = make_archive(name="待删除的客户有限公司", notes=passage("hans_custody"))
    keep = make_archive(name="保留的客户有限公司", notes=passage("hans_custody"))
    assert found(find("staff_sales", "借阅客户档案")) == {A(draft), A(keep)}
    archives.delete_draft(actor(user, "staff_sales"), draft)
    assert found(find("staff_sales", "借阅客户档案")) == {A(keep)}
    assert found(find("staff_sales", "待删除")) == set()
    assert pending() == 0


def test_a_draft_with_documents_is_not_deleted_and_stays_findable(make_archive, upload, find, user):
    """Stored material leaves only through destruction: deleting its draft is refused, nothing is lost
    (from the index either)."""
    from portal.errors import InvalidState
    draft = make_archive(name="带材料的草稿有限公司")
    doc = upload("staff_sales", draft, pdf(passage("hant_keeper")), "岗位责任.pdf", doc_type="其他")
    assert found(find("staff_sales", "客户档案管理员")) == {D(doc)}
    with pytest.raises(InvalidState, match="destroyed|销毁"):
        archives.delete_draft(actor(user, "staff_sales"), draft)
    db.session.rollback()
    assert found(find("staff_sales", "客户档案管理员")) == {D(doc)}
    assert found(find("staff_sales", "带材料的草稿")) >= {A(draft)}


def test_destroying_the_archive_key_removes_its_documents(make_archive, upload, find):
    filed = make_archive(status="filed", name="泰和五金制品有限公司")
    doc = upload("staff_sales", filed, pdf(passage("hant_keeper")), "岗位责任.pdf", doc_type="其他")
    other = make_archive(status="filed", name="安达汽车配件有限公司")
    other_doc = upload("staff_sales", other, pdf(passage("hant_keeper")), "岗位责任.pdf", doc_type="其他")
    assert found(find("archivist", "客户档案管理员")) == {D(doc), D(other_doc)}

    key = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == filed.id))
    key.wrapped_key, key.destroyed_at = None, utcnow()  # crypto-shredding: the files are unreadable
    db.session.commit()
    assert found(find("archivist", "客户档案管理员")) == {D(other_doc)}
    assert found(find("archivist", "岗位责任", kind="document")) == {D(other_doc)}
    assert pending() == 0


# --- damage and recovery ------------------------------------------------------------------------------

DAMAGE = ("deleted", "truncated", "garbage")


def _damage(root, how: str) -> str:
    """Damage the index as a crash, a full disk or a bad copy would; returns the state to expect."""
    if how == "deleted":
        shutil.rmtree(root)
        return "missing"
    path = indexing.current_dir(root)
    for f in path.iterdir():
        if "LOCK" in f.name:
            continue
        data = f.read_bytes()
        if how == "truncated" and f.suffix in (".pst", ".col"):  # posting and column files cut short
            f.write_bytes(data[: len(data) // 2])
        elif how == "garbage":  # every file, the table of contents too
            f.write_bytes((b"\x17garbage" * (len(data) // 8 + 1))[: len(data)])
    return "corrupt"


def _corpus(make_archive, upload):
    """Two archives and two documents, all containing 客户档案管理员 (or 客户档案)."""
    a = make_archive(status="filed", name="博睿电子科技有限公司", notes=passage("hant_keeper"))
    b = make_archive(status="filed", name="众联服饰有限公司", notes=passage("hans_duties"))
    d1 = upload("staff_sales", a, pdf(passage("hant_keeper")), "岗位责任.pdf", doc_type="其他")
    d2 = upload("staff_sales", b, samples.docx([passage("hans_duties")]), "职责.docx", doc_type="其他")
    return {A(a), A(b), D(d1), D(d2)}, {A(a), D(d1)}


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_index_is_reported_and_the_next_search_rebuilds_it(app, make_archive, upload, find, how):
    everything, keepers = _corpus(make_archive, upload)
    assert found(find("staff_sales", "客户档案")) == everything
    root = indexing.index_root(app)
    expected = _damage(root, how)
    assert indexing.index_state(app) == expected

    # the next request (a thread of its own, as in the server) rebuilds and finds everything again
    results = in_thread(app, lambda: found(find("staff_sales", "客户档案")))
    assert results == everything
    assert indexing.index_state(app) == "ok"
    assert found(find("staff_sales", "客户档案管理员")) == keepers


@pytest.mark.parametrize("how", DAMAGE)
def test_healthz_reports_a_damaged_index_while_the_writer_rebuilds_it(app, client, make_archive, upload, find, how):
    everything, _keepers = _corpus(make_archive, upload)
    search = client.get("/healthz").json["components"]["search"]
    assert (search["ok"], search["state"], search["pending"], search["writer"]) == (True, "ok", 0, "idle")
    assert "found" not in search
    # production set-up: the writer thread of this process rebuilds in the background
    app.config.update(SEARCH_WRITER="thread", SEARCH_POLL_SECONDS=3600)
    root = indexing.index_root(app)
    expected = _damage(root, how)

    with indexing._process_lock:  # hold the rebuild before its switch, so that the check sees it running
        response = client.get("/healthz")
        search = response.json["components"]["search"]
        assert response.status_code == 503 and response.json["status"] == "degraded"
        assert search["ok"] is False and search["found"] == expected
        assert search["state"] in ("rebuilding", expected)
    deadline = time.monotonic() + 60
    while indexing.index_state(app) != "ok" and time.monotonic() < deadline:
        time.sleep(0.1)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["components"]["search"]["ok"] is True
    assert found(in_thread(app, lambda: find("staff_sales", "客户档案"))) == everything


def test_healthz_repairs_at_once_without_a_writer_thread(app, client, make_archive, upload, find):
    everything, _keepers = _corpus(make_archive, upload)
    _damage(indexing.index_root(app), "truncated")
    search = client.get("/healthz").json["components"]["search"]
    assert search["found"] == "corrupt" and search["ok"] is True and search["state"] == "ok"
    assert found(in_thread(app, lambda: find("staff_sales", "客户档案"))) == everything


# --- rebuilding ----------------------------------------------------------------------------------------

def test_portal_reindex_rebuilds_with_progress_and_registers_it(app, make_archive, upload, find, register_entries):
    from portal.cli import reindex_command
    everything, _keepers = _corpus(make_archive, upload)
    make_archive(name="第三家客户有限公司")
    root = indexing.index_root(app)
    old = indexing.current_dir(root)

    result = app.test_cli_runner().invoke(reindex_command, ["--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "archives: 3/3" in result.output and "documents: 2/2" in result.output
    assert "Index rebuilt: 3 archives, 2 documents" in result.output
    new = indexing.current_dir(root)
    assert new != old and old.is_dir()  # the previous generation stays for searchers still reading it
    assert indexing.index_state(app) == "ok"
    entry = register_entries(action="search_reindex")[-1]
    assert entry.detail.startswith("archives=3; documents=2")
    assert found(in_thread(app, lambda: find("staff_sales", "客户档案"))) == everything


def test_a_rebuild_serves_the_old_index_until_the_switch_and_loses_no_change(app, make_archive, upload, find, user):
    edited = make_archive(name="星辰宠物用品有限公司", notes=passage("hans_custody"))
    filed = make_archive(status="filed", name="远航电子科技有限公司", notes=passage("hans_duties"))
    upload("staff_sales", filed, pdf(passage("hans_backup")), "保管规定.pdf", doc_type="其他")
    for i in range(3):
        make_archive(name=f"批量客户{i}有限公司", notes=passage("hans_levels"))
    root = indexing.index_root(app)
    old = indexing.current_dir(root)
    seen: dict = {}

    def progress(stage, done, total):
        if stage != "documents" or seen:
            return
        # archives are all read into the new generation; searches still use the old one
        seen["current"] = indexing.current_dir(root)
        seen["before"] = in_thread(app, lambda: found(find("staff_sales", "借阅客户档案")))

        def change():  # another request commits while the rebuild runs
            archive = db.session.get(Archive, edited.id)
            archives.update_draft(Actor(db.session.get(User, user("staff_sales").id), "127.0.0.1"), archive,
                                  {"notes": passage("hans_maintenance")}, archive.version)
            doc = documents.upload(Actor(db.session.scalar(sa.select(User).filter_by(username="staff_sales")),
                                         "127.0.0.1"), filed.id, io.BytesIO(pdf(passage("hant_privacy"))),
                                   "保密原则.pdf", documents.Details(doc_type="其他", title="保密原则"))
            return doc.id
        seen["doc"] = in_thread(app, change)
        seen["during"] = in_thread(app, lambda: found(find("staff_sales", "未经授权的第三方")))

    report = indexing.rebuild(app, batch=2, progress=progress)
    assert seen["current"] == old and seen["before"] == {A(edited)}
    assert seen["during"] == {A(edited)}  # the writer kept the old generation up to date meanwhile
    assert report.replayed > 0 and indexing.current_dir(root) != old
    # the new generation has the change although it had read the archive before it was made
    assert found(find("staff_sales", "借阅客户档案")) == set()
    assert found(find("staff_sales", "未经授权的第三方")) == {A(edited)}
    assert found(find("staff_sales", "加密存储")) == {("document", seen["doc"])}
    assert pending() == 0


# --- concurrent writers --------------------------------------------------------------------------------

def _edit_many(archive_id: int, tag: str, rounds: int, barrier=None) -> None:
    """Save the draft ``rounds`` times, each time with a new marker text (in the caller's app context)."""
    author = db.session.scalar(sa.select(User).filter_by(username="staff_sales"))
    if barrier is not None:
        barrier.wait()
    for i in range(rounds):
        archive = db.session.get(Archive, archive_id)
        archives.update_draft(Actor(author, tag), archive, {"notes": f"{passage('hans_custody')} 标记{tag}{i}号"},
                              None)
    db.session.remove()


def test_two_threads_committing_at_once_lose_no_update(app, make_archive, find):
    first = make_archive(name="第一家并发客户有限公司")
    second = make_archive(name="第二家并发客户有限公司")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    rounds = 6

    def worker(archive_id, tag):
        try:
            with app.app_context():
                _edit_many(archive_id, tag, rounds, barrier)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(first.id, "甲")), threading.Thread(target=worker, args=(second.id, "乙"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert pending() == 0
    last = rounds - 1
    assert found(find("staff_sales", f"标记甲{last}号")) == {A(first)}
    assert found(find("staff_sales", f"标记乙{last}号")) == {A(second)}
    assert found(find("staff_sales", f"标记甲{last - 1}号")) == set()  # earlier states are gone
    assert found(find("staff_sales", "借阅客户档案")) == {A(first), A(second)}


def _edit_in_process(database_url: str, instance: str, archive_id: int, tag: str, rounds: int) -> None:
    """Another server process: its own app and engine, the same database and index folder."""
    from portal import create_app
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": instance,
                      "SECRET_KEY": "x", "SEARCH_WRITER": "sync"})
    with app.app_context():
        _edit_many(archive_id, tag, rounds)
        db.engine.dispose()


def test_two_processes_committing_at_once_lose_no_update(app, make_archive, find):
    first = make_archive(name="第一家多进程客户有限公司")
    second = make_archive(name="第二家多进程客户有限公司")
    rounds = 5
    ctx = multiprocessing.get_context("spawn")
    url, instance = app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path
    with ctx.Pool(2) as pool:
        pool.starmap(_edit_in_process, [(url, instance, first.id, "丙", rounds),
                                        (url, instance, second.id, "丁", rounds)])
    assert pending() == 0
    assert found(find("staff_sales", f"标记丙{rounds - 1}号")) == {A(first)}
    assert found(find("staff_sales", f"标记丁{rounds - 1}号")) == {A(second)}
    assert found(find("staff_sales", "借阅客户档案")) == {A(first), A(second)}
