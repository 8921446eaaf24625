"""The search page ``/search`` and the header box, as users see them (issue 6).

The corpus uses paragraphs of the policy documents in ../shared/seeds/ (one Simplified, one
Traditional), and two departments' archives sharing a rare word so that what one user may not open
would show if it leaked — in hits, counts or snippets.
"""
from __future__ import annotations

import os
import re
from datetime import date
from urllib.parse import quote

import doc_samples as samples
import pytest
from lxml import html

# ../shared/seeds/002_*.txt (Simplified) and 000_*.txt (Traditional), verbatim.
SIMPLIFIED = ("三、职责1. 客户档案管理部门:负责客户档案的收集、整理、归档、保管、查询和销毁等工作。"
              "2. 各部门负责人:负责本部门客户档案的管理工作,确保档案的完整、准确、安全和高效利用。")
TRADITIONAL = ("客戶專屬檔案管理制度一、總則(一)目的為了加強公司客戶信息管理,規範客戶專屬檔案的建立、維護和使用,"
               "提高客戶服務質量,保護客戶隱私,特制定本制度。")
RARE = "琥珀湾"  # in archives and documents of both departments


@pytest.fixture
def corpus(make_archive, upload):
    """Sales (销售部) and marketing (市场部) material, all mentioning ``RARE``."""
    sales = make_archive("staff_sales", status="filed", name=f"{RARE}贸易有限公司", sensitivity=3,
                         region="东南亚", business_scope="跨境电商 家居用品出口")
    sales_rules = upload("staff_sales", sales, samples.docx([SIMPLIFIED, f"{RARE} 仓储合作"]), "管理制度.docx",
                         title="客户档案管理职责", doc_type="合同", doc_date=date(2026, 3, 2))
    sales_letter = upload("staff_sales", sales, samples.docx([TRADITIONAL, f"{RARE} 往來函件"]), "函件.docx",
                          title="繁体函件", doc_type="往来函件", doc_date=date(2025, 7, 9))
    marketing = make_archive("staff_marketing", status="filed", name=f"{RARE}文化传播公司", sensitivity=3,
                             region="北美", business_scope="市场部独有的品牌推广业务")
    public_plan = upload("staff_marketing", marketing, samples.docx([f"{RARE} 公开推广方案 展会日程"]),
                         "方案.docx", title="公开推广方案", doc_type="方案", sensitivity=3)
    internal_quote = upload("head_marketing", marketing, samples.docx([f"{RARE} 内部报价 底价条款"]),
                            "报价.docx", title="内部报价单", doc_type="合同", sensitivity=2)
    return {"sales": sales, "sales_rules": sales_rules, "sales_letter": sales_letter, "marketing": marketing,
            "public_plan": public_plan, "internal_quote": internal_quote}


def _page(response) -> html.HtmlElement:
    return html.fromstring(response.get_data(as_text=True))


def _hits(doc: html.HtmlElement) -> list[dict]:
    """Each hit as the user reads it: kind label, title, link, meta line and snippet."""
    out = []
    for li in doc.xpath("//ol[contains(@class,'search-hits')]/li"):
        snippet = li.xpath(".//p[@class='snippet']")
        out.append({
            "kind": li.xpath("string(.//span[contains(@class,'kind-badge')])").strip(),
            "title": li.xpath("string(.//a[@class='hit-title'])").strip(),
            "href": li.xpath("string(.//a[@class='hit-title']/@href)"),
            "meta": _meta(li),
            "snippet": snippet[0].text_content() if snippet else "",
            "marked": [m.text_content() for m in li.xpath(".//p[@class='snippet']/mark")],
        })
    return out


def _meta(li) -> str:
    """The hit's meta line as read: "label：value | …" (the colon after a label comes from CSS)."""
    items = []
    for item in li.xpath(".//span[@class='meta-item']"):
        label = item.xpath("string(./span[@class='meta-label'])")
        text = " ".join(item.text_content().split())
        items.append(f"{label}：{text[len(label):].strip()}" if label else text)
    return " | ".join(items)


def _total(doc: html.HtmlElement) -> str:
    return " ".join(doc.xpath("string(//p[contains(@class,'results-total')])").split())


# --- the header box ------------------------------------------------------------------------

