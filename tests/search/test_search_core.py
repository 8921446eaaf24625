"""Search through the service with real Chinese text: what a user types, what they get back.

Profile text, communication logs and document files (PDF, Word) carry verbatim paragraphs of the
seed policies (``seed_passages``), in Traditional and Simplified script. Every assertion names the
archives and documents a user must see — and only those — and the text the snippet marks.
"""
from __future__ import annotations

from datetime import date

import doc_samples as samples
import pytest
import sqlalchemy as sa
from seed_passages import lines, passage

from portal.actor import Actor
from portal.archives import services as archives
from portal.archives.subrecords import BY_KEY
from portal.auth.models import Department
from portal.extensions import db
from portal.search import services
from portal.search.query import QueryError

FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}  # ASCII → full-width forms (Word, OCR)


def A(archive):
    return ("archive", archive.id)


def D(document):
    return ("document", document.id)


def found(results) -> set[tuple[str, int]]:
    """The (kind, id) of every hit, after checking that the count is the number of hits."""
    keys = {(h.kind, h.id) for h in results.hits}
    assert len(keys) == len(results.hits)
    assert results.total_exact and results.total == len(results.hits)
    return keys


def marked(results, key) -> list[str]:
    """The parts the snippet of hit ``key`` marks (``<mark>`` on the page)."""
    hit = next(h for h in results.hits if (h.kind, h.id) == key)
    return [text for text, is_match in hit.snippet if is_match]


def pdf(text: str) -> bytes:
    return samples.pdf(lines(text))


def add_record(by, archive, kind, user, **data):
    return archives.add_record(Actor(user(by), "127.0.0.1"), archive, BY_KEY[kind], data)


# --- Simplified ↔ Traditional ------------------------------------------------------------------

def test_simplified_query_finds_traditional_text_and_traditional_query_finds_simplified(
        make_archive, upload, find):
    hant = make_archive(status="filed", name="恒信贸易有限公司", business_scope=passage("hant_privacy"))
    hans = make_archive(status="filed", name="嘉禾商行有限公司", notes=passage("hans_custody"))
    hant_pdf = upload("staff_sales", hans, pdf(passage("hant_purpose")), "制度摘录.pdf",
                      doc_type="其他", title="制度摘录甲")
    hans_docx = upload("staff_sales", hant, samples.docx([passage("hans_duties")]), "职责.docx",
                       doc_type="其他", title="职责摘录乙")

    # Simplified query, Traditional text of record: found, and the original characters are marked
    r = find("staff_sales", "加密存储")
    assert found(r) == {A(hant)}
    assert marked(r, A(hant)) == ["加密存儲"]
    r = find("staff_sales", "个人信息保护法")
    assert found(r) == {D(hant_pdf)}
    assert marked(r, D(hant_pdf)) == ["個人信息保護法"]

    # Traditional query, Simplified text of record
    r = find("staff_sales", "授權的工作人員")
    assert found(r) == {A(hans)}
    assert marked(r, A(hans)) == ["授权的工作人员"]
    r = find("staff_sales", "客戶檔案的收集")
    assert found(r) == {D(hans_docx)}
    assert marked(r, D(hans_docx)) == ["客户档案的收集"]

    # either script finds both scripts
    both = {A(hant), A(hans), D(hant_pdf), D(hans_docx)}
    assert found(find("staff_sales", "客户")) == both
    assert found(find("staff_sales", "客戶")) == both
    assert found(find("staff_sales", "信息泄露")) == {A(hant)}
    assert found(find("staff_sales", "訪問權限 OR 借閱客戶檔案")) == {A(hant), A(hans)}


def test_communication_log_in_traditional_is_found(make_archive, find, user):
    archive = make_archive(status="filed", name="博睿电子有限公司")
    log = add_record("staff_sales", archive, "communications", user, occurred_on=date(2026, 11, 2),
                     topic="海外客户档案制度说明", agreements=passage("hant_keeper"))
    assert log.id
    r = find("staff_sales", "审核档案查询与借阅申请")
    assert found(r) == {A(archive)}
    assert marked(r, A(archive)) == ["審核檔案查詢與借閱申請"]


# --- phrases and compounds -----------------------------------------------------------------------

