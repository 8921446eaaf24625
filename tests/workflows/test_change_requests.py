"""Change requests 变更申请: a filed archive changes field by field, approved, then applied."""
from __future__ import annotations

import io

import pytest
import request_helpers as rh
import sqlalchemy as sa

from portal.archives.models import Archive
from portal.auth import services as auth_services
from portal.documents.models import Document
from portal.errors import Conflict, InvalidState, PermissionDenied, ValidationFailed
from portal.extensions import db
from portal.workflows import change_requests as changes
from portal.workflows.requests import ChangeRequest


@pytest.fixture
def archive(make_archive):
    """A filed 二级 archive of 销售部, responsible staff_sales."""
    return make_archive(status="filed", name="变更测试有限公司", phone="13812345678",
                        region="东南亚", id_number="")


@pytest.fixture
def evidence(archive, user):
    return rh.document(archive, user("staff_sales"), level=2, title="客户更名通知")


def _form(archive, **changes_):
    """The proposal form as the page sends it: every field with its current value, some changed."""
    data = {f.name: "" if getattr(archive, f.name) is None else str(getattr(archive, f.name))
            for f in changes.fields_for(archive)}
    data.update(changes_)
    return data


def _propose(client, archive, evidence_id=None, file=None, reason="客户已正式更名，见通知函", **changed):
    data = _form(archive, **changed)
    data["reason"] = reason
    data["evidence_type"] = "往来函件"
    if evidence_id:
        data["evidence_document"] = str(evidence_id)
    if file is not None:
        data["evidence_file"] = file
    return client.post(f"/requests/changes/new/{archive.id}", data=data, content_type="multipart/form-data")


def _latest():
    db.session.commit()
    return db.session.scalar(sa.select(ChangeRequest).order_by(ChangeRequest.id.desc()))


def test_important_change_goes_head_then_service_head_then_archivist(app, login, user, archive,
                                                                      register_entries):
    sales = login("staff_sales")
    assert sales.get(f"/archives/{archive.id}/edit").status_code == 403  # filed: no direct edit
    form = sales.get(f"/requests/changes/new/{archive.id}")
    assert form.status_code == 200 and "变更测试有限公司" in form.text
    response = _propose(sales, archive, file=(io.BytesIO(rh.png(7)), "更名通知.png"),
                        name="变更后科技有限公司", region="中东")
    assert response.status_code == 303, response.text
    req = _latest()
    assert req.status == "pending_head" and req.needs_service
    assert [(i.field, i.old_value, i.new_value) for i in req.items] == [
        ("name", "变更测试有限公司", "变更后科技有限公司"), ("region", "东南亚", "中东")]
    evidence = db.session.get(Document, req.evidence_document_id)
    assert evidence.archive_id == archive.id and evidence.doc_type == "往来函件"
    assert register_entries(action="change_request")[-1].detail == f"C{req.id}: name, region; important"

    page = sales.get(f"/archives/{archive.id}")
    assert "待处理的变更" in page.text and f"C{req.id}" in page.text

    head = login("head_sales")
    assert f"C{req.id}" in head.get("/inbox/").text
    assert login("head_service").post(f"/requests/changes/{req.id}/approve").status_code == 403  # not yet
    assert head.post(f"/requests/changes/{req.id}/approve", data={"note": "属实"}).status_code == 303
    assert rh.fresh(ChangeRequest, req.id).status == "pending_service"

    service = login("head_service")
    assert service.get(f"/archives/{archive.id}").status_code == 403  # another department's archive …
    detail = service.get(f"/requests/changes/{req.id}")
    assert detail.status_code == 200 and "变更后科技有限公司" in detail.text  # … but the change is shown
    assert service.get(f"/documents/{evidence.id}").status_code == 200  # and its evidence
    assert f"C{req.id}" in service.get("/inbox/").text
    assert service.post(f"/requests/changes/{req.id}/approve").status_code == 303
    assert rh.fresh(ChangeRequest, req.id).status == "approved"

    archivist = login("archivist")
    assert f"C{req.id}" in archivist.get("/inbox/").text
    assert sales.post(f"/requests/changes/{req.id}/apply").status_code == 403
    assert archivist.post(f"/requests/changes/{req.id}/apply").status_code == 303
    req = rh.fresh(ChangeRequest, req.id)
    assert req.status == "applied" and req.applied_by.username == "archivist"
    changed = rh.fresh(Archive, archive.id)
    assert changed.name == "变更后科技有限公司" and changed.region == "中东"
    assert [e.username for e in register_entries(action="change_approve")] == ["head_sales", "head_service"]
    assert register_entries(action="change_apply")[-1].detail == f"C{req.id}: name, region"

    history = sales.get(f"/archives/{archive.id}").text
    for text in ("变更记录", "变更测试有限公司", "变更后科技有限公司", "客户已正式更名", "李销售经理",
                 "孙客服经理", "陈档案"):
        assert text in history, text
    assert login("archivist").post(f"/requests/changes/{req.id}/approve").status_code == 409


