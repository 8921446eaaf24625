"""The destruction application's path: who may apply (and on which grounds), the approval chain and
its refused users, rejection, withdrawal, holds at every step, double decisions, and the
authentication of executor and witness — each refusal registered."""
from __future__ import annotations

from datetime import date

import destruction_helpers as dh
import pytest
import sqlalchemy as sa
from request_helpers import in_threads

from portal.archives.models import Archive
from portal.auth.models import LoginThrottle
from portal.destruction import services as svc
from portal.destruction.models import DestructionApplication
from portal.errors import Conflict, InvalidState, PermissionDenied, ValidationFailed
from portal.extensions import db


@pytest.fixture
def store_config():
    return {"SEARCH_WRITER": "manual"}  # (the store and the index: test_nothing_left.py, both stores)


def _fresh(app_id: int) -> DestructionApplication:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(DestructionApplication, app_id)


def _two_departments(make_archive):
    sales = dh.terminated(make_archive, name="销售部待销毁客户")
    marketing = dh.terminated(make_archive, by="head_marketing", name="市场部待销毁客户")
    return sales, marketing


# --- applying ------------------------------------------------------------------------------------

def test_who_may_apply_and_on_which_grounds(app, make_archive, register_entries):
    archive = dh.terminated(make_archive)
    for who in ("staff_sales", "head_sales", "head_service", "supervisor"):
        with pytest.raises(PermissionDenied):
            dh.apply([archive], by=who)
        assert register_entries(action="access_denied", username=who)
    # the PIPL path and "business ended": management only
    for grounds in ("pipl", "business"):
        with pytest.raises(PermissionDenied, match="管理层"):
            dh.apply([archive], grounds=grounds)
    assert len(register_entries(action="access_denied", username="archivist")) == 2
    app_ = dh.apply([archive])
    assert app_.number.startswith("XH-") and app_.status == "pending_service"
    assert register_entries(action="destruction_apply", archive_id=archive.id)


def test_retention_path_requires_eligible_filed_archives_in_no_other_application(app, make_archive):
    recent = dh.terminated(make_archive, name="近期终止客户", terminated_on=date.today().replace(day=1))
    active = make_archive("staff_sales", status="filed", name="合作中客户")
    draft = make_archive("staff_sales", status="draft", name="草稿客户")
    with pytest.raises(ValidationFailed) as err:
        dh.apply([recent, active, draft])
    problems = {k: str(v) for k, v in err.value.detail["archives"].items()}
    assert "起方可销毁" in problems[recent.id]  # with the eligible date
    assert "保管期限尚未开始" in problems[active.id]
    assert "未归档" in problems[draft.id]
    ok = dh.terminated(make_archive, name="到期客户")
    first = dh.apply([ok])
    with pytest.raises(ValidationFailed) as err:
        dh.apply([ok])
    assert first.number in str(err.value.detail["archives"][ok.id])
    second = dh.apply([dh.terminated(make_archive, name="到期客户二")])
    assert int(second.number.rsplit("-", 1)[1]) == int(first.number.rsplit("-", 1)[1]) + 1


def test_the_pipl_path_is_managements_and_records_the_request(app, make_archive, register_entries):
    archive = make_archive("staff_sales", status="filed", name="要求删除的客户")  # no retention period ended
    with pytest.raises(ValidationFailed) as err:
        dh.apply([archive], by="manager", grounds="pipl", pipl=svc.PiplRequest())
    assert set(err.value.detail["fields"]) >= {"pipl_received_on", "pipl_channel", "pipl_requester", "pipl_identity"}
    request = svc.PiplRequest(received_on=date(2026, 1, 5), channel="电子邮件", requester="客户本人 王某",
                              identity="核对身份证原件并电话回拨确认", reference="删除请求函 2026-01")
    app_ = dh.apply([archive], by="manager", grounds="pipl", pipl=request)
    assert (app_.pipl_channel, app_.pipl_requester) == ("电子邮件", "客户本人 王某")
    entry = register_entries(action="pipl_request", archive_id=archive.id)[0]
    assert "2026-01-05" in entry.detail and "王某" not in entry.detail  # the person stays in the application
    # a manager's application needs another manager at the management step
    svc.approve(dh.as_(dh.user_named("head_service")), app_)
    svc.approve(dh.as_(dh.user_named("head_sales")), app_)
    with pytest.raises(PermissionDenied, match="自己"):
        svc.approve(dh.as_(dh.user_named("manager")), app_)
    svc.approve(dh.as_(dh.second_manager()), app_)
    assert _fresh(app_.id).status == "approved"


# --- the approval chain ---------------------------------------------------------------------------

