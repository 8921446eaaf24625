"""Query requests 查询申请: a time-limited grant that every permission check honours, for viewing only."""
from __future__ import annotations

from datetime import timedelta

import pytest
import request_helpers as rh
import sqlalchemy as sa

from portal import workcal
from portal.archives import permissions as perm
from portal.auth import services as auth_services
from portal.errors import InvalidState, PermissionDenied, ValidationFailed
from portal.extensions import db
from portal.models_base import utcnow
from portal.workflows import query_requests as queries
from portal.workflows.requests import QueryRequest, end_of_day_utc


@pytest.fixture
def archive(make_archive, user):
    """A filed 二级 archive of 销售部: 市场部 staff (clearance 3) cannot open it."""
    return make_archive(status="filed", name="查询测试贸易有限公司", phone="13812345678")


def _ask(client, archive_ref="", **form):
    data = {"archive_ref": archive_ref, "purpose": "核对去年的合作条款", "scope": "all",
            "duration": "days", "period_days": "3"}
    data.update(form)
    return client.post("/requests/query/new", data=data)


def _request_of(username):
    db.session.commit()
    return db.session.scalar(sa.select(QueryRequest).where(
        QueryRequest.requester_id == rh.user_named(username).id).order_by(QueryRequest.id.desc()))


def test_grant_opens_archive_page_documents_and_api_for_viewing_only(app, login, user, archive,
                                                                      register_entries):
    doc = rh.document(archive, user("staff_sales"), level=2)
    marketing = login("staff_marketing")
    assert marketing.get(f"/archives/{archive.id}").status_code == 403
    assert marketing.get(f"/documents/{doc.id}").status_code == 403

    response = _ask(marketing, archive.number)
    assert response.status_code == 303
    req = _request_of("staff_marketing")
    assert req.status == "pending" and req.archive_id == archive.id
    assert marketing.get(f"/archives/{archive.id}").status_code == 403  # pending grants nothing

    archivist = login("archivist")
    assert archivist.post(f"/requests/query/{req.id}/approve", data={"note": "同意"}).status_code == 303
    req = rh.fresh(QueryRequest, req.id)
    assert req.status == "approved" and req.active
    assert req.expires_at == end_of_day_utc(workcal.deadline(req.granted_at, 3))

    page = marketing.get(f"/archives/{archive.id}")
    assert page.status_code == 200 and "查询测试贸易有限公司" in page.text
    assert "query-grant" in page.text  # the page says it is viewed under the authorisation
    assert marketing.get(f"/documents/{doc.id}").status_code == 200
    listing = marketing.get("/?q=查询测试")
    assert "查询测试贸易有限公司" in listing.text  # the list (visible_clause) includes it
    views = register_entries(action="archive_view", username="staff_marketing")
    assert views and views[-1].archive_id == archive.id

    token = auth_services.create_token(None, user("staff_marketing"))
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get(f"/api/v1/archives/{archive.id}", headers=headers).status_code == 200

    # … for viewing only: no edit, no upload, no record, no change request
    for path in (f"/archives/{archive.id}/r/communications/new", f"/requests/changes/new/{archive.id}"):
        assert marketing.get(path).status_code == 403, path
    fresh_user = rh.user_named("staff_marketing")
    assert perm.can_view(fresh_user, archive)
    assert not perm.can_upload(fresh_user, archive)
    assert not perm.can_append_log(fresh_user, archive)
    assert not perm.can_edit(fresh_user, archive)
    assert perm.document_levels(fresh_user, archive) == [3]


def test_upload_is_refused_under_a_grant(app, login, user, archive, register_entries):
    req = queries.submit(rh.as_(user("staff_marketing")), purpose="核对", scope="all", period_days=2,
                         archive_ref=archive.number)
    queries.approve(rh.as_(user("archivist")), req)
    marketing = login("staff_marketing")
    from flask import url_for
    with app.test_request_context():
        upload_url = url_for("documents.upload", archive_id=archive.id)
    before = len(register_entries(action="access_denied", username="staff_marketing"))
    assert marketing.get(upload_url).status_code == 403
    assert len(register_entries(action="access_denied", username="staff_marketing")) == before + 1