def test_long_compound_finds_only_text_that_contains_it(make_archive, upload, find):
    archive = make_archive(status="filed", name="锦程外贸有限公司")
    whole = upload("staff_sales", archive, pdf(passage("hant_keeper")), "岗位责任.pdf",
                   doc_type="其他", title="岗位责任摘录")
    apart = upload("staff_sales", archive,
                   samples.docx([passage("hans_duties"), passage("hans_keeper")]), "部门职责.docx",
                   doc_type="其他", title="部门职责摘录")
    apart_text = " ".join(apart.latest.text.split())
    assert "客户档案" in apart_text and "管理员" in apart_text and "客户档案管理员" not in apart_text

    for q in ("客户档案管理员", '"客户档案管理员"', "客戶檔案管理員", "档案管理员"):
        r = find("staff_sales", q)
        assert found(r) == {D(whole)}, q
        assert set(marked(r, D(whole))) == {"客戶檔案管理員" if "客" in q else "檔案管理員"}, q

    # the parts as two words: both documents
    assert found(find("staff_sales", "客户档案 管理员")) == {D(whole), D(apart)}
    assert found(find("staff_sales", "管理员")) == {D(whole), D(apart)}


def test_quoted_phrase_keeps_its_words_together(make_archive, upload, find):
    archive = make_archive(status="filed", name="远航外贸有限公司")
    together = upload("staff_sales", archive, samples.docx([
        "The customer archives are reviewed by the data protection officer every quarter.",
        passage("hans_custody")]), "review.docx", doc_type="往来函件", title="Quarterly review")
    apart = upload("staff_sales", archive, samples.docx([
        "Archives of every customer are kept in the secure archive room.",
        passage("hant_keeper")]), "room.docx", doc_type="往来函件", title="Archive room")

    assert found(find("staff_sales", '"customer archives"')) == {D(together)}
    assert found(find("staff_sales", "customer archives")) == {D(together), D(apart)}
    r = find("staff_sales", '"借阅客户档案"')
    assert found(r) == {D(together)}
    assert marked(r, D(together)) == ["借阅客户档案"]
    # 借閱申請 … 客戶檔案 in the other text: both words, not the phrase
    assert found(find("staff_sales", "借阅 客户档案")) == {D(together), D(apart)}


# --- single characters ---------------------------------------------------------------------------

def test_single_character_finds_a_surname_in_either_script(make_archive, find, user):
    zhang = make_archive(name="优品家居有限公司")
    add_record("staff_sales", zhang, "contacts", user, name="张丽", position="采购经理")
    zhang_hant = make_archive(name="卓越五金有限公司")
    add_record("staff_sales", zhang_hant, "contacts", user, name="張偉", position="總經理")
    other = make_archive(name="启明照明有限公司")
    add_record("staff_sales", other, "contacts", user, name="刘芳", position="品牌经理")

    r = find("staff_sales", "张")
    assert found(r) == {A(zhang), A(zhang_hant)}
    assert marked(r, A(zhang)) == ["张"]
    assert marked(r, A(zhang_hant)) == ["張"]
    assert found(find("staff_sales", "張")) == {A(zhang), A(zhang_hant)}
    assert found(find("staff_sales", "张丽")) == {A(zhang)}
    assert found(find("staff_sales", "刘")) == {A(other)}
    assert found(find("staff_sales", "芳")) == {A(other)}
    assert found(find("staff_sales", "赵")) == set()


# --- archive and contract numbers ----------------------------------------------------------------

def test_archive_numbers_are_found_whole_and_in_parts(make_archive, find):
    first = make_archive(status="filed", name="云帆电子科技有限公司")
    trade = make_archive(status="filed", name="朗悦服饰有限公司", type_code="外贸")
    second = make_archive(status="filed", name="星辰宠物用品有限公司")
    year = first.number.split("-")[1]
    assert (first.number, trade.number, second.number) == (
        f"海外-{year}-电商-001", f"海外-{year}-外贸-001", f"海外-{year}-电商-002")

    r = find("staff_sales", first.number)
    assert found(r) == {A(first)}
    assert marked(r, A(first)) == [first.number]
    assert found(find("staff_sales", "电商-001")) == {A(first)}
    assert found(find("staff_sales", f"{year}-外贸")) == {A(trade)}
    assert found(find("staff_sales", f"海外-{year}")) == {A(first), A(trade), A(second)}
    assert found(find("staff_sales", "001")) == {A(first), A(trade)}
    assert found(find("staff_sales", f"{year}-电商-002")) == {A(second)}
    # typed with full-width digits and dashes (an input method in full-width mode)
    assert found(find("staff_sales", first.number.translate(FULL_WIDTH))) == {A(first)}