def test_each_step_refuses_all_but_its_deciders(app, login, make_archive, register_entries):
    sales, marketing = _two_departments(make_archive)
    app_ = dh.apply([sales, marketing])
    url = f"/destruction/{app_.id}/approve"

    def refused(who):
        before = len(register_entries(action="access_denied", username=who))
        assert login(who).post(url).status_code == 403, who
        assert len(register_entries(action="access_denied", username=who)) == before + 1, who

    for who in ("head_sales", "head_marketing", "manager", "archivist", "supervisor", "staff_sales", "admin"):
        refused(who)
    assert login("head_service").post(url).status_code == 303
    assert _fresh(app_.id).status == "pending_departments"
    for who in ("manager", "archivist", "staff_marketing"):
        refused(who)
    assert login("head_service").post(url).status_code == 409  # decided its step already
    assert login("head_sales").post(url, data={"note": "同意"}).status_code == 303
    assert _fresh(app_.id).status == "pending_departments"  # 市场部 still to decide
    assert login("head_sales").post(url).status_code == 409  # its part is decided already
    assert login("head_marketing").post(url).status_code == 303
    assert _fresh(app_.id).status == "pending_management"
    for who in ("archivist", "supervisor", "staff_sales"):
        refused(who)
    for who in ("head_sales", "head_marketing", "head_service"):
        assert login(who).post(url).status_code == 409, who
    assert login("manager").post(url).status_code == 303
    assert _fresh(app_.id).status == "approved"
    assert login("manager").post(url).status_code == 409  # a second decision
    approvals = register_entries(action="destruction_approve", result="ok")
    assert {e.archive_id for e in approvals} == {sales.id, marketing.id}


def test_a_department_without_a_head_is_decided_by_management(app, make_archive, user):
    from portal.auth.models import User

    sales = dh.terminated(make_archive)
    app_ = dh.apply([sales])
    head = db.session.scalar(sa.select(User).where(User.username == "head_sales"))
    head.active = False
    db.session.commit()
    svc.approve(dh.as_(user("head_service")), app_)
    assert [u.username for u in svc.next_deciders(app_)] == ["manager"]
    svc.approve(dh.as_(user("manager")), app_)
    app_ = _fresh(app_.id)
    assert app_.status == "pending_management"
    assert app_.department_parts[0].approver.username == "manager"


def test_concurrent_double_approval_decides_once(app, make_archive, user, register_entries):
    app_ = dh.apply([dh.terminated(make_archive)])
    app_id, head_id = app_.id, user("head_service").id

    def click():
        from portal.auth.models import User
        svc.approve(dh.as_(db.session.get(User, head_id)), db.session.get(DestructionApplication, app_id))
        return "ok"

    results = in_threads(app, [click] * 4)
    assert sorted("ok" if r == "ok" else type(r).__name__ for r in results) == \
        ["InvalidState", "InvalidState", "InvalidState", "ok"], results
    assert _fresh(app_id).status == "pending_departments"
    assert len(register_entries(action="destruction_approve", result="ok")) == 1


def test_rejection_ends_the_application_and_frees_its_archives(app, login, make_archive, register_entries):
    archive = dh.terminated(make_archive)
    app_ = dh.apply([archive])
    svc.approve(dh.as_(dh.user_named("head_service")), app_)
    head = login("head_sales")
    page = head.post(f"/destruction/{app_.id}/reject", data={"reason": "  "})
    assert page.status_code == 422 and "驳回原因" in page.get_data(as_text=True)
    assert head.post(f"/destruction/{app_.id}/reject", data={"reason": "仍有未结诉讼"}).status_code == 303
    app_ = _fresh(app_.id)
    assert (app_.status, app_.reject_reason, app_.rejected_step) == ("rejected", "仍有未结诉讼", "pending_departments")
    assert register_entries(action="destruction_reject", archive_id=archive.id)
    assert login("manager").post(f"/destruction/{app_.id}/approve").status_code == 409
    again = dh.apply([db.session.get(Archive, archive.id)])  # free again
    assert again.id != app_.id


def test_the_applicant_withdraws_until_execution(app, login, make_archive):
    archive = dh.terminated(make_archive)
    app_ = dh.apply([archive])
    assert login("manager").post(f"/destruction/{app_.id}/withdraw").status_code == 403
    assert login("archivist").post(f"/destruction/{app_.id}/withdraw").status_code == 303
    assert _fresh(app_.id).status == "withdrawn"
    assert login("archivist").post(f"/destruction/{app_.id}/withdraw").status_code == 409
    done = dh.execute(dh.approve_chain(dh.apply([db.session.get(Archive, archive.id)])))
    assert login("archivist").post(f"/destruction/{done.id}/withdraw").status_code == 409


def test_a_held_archive_is_refused_at_every_step(app, make_archive, register_entries):
    from portal.retention import services as retention

    manager = dh.as_(dh.user_named("manager"))
    archive = dh.terminated(make_archive)
    retention.place_hold(manager, archive, "诉讼保全", "（2026）沪01民初1号")
    with pytest.raises(InvalidState, match="冻结"):
        dh.apply([archive])
    retention.lift_hold(manager, db.session.get(Archive, archive.id), "诉讼结束")
    app_ = dh.apply([db.session.get(Archive, archive.id)])
    retention.place_hold(manager, db.session.get(Archive, archive.id), "监管问询")
    with pytest.raises(InvalidState, match="冻结"):
        svc.approve(dh.as_(dh.user_named("head_service")), _fresh(app_.id))
    retention.lift_hold(manager, db.session.get(Archive, archive.id), "问询结束")
    app_ = dh.approve_chain(_fresh(app_.id))
    retention.place_hold(manager, db.session.get(Archive, archive.id), "再次冻结")
    with pytest.raises(InvalidState, match="冻结"):
        dh.execute(_fresh(app_.id))
    assert db.session.get(Archive, archive.id).status == "filed"  # nothing destroyed
    assert len([e for e in register_entries(action="access_denied", archive_id=archive.id)
                if "hold" in e.detail]) == 3