def test_expired_grant_refuses_again(app, login, user, archive):
    req = queries.submit(rh.as_(user("staff_marketing")), purpose="核对", scope="all", period_days=1,
                         archive_ref=archive.number)
    queries.approve(rh.as_(user("archivist")), req)
    marketing = login("staff_marketing")
    assert marketing.get(f"/archives/{archive.id}").status_code == 200
    # The grant ends by itself: only the clock moves past expires_at (no job runs).
    req = rh.fresh(QueryRequest, req.id)
    req.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert marketing.get(f"/archives/{archive.id}").status_code == 403
    assert "查询测试贸易有限公司" not in marketing.get("/?q=查询测试").text
    token = auth_services.create_token(None, user("staff_marketing"))
    assert app.test_client().get(f"/api/v1/archives/{archive.id}",
                                 headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert "已过期" in marketing.get(f"/requests/query/{req.id}").text


def test_rejected_and_withdrawn_requests_grant_nothing(app, login, user, archive, register_entries):
    marketing = login("staff_marketing")
    _ask(marketing, archive.number)
    req = _request_of("staff_marketing")
    archivist = login("archivist")
    assert archivist.post(f"/requests/query/{req.id}/reject", data={"reason": ""}).status_code == 422
    assert archivist.post(f"/requests/query/{req.id}/reject", data={"reason": "目的不明确"}).status_code == 303
    assert rh.fresh(QueryRequest, req.id).status == "rejected"
    assert marketing.get(f"/archives/{archive.id}").status_code == 403
    assert "目的不明确" in marketing.get(f"/requests/query/{req.id}").text
    assert register_entries(action="query_reject")[-1].detail.endswith("目的不明确")

    _ask(marketing, archive.number)
    again = _request_of("staff_marketing")
    assert again.id != req.id
    assert login("head_marketing").post(f"/requests/query/{again.id}/withdraw").status_code == 403
    assert marketing.post(f"/requests/query/{again.id}/withdraw").status_code == 303
    assert rh.fresh(QueryRequest, again.id).status == "withdrawn"
    assert marketing.post(f"/requests/query/{again.id}/withdraw").status_code == 409  # decided already
    assert marketing.get(f"/archives/{archive.id}").status_code == 403
    assert archivist.post(f"/requests/query/{again.id}/approve").status_code == 409
    assert register_entries(action="query_withdraw")[-1].username == "staff_marketing"


def test_a_hidden_archive_number_is_never_revealed(app, login, user, archive, register_entries):
    marketing = login("staff_marketing")
    hidden = _ask(marketing, archive.number)
    missing = _ask(marketing, "海外-2099-电商-999")
    assert hidden.status_code == missing.status_code == 303
    first, second = (rh.fresh(QueryRequest, r.id) for r in db.session.scalars(
        sa.select(QueryRequest).order_by(QueryRequest.id)))
    assert second.archive_id is None and second.archive_ref == "海外-2099-电商-999"
    for req in (first, second):
        page = marketing.get(f"/requests/query/{req.id}")
        assert page.status_code == 200
        assert "查询测试贸易有限公司" not in page.text and "No filed archive" not in page.text
        assert "没有已归档的档案" not in page.text
    assert "查询测试贸易有限公司" not in marketing.get("/requests/query/").text
    # the archivist sees the difference and can only reject the unknown number
    archivist = login("archivist")
    assert "没有已归档的档案使用此编号" in archivist.get(f"/requests/query/{second.id}").text
    assert archivist.post(f"/requests/query/{second.id}/approve").status_code == 409
    assert register_entries(action="query_request")[-1].detail.endswith("scope all; 3 WD")


def test_asking_for_what_one_can_already_open_is_refused_with_a_message(app, login, archive):
    sales = login("staff_sales")
    response = _ask(sales, archive.number, purpose="想看看")
    assert response.status_code == 422
    assert "已可查看该档案及其全部材料" in response.text
    assert "想看看" in response.text  # the input is kept


def test_bad_input_keeps_the_form(app, login, archive, monkeypatch):
    rh.set_today(monkeypatch, workcal.today())
    marketing = login("staff_marketing")
    too_long = _ask(marketing, archive.number, period_days="11", purpose="为了续约谈判")
    assert too_long.status_code == 422
    assert "1 到 10 个工作日" in too_long.text and "为了续约谈判" in too_long.text
    past = _ask(marketing, archive.number, duration="until", until="2020-01-01")
    assert past.status_code == 422 and "不能早于今天" in past.text
    far = workcal.add_working_days(workcal.today(), 15).isoformat()
    beyond = _ask(marketing, archive.number, duration="until", until=far)
    assert beyond.status_code == 422 and "最多 10 个工作日" in beyond.text
    assert _ask(marketing, archive.number, purpose="").status_code == 422
    assert _ask(marketing, "").status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(QueryRequest.id))) == 0
    ok = _ask(marketing, archive.number, duration="until",
              until=workcal.add_working_days(workcal.today(), 2).isoformat())
    assert ok.status_code == 303
    # a second open request for the same archive is refused
    assert "已有一份未决的查询申请" in _ask(marketing, archive.number).text


