"""Retention rules by classification (administrator), and how they set eligibility."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.retention import services as retention
from portal.retention.models import RetentionRule
from portal.retention.services import add_months, add_years


def _rules():
    db.session.commit()
    return list(db.session.scalars(sa.select(RetentionRule).order_by(RetentionRule.id)))


def test_the_policy_default_is_seeded_and_shown_to_the_administrator(login):
    rules = _rules()
    assert len(rules) == 1
    default = rules[0]
    assert (default.is_default, default.review_months, default.retain_years) == (True, 6, 3)
    assert (default.customer_type_id, default.stage, default.doc_type) == (None, None, None)
    assert "004" in default.note
    page = login("admin").get("/retention/rules").get_data(as_text=True)
    assert "保管期限规则" in page
    assert "终止合作后 6 个月内复核，终止合作满 3 年方可销毁" in page
    assert "/retention/rules" in login("admin").get("/admin/").get_data(as_text=True)


def test_a_ten_year_contract_rule_delays_an_archive_holding_a_contract(login, terminated, add_document,
                                                                      register_entries, today):
    with_contract = terminated(months_ago=12 * 4, name="有合同的终止客户")
    add_document(with_contract, "合同")
    add_document(with_contract, "往来函件")
    without = terminated(months_ago=12 * 4, name="只有函件的终止客户")
    add_document(without, "往来函件")
    assert retention.is_eligible(with_contract) and retention.is_eligible(without)

    admin = login("admin")
    response = admin.post("/retention/rules/new", data={
        "customer_type_id": "", "stage": "", "doc_type": "合同", "review_months": "6", "retain_years": "10",
        "note": "合同保管10年（公司法务要求）"})
    assert response.status_code == 303
    entry = register_entries(action="retention_rule_save")[-1]
    assert "合同" in entry.detail and "10" in entry.detail and entry.username == "admin"

    db.session.expire_all()
    event = with_contract.terminated_on
    assert retention.eligible_on(with_contract) == add_years(event, 10)
    assert not retention.is_eligible(with_contract)
    assert retention.is_eligible(without)  # no contract: the default 3 years still apply
    st = retention.status(with_contract)
    assert st.state != "eligible" and st.eligible_on == add_years(event, 10)
    assert "合同" in st.rule
    # the archive page says when it becomes eligible
    page = login("archivist").get(f"/archives/{with_contract.id}").get_data(as_text=True)
    assert add_years(event, 10).isoformat() in page
    review = login("archivist").get(f"/retention/reviews/{with_contract.id}").get_data(as_text=True)
    assert "合同保管10年（公司法务要求）" in review


def test_the_most_specific_rule_wins(app, login, terminated, user, add_document):
    from portal.admin.models import CustomerType
    ctype = db.session.scalar(sa.select(CustomerType).where(CustomerType.code == "电商"))
    admin = login("admin")
    assert admin.post("/retention/rules/new", data={
        "customer_type_id": str(ctype.id), "stage": "", "doc_type": "", "review_months": "3",
        "retain_years": "5", "note": ""}).status_code == 303
    assert admin.post("/retention/rules/new", data={
        "customer_type_id": str(ctype.id), "stage": "terminated", "doc_type": "", "review_months": "2",
        "retain_years": "4", "note": ""}).status_code == 303
    archive = terminated(months_ago=1)  # customer type 电商
    db.session.expire_all()
    st = retention.status(archive)
    assert st.eligible_on == add_years(archive.terminated_on, 4)
    assert st.review_due == add_months(archive.terminated_on, 2)


def test_rules_are_validated_and_the_form_keeps_the_input(login, register_entries):
    admin = login("admin")
    before = len(register_entries(action="retention_rule_save"))
    bad = admin.post("/retention/rules/new", data={"doc_type": "合同", "review_months": "0",
                                                   "retain_years": "-2", "note": "依据"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "请输入 1 到 120 之间的整数" in page and "依据" in page
    words = admin.post("/retention/rules/new", data={"review_months": "six", "retain_years": "3"})
    assert words.status_code == 422 and "请输入整数" in words.get_data(as_text=True)
    late_review = admin.post("/retention/rules/new", data={"doc_type": "发票", "review_months": "48",
                                                           "retain_years": "3"})
    assert late_review.status_code == 422
    # the classification of the default rule (any/any/any) exists already
    dup = admin.post("/retention/rules/new", data={"review_months": "6", "retain_years": "5"})
    assert dup.status_code == 422 and "已有针对该分类的规则" in dup.get_data(as_text=True)
    assert admin.post("/retention/rules/new", data={"doc_type": "发票", "review_months": "6",
                                                    "retain_years": "5"}).status_code == 303
    again = admin.post("/retention/rules/new", data={"doc_type": "发票", "review_months": "6",
                                                     "retain_years": "8"})
    assert again.status_code == 422
    unknown = admin.post("/retention/rules/new", data={"doc_type": "不存在的类型", "review_months": "6",
                                                       "retain_years": "8"})
    assert unknown.status_code == 422
    assert len(register_entries(action="retention_rule_save")) == before + 1
    assert len([r for r in _rules() if r.doc_type == "发票"]) == 1


def test_rules_are_edited_and_deleted_but_not_the_default(login, register_entries):
    admin = login("admin")
    admin.post("/retention/rules/new", data={"doc_type": "投诉", "review_months": "6", "retain_years": "5"})
    rule = [r for r in _rules() if r.doc_type == "投诉"][0]
    edit = admin.get(f"/retention/rules/{rule.id}")
    assert edit.status_code == 200 and "投诉" in edit.get_data(as_text=True)
    assert admin.post(f"/retention/rules/{rule.id}", data={
        "doc_type": "投诉", "review_months": "12", "retain_years": "7", "note": "投诉档案延长"}).status_code == 303
    rule = [r for r in _rules() if r.doc_type == "投诉"][0]
    assert (rule.review_months, rule.retain_years, rule.note) == (12, 7, "投诉档案延长")
    assert "→" in register_entries(action="retention_rule_save")[-1].detail
    default = _rules()[0]
    # the default keeps its classification whatever the form says; its periods change
    assert admin.post(f"/retention/rules/{default.id}", data={
        "doc_type": "合同", "review_months": "6", "retain_years": "4", "note": default.note}).status_code == 303
    default = _rules()[0]
    assert (default.doc_type, default.retain_years) == (None, 4)
    refused = admin.post(f"/retention/rules/{default.id}/delete")
    assert refused.status_code == 409
    assert admin.post(f"/retention/rules/{rule.id}/delete").status_code == 303
    assert [r.id for r in _rules()] == [default.id]
    assert "deleted" in register_entries(action="retention_rule_save")[-1].detail


def test_only_the_administrator_configures_rules(login, register_entries):
    for username in ("archivist", "manager", "supervisor", "staff_sales"):
        client = login(username)
        before = len(register_entries(action="access_denied", username=username))
        assert client.get("/retention/rules").status_code == 403
        assert client.post("/retention/rules/new", data={"doc_type": "合同", "review_months": "6",
                                                         "retain_years": "10"}).status_code == 403
        assert client.post("/retention/rules/1/delete").status_code == 403
        assert len(register_entries(action="access_denied", username=username)) == before + 3
    assert len(_rules()) == 1