def test_ordinary_change_needs_no_service_head(app, user, archive, evidence):
    req = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "北美"}, "客户迁址", evidence.id)
    assert not req.needs_service
    changes.approve(rh.as_(user("head_sales")), req)
    assert req.status == "approved"
    changes.apply(rh.as_(user("archivist")), req)
    assert rh.fresh(Archive, archive.id).region == "北美"


def test_wrong_roles_and_own_requests_are_refused(app, login, user, archive, evidence, register_entries):
    marketing = login("staff_marketing")
    assert marketing.get(f"/requests/changes/new/{archive.id}").status_code == 403
    req = changes.propose(rh.as_(user("head_sales")), archive, {"name": "负责人改名公司"}, "更名", evidence.id)
    head = login("head_sales")
    response = head.post(f"/requests/changes/{req.id}/approve")
    assert response.status_code == 403 and "不能审批自己的申请" in response.text
    for name in ("staff_sales", "head_marketing", "head_service", "archivist", "supervisor"):
        before = len(register_entries(action="access_denied", username=name))
        assert login(name).post(f"/requests/changes/{req.id}/approve").status_code == 403, name
        assert len(register_entries(action="access_denied", username=name)) == before + 1
    # the head proposed: management decides the head's step in their place
    manager = login("manager")
    assert f"C{req.id}" in manager.get("/inbox/").text
    assert manager.post(f"/requests/changes/{req.id}/approve").status_code == 303
    req = rh.fresh(ChangeRequest, req.id)
    assert req.status == "pending_service" and req.head.username == "manager"
    assert "管理层代为审批" in login("head_service").get(f"/requests/changes/{req.id}").text
    assert login("staff_marketing").get(f"/requests/changes/{req.id}").status_code == 403
    with pytest.raises(PermissionDenied):
        changes.withdraw(rh.as_(user("staff_sales")), req)


def test_archive_of_the_service_department_needs_one_approval(app, user, make_archive):
    cs_archive = make_archive(by="head_service", status="filed", name="客服部客户有限公司")
    doc = rh.document(cs_archive, user("archivist"), level=2)
    req = changes.propose(rh.as_(user("archivist")), cs_archive, {"name": "客服部新名称公司"}, "更名", doc.id)
    assert req.needs_service
    changes.approve(rh.as_(user("head_service")), req)
    req = rh.fresh(ChangeRequest, req.id)
    assert req.status == "approved" and req.head_id == req.service_id
    changes.apply(rh.as_(user("archivist")), req)  # the archivist proposed; the heads approved
    assert rh.fresh(Archive, cs_archive.id).name == "客服部新名称公司"


def test_a_change_made_meanwhile_is_not_overwritten(app, login, user, archive, evidence, register_entries):
    first = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "欧洲"}, "迁址", evidence.id)
    second = changes.propose(rh.as_(user("head_sales")), archive, {"region": "南美", "industry": "服装"},
                             "另一处更正", evidence.id)
    for req in (first, second):
        head = "manager" if req.proposed_by.username == "head_sales" else "head_sales"
        changes.approve(rh.as_(user(head)), req)
    changes.apply(rh.as_(user("archivist")), first)
    archivist = login("archivist")
    page = archivist.get(f"/requests/changes/{second.id}")
    assert "申请提交后档案已被修改" in page.text
    response = archivist.post(f"/requests/changes/{second.id}/apply")
    assert response.status_code == 409
    assert "市场/地区" in response.text or "Market / region" in response.text or "已不是申请时的原值" in response.text
    current = rh.fresh(Archive, archive.id)
    assert current.region == "欧洲" and current.industry == ""  # nothing of the second was written
    assert register_entries(action="change_apply", result="failed")[-1].detail.endswith("region")
    assert archivist.post(f"/requests/changes/{second.id}/reject", data={"reason": "已过时"}).status_code == 303
    assert rh.fresh(ChangeRequest, second.id).status == "rejected"