def test_secret_material_needs_the_archivist_then_management(app, login, user, make_archive,
                                                              register_entries):
    secret = rh.secret_archive(make_archive, user, name="机密客户有限公司")
    supervisor = login("supervisor")  # clearance 2: 一级 is above it
    assert supervisor.get(f"/archives/{secret.id}").status_code == 403
    _ask(supervisor, secret.number)
    req = _request_of("supervisor")
    manager, archivist = login("manager"), login("archivist")
    assert manager.post(f"/requests/query/{req.id}/approve").status_code == 403  # archivist first
    assert archivist.post(f"/requests/query/{req.id}/approve").status_code == 303
    req = rh.fresh(QueryRequest, req.id)
    assert req.status == "manager" and req.needs_manager
    assert supervisor.get(f"/archives/{secret.id}").status_code == 403  # not yet
    assert archivist.post(f"/requests/query/{req.id}/approve").status_code == 403  # management's step
    assert manager.post(f"/requests/query/{req.id}/approve").status_code == 303
    assert rh.fresh(QueryRequest, req.id).status == "approved"
    assert supervisor.get(f"/archives/{secret.id}").status_code == 200
    approvals = register_entries(action="query_approve")
    assert [e.username for e in approvals] == ["archivist", "manager"]


def test_secret_documents_of_an_internal_archive_need_management_for_scope_all(app, user, archive):
    rh.document(archive, user("archivist"), level=1)
    req = queries.submit(rh.as_(user("staff_marketing")), purpose="核对", scope="all", period_days=2,
                         archive_ref=archive.number)
    queries.approve(rh.as_(user("archivist")), req)
    assert rh.fresh(QueryRequest, req.id).status == "manager"


def test_listed_scope_opens_the_documents_the_archivist_ticks(app, login, user, archive):
    sales = user("staff_sales")
    ticked = rh.document(archive, sales, level=2, seed=1, title="框架合同")
    other = rh.document(archive, sales, level=2, seed=2, title="报价单")
    public = rh.document(archive, sales, level=3, seed=3, title="公开宣传册")
    marketing = login("staff_marketing")
    _ask(marketing, archive.number, scope="listed", scope_note="2025 年框架合同")
    req = _request_of("staff_marketing")
    archivist = login("archivist")
    page = archivist.get(f"/requests/query/{req.id}")
    assert "框架合同" in page.text and "报价单" in page.text and "公开宣传册" not in page.text
    assert archivist.post(f"/requests/query/{req.id}/approve",
                          data={"documents": [str(public.id)]}).status_code == 422  # not above clearance
    assert archivist.post(f"/requests/query/{req.id}/approve",
                          data={"documents": [str(ticked.id)]}).status_code == 303
    assert marketing.get(f"/documents/{ticked.id}").status_code == 200
    assert marketing.get(f"/documents/{public.id}").status_code == 200  # at their own clearance
    assert marketing.get(f"/documents/{other.id}").status_code == 403
    archive_page = marketing.get(f"/archives/{archive.id}").text
    assert "框架合同" in archive_page and "报价单" not in archive_page
    assert "1 份密级高于您权限的材料未列出" in archive_page


def test_nobody_decides_their_own_request(app, login, user, make_archive):
    auth_services.create_user(None, username="archivist2", password="demo12345", display_name="二号档案员",
                              role="archivist", clearance=2,
                              department_id=user("archivist").department_id)
    secret = rh.secret_archive(make_archive, user)
    second = login("archivist2")
    _ask(second, secret.number)
    req = _request_of("archivist2")
    response = second.post(f"/requests/query/{req.id}/approve")
    assert response.status_code == 403 and "不能审批自己的申请" in response.text
    assert login("archivist").post(f"/requests/query/{req.id}/approve").status_code == 303


def test_wrong_roles_cannot_decide(app, login, user, archive, register_entries):
    req = queries.submit(rh.as_(user("staff_marketing")), purpose="核对", scope="all", period_days=2,
                         archive_ref=archive.number)
    for name in ("head_sales", "staff_sales", "supervisor", "manager", "head_service"):
        before = len(register_entries(action="access_denied", username=name))
        assert login(name).post(f"/requests/query/{req.id}/approve").status_code == 403, name
        assert len(register_entries(action="access_denied", username=name)) == before + 1
    # the requester's colleagues do not even see it
    assert login("head_marketing").get(f"/requests/query/{req.id}").status_code == 403
    assert login("admin").get("/requests/query/new").status_code == 403


def test_concurrent_decisions_decide_once(app, user, archive, register_entries):
    req = queries.submit(rh.as_(user("staff_marketing")), purpose="核对", scope="all", period_days=2,
                         archive_ref=archive.number)
    request_id = req.id

    def approve():
        return queries.approve(rh.as_(rh.user_named("archivist")), queries.get(request_id)).status

    def reject():
        return queries.reject(rh.as_(rh.user_named("archivist")), queries.get(request_id), "重复").status

    results = rh.in_threads(app, [approve, approve, reject])
    done = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(done) == 1, results
    assert len(refused) == 2 and all(isinstance(r, InvalidState) for r in refused), results
    final = rh.fresh(QueryRequest, request_id)
    assert final.status == done[0]
    decided = register_entries(action="query_approve", result="ok") + register_entries(
        action="query_reject", result="ok")
    assert len(decided) == 1
    assert len(register_entries(result="failed")) >= 2


