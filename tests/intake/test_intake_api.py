"""POST /api/v1/intake answers at once with an item; GET /api/v1/intake/<id> follows it."""
from __future__ import annotations

import io

import pytest
import scans

from portal.register import actions


@pytest.fixture
def api(app, user):
    from portal.auth import services as auth_services

    client = app.test_client()

    class _Api:
        def __init__(self, username):
            self.headers = {"Authorization": "Bearer " + auth_services.create_token(None, user(username), name="t")}

        def get(self, path, **kw):
            return client.get(path, headers=self.headers, **kw)

        def post(self, path, **kw):
            return client.post(path, headers=self.headers, **kw)

    return _Api


def _send(api_user, data, name="scan.pdf", **form):
    return api_user.post("/api/v1/intake", data={"file": (io.BytesIO(data), name), **form},
                         content_type="multipart/form-data")


def test_scanner_software_sends_a_file_and_follows_it_until_filed(api, run_jobs, filed, register_entries):
    archive = filed()
    scanner = api("archivist")
    response = _send(scanner, scans.text_pdf([[scans.FILLER + "扫描仪软件发送"], [scans.FILLER + "第二页"]]), "mfp-0001.pdf",
                     archive=archive.number, doc_type="合同")
    assert response.status_code == 202
    body = response.get_json()
    assert body["state"] == "queued" and body["pages"] is None  # nothing read in the request
    assert response.headers["Location"].endswith(f"/api/v1/intake/{body['id']}")
    run_jobs()
    state = scanner.get(f"/api/v1/intake/{body['id']}").get_json()
    assert state["state"] == "filed" and state["pages"] == 2 and state["archive"] == archive.number
    assert state["document_id"] and state["document_url"].endswith(f"/documents/{state['document_id']}")
    assert register_entries(action=actions.INTAKE_RECEIVE)[0].detail.startswith(f"#{body['id']}")


def test_without_archive_the_item_waits_and_says_why(api, run_jobs):
    staff = api("staff_sales")
    body = _send(staff, scans.text_pdf([[scans.FILLER + "没有档案号"]])).get_json()
    run_jobs()
    state = staff.get(f"/api/v1/intake/{body['id']}").get_json()
    assert state["state"] == "waiting" and state["reason"] and state["document_id"] is None
    listed = staff.get("/api/v1/intake?view=queue").get_json()
    assert [i["id"] for i in listed["items"]] == [body["id"]]


def test_refusals(api, app, filed, make_archive):
    staff = api("staff_sales")
    assert app.test_client().post("/api/v1/intake").status_code == 401
    assert api("admin").post("/api/v1/intake", data={"file": (io.BytesIO(b"%PDF"), "a.pdf")},
                             content_type="multipart/form-data").status_code == 403
    missing = staff.post("/api/v1/intake", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and missing.get_json()["field"] == "file"
    unknown = _send(staff, scans.text_pdf([[scans.FILLER + "x"]]), archive="不存在-1")
    assert unknown.status_code == 422 and unknown.get_json()["field"] == "archive"
    foreign = make_archive("staff_marketing", status="filed", sensitivity=3)
    assert _send(staff, scans.text_pdf([[scans.FILLER + "y"]]), archive=foreign.number, doc_type="合同").status_code == 403
    assert _send(staff, scans.text_pdf([[scans.FILLER + "z"]]), colour="red").status_code == 422
    assert _send(staff, b"", "empty.pdf").status_code == 422
    data = scans.text_pdf([[scans.FILLER + "dup"]])
    first = _send(staff, data)
    assert first.status_code == 202
    assert _send(staff, data).status_code == 409
    # another user's item is not theirs to follow
    assert api("staff_marketing").get(f"/api/v1/intake/{first.get_json()['id']}").status_code == 403
    assert staff.get("/api/v1/intake/999999").status_code == 404


def test_openapi_describes_intake(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert "/intake" in spec["paths"] and "/intake/{item_id}" in spec["paths"]
    assert "IntakeItem" in spec["components"]["schemas"]
