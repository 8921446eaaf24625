"""``GET /api/v1/search`` with bearer tokens: the page's semantics as JSON (issue 6)."""
from __future__ import annotations

import os
from datetime import date

import doc_samples as samples
import pytest

# ../shared/seeds/002_*.txt (Simplified), verbatim.
SIMPLIFIED = ("二、适用范围本制度适用于公司所有客户档案的管理,包括但不限于:客户基本信息、客户合同、客户往来函件、"
              "客户投诉、客户反馈等。")
RARE = "翡翠岬"


@pytest.fixture
def api(app, client, user):
    """``api("staff_sales").get("/api/v1/search", query_string=…)`` → response."""
    from portal.auth import services as auth_services

    class _Api:
        def __init__(self, username):
            self.headers = {"Authorization": f"Bearer {auth_services.create_token(None, user(username), name='t')}"}

        def get(self, path, **kwargs):
            return client.get(path, headers=self.headers, **kwargs)

    return _Api


@pytest.fixture
def corpus(make_archive, upload):
    sales = make_archive("staff_sales", status="filed", name=f"{RARE}控股有限公司", sensitivity=3,
                         business_scope=f"{RARE} 跨境物流")
    contract = upload("staff_sales", sales, samples.docx([SIMPLIFIED, f"{RARE} 合同编号 HT-2026-0042"]),
                      "合同.docx", title="物流服务合同", doc_type="合同", doc_date=date(2026, 5, 20))
    marketing = make_archive("staff_marketing", status="filed", name=f"{RARE}广告公司", sensitivity=3,
                             business_scope=f"{RARE} 市场部专有业务")
    secret = upload("head_marketing", marketing, samples.docx([f"{RARE} 内部预算 绝密数字"]), "预算.docx",
                    title="内部预算", doc_type="方案", sensitivity=2)
    return {"sales": sales, "contract": contract, "marketing": marketing, "secret": secret}