def test_refusal_page_offers_a_query_request(app, login, user, archive):
    doc = rh.document(archive, user("archivist"), level=1, title="机密附件")
    marketing = login("staff_marketing")
    refused = marketing.get(f"/archives/{archive.id}")
    assert refused.status_code == 403
    assert f"/requests/query/new?archive={archive.id}" in refused.text
    form = marketing.get(f"/requests/query/new?archive={archive.id}")
    assert f"#{archive.id}" in form.text
    assert archive.number not in form.text and "查询测试贸易有限公司" not in form.text
    sales = login("staff_sales")  # may open the archive, not the 一级 document
    doc_refused = sales.get(f"/documents/{doc.id}")
    assert doc_refused.status_code == 403
    assert f"archive={archive.id}&amp;document={doc.id}" in doc_refused.text
    assert sales.post("/requests/query/new", data={
        "archive_id": str(archive.id), "document_id": str(doc.id), "purpose": "核对附件",
        "scope": "listed", "duration": "days", "period_days": "2"}).status_code == 303
    req = _request_of("staff_sales")
    assert req.asked_document_id == doc.id
    # a refusal about editing (the archive itself is visible) offers nothing
    edit = sales.get(f"/archives/{archive.id}/edit")
    assert edit.status_code == 403 and "/requests/query/new" not in edit.text


def test_api_create_approve_and_double_approve(app, user, archive, register_entries):
    client = app.test_client()
    marketing = {"Authorization": f"Bearer {auth_services.create_token(None, user('staff_marketing'))}"}
    archivist = {"Authorization": f"Bearer {auth_services.create_token(None, user('archivist'))}"}
    created = client.post("/api/v1/query-requests", headers=marketing, json={
        "archive": archive.number, "purpose": "核对合同", "scope": "all", "period_days": 2})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["status"] == "pending" and body["archive"] is None  # not revealed to the requester
    assert body["archive_ref"] == archive.number
    missing = client.post("/api/v1/query-requests", headers=marketing, json={
        "archive": "海外-2099-无-001", "purpose": "核对合同", "scope": "all", "period_days": 2})
    assert missing.status_code == 201 and missing.json["archive"] is None
    bad = client.post("/api/v1/query-requests", headers=marketing, json={
        "archive": archive.number, "purpose": "", "scope": "x", "period_days": 99, "colour": "red"})
    assert bad.status_code == 422 and "colour" in bad.json["fields"]
    listing = client.get("/api/v1/query-requests", headers=archivist).json
    assert listing["total"] == 2 and listing["items"][0]["archive"] is None  # the unknown number
    approve_url = f"/api/v1/query-requests/{body['id']}/approve"
    assert client.post(approve_url, headers=marketing, json={}).status_code == 403
    approved = client.post(approve_url, headers=archivist, json={"note": "同意"})
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert approved.json["active"] and approved.json["expires_at"]
    again = client.post(approve_url, headers=archivist, json={})
    assert again.status_code == 409
    mine = client.get(f"/api/v1/query-requests/{body['id']}", headers=marketing).json
    assert mine["archive"]["name"] == "查询测试贸易有限公司"  # visible now
    assert client.get(f"/api/v1/archives/{archive.id}", headers=marketing).status_code == 200
    assert register_entries(action="query_approve", result="ok")[-1].detail.startswith(f"Q{body['id']}: granted")
    assert register_entries(action="query_approve", result="failed")[-1].username == "archivist"


def test_period_limit_is_an_administrator_setting(app, login, archive, register_entries):
    admin = login("admin")
    assert admin.get("/requests/settings").status_code == 200
    assert admin.post("/requests/settings", data={"max_days": "0"}).status_code == 422
    assert admin.post("/requests/settings", data={"max_days": "3", "important": ["name"]}).status_code == 303
    assert register_entries(action="setting_change")[-1].detail.startswith("query_max_working_days: 10 → 3")
    response = _ask(login("staff_marketing"), archive.number, period_days="4")
    assert response.status_code == 422 and "1 到 3 个工作日" in response.text
    assert login("archivist").get("/requests/settings").status_code == 403


def test_service_refuses_the_administrator(app, user, archive):
    with pytest.raises(PermissionDenied):
        queries.submit(rh.as_(user("admin")), purpose="x", scope="all", period_days=1,
                       archive_ref=archive.number)
    with pytest.raises(ValidationFailed):
        queries.submit(rh.as_(user("staff_marketing")), purpose="x", scope="all", archive_ref=archive.number)
