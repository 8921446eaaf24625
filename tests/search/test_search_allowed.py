"""What a user may find follows the database at once, although each process keeps every user's
allowed set between searches: a change of level, department or document, a new or deleted archive,
a moved user — and an index that has not caught up yet never shows what the database forbids."""
from __future__ import annotations

import doc_samples as samples
import pytest
import sqlalchemy as sa
from seed_passages import lines

from portal.actor import Actor
from portal.archives import services as archives
from portal.archives.models import Archive
from portal.auth.models import Department
from portal.documents.models import Document
from portal.extensions import db
from portal.search import services

WORD = "琅嬛阁"  # rare enough to match only what these tests store


def found(results) -> set[tuple[str, int]]:
    keys = {(h.kind, h.id) for h in results.hits}
    assert results.total_exact and results.total == len(results.hits) == len(keys)
    return keys


def A(archive):
    return ("archive", archive.id)


def D(document):
    return ("document", document.id)


def pdf(text: str) -> bytes:
    return samples.pdf(lines(text))


def same_as_database(*users, **filters):
    """The allowed set a search uses equals the one read from the database now."""
    for u in users:
        req = services.SearchRequest.from_args({"q": WORD, **filters})
        assert services.allowed(u, req).uids == frozenset(services.allowed_uids(u, req))


@pytest.fixture
def commit():
    def _commit(obj, **values):
        for name, value in values.items():
            setattr(obj, name, value)
        db.session.commit()
    return _commit


def test_level_and_department_changes_show_in_the_next_search(make_archive, upload, find, user, commit):
    one = make_archive("staff_sales", status="filed", name=f"{WORD}贸易有限公司")
    two = make_archive("staff_sales", status="filed", name=f"{WORD}电子有限公司")
    doc = upload("staff_sales", one, pdf(f"{WORD}框架合同条款"), "合同.pdf", title="框架合同", sensitivity=2)
    assert found(find("staff_sales", WORD)) == {A(one), A(two), D(doc)}
    assert found(find("head_sales", WORD)) == {A(one), A(two), D(doc)}
    assert found(find("head_marketing", WORD)) == set()

    commit(db.session.get(Archive, one.id), sensitivity=1)  # 一级: closed to clearance 二级
    assert found(find("staff_sales", WORD)) == {A(two)}
    assert found(find("archivist", WORD)) == {A(one), A(two), D(doc)}

    commit(db.session.get(Document, doc.id), sensitivity=1)
    commit(db.session.get(Archive, one.id), sensitivity=2)
    assert found(find("staff_sales", WORD)) == {A(one), A(two)}  # the 一级 document stays closed

    marketing = db.session.scalar(sa.select(Department).where(Department.name == "市场部"))
    commit(db.session.get(Archive, two.id), department_id=marketing.id)
    assert found(find("head_sales", WORD)) == {A(one)}
    assert found(find("head_marketing", WORD)) == {A(two)}
    assert found(find("staff_sales", WORD)) == {A(one), A(two)}  # its author still opens it
    same_as_database(user("staff_sales"), user("head_sales"), user("head_marketing"), user("archivist"))
    same_as_database(user("staff_sales"), kind="document")


def test_new_and_deleted_archives_show_in_the_next_search(make_archive, find, user):
    draft = make_archive("staff_sales", status="draft", name=f"{WORD}物流有限公司")
    assert found(find("staff_sales", WORD)) == {A(draft)}
    filed = make_archive("staff_sales", status="filed", name=f"{WORD}科技有限公司")
    assert found(find("staff_sales", WORD)) == {A(draft), A(filed)}
    archives.delete_draft(Actor(user("staff_sales"), "127.0.0.1"), draft)
    assert found(find("staff_sales", WORD)) == {A(filed)}
    same_as_database(user("staff_sales"))


def test_a_user_moved_to_another_department_finds_only_its_archives(make_archive, find, user, commit):
    sales = make_archive("staff_sales", status="filed", name=f"{WORD}贸易有限公司")
    marketing = make_archive("head_marketing", status="filed", name=f"{WORD}营销有限公司")
    assert found(find("head_sales", WORD)) == {A(sales)}
    dept = db.session.scalar(sa.select(Department).where(Department.name == "市场部"))
    commit(user("head_sales"), department_id=dept.id)
    assert found(find("head_sales", WORD)) == {A(marketing)}
    commit(user("head_sales"), clearance=3)  # the 二级 archive closes too
    assert found(find("head_sales", WORD)) == set()


def test_a_stale_index_entry_never_shows_what_the_database_forbids(app, make_archive, upload, find, commit):
    archive = make_archive("staff_sales", status="filed", name=f"{WORD}贸易有限公司")
    doc = upload("staff_sales", archive, pdf(f"{WORD}保密协议"), "协议.pdf", title="保密协议", sensitivity=2)
    assert found(find("staff_sales", WORD)) == {A(archive), D(doc)}
    app.config["SEARCH_WRITER"] = "manual"  # the index keeps the old entries from here on
    commit(db.session.get(Document, doc.id), sensitivity=1)
    assert found(find("staff_sales", WORD)) == {A(archive)}  # no hit, no count for the closed one
    commit(db.session.get(Archive, archive.id), sensitivity=1)
    r = find("staff_sales", WORD)
    assert (r.total, r.hits) == (0, [])
    assert found(find("archivist", WORD)) == {A(archive), D(doc)}


def test_many_changes_at_once_are_read_exactly(make_archive, upload, find, user, commit):
    made = [make_archive("staff_sales", status="filed", name=f"{WORD}{i}号有限公司") for i in range(4)]
    docs = [upload("staff_sales", a, pdf(f"{WORD}合同第{i}号"), f"c{i}.pdf", title=f"合同{i}", sensitivity=2)
            for i, a in enumerate(made)]
    u = user("staff_sales")
    assert len(found(find("staff_sales", WORD))) == 8
    commit(db.session.get(Archive, made[0].id), sensitivity=1)
    commit(db.session.get(Document, docs[1].id), sensitivity=1)
    commit(db.session.get(Archive, made[2].id), sensitivity=3)  # stays open
    assert found(find("staff_sales", WORD)) == {A(made[1]), A(made[2]), A(made[3]), D(docs[2]), D(docs[3])}
    same_as_database(u, user("staff_marketing"), user("supervisor"))
    same_as_database(u, kind="archive")
    same_as_database(u, doc_type="合同", sensitivity="2")
