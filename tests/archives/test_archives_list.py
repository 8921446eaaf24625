"""The archive list: who sees which archives, filters, sorting, pages and the active search."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import unquote

from archive_helpers import hx, main_text, text

from portal.extensions import db


def listed(response) -> list[str]:
    """Archive names in the results table, in order."""
    return re.findall(r'<td class="name-cell"[^>]*>\s*<a href="/archives/\d+">([^<]+)</a>', text(response))


def test_each_role_sees_exactly_its_archives(as_user, make_archive, user):
    sales2 = make_archive("staff_sales", name="销售二级")
    make_archive("staff_sales", name="销售三级", sensitivity=3)
    secret = make_archive("staff_sales", name="销售一级")
    secret.sensitivity = 1  # only the archivist and management (clearance 1) may open it
    make_archive("staff_marketing", name="市场三级", sensitivity=3)
    make_archive("head_marketing", name="市场二级", sensitivity=2)
    service = make_archive("head_service", name="客服二级")
    service.responsible_id = user("staff_sales").id  # staff also see what they are responsible for
    db.session.commit()

    expected = {
        "staff_sales": {"销售二级", "销售三级", "客服二级"},
        "head_sales": {"销售二级", "销售三级"},
        "staff_marketing": {"市场三级"},  # clearance 3: not the level-2 archive of its own department
        "head_marketing": {"市场三级", "市场二级"},
        "supervisor": {"销售二级", "销售三级", "市场三级", "市场二级", "客服二级"},
        "archivist": {"销售二级", "销售三级", "销售一级", "市场三级", "市场二级", "客服二级"},
        "manager": {"销售二级", "销售三级", "销售一级", "市场三级", "市场二级", "客服二级"},
    }
    for username, names in expected.items():
        response = as_user(username).get("/")
        assert response.status_code == 200, username
        assert set(listed(response)) == names, username
        assert f"共 {len(names)} 份档案" in main_text(response), username
    assert sales2.id


def test_administrator_is_sent_away_from_the_list(as_user, make_archive):
    make_archive(name="不可见公司")
    client = as_user("admin")
    response = client.get("/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")
    page = client.get("/admin/")
    assert "不可见公司" not in text(page)
    assert "不能查阅档案（职责分离）" in text(page)  # the flashed reason
    fragment = client.get("/?q=不可见", headers=hx("archive-results"))
    assert fragment.status_code == 303 and "不可见公司" not in text(fragment)


def test_filters_narrow_the_list(as_user, make_archive):
    make_archive(name="甲 潜在 A", stage="potential", importance="A", region="德国", industry="家电")
    make_archive(name="乙 合作中 B", stage="active", importance="B", region="美国", industry="服装")
    make_archive(name="丙 终止 C", stage="terminated", importance="C", region="德国", industry="服装",
                 kind="individual", type_code="个人", birth_date=date(1990, 1, 1))
    make_archive(name="丁 已提交", status="submitted", importance="D")
    client = as_user("staff_sales")
    assert listed(client.get("/?stage=potential")) == ["甲 潜在 A"]
    assert listed(client.get("/?importance=B")) == ["乙 合作中 B"]
    assert set(listed(client.get("/?region=德国"))) == {"甲 潜在 A", "丙 终止 C"}
    assert set(listed(client.get("/?industry=服装&region=德国"))) == {"丙 终止 C"}
    assert listed(client.get("/?kind=individual")) == ["丙 终止 C"]
    assert listed(client.get("/?status=submitted")) == ["丁 已提交"]
    types = re.findall(r'<option value="(\d+)">个人客户</option>', text(client.get("/")))
    assert listed(client.get(f"/?customer_type_id={types[0]}")) == ["丙 终止 C"]
    empty = client.get("/?region=火星")
    assert listed(empty) == [] and "没有符合条件的档案" in main_text(empty)


def test_sort_and_pages(app, as_user, make_archive):
    app.config["PAGE_SIZE"] = 2
    for name in ("丙公司", "甲公司", "乙公司"):
        make_archive(name=name)
    client = as_user("staff_sales")
    first = client.get("/?sort=name")
    assert len(listed(first)) == 2 and "第 1 / 2 页" in main_text(first)
    second = client.get("/?sort=name&page=2")
    assert len(listed(second)) == 1
    assert sorted(listed(first) + listed(second)) == listed(first) + listed(second)
    newest_first = listed(client.get("/?sort=created")) + listed(client.get("/?sort=created&page=2"))
    assert newest_first == ["乙公司", "甲公司", "丙公司"]
    # Links to the other page keep the filters and sort.
    assert 'href="/?sort=name&amp;page=2"' in text(first)


def test_search_by_name_number_contact_and_phone(as_user, make_archive, add_record):
    filed = make_archive(name="环球贸易", status="filed", phone="13800001111")
    other = make_archive(name="远东物流")
    add_record(other, "contacts", name="王联络", phone="13912345678")
    client = as_user("staff_sales")
    assert listed(client.get("/?q=环球")) == ["环球贸易"]
    assert listed(client.get(f"/?q={filed.number}")) == ["环球贸易"]
    assert listed(client.get("/?q=王联络")) == ["远东物流"]
    assert listed(client.get("/?q=1391234")) == ["远东物流"]  # a contact's phone
    assert listed(client.get("/?q=13800001111")) == ["环球贸易"]  # the archive's own phone


def test_active_search_returns_only_the_results_fragment(as_user, make_archive):
    make_archive(name="环球贸易")
    make_archive(name="远东物流")
    client = as_user("staff_sales")
    page = text(client.get("/"))
    # The search box asks for the fragment as the user types.
    box = re.search(r'<input type="search" id="q"[^>]*>', page, re.S).group(0)
    assert 'hx-trigger="input changed delay:300ms, search"' in box
    assert 'hx-target="#archive-results"' in box and 'hx-push-url="true"' in box
    assert 'id="archive-results"' in page

    response = client.get("/?q=环球", headers=hx("archive-results"))
    assert response.status_code == 200
    fragment = text(response)
    assert "<html" not in fragment and "<form" not in fragment
    assert listed(response) == ["环球贸易"]
    assert "HX-Target" in response.headers.get("Vary", "")
    # The address bar gets the search without the empty filter fields htmx also sends.
    typed = client.get("/?q=环球&kind=&stage=&sort=updated", headers=hx("archive-results"))
    assert unquote(typed.headers["HX-Push-Url"]) == "/?q=环球"
    # A boosted navigation (hx-boost) gets the whole page.
    boosted = client.get("/?q=环球", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in text(boosted)


def test_phone_in_the_list_is_masked_unless_clearance_allows(as_user, make_archive):
    make_archive("staff_marketing", name="市场客户", sensitivity=3, phone="13812341234")
    masked = text(as_user("staff_marketing").get("/"))  # clearance 3: phones need 2
    assert "138****1234" in masked and "13812341234" not in masked
    full = text(as_user("head_marketing").get("/"))
    assert "13812341234" in full


def test_quick_filters_show_what_waits_for_the_user(as_user, make_archive):
    make_archive(name="待审档案", status="submitted")
    make_archive(name="待归档案", status="approved")
    head = text(as_user("head_sales").get("/"))
    assert re.search(r"待我审核\s*<span class=\"chip-count\">1</span>", head)
    archivist = as_user("archivist")
    assert re.search(r"待归档\s*<span class=\"chip-count\">1</span>", text(archivist.get("/")))
    assert listed(archivist.get("/?status=approved")) == ["待归档案"]


def test_new_archive_buttons_only_for_those_who_may_create(as_user):
    assert "新建企业/机构档案" in text(as_user("staff_sales").get("/"))
    for username in ("archivist", "manager", "supervisor"):
        assert "/archives/new" not in text(as_user(username).get("/")), username


def test_old_list_address_redirects(as_user):
    response = as_user("staff_sales").get("/archives/?q=abc")
    assert response.status_code == 302 and response.headers["Location"].endswith("/?q=abc")