def test_answer_shape_with_api_urls_snippet_and_highlight_offsets(app, api, corpus):
    response = api("staff_sales").get("/api/v1/search", query_string={"q": "客戶檔案的管理", "kind": "document"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["query"] == "客戶檔案的管理" and body["filters"] == {"kind": "document"}
    assert (body["sort"], body["page"], body["per_page"]) == ("relevance", 1, 20)
    assert (body["total"], body["total_exact"]) == (1, True)
    [hit] = body["hits"]
    contract, sales = corpus["contract"], corpus["sales"]
    assert hit["kind"] == "document" and hit["id"] == contract.id and hit["title"] == "物流服务合同"
    assert hit["url"] == f"/api/v1/documents/{contract.id}"
    assert hit["archive"] == {"id": sales.id, "number": sales.number, "name": sales.name,
                              "url": f"/api/v1/archives/{sales.id}"}
    assert hit["document"] == {"id": contract.id, "title": "物流服务合同", "doc_type": "合同",
                               "doc_date": "2026-05-20"}
    assert hit["day"] == "2026-05-20"
    # Traditional query, Simplified text of record: the offsets point at the Simplified words
    assert [hit["snippet"][s:e] for s, e in hit["highlights"]] == ["客户档案的管理"]
    assert "<mark>" not in hit["snippet"]


def test_archive_hit_and_contract_number_in_parts(app, api, corpus):
    body = api("staff_sales").get("/api/v1/search", query_string={"q": "跨境物流"}).get_json()
    assert [(h["kind"], h["id"], h["document"]) for h in body["hits"]] == [("archive", corpus["sales"].id, None)]
    assert body["hits"][0]["url"] == f"/api/v1/archives/{corpus['sales'].id}"
    for q in ("HT-2026-0042", "2026-0042"):
        body = api("staff_sales").get("/api/v1/search", query_string={"q": q}).get_json()
        assert [h["id"] for h in body["hits"]] == [corpus["contract"].id], q


def test_other_department_and_higher_level_never_show_in_hits_or_totals(app, api, corpus):
    def titles(username, q=RARE):
        body = api(username).get("/api/v1/search", query_string={"q": q}).get_json()
        return body["total"], {h["title"] for h in body["hits"]}, " ".join(h["snippet"] for h in body["hits"])

    total, found, snippets = titles("staff_sales")
    assert (total, found) == (2, {f"{RARE}控股有限公司", "物流服务合同"})
    assert "广告" not in snippets and "预算" not in snippets
    total, found, snippets = titles("staff_marketing")  # clearance 3: not the level-2 budget
    assert (total, found) == (1, {f"{RARE}广告公司"})
    assert "绝密" not in snippets
    assert titles("head_marketing")[:2] == (2, {f"{RARE}广告公司", "内部预算"})
    assert titles("staff_marketing", "绝密数字")[:2] == (0, set())
    assert titles("archivist")[0] == 4


def test_filters_and_pages(app, api, corpus):
    client = api("archivist")
    body = client.get("/api/v1/search", query_string={"q": RARE, "kind": "archive"}).get_json()
    assert {h["kind"] for h in body["hits"]} == {"archive"} and body["total"] == 2
    body = client.get("/api/v1/search", query_string={"q": RARE, "doc_type": "方案"}).get_json()
    assert [h["title"] for h in body["hits"]] == ["内部预算"]
    body = client.get("/api/v1/search", query_string={"q": RARE, "sensitivity": "2"}).get_json()
    assert [h["title"] for h in body["hits"]] == ["内部预算"]
    pages = [client.get("/api/v1/search", query_string={"q": RARE, "per_page": 3, "page": n}).get_json()
             for n in (1, 2)]
    assert [len(p["hits"]) for p in pages] == [3, 1] and pages[0]["pages"] == 2
    assert len({h["url"] for p in pages for h in p["hits"]}) == 4


@pytest.mark.parametrize("query", ['"客户', "(合同", "NOT 合同", "AND", "合同 OR"])
def test_malformed_query_is_422_with_a_message(app, api, query, register_entries):
    response = api("staff_sales").get("/api/v1/search", query_string={"q": query})
    assert response.status_code == 422
    assert response.get_json()["error"]  # the parser's message for the user
    [entry] = register_entries(action="search", username="staff_sales")
    assert entry.result == "failed" and f"q={query}" in entry.detail


def test_message_follows_the_language(app, api):
    response = api("staff_sales").get("/api/v1/search", query_string={"q": '"客户', "lang": "en"})
    assert response.get_json()["error"].startswith("A quotation mark is not closed")
    response = api("staff_sales").get("/api/v1/search", query_string={"q": '"客户'})
    assert response.get_json()["error"].startswith("引号未闭合")


def test_empty_query_is_422_and_not_registered(app, api, register_entries):
    response = api("staff_sales").get("/api/v1/search", query_string={"kind": "document"})
    assert response.status_code == 422 and response.get_json()["error"] == "请输入要检索的内容。"
    assert register_entries(action="search") == []


def test_invalid_parameters_are_named(app, api, register_entries):
    response = api("staff_sales").get("/api/v1/search", query_string={
        "q": "合同", "kind": "file", "sort": "name", "page": "0", "per_page": "500", "date_from": "2026-13-01",
        "sensitivity": "4", "department": "x"})
    assert response.status_code == 400
    assert set(response.get_json()["fields"]) == {"kind", "sort", "page", "per_page", "date_from",
                                                  "sensitivity", "department"}
    assert register_entries(action="search") == []


def test_search_is_registered_with_query_filters_and_hits(app, api, corpus, register_entries):
    api("staff_sales").get("/api/v1/search", query_string={"q": RARE, "kind": "document"})
    [entry] = register_entries(action="search", username="staff_sales")
    assert f"q={RARE}" in entry.detail and "kind=document" in entry.detail and "hits=1" in entry.detail


def test_administrator_is_refused_and_registered(app, api, corpus, register_entries):
    response = api("admin").get("/api/v1/search", query_string={"q": RARE})
    assert response.status_code == 403 and response.get_json()["error"]
    assert len(register_entries(action="access_denied", username="admin")) == 1
    assert register_entries(action="search") == []


def test_index_being_rebuilt_is_503(app, api, corpus):
    from portal.search import indexing
    root = indexing.index_root(app)
    (root / indexing.CURRENT).unlink()
    (root / indexing.REBUILDING).write_text(f"{os.getpid()} 2026-11-23T10:00:00")
    response = api("staff_sales").get("/api/v1/search", query_string={"q": RARE})
    assert response.status_code == 503 and "检索索引正在重建" in response.get_json()["error"]


def test_without_a_token_401(app, client):
    assert client.get("/api/v1/search?q=合同").status_code == 401