def test_contract_numbers_in_records_and_files_half_and_full_width(make_archive, upload, find, user):
    with_record = make_archive(name="华跃汽车配件有限公司")
    add_record("staff_sales", with_record, "cooperation", user, project="亚马逊美国站品牌推广年度服务",
               contract_number="HT-2026-0037", key_terms=passage("hans_custody"))
    filed = make_archive(status="filed", name="鼎盛母婴用品有限公司")
    half = upload("staff_sales", filed, samples.pdf(["合同编号：HT-2026-0037", *lines(passage("hans_backup"))]),
                  "合同0037.pdf", title="品牌推广服务合同")
    full = upload("staff_sales", filed, samples.pdf(["合同编号：ＨＴ－２０２６－００３７", "甲方：鼎盛母婴用品有限公司"]),
                  "合同扫描件.pdf", title="合同扫描件")
    other = upload("staff_sales", filed, samples.pdf(["合同编号：HT-2026-0042", "甲方：鼎盛母婴用品有限公司"]),
                   "合同0042.pdf", title="续签合同")

    expected = {A(with_record), D(half), D(full)}
    for q in ("HT-2026-0037", "ＨＴ－２０２６－００３７", "ht-2026-0037"):
        r = find("staff_sales", q)
        assert found(r) == expected, q
        assert marked(r, A(with_record)) == ["HT-2026-0037"], q
        assert marked(r, D(full)) == ["ＨＴ－２０２６－００３７"], q
    # a part of the number: the same hits, the part marked
    for q in ("0037", "2026-0037"):
        r = find("staff_sales", q)
        assert found(r) == expected, q
        assert marked(r, D(half)) == [q], q
        assert marked(r, D(full)) == [q.translate(FULL_WIDTH)], q
    assert found(find("staff_sales", "HT-2026")) == expected | {D(other)}
    assert found(find("staff_sales", "HT-2026-0042")) == {D(other)}


# --- English ---------------------------------------------------------------------------------------

def test_english_words_match_by_stem_and_ignore_case(make_archive, find):
    archive = make_archive(status="filed", name="Lakeshore Trading Inc.", name_en="Lakeshore Trading Inc.",
                           notes="All archives containing personal data are stored in the secure archive "
                                 "room and may be accessed only with approval. Our records show that the "
                                 "payment for invoice FP-2026-001 is overdue by fifteen days.")
    other = make_archive(status="filed", name="Nordwind GmbH", notes="The archivist keeps the key of the room.")

    r = find("staff_sales", "archive")
    assert found(r) == {A(archive)}
    assert marked(r, A(archive)) == ["archives", "archive"]
    for q in ("Archives", "ARCHIVED", "archiving", "payments overdue", "Approvals", "lakeshore"):
        assert found(find("staff_sales", q)) == {A(archive)}, q
    assert found(find("staff_sales", "archivist")) == {A(other)}  # a different word, not a form of archive
    assert found(find("staff_sales", "room")) == {A(archive), A(other)}


# --- AND / OR / NOT ------------------------------------------------------------------------------

def test_and_or_not_and_parentheses(make_archive, upload, find):
    archive = make_archive(status="filed", name="泰和商贸有限公司")

    def doc(title, *names):
        return upload("staff_sales", archive, samples.docx([passage(n) for n in names]), f"{title}.docx",
                      doc_type="往来函件", title=title)

    destroy_backup = doc("函一", "hans_destroy", "hans_backup")
    backup_complaint = doc("函二", "hans_backup", "hans_complaint")
    complaint = doc("函三", "hans_complaint")

    def docs(q):
        return found(find("staff_sales", q, kind="document"))

    assert docs("销毁 AND 备份") == {D(destroy_backup)}
    assert docs("备份 投诉") == {D(backup_complaint)}
    assert docs("销毁 OR 投诉") == {D(destroy_backup), D(backup_complaint), D(complaint)}
    assert docs("备份 NOT 销毁") == {D(backup_complaint)}
    assert docs("(销毁 OR 投诉) NOT 备份") == {D(complaint)}
    assert docs("备份 AND (销毁 OR 投诉)") == {D(destroy_backup), D(backup_complaint)}
    assert docs("投诉 NOT (销毁 OR 备份)") == {D(complaint)}
    assert docs("備份 OR 銷毀") == {D(destroy_backup), D(backup_complaint)}
    # lower-case operators are ordinary words: no document contains "and"
    assert docs("销毁 and 备份") == set()