def test_header_box_on_the_archive_list_sends_to_the_search_page(app, login):
    client = login("staff_sales")
    doc = _page(client.get("/"))
    form = doc.xpath("//header//form[@role='search']")
    assert len(form) == 1
    assert form[0].get("action") == "/search" and form[0].get("method") == "get"
    box = form[0].xpath(".//input[@name='q']")[0]
    label = doc.xpath(f"//label[@for='{box.get('id')}']")
    assert label and label[0].text_content().strip() == "检索档案和材料"
    assert form[0].xpath(".//button[@type='submit']")


def test_administrator_has_no_search_box_and_is_sent_to_administration(app, login, register_entries):
    client = login("admin")
    assert not _page(client.get("/admin/")).xpath("//header//form[@role='search']")
    response = client.get("/search?q=合同")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")
    assert register_entries(action="search") == []


# --- finding things --------------------------------------------------------------------------

def test_traditional_query_finds_simplified_text_and_highlights_it(app, login, corpus):
    doc = _page(login("staff_sales").get("/search?q=客戶檔案管理部門"))
    hits = _hits(doc)
    assert [h["title"] for h in hits] == ["客户档案管理职责"]
    assert hits[0]["href"] == f"/documents/{corpus['sales_rules'].id}"
    assert hits[0]["marked"] == ["客户档案管理部门"]  # the text of record, Simplified, highlighted
    assert _total(doc) == "共 1 条结果"


def test_simplified_query_finds_traditional_document(app, login, corpus):
    hits = _hits(_page(login("staff_sales").get("/search?q=客户专属档案")))
    assert [h["title"] for h in hits] == ["繁体函件"]
    assert "客戶專屬檔案" in hits[0]["marked"]


def test_document_hit_shows_its_archive_type_and_date(app, login, corpus):
    hits = _hits(_page(login("staff_sales").get('/search?q="客户档案管理部门"')))
    sales = corpus["sales"]
    assert hits[0]["kind"] == "材料"
    assert hits[0]["meta"] == f"所属档案：{sales.number} {sales.name} | 档案类型：合同 | 文件日期：2026-03-02"


def test_archive_hit_shows_number_and_status(app, login, corpus):
    hits = _hits(_page(login("staff_sales").get("/search?q=家居用品出口")))
    assert [(h["kind"], h["title"]) for h in hits] == [("档案", f"{RARE}贸易有限公司")]
    assert hits[0]["href"] == f"/archives/{corpus['sales'].id}"
    assert hits[0]["meta"] == f"档案编号：{corpus['sales'].number} | 已归档 | 跨境电商 · 合作中 · 销售部"
    assert hits[0]["marked"] == ["家居用品出口"]


# --- permission-exact --------------------------------------------------------------------------

def test_other_departments_hits_never_show_in_hits_counts_or_snippets(app, login, corpus):
    seen = {}
    for username in ("staff_sales", "staff_marketing", "archivist"):
        doc = _page(login(username).get(f"/search?q={RARE}"))
        seen[username] = (_total(doc), _hits(doc))
    sales_titles = {f"{RARE}贸易有限公司", "客户档案管理职责", "繁体函件"}
    total, hits = seen["staff_sales"]
    assert {h["title"] for h in hits} == sales_titles
    assert total == "共 3 条结果"
    page_text = " ".join(h["snippet"] + h["meta"] for h in hits)
    assert "文化传播" not in page_text and "推广" not in page_text and "底价" not in page_text
    total, hits = seen["staff_marketing"]
    assert {h["title"] for h in hits} == {f"{RARE}文化传播公司", "公开推广方案"}
    assert total == "共 2 条结果"
    assert "家居" not in " ".join(h["snippet"] for h in hits)
    # the archivist (every department, clearance 1) sees all six: the two users' totals were exact
    assert seen["archivist"][0] == "共 6 条结果"


def test_clearance_3_user_does_not_see_a_level_2_document_in_a_level_3_archive(app, login, corpus):
    for username, expected in (("staff_marketing", set()), ("head_marketing", {"内部报价单"})):
        doc = _page(login(username).get("/search?q=底价条款"))
        assert {h["title"] for h in _hits(doc)} == expected, username
    doc = _page(login("staff_marketing").get(f"/search?q={RARE} 报价"))
    assert _hits(doc) == [] and "共 0 条结果" in _total(doc)
    assert "底价" not in doc.text_content()
    # … and a filter cannot be used to ask for it either: level 2 is not even offered
    options = doc.xpath("//select[@name='sensitivity']/option/@value")
    assert options == ["", "3"]
    doc = _page(login("staff_marketing").get("/search?q=底价条款&sensitivity=2"))
    assert _hits(doc) == []