def test_bad_proposals_keep_the_input(app, login, archive, evidence):
    sales = login("staff_sales")
    nothing = _propose(sales, archive, evidence_id=evidence.id, reason="没改任何东西")
    assert nothing.status_code == 422 and "请至少修改一个字段" in nothing.text
    no_reason = _propose(sales, archive, evidence_id=evidence.id, reason="", region="非洲")
    assert no_reason.status_code == 422 and "请说明变更原因" in no_reason.text
    assert 'value="非洲"' in no_reason.text  # the changed value is kept
    no_evidence = _propose(sales, archive, reason="有原因", region="非洲")
    assert no_evidence.status_code == 422 and "请附上变更依据" in no_evidence.text and "有原因" in no_evidence.text
    bad_date = _propose(sales, archive, evidence_id=evidence.id, contract_signed_on="2026-13-45")
    assert bad_date.status_code == 422
    no_name = _propose(sales, archive, evidence_id=evidence.id, name="")
    assert no_name.status_code == 422
    bad_file = _propose(sales, archive, file=(io.BytesIO(b"not a pdf at all"), "x.pdf"), region="非洲")
    assert bad_file.status_code == 422 and 'value="非洲"' in bad_file.text
    assert db.session.scalar(sa.select(sa.func.count(ChangeRequest.id))) == 0


def test_the_same_evidence_file_twice_links_the_existing_document(app, login, user, archive):
    sales = login("staff_sales")
    data = rh.png(3)
    assert _propose(sales, archive, file=(io.BytesIO(data), "a.png"), region="中亚").status_code == 303
    first = _latest()
    assert _propose(sales, archive, file=(io.BytesIO(data), "b.png"), industry="玩具").status_code == 303
    second = _latest()
    assert second.evidence_document_id == first.evidence_document_id


def test_concurrent_approvals_decide_once(app, user, archive, evidence, register_entries):
    req = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "大洋洲"}, "迁址", evidence.id)
    request_id = req.id

    def approve():
        return changes.approve(rh.as_(rh.user_named("head_sales")), changes.get(request_id)).status

    results = rh.in_threads(app, [approve, approve])
    assert sorted(type(r).__name__ for r in results) == ["InvalidState", "str"], results
    assert rh.fresh(ChangeRequest, request_id).status == "approved"
    assert len(register_entries(action="change_approve", result="ok")) == 1
    assert len(register_entries(action="change_approve", result="failed")) == 1

    def apply():
        return changes.apply(rh.as_(rh.user_named("archivist")), changes.get(request_id)).status

    results = rh.in_threads(app, [apply, apply])
    assert sorted(type(r).__name__ for r in results) == ["InvalidState", "str"], results
    assert len(register_entries(action="change_apply", result="ok")) == 1


def test_withdraw_until_decided(app, login, user, archive, evidence):
    req = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "西亚"}, "迁址", evidence.id)
    sales = login("staff_sales")
    assert sales.post(f"/requests/changes/{req.id}/withdraw").status_code == 303
    assert rh.fresh(ChangeRequest, req.id).status == "withdrawn"
    assert sales.post(f"/requests/changes/{req.id}/withdraw").status_code == 409
    assert login("head_sales").post(f"/requests/changes/{req.id}/approve").status_code == 409
    with pytest.raises(InvalidState):
        changes.apply(rh.as_(user("archivist")), rh.fresh(ChangeRequest, req.id))


def test_personal_values_are_masked_for_viewers_without_clearance(app, user, archive, evidence):
    req = changes.propose(rh.as_(user("archivist")), archive, {"bank_account": "6222020200112233445"},
                          "更换收款账户", evidence.id)
    client = app.test_client()
    as_sales = {"Authorization": f"Bearer {auth_services.create_token(None, user('staff_sales'))}"}
    as_archivist = {"Authorization": f"Bearer {auth_services.create_token(None, user('archivist'))}"}
    masked = client.get(f"/api/v1/change-requests/{req.id}", headers=as_sales).json["items"][0]
    assert masked["new_value"] != "6222020200112233445" and masked["new_value"].endswith("3445")
    full = client.get(f"/api/v1/change-requests/{req.id}", headers=as_archivist).json["items"][0]
    assert full["new_value"] == "6222020200112233445"


def test_api_propose_approve_apply(app, user, archive, evidence, register_entries):
    client = app.test_client()

    def headers(name):
        return {"Authorization": f"Bearer {auth_services.create_token(None, user(name))}"}

    bad = client.post("/api/v1/change-requests", headers=headers("staff_sales"), json={
        "archive": archive.number, "changes": {"importance": "Z", "department_id": 1}, "reason": "x",
        "evidence_document_id": evidence.id})
    assert bad.status_code == 422 and {"importance", "department_id"} <= set(bad.json["fields"])
    refused = client.post("/api/v1/change-requests", headers=headers("staff_marketing"), json={
        "archive": archive.id, "changes": {"region": "北欧"}, "reason": "x", "evidence_document_id": evidence.id})
    assert refused.status_code == 403
    created = client.post("/api/v1/change-requests", headers=headers("staff_sales"), json={
        "archive": archive.number, "changes": {"region": "北欧", "contract_signed_on": "2026-03-01"},
        "reason": "合同补签", "evidence_document_id": evidence.id})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["status"] == "pending_head" and body["needs_service"]  # contract date is important
    rid = body["id"]
    assert client.post(f"/api/v1/change-requests/{rid}/apply", headers=headers("archivist")).status_code == 409
    for name in ("head_sales", "head_service"):
        assert client.post(f"/api/v1/change-requests/{rid}/approve", headers=headers(name),
                           json={"note": "同意"}).status_code == 200
    applied = client.post(f"/api/v1/change-requests/{rid}/apply", headers=headers("archivist"))
    assert applied.status_code == 200 and applied.json["status"] == "applied"
    fresh = rh.fresh(Archive, archive.id)
    assert fresh.region == "北欧" and fresh.contract_signed_on.isoformat() == "2026-03-01"
    listing = client.get("/api/v1/change-requests?status=applied", headers=headers("staff_sales")).json
    assert listing["total"] == 1 and listing["items"][0]["id"] == rid
    assert client.get("/api/v1/change-requests", headers=headers("admin")).status_code == 403