@pytest.mark.parametrize("q", ['"客户档案', "NOT 合同", "(客户 OR 投诉", "客户 OR", "客户)", "AND", "——", ""])
def test_malformed_query_is_refused_with_a_message_and_registered(app, find, register_entries, q):
    with pytest.raises(QueryError) as caught:
        find("staff_sales", q)
    assert caught.value.status == 422
    assert str(caught.value.message).strip()
    entry = register_entries(action="search")[-1]
    assert entry.username == "staff_sales" and entry.result == "failed"
    assert entry.detail.startswith(f"q={q}")


# --- highlighting ----------------------------------------------------------------------------------

def test_snippet_marks_exactly_the_matched_text_of_record(make_archive, find):
    archive = make_archive(status="filed", name="新润户外用品有限公司", business_scope=passage("hant_privacy"),
                           notes="<script>alert(1)</script> 续约提醒：合同期满前三十日联系客户")
    r = find("staff_sales", "加密存储 访问权限")
    hit = r.hits[0]
    assert marked(r, A(archive)) == ["加密存儲", "訪問權限"]
    # the snippet is a window of the text of record, unchanged (Traditional stays Traditional)
    record = " ".join(services.schema.archive_text(archive).split())
    assert hit.snippet_text.strip("…") in record
    html = str(hit.snippet_html)
    assert html.count("<mark>") == 2
    assert "<mark>加密存儲</mark>" in html and "<mark>訪問權限</mark>" in html

    r = find("staff_sales", "续约提醒")
    html = str(r.hits[0].snippet_html)
    assert "<mark>续约提醒</mark>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- permissions -----------------------------------------------------------------------------------

def test_results_are_permission_exact_for_departments_and_clearances(app, make_archive, upload, find, user):
    levels = passage("hans_levels")
    sales = make_archive("staff_sales", status="filed", name="恒信贸易有限公司", business_scope=levels)
    internal_doc = upload("staff_sales", sales, pdf(passage("hant_privacy")), "保密原则.pdf",
                          doc_type="其他", title="保密原则摘录", sensitivity=2)
    secret_doc = upload("archivist", sales, pdf("董事会决议：" + levels), "一级材料.pdf",
                        doc_type="其他", title="董事会材料", sensitivity=1)
    marketing = make_archive("head_marketing", status="filed", name="嘉禾营销有限公司", business_scope=levels)
    secret_archive = make_archive("staff_sales", status="approved", name="瑞丰电子有限公司",
                                  business_scope=levels)
    archives.file_archive(Actor(user("archivist"), "127.0.0.1"), secret_archive, sensitivity=1)

    q = "商业秘密"
    everything = {A(sales), D(secret_doc), A(marketing), A(secret_archive)}
    assert found(find("archivist", q)) == everything
    assert found(find("manager", q)) == everything
    assert found(find("supervisor", q)) == {A(sales), A(marketing)}  # clearance 二级: no 一级 material
    assert found(find("staff_sales", q)) == {A(sales)}  # own department, clearance 二级
    assert found(find("head_sales", q)) == {A(sales)}
    assert found(find("head_marketing", q)) == {A(marketing)}  # the other department
    assert found(find("staff_marketing", q)) == set()  # clearance 三级: the 二级 archive is closed
    assert found(find("head_service", q)) == set()
    assert found(find("admin", q)) == set()  # administrators never open archives

    # the secret document's own words: no hit, no count, no snippet for a clearance-2 user
    r = find("staff_sales", "董事会决议")
    assert (r.total, r.hits) == (0, [])
    r = find("archivist", "董事会决议")
    assert found(r) == {D(secret_doc)} and marked(r, D(secret_doc)) == ["董事会决议"]

    # the 二级 document is there for staff of the department, not for the other department's head
    r = find("staff_sales", "保密性原则")
    assert found(r) == {D(internal_doc)}
    assert found(find("head_marketing", "保密性原则")) == set()
    # no snippet of what staff_sales sees carries the secret document's text
    r = find("staff_sales", "信息")
    assert D(secret_doc) not in found(r) and A(secret_archive) not in found(r)
    assert all("董事会" not in h.snippet_text for h in r.hits)

    # the department filter offers only departments whose archives the user may open
    sales_dept = db.session.scalar(sa.select(Department).where(Department.id == sales.department_id))
    assert [name for _id, name in services.filter_choices(user("staff_sales"))["department"]] == [sales_dept.name]
    assert {v for v, _ in services.filter_choices(user("staff_sales"))["sensitivity"]} == {"2", "3"}