# --- htmx, filters, sort, pages -----------------------------------------------------------------

def test_htmx_request_returns_only_the_results_fragment(app, login, corpus):
    client = login("staff_sales")
    response = client.get(f"/search?q={RARE}&kind=document&customer_type=&stage=&region=&department=&doc_type="
                          "&date_from=&date_to=&sensitivity=&sort=relevance",
                          headers={"HX-Request": "true", "HX-Target": "search-results"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and "search-form" not in body and "topbar" not in body
    assert {h["title"] for h in _hits(html.fromstring(f"<div>{body}</div>"))} == {"客户档案管理职责", "繁体函件"}
    # the address bar gets the short, shareable form
    assert response.headers["HX-Push-Url"] == f"/search?q={quote(RARE)}&kind=document"
    assert "HX-Target" in response.headers["Vary"]
    full = client.get(f"/search?q={RARE}&kind=document")
    assert "<html" in full.get_data(as_text=True) and 'id="search-results"' in full.get_data(as_text=True)


def test_the_form_is_plain_get_with_htmx_on_top(app, login, corpus):
    doc = _page(login("staff_sales").get(f"/search?q={RARE}&kind=document&doc_type=合同"))
    form = doc.xpath("//form[@id='search-form']")[0]
    assert form.get("method") == "get" and form.get("action") == "/search"
    assert form.get("hx-get") == "/search" and form.get("hx-target") == "#search-results"
    assert form.get("hx-push-url") == "true"
    assert form.xpath(".//input[@name='q']/@value") == [RARE]  # the current query stays in the box
    assert form.xpath(".//select[@name='kind']/option[@selected]/@value") == ["document"]
    assert form.xpath(".//select[@name='doc_type']/option[@selected]/@value") == ["合同"]
    help_ = doc.xpath("//details[contains(@class,'search-help')]")
    assert help_ and "AND" in help_[0].text_content() and "客戶檔案" in help_[0].text_content()


@pytest.mark.parametrize(("filters", "expected"), [
    ("", {f"{RARE}贸易有限公司", "客户档案管理职责", "繁体函件"}),
    ("&kind=archive", {f"{RARE}贸易有限公司"}),
    ("&kind=document", {"客户档案管理职责", "繁体函件"}),
    ("&doc_type=往来函件", {"繁体函件"}),
    ("&kind=document&date_from=2026-01-01", {"客户档案管理职责"}),
    ("&kind=document&date_to=2025-12-31", {"繁体函件"}),
    ("&region=北美", set()),
    ("&stage=terminated", set()),
])
def test_filters_narrow_the_results(app, login, corpus, filters, expected):
    doc = _page(login("staff_sales").get(f"/search?q={RARE}{filters}"))
    assert {h["title"] for h in _hits(doc)} == expected
    assert _total(doc) == f"共 {len(expected)} 条结果"


def test_filter_choices_offer_only_what_the_user_may_see(app, login, corpus):
    doc = _page(login("staff_sales").get("/search"))
    assert doc.xpath("//select[@name='department']/option/text()") == ["全部", "销售部"]
    assert "北美" not in doc.xpath("//select[@name='region']/option/text()")
    assert doc.xpath("//select[@name='kind']/option/text()") == ["档案和材料", "档案", "材料"]


def test_sort_by_date_puts_the_newest_first(app, login, corpus):
    doc = _page(login("staff_sales").get(f"/search?q={RARE}&kind=document&sort=date"))
    assert [h["title"] for h in _hits(doc)] == ["客户档案管理职责", "繁体函件"]  # 2026-03-02, 2025-07-09
    assert doc.xpath("//select[@name='sort']/option[@selected]/@value") == ["date"]


def test_pages_keep_the_query_and_filters(app, login, corpus):
    client = login("archivist")
    doc = _page(client.get(f"/search?q={RARE}&kind=document&per_page=3"))
    assert _total(doc) == "共 4 条结果 · 第 1 / 2 页"  # two documents of each department
    first = [h["title"] for h in _hits(doc)]
    next_link = doc.xpath("//nav[contains(@class,'pagination')]//a[@rel='next']/@href")[0]
    assert "kind=document" in next_link and "per_page=3" in next_link and "page=2" in next_link
    doc = _page(client.get(next_link))
    second = [h["title"] for h in _hits(doc)]
    assert len(first) == 3 and len(second) == 1 and not set(first) & set(second)
    assert doc.xpath("//ol[contains(@class,'search-hits')]/@start") == ["4"]
    assert doc.xpath("//nav[contains(@class,'pagination')]//a[@rel='prev']/@href")


# --- messages ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "message"), [
    ('"客户档案', "引号未闭合"),
    ("(合同 OR 协议", "括号未闭合"),
    ("合同)", "右括号缺少对应的左括号"),
    ("NOT 合同", "NOT 用于排除结果"),
    ("AND", "AND 两侧都需要检索词"),
    ("合同 OR", "AND、OR、NOT 后面需要跟检索词"),
])
def test_malformed_query_shows_a_clear_message_not_an_error_page(app, login, register_entries, query, message):
    client = login("staff_sales")
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 422
    doc = _page(response)
    alert = doc.xpath("//div[@id='search-results']//*[@role='alert']")
    assert alert and message in alert[0].text_content() and "无法识别该查询" in alert[0].text_content()
    assert doc.xpath("//form[@id='search-form']//input[@name='q']/@value") == [query]  # to correct it
    assert not doc.xpath("//section[contains(@class,'error-page')]")
    # the htmx form gets the same message in the results region
    fragment = client.get("/search", query_string={"q": query},
                          headers={"HX-Request": "true", "HX-Target": "search-results"})
    assert fragment.status_code == 422 and message in fragment.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    entries = register_entries(action="search", username="staff_sales")
    assert len(entries) == 2 and all(e.result == "failed" for e in entries)  # 失败, with the query