def test_important_fields_are_an_administrator_setting(app, login, user, archive, evidence):
    admin = login("admin")
    page = admin.get("/requests/settings")
    assert page.status_code == 200 and 'value="name" checked' in page.text
    assert admin.post("/requests/settings", data={"max_days": "10", "important": ["region"]}).status_code == 303
    by_name = changes.propose(rh.as_(user("staff_sales")), archive, {"name": "改名不再重要公司"}, "更名", evidence.id)
    by_region = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "东亚"}, "迁址", evidence.id)
    assert not by_name.needs_service and by_region.needs_service


def test_service_level_validation(app, user, archive, evidence, make_archive):
    actor = rh.as_(user("staff_sales"))
    with pytest.raises(ValidationFailed):
        changes.propose(actor, archive, {"department_id": 2}, "x", evidence.id)
    with pytest.raises(ValidationFailed):
        changes.propose(actor, archive, {"region": "东南亚"}, "x", evidence.id)  # unchanged
    other = make_archive(status="filed", name="另一家公司")
    foreign = rh.document(other, user("staff_sales"), level=2, seed=9)
    with pytest.raises(ValidationFailed):
        changes.propose(actor, archive, {"region": "南亚"}, "x", foreign.id)  # evidence of another archive
    draft = make_archive(status="draft", name="草稿公司")
    with pytest.raises(PermissionDenied):
        changes.propose(actor, draft, {"region": "南亚"}, "x", evidence.id)


def test_change_log_prints_and_exports(app, login, user, archive, evidence, register_entries):
    req = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "=HYPERLINK(\"x\")",
                                                                 "needs": "更多样品"}, "客户来函", evidence.id)
    changes.approve(rh.as_(user("head_sales")), req)
    changes.apply(rh.as_(user("archivist")), req)
    sales = login("staff_sales")
    listing = sales.get("/requests/changes/?status=applied")
    assert listing.status_code == 200 and f"C{req.id}" in listing.text
    printed = sales.get(f"/requests/changes/print?archive={archive.number}")
    assert printed.status_code == 200
    for text in ("客户档案变更登记簿", "东南亚", "更多样品", "客户来函", "李销售经理", "陈档案", "print-landscape.css"):
        assert text in printed.text, text
    assert register_entries(action="change_log_print")[-1].username == "staff_sales"
    exported = sales.get(f"/requests/changes/export.xlsx?archive={archive.number}")
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(exported.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "申请" and len(rows) == 3  # header + one row per changed field
    region = next(r for r in rows[1:] if r[4] == "市场/地区")
    assert region[5] == "东南亚" and region[6] == '=HYPERLINK("x")'
    cell = next(c for c in sheet[3] + sheet[2] if c.value == '=HYPERLINK("x")')
    assert cell.data_type == "s"  # text, not a formula
    assert register_entries(action="change_log_export")[-1].username == "staff_sales"
    # someone who may not open the archive sees none of it
    other = login("staff_marketing").get("/requests/changes/print")
    assert "变更测试有限公司" not in other.text
    assert login("admin").get("/requests/changes/").status_code == 403


def test_propose_refusal_is_registered(app, user, archive, register_entries):
    with pytest.raises(PermissionDenied):
        changes.refuse_propose(rh.as_(user("head_marketing")), archive)
    assert register_entries(action="access_denied", username="head_marketing")[-1].detail.startswith(
        "propose change")


def test_conflict_error_is_a_conflict(app, user, archive, evidence):
    req = changes.propose(rh.as_(user("staff_sales")), archive, {"region": "A区"}, "x", evidence.id)
    changes.approve(rh.as_(user("head_sales")), req)
    fresh = rh.fresh(Archive, archive.id)
    fresh.region = "直接改过"  # e.g. an import or a migration wrote it
    db.session.commit()
    with pytest.raises(Conflict):
        changes.apply(rh.as_(user("archivist")), rh.fresh(ChangeRequest, req.id))