# --- filters, sort, pages --------------------------------------------------------------------------

def test_filters_sort_by_date_and_pages(make_archive, upload, find):
    custody = passage("hans_custody")
    sales = make_archive("staff_sales", status="filed", name="众联照明有限公司", notes=custody)
    contract = upload("staff_sales", sales, pdf(custody), "合同.pdf", doc_type="合同", title="服务合同",
                      doc_date=date(2024, 3, 15), sensitivity=3)
    letter = upload("staff_sales", sales, samples.docx([custody]), "函件.docx", doc_type="往来函件",
                    title="往来函件", doc_date=date(2025, 6, 30), sensitivity=2)
    minutes = upload("staff_sales", sales, samples.docx([custody, "会议纪要"]), "纪要.docx", doc_type="会议纪要",
                     title="会议纪要", doc_date=date(2026, 1, 10), sensitivity=2)
    marketing = make_archive("head_marketing", status="filed", name="宏图化妆品有限公司", notes=custody)
    q = "借阅客户档案"

    def keys(**filters):
        return found(find("archivist", q, **filters))

    everything = {A(sales), D(contract), D(letter), D(minutes), A(marketing)}
    assert keys() == everything
    assert keys(kind="archive") == {A(sales), A(marketing)}
    assert keys(kind="document") == {D(contract), D(letter), D(minutes)}
    assert keys(doc_type="合同") == {D(contract)}
    assert keys(department=sales.department_id) == {A(sales), D(contract), D(letter), D(minutes)}
    assert keys(department=marketing.department_id) == {A(marketing)}
    assert keys(sensitivity=3) == {D(contract)}
    assert keys(date_from="2025-01-01", date_to="2025-12-31") == {D(letter)}
    assert keys(date_from="2024-01-01", date_to="2025-12-31", kind="document") == {D(contract), D(letter)}
    assert keys(date_to="2024-12-31") == {D(contract)}
    # staff of the department: the same filters never widen what they may see
    assert found(find("staff_sales", q, department=marketing.department_id)) == set()

    r = find("archivist", q, sort="date", kind="document")
    assert [(h.kind, h.id) for h in r.hits] == [D(minutes), D(letter), D(contract)]
    assert [h.day for h in r.hits] == [date(2026, 1, 10), date(2025, 6, 30), date(2024, 3, 15)]
    r = find("archivist", q, sort="date")
    days = [h.day for h in r.hits]
    assert days == sorted(days, reverse=True) and {(h.kind, h.id) for h in r.hits[:2]} == {A(sales), A(marketing)}

    page1 = find("archivist", q, per_page=2, sort="date")
    page3 = find("archivist", q, per_page=2, sort="date", page=3)
    assert (page1.total, page1.pages, page1.has_next, page1.has_prev) == (5, 3, True, False)
    assert [(h.kind, h.id) for h in page3.hits] == [D(contract)] and not page3.has_next and page3.has_prev


# --- privacy and the register ----------------------------------------------------------------------

def test_masked_personal_fields_are_not_searchable(make_archive, find, user):
    archive = make_archive(name="安达宠物用品有限公司", phone="13812345678", email="buyer@anda-pets.com",
                           bank_account="6222020200112233445", address="深圳市南山区科技园路88号")
    add_record("staff_sales", archive, "contacts", user, name="吴敏", phone="13987654321")
    assert found(find("staff_sales", "吴敏")) == {A(archive)}
    for q in ("13812345678", "13987654321", "anda-pets", "6222020200112233445", "科技园路"):
        assert found(find("staff_sales", q)) == set(), q


def test_every_search_is_registered_with_query_filters_and_hits(make_archive, find, register_entries):
    make_archive(status="filed", name="瑞丰家居有限公司", notes=passage("hans_custody"))
    make_archive(status="filed", name="启明电器有限公司", notes=passage("hans_custody"))
    r = find("staff_sales", "借阅客户档案", kind="archive", sort="date")
    assert r.total == 2
    entry = register_entries(action="search")[-1]
    assert entry.username == "staff_sales" and entry.result == "ok"
    assert entry.detail == "q=借阅客户档案; kind=archive; sort=date; hits=2"

    find("staff_marketing", "借阅客户档案")
    entry = register_entries(action="search")[-1]
    assert entry.username == "staff_marketing" and entry.detail == "q=借阅客户档案; hits=0"