def test_empty_query_shows_the_form_without_searching(app, login, register_entries):
    client = login("staff_sales")
    for url in ("/search", "/search?q=++", "/search?kind=document&doc_type=合同"):
        response = client.get(url)
        assert response.status_code == 200
        doc = _page(response)
        assert doc.xpath("//form[@id='search-form']//input[@name='q']")
        assert not doc.xpath("//*[contains(@class,'results-total')]")
        assert "输入词语、名称或编号" in doc.xpath("string(//div[@id='search-results'])")
    assert register_entries(action="search") == []


def test_index_being_rebuilt_answers_503_with_the_page_and_message(app, login, corpus, register_entries):
    from portal.search import indexing
    root = indexing.index_root(app)
    (root / indexing.CURRENT).unlink()
    (root / indexing.REBUILDING).write_text(f"{os.getpid()} 2026-11-23T10:00:00")  # a rebuild elsewhere
    response = login("staff_sales").get(f"/search?q={RARE}")
    assert response.status_code == 503
    doc = _page(response)
    assert "检索索引正在重建" in doc.xpath("string(//div[@id='search-results'])")
    assert doc.xpath("//form[@id='search-form']//input[@name='q']/@value") == [RARE]
    assert not _hits(doc)


# --- the register --------------------------------------------------------------------------------

def test_every_search_is_on_the_register_with_query_filters_and_hit_count(app, login, corpus, register_entries):
    login("staff_sales").get(f"/search?q={RARE}&kind=document&doc_type=往来函件&sort=date")
    entries = register_entries(action="search", username="staff_sales")
    assert len(entries) == 1
    detail = entries[0].detail
    assert f"q={RARE}" in detail and "kind=document" in detail and "doc_type=往来函件" in detail
    assert "sort=date" in detail and re.search(r"hits=1\b", detail)
    assert entries[0].result == "ok"
    # the search registers no view of what it found; opening a hit is a view like any other
    assert register_entries(action="archive_view", username="staff_sales") == []
    client = login("staff_sales")
    hit = _hits(_page(client.get("/search?q=家居用品出口")))[0]
    client.get(hit["href"])
    assert [e.archive_id for e in register_entries(action="archive_view", username="staff_sales")] == \
        [corpus["sales"].id]


def test_search_before_anything_is_indexed(app, login):
    """A new portal: the index has no entries at all yet."""
    doc = _page(login("staff_sales").get("/search?q=合同"))
    assert _total(doc) == "共 0 条结果"
    assert "没有找到您有权查看的相关档案或材料" in doc.xpath("string(//div[@id='search-results'])")
