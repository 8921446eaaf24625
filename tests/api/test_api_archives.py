"""Archives through the API: the same scope, masking, validation and register entries as the pages."""
from __future__ import annotations

from urllib.parse import quote

import pytest
import sqlalchemy as sa

from portal.actor import Actor
from portal.archives import masking, services
from portal.archives.profile import PERSONAL_FIELDS
from portal.archives.subrecords import BY_KEY
from portal.extensions import db

USERS = ("staff_sales", "head_sales", "staff_marketing", "head_marketing", "archivist", "supervisor",
         "manager", "admin")
PERSONAL = {"phone": "13812341234", "email": "li.ming@example.cn", "bank_account": "6222020200112233445",
            "address": "上海市浦东新区世纪大道100号", "address_overseas": "1 Market St, San Francisco"}


@pytest.fixture
def archives(make_archive, user):
    """Archives in two departments, at all three levels, in several states."""
    staff, head, archivist = (Actor(user(name), "127.0.0.1") for name in ("staff_sales", "head_sales", "archivist"))
    with_contact = make_archive("staff_sales", name="销售已归档客户", **PERSONAL)
    services.add_record(staff, with_contact, BY_KEY["contacts"],
                        {"name": "王联系", "phone": "13900001111", "email": "wang@example.cn"})
    services.submit(staff, with_contact)
    services.approve(head, with_contact)
    services.file_archive(archivist, with_contact)
    made = {
        "sales_draft": make_archive("staff_sales", name="销售草稿客户"),
        "sales_filed": with_contact,
        "head_sales": make_archive("head_sales", status="submitted", name="销售部长客户"),
        "mkt_public": make_archive("staff_marketing", status="filed", name="市场公开客户", sensitivity=3),
        "mkt_internal": make_archive("head_marketing", name="市场内部客户"),
        "secret": make_archive("staff_sales", status="filed", name="机密客户"),
    }
    made["secret"].sensitivity = 1  # only clearance-1 staff can classify level 1; set it directly
    db.session.commit()
    return made


@pytest.mark.parametrize("username", USERS)
def test_listing_is_scoped_like_the_pages(api, archives, user, username):
    expected, total = services.list_archives(user(username), services.ArchiveFilter(per_page=200))
    response = api(username).get("/api/v1/archives?per_page=100")
    assert response.status_code == 200
    body = response.json
    assert body["total"] == total and body["page"] == 1 and body["per_page"] == 100
    assert [item["id"] for item in body["items"]] == [a.id for a in expected]


def test_listing_filters_search_and_pagination(api, archives):
    staff = api("archivist")
    found = staff.get("/api/v1/archives?q=" + quote("销售已归档")).json
    assert [i["id"] for i in found["items"]] == [archives["sales_filed"].id]
    filed = staff.get("/api/v1/archives?status=filed&sort=name").json
    assert {i["status"] for i in filed["items"]} == {"filed"} and filed["total"] == 3
    page2 = staff.get("/api/v1/archives?per_page=2&page=2").json
    assert len(page2["items"]) == 2 and page2["total"] == 6
    item = found["items"][0]
    assert item["number"] == archives["sales_filed"].number and item["customer_type"]["code"] == "电商"
    assert item["department"]["name"] == "销售部" and item["responsible"]["username"] == "staff_sales"
    assert item["updated_at"].endswith("+08:00")


@pytest.mark.parametrize("username", ("staff_sales", "supervisor", "archivist", "manager"))
def test_masking_is_the_pages_masking(api, archives, user, login, username):
    archive = archives["sales_filed"]
    viewer = user(username)
    body = api(username).get(f"/api/v1/archives/{archive.id}").json
    for name in PERSONAL_FIELDS & set(body["profile"]):
        assert body["profile"][name] == masking.shown(viewer, getattr(archive, name), name), name
    contact = body["records"]["contacts"][0]
    assert contact["phone"] == masking.shown(viewer, "13900001111", "phone")
    assert body["phone"] == body["profile"]["phone"]  # the list field too
    page = login(username).get(f"/archives/{archive.id}").get_data(as_text=True)
    bank = body["profile"]["bank_account"]
    assert bank in page
    if bank != PERSONAL["bank_account"]:
        assert PERSONAL["bank_account"] not in page


def test_clearance_two_sees_phone_but_not_bank_account(api, archives):
    body = api("staff_sales").get(f"/api/v1/archives/{archives['sales_filed'].id}").json
    assert body["profile"]["phone"] == "13812341234"
    assert body["profile"]["bank_account"] == "***************3445"
    full = api("archivist").get(f"/api/v1/archives/{archives['sales_filed'].id}").json
    assert full["profile"]["bank_account"] == PERSONAL["bank_account"]


