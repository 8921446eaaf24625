"""The administrator keeps the list of document types offered on upload."""
from __future__ import annotations

from portal.documents.services import document_types


def test_admin_changes_document_types(app, login, register_entries):
    admin = login("admin")
    page = admin.get("/admin/document-types")
    assert page.status_code == 200 and "往来函件" in page.text
    response = admin.post("/admin/document-types", data={"types": "合同\n往来函件\n 质检报告 \n\n发票"})
    assert response.status_code == 303
    assert document_types() == ["合同", "往来函件", "质检报告", "发票"]
    entry = register_entries(action="setting_change")[-1]
    assert "+质检报告" in entry.detail and "-投诉" in entry.detail


def test_bad_lists_are_refused_with_input_kept(app, login):
    admin = login("admin")
    response = admin.post("/admin/document-types", data={"types": "合同\n合同"})
    assert response.status_code == 422 and "重复出现" in response.text
    assert "合同\n合同" in response.text  # the textarea keeps what was typed
    response = admin.post("/admin/document-types", data={"types": "  \n"})
    assert response.status_code == 422 and "至少保留一种" in response.text
    assert document_types()[0] == "合同" and len(document_types()) == 9


def test_only_the_administrator(app, login, register_entries):
    for name in ("archivist", "manager", "staff_sales"):
        assert login(name).post("/admin/document-types", data={"types": "合同"}).status_code == 403
    assert len(document_types()) == 9
    assert register_entries(result="denied")
