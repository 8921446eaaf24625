"""/api/v1/borrowings: the same rules as the pages, errors as JSON with the same messages."""
from __future__ import annotations

from datetime import date

import loan_helpers as lh
import pytest

from portal.auth import services as auth_services
from portal.extensions import db

MONDAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def monday(monkeypatch):
    lh.set_today(monkeypatch, MONDAY)


@pytest.fixture
def api(client, user):
    class _Api:
        def __init__(self, username):
            token = auth_services.create_token(None, user(username), name="test")
            self.headers = {"Authorization": f"Bearer {token}"}

        def get(self, path, **kw):
            return client.get(path, headers=self.headers, **kw)

        def post(self, path, **kw):
            return client.post(path, headers=self.headers, **kw)

    return _Api


@pytest.fixture
def filed(make_archive):
    return [make_archive(status="filed", name="甲方贸易有限公司"),
            make_archive(status="filed", name="乙方电商有限公司")]


def test_the_whole_path_through_the_api(app, api, filed, register_entries):
    staff, head, archivist = api("staff_sales"), api("head_sales"), api("archivist")
    response = staff.post("/api/v1/borrowings", json={"archive": filed[0].number, "purpose": "核对合同条款",
                                                      "period_days": 5, "start_date": "2026-11-24"})
    assert response.status_code == 201, response.json
    loan = response.json
    assert loan["status"] == "pending_head" and loan["due_date"] is None
    assert loan["archives"][0]["number"] == filed[0].number
    assert response.headers["Location"].endswith(f"/api/v1/borrowings/{loan['id']}")
    base = f"/api/v1/borrowings/{loan['id']}"
    assert head.post(f"{base}/approve", json={"note": "同意"}).json["status"] == "pending_archivist"
    assert archivist.post(f"{base}/approve").json["status"] == "approved"
    lent = archivist.post(f"{base}/lend", json={"note": "1 册"}).json
    assert lent["status"] == "lent" and lent["due_date"] == "2026-11-30" and lent["lend_date"] == "2026-11-23"
    extended = staff.post(f"{base}/extend", json={"days": 2, "reason": "客户补充材料"}).json
    assert extended["extension"]["status"] == "requested"
    assert archivist.post(f"{base}/approve").json["due_date"] == "2026-12-02"
    returned = archivist.post(f"{base}/return", json={"condition": "damaged", "note": "封面破损"}).json
    assert returned["status"] == "returned" and returned["returned"]["condition"] == "damaged"
    assert any("[api]" in e.detail for e in register_entries(action="borrow_lend"))
    assert staff.get(base).json["status"] == "returned"


def test_several_archives_and_the_list(app, api, filed):
    staff = api("staff_sales")
    created = staff.post("/api/v1/borrowings", json={"archives": [filed[0].id, filed[1].number],
                                                     "purpose": "年度检查", "period_days": 3}).json
    assert len(created["archives"]) == 2 and created["pickup_date"] == "2026-11-23"
    listing = staff.get("/api/v1/borrowings").json
    assert [i["id"] for i in listing["items"]] == [created["id"]] and listing["total"] == 1
    assert api("head_marketing").get("/api/v1/borrowings").json["total"] == 0
    assert api("archivist").get("/api/v1/borrowings?status=pending_head").json["total"] == 1
    bad = api("archivist").get("/api/v1/borrowings?status=nonsense")
    assert bad.status_code == 400 and "status" in bad.json["fields"]


def test_errors_are_json_with_the_pages_messages(app, api, filed, register_entries):
    staff = api("staff_sales")
    too_long = staff.post("/api/v1/borrowings", json={"archive": filed[0].id, "purpose": "x", "period_days": 8})
    assert too_long.status_code == 422
    assert too_long.json["error"] == "借阅期限最长 7 个工作日。"
    assert too_long.json["fields"] == {"period_days": ["借阅期限最长 7 个工作日。"]}
    unknown = staff.post("/api/v1/borrowings", json={"archive": "海外-1999-无-999", "purpose": "x",
                                                     "period_days": 2})
    assert unknown.status_code == 422 and "archives" in unknown.json["fields"]
    refused = api("staff_marketing").post("/api/v1/borrowings", json={"archive": filed[0].id,
                                                                      "purpose": "x", "period_days": 2})
    assert refused.status_code == 403
    assert register_entries(action="access_denied", username="staff_marketing")
    created = staff.post("/api/v1/borrowings", json={"archive": filed[0].id, "purpose": "x",
                                                     "period_days": 2}).json
    base = f"/api/v1/borrowings/{created['id']}"
    own = staff.post(f"{base}/approve")
    assert own.status_code == 403 and own.json["error"] == "任何人不得审批自己的借阅申请。"
    assert api("head_sales").post(f"{base}/approve").status_code == 200
    twice = api("head_sales").post(f"{base}/approve")
    assert twice.status_code == 409 and "现待档案管理员审核" in twice.json["error"]
    assert staff.post(f"{base}/withdraw").status_code == 200
    assert staff.post(f"{base}/fly").status_code == 404
    assert api("staff_marketing").get(base).status_code == 403
    assert staff.get("/api/v1/borrowings/999999").status_code == 404


def test_lending_a_file_that_is_out_is_409_with_the_holder(app, api, user, filed):
    first = lh.lent(user, filed[:1])
    second = lh.approved(user, filed[:1], by="head_sales", head="manager")
    db.session.commit()
    response = api("archivist").post(f"/api/v1/borrowings/{second.id}/lend")
    assert response.status_code == 409
    assert response.json["holder_loan"] == first.id and "张小销" in response.json["error"]