# --- executing -----------------------------------------------------------------------------------

def test_execution_needs_both_passwords_and_a_supervisor_witness(app, login, make_archive, register_entries):
    archive = dh.terminated(make_archive)
    app_ = dh.apply([archive])
    with pytest.raises(InvalidState):  # not approved yet
        dh.execute(app_)
    app_ = dh.approve_chain(app_)
    with pytest.raises(svc.ExecutionRefused) as err:
        dh.execute(app_, witness_password="wrong-password")
    assert err.value.status == 422 and "witness_password" in err.value.detail["fields"]
    throttle = db.session.get(LoginThrottle, "supervisor")
    assert throttle is not None and throttle.failures == 1  # counted toward the lock-out like a log-in
    with pytest.raises(svc.ExecutionRefused) as err:
        dh.execute(app_, own_password="wrong-password")
    assert "archivist_password" in err.value.detail["fields"]
    with pytest.raises(svc.ExecutionRefused) as err:
        dh.execute(app_, witness="head_sales")  # right password, wrong role
    assert err.value.status == 403 and "质量监督专员" in str(err.value.detail["fields"]["witness_username"])
    denied = register_entries(action="destruction_execute", archive_id=archive.id, result="denied")
    assert len(denied) == 3 and "witness head_sales" in denied[-1].detail
    failed = register_entries(action="login_failed", username="supervisor")
    assert failed and "witness" in failed[-1].detail and failed[-1].user_id == dh.user_named("archivist").id
    assert db.session.get(Archive, archive.id).status == "filed"
    for who in ("staff_sales", "manager", "supervisor"):
        with pytest.raises(PermissionDenied):
            svc.execute(dh.as_(dh.user_named(who)), app_.id, "supervisor", dh.PASSWORD, dh.PASSWORD, "碎纸")
    with pytest.raises(ValidationFailed):
        dh.execute(app_, paper="扔掉")
    # through the form: the refusal keeps what was typed and says why
    page = login("archivist").post(f"/destruction/{app_.id}/execute", data={
        "paper_method": "焚毁", "archivist_password": dh.PASSWORD, "witness_username": "supervisor",
        "witness_password": "nope"})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "焚毁" in text and 'value="supervisor"' in text
    done = login("archivist").post(f"/destruction/{app_.id}/execute", data={
        "paper_method": "焚毁", "archivist_password": dh.PASSWORD, "witness_username": "supervisor",
        "witness_password": dh.PASSWORD})
    assert done.status_code == 303
    app_ = _fresh(app_.id)
    assert (app_.status, app_.paper_method, app_.witness.username) == ("executed", "焚毁", "supervisor")
    assert login("archivist").post(f"/destruction/{app_.id}/execute").status_code == 409


def test_inbox_shows_who_is_next(app, make_archive, user):
    app_ = dh.apply([dh.terminated(make_archive)])

    def waiting(who):
        with app.test_request_context():
            return [i for i in svc.waiting_for(user(who))]

    items = waiting("head_service")
    assert len(items) == 1 and items[0].deadline is not None and app_.number in items[0].title
    assert not waiting("head_sales") and not waiting("archivist")
    dh.approve_chain(app_)
    assert waiting("archivist") and not waiting("manager")


def test_conflicting_applications_at_the_same_moment(app, make_archive):
    archive = dh.terminated(make_archive)
    archive_id = archive.id

    def apply_one():
        return dh.apply([db.session.get(Archive, archive_id)]).id

    results = in_threads(app, [apply_one, apply_one])
    ok = [r for r in results if isinstance(r, int)]
    assert len(ok) == 1, results
    assert all(isinstance(r, (Conflict, ValidationFailed)) for r in results if not isinstance(r, int)), results


def test_a_paper_file_out_on_loan_is_not_destroyed(app, make_archive, user, register_entries):
    import loan_helpers as lh

    from portal.workflows import borrowing
    from portal.workflows.borrowing_models import COMPLETE

    archive = dh.terminated(make_archive)
    app_ = dh.approve_chain(dh.apply([archive]))
    loan = lh.lent(user, [db.session.get(Archive, archive.id)])
    with pytest.raises(InvalidState, match="借出"):
        dh.execute(_fresh(app_.id))
    assert db.session.get(Archive, archive.id).status == "filed"
    assert register_entries(action="destruction_execute", result="failed")
    borrowing.check_in(lh.as_(user("archivist")), loan, COMPLETE)
    assert dh.execute(_fresh(app_.id)).status == "executed"