def test_get_by_archive_number_is_registered(api, archives, register_entries):
    archive = archives["sales_filed"]
    response = api("head_sales").get(f"/api/v1/archives/{quote(archive.number)}?purpose=" + quote("续约核对"))
    assert response.status_code == 200
    body = response.json
    assert body["id"] == archive.id and body["number"] == archive.number
    assert body["profile"]["name"] == "销售已归档客户" and body["workflow"]["filed_by"]["username"] == "archivist"
    assert set(body["records"]) == set(BY_KEY) and body["records"]["contacts"][0]["name"] == "王联系"
    views = register_entries(action="archive_view", archive_id=archive.id)
    assert len(views) == 1
    assert (views[0].username, views[0].detail, views[0].purpose) == ("head_sales", "api", "续约核对")


def test_refused_archive_is_403_and_registered(api, archives, register_entries):
    for username, key in (("staff_marketing", "sales_filed"), ("supervisor", "secret"), ("admin", "sales_draft")):
        archive = archives[key]
        response = api(username).get(f"/api/v1/archives/{archive.id}")
        assert response.status_code == 403 and response.is_json and response.json["error"]
        assert "name" not in response.json
        denied = register_entries(action="access_denied", username=username)
        assert len(denied) == 1 and denied[0].archive_id == archive.id and denied[0].result == "denied"
    assert not register_entries(action="archive_view")


def test_unknown_archive_is_404(api):
    response = api("archivist").get("/api/v1/archives/" + quote("海外-2099-电商-999"))
    assert response.status_code == 404 and response.is_json


def _ctype_id(code="电商"):
    from portal.admin.models import CustomerType
    return db.session.scalar(sa.select(CustomerType.id).where(CustomerType.code == code))


def test_create_draft(api, register_entries, user):
    body = {"kind": "individual", "name": "李明", "customer_type_id": _ctype_id(), "stage": "potential",
            "importance": "B", "sensitivity": 2, "gender": "male", "birth_date": "1985-04-12",
            "phone": "13700001234", "id_number": "310101198504120011", "region": "华东"}
    response = api("staff_sales").post("/api/v1/archives", json=body)
    assert response.status_code == 201, response.json
    created = response.json
    assert response.headers["Location"] == f"/api/v1/archives/{created['id']}"
    assert created["status"] == "draft" and created["number"] is None and created["kind"] == "individual"
    assert created["profile"]["birth_date"] == "1985-04-12" and created["profile"]["phone"] == "13700001234"
    assert created["profile"]["id_number"] == masking.mask("310101198504120011", "id_number")
    assert created["department"]["name"] == "销售部" and created["responsible"]["username"] == "staff_sales"
    entries = register_entries(action="archive_create", archive_id=created["id"])
    assert len(entries) == 1 and entries[0].username == "staff_sales" and entries[0].detail == "李明"
    again = api("staff_sales").get(response.headers["Location"])
    assert again.status_code == 200 and again.json["profile"]["region"] == "华东"


def test_create_validation_is_the_forms(api, register_entries):
    staff = api("staff_sales")
    response = staff.post("/api/v1/archives", json={"kind": "organisation", "stage": "someday",
                                                    "customer_type_id": 99999, "importance": "B",
                                                    "sensitivity": 1, "founded_on": "yesterday",
                                                    "shoe_size": 42, "gender": "female"})
    assert response.status_code == 422 and response.is_json
    errors = response.json["fields"]
    assert {"name", "stage", "customer_type_id", "sensitivity", "founded_on", "shoe_size", "gender"} <= set(errors)
    assert all(isinstance(v, list) and v for v in errors.values())
    assert staff.post("/api/v1/archives", json={"name": "x"}).json["fields"].keys() == {"kind"}
    too_long = staff.post("/api/v1/archives", json={"kind": "organisation", "name": "长" * 201,
                                                    "customer_type_id": _ctype_id(), "stage": "active",
                                                    "importance": "A", "sensitivity": 2})
    assert too_long.status_code == 422 and set(too_long.json["fields"]) == {"name"}
    assert staff.post("/api/v1/archives", json=["not", "an", "object"]).status_code == 400
    assert not register_entries(action="archive_create")


def test_create_refused_for_archivist(api, register_entries):
    response = api("archivist").post("/api/v1/archives", json={
        "kind": "organisation", "name": "不该建", "customer_type_id": _ctype_id(), "stage": "active",
        "importance": "B", "sensitivity": 2})
    assert response.status_code == 403 and response.is_json
    denied = register_entries(action="access_denied", username="archivist")
    assert len(denied) == 1 and denied[0].detail.startswith("create:")
