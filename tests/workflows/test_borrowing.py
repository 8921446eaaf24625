"""Borrowing paper files 借阅: the whole path, every refusal, the queue, concurrency on decisions."""
from __future__ import annotations

import threading
from datetime import date

import loan_helpers as lh
import pytest
import sqlalchemy as sa

from portal import notifications as notes
from portal.actor import Actor
from portal.errors import Conflict, InvalidState, PermissionDenied, ValidationFailed
from portal.extensions import db
from portal.workflows import borrowing
from portal.workflows.borrowing_models import (
    APPROVED,
    EXT_APPROVED,
    LENT,
    PENDING_ARCHIVIST,
    PENDING_HEAD,
    REJECTED,
    RETURNED,
    WITHDRAWN,
    Loan,
)

MONDAY = date(2026, 11, 23)


@pytest.fixture
def filed(make_archive):
    """Two filed 二级 archives of 销售部 (staff_sales may open them, staff_marketing may not)."""
    return [make_archive(status="filed", name="甲方贸易有限公司"),
            make_archive(status="filed", name="乙方电商有限公司")]


@pytest.fixture(autouse=True)
def monday(monkeypatch):
    lh.set_today(monkeypatch, MONDAY)


def _texts(user) -> list[str]:
    db.session.commit()
    return [n.text for n in notes.notifications_of(user)]


def test_happy_path_apply_approve_lend_extend_return(app, user, filed, register_entries, monkeypatch):
    staff, head, archivist = user("staff_sales"), user("head_sales"), user("archivist")
    loan = lh.apply(user, filed, days=5, purpose="核对合同条款")
    assert loan.status == PENDING_HEAD
    assert any("张小销 申请借阅" in t for t in _texts(head))
    borrowing.approve(lh.as_(head), loan, "同意")
    assert loan.status == PENDING_ARCHIVIST
    assert any("待您审核" in t for t in _texts(archivist))
    borrowing.approve(lh.as_(archivist), loan)
    assert loan.status == APPROVED
    borrowing.lend(lh.as_(archivist), loan, "2 册")
    # lent on Monday 2026-11-23: 5 working days → Monday 2026-11-30
    assert loan.status == LENT and loan.lend_date == MONDAY and loan.due_date == date(2026, 11, 30)
    assert loan.lent_by_id == archivist.id
    assert any("2026-11-30 前归还" in t for t in _texts(staff))
    # Wednesday: 3 working days before the due date, extension of 3 working days
    lh.set_today(monkeypatch, date(2026, 11, 25))
    borrowing.request_extension(lh.as_(staff), loan, "3", "客户补充材料")
    borrowing.approve(lh.as_(archivist), loan, "同意延期")
    assert loan.extension_status == EXT_APPROVED
    assert loan.original_due_date == date(2026, 11, 30) and loan.due_date == date(2026, 12, 3)
    borrowing.check_in(lh.as_(archivist), loan, "complete", "")
    assert loan.status == RETURNED and loan.return_condition == "complete"
    # every step on the register, once per archive, and on the loan's timeline
    for action in ("borrow_apply", "borrow_approve", "borrow_lend", "borrow_extend_request",
                   "borrow_extend_approve", "borrow_return"):
        entries = register_entries(action=action)
        assert {e.archive_id for e in entries} == {a.id for a in filed}, action
        assert all(f"loan #{loan.id}" in e.detail for e in entries)
    assert len(register_entries(action="borrow_approve")) == 4  # head and archivist, two archives
    assert [e.action for e in loan.events] == [
        "borrow_apply", "borrow_approve", "borrow_approve", "borrow_lend", "borrow_extend_request",
        "borrow_extend_approve", "borrow_return"]


def test_who_may_apply_and_for_what(app, user, filed, make_archive, register_entries):
    with pytest.raises(PermissionDenied):  # 销售部 二级 archive: not within staff_marketing's reach
        lh.apply(user, filed[:1], by="staff_marketing")
    assert register_entries(action="access_denied", username="staff_marketing")
    for who in ("archivist", "admin"):
        with pytest.raises(PermissionDenied):
            lh.apply(user, filed[:1], by=who)
        assert register_entries(action="access_denied", username=who)
    draft = make_archive(status="draft", name="草稿客户")
    with pytest.raises(ValidationFailed, match="尚未归档"):
        lh.apply(user, [draft])
    assert db.session.scalar(sa.select(sa.func.count(Loan.id))) == 0


@pytest.mark.parametrize(("field", "kwargs", "message"), [
    ("period_days", {"days": 8}, "最长 7 个工作日"),
    ("period_days", {"days": 0}, "至少填写 1 个工作日"),
    ("period_days", {"days": "abc"}, "请填写工作日天数"),
    ("purpose", {"purpose": "  "}, "借阅目的"),
    ("pickup_date", {"pickup": date(2026, 11, 20)}, "不能早于今天"),
    ("pickup_date", {"pickup": date(2026, 11, 28)}, "不是工作日"),  # a Saturday
    ("pickup_date", {"pickup": "2026-11-31"}, "YYYY-MM-DD"),
])
def test_bad_applications_are_refused_with_a_clear_message(app, user, filed, field, kwargs, message):
    with pytest.raises(ValidationFailed) as exc:
        lh.apply(user, filed, **kwargs)
    assert exc.value.detail["field"] == field
    assert message in str(exc.value.message)


def test_no_one_decides_their_own_loan_and_heads_only_their_department(app, user, filed, register_entries):
    loan = lh.apply(user, filed)
    with pytest.raises(PermissionDenied):
        borrowing.approve(lh.as_(user("staff_sales")), loan)
    with pytest.raises(PermissionDenied):
        borrowing.approve(lh.as_(user("head_marketing")), loan)
    with pytest.raises(PermissionDenied):
        borrowing.reject(lh.as_(user("manager")), loan, "不行")
    assert len(register_entries(action="access_denied", username="head_marketing")) == 1
    # the archivist is in the chain, but not yet: 409
    with pytest.raises(InvalidState, match="须先由部门负责人审批"):
        borrowing.approve(lh.as_(user("archivist")), loan)
    assert loan.status == PENDING_HEAD


def test_a_department_heads_loan_is_decided_by_management(app, user, filed):
    loan = lh.apply(user, filed, by="head_sales")
    assert loan.first_step == "management"
    with pytest.raises(PermissionDenied):
        borrowing.approve(lh.as_(user("head_sales")), loan)  # their own
    with pytest.raises(PermissionDenied):
        borrowing.approve(lh.as_(user("head_marketing")), loan)
    assert any("申请借阅" in t for t in _texts(user("manager")))
    borrowing.approve(lh.as_(user("manager")), loan)
    assert loan.status == PENDING_ARCHIVIST


def test_rejection_needs_a_reason_and_is_final(app, user, filed):
    loan = lh.apply(user, filed)
    with pytest.raises(ValidationFailed, match="驳回理由"):
        borrowing.reject(lh.as_(user("head_sales")), loan, " ")
    borrowing.reject(lh.as_(user("head_sales")), loan, "用途不明确")
    assert loan.status == REJECTED and loan.reject_reason == "用途不明确"
    assert any("被驳回：用途不明确" in t for t in _texts(user("staff_sales")))
    with pytest.raises(InvalidState):
        borrowing.approve(lh.as_(user("head_sales")), loan)
    with pytest.raises(InvalidState):
        borrowing.withdraw(lh.as_(user("staff_sales")), loan)


def test_withdraw_by_the_author_until_decided(app, user, filed, register_entries):
    loan = lh.apply(user, filed)
    with pytest.raises(PermissionDenied):
        borrowing.withdraw(lh.as_(user("head_sales")), loan)
    borrowing.approve(lh.as_(user("head_sales")), loan)
    borrowing.withdraw(lh.as_(user("staff_sales")), loan)  # the archivist has not decided yet
    assert loan.status == WITHDRAWN
    assert register_entries(action="borrow_withdraw")
    other = lh.approved(user, filed)
    with pytest.raises(InvalidState, match="不能再撤回"):
        borrowing.withdraw(lh.as_(user("staff_sales")), other)


def test_decided_twice_is_refused(app, user, filed):
    loan = lh.apply(user, filed)
    borrowing.approve(lh.as_(user("head_sales")), loan)
    with pytest.raises(InvalidState, match="现待档案管理员审核"):
        borrowing.approve(lh.as_(user("head_sales")), loan)
    borrowing.approve(lh.as_(user("archivist")), loan)
    with pytest.raises(InvalidState, match="已处理"):
        borrowing.reject(lh.as_(user("archivist")), loan, "改主意了")


def test_concurrent_double_click_decides_once(app, user, filed, register_entries):
    """Two approvals of the same application at the same moment: one wins, the other gets 409."""
    loan = lh.apply(user, filed)
    loan_id, head_id = loan.id, user("head_sales").id
    db.session.commit()
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def click():
        with app.app_context():
            from portal.auth.models import User
            head = db.session.get(User, head_id)
            mine = db.session.get(Loan, loan_id)
            barrier.wait()
            try:
                borrowing.approve(Actor(head, "127.0.0.1"), mine)
                outcomes.append("ok")
            except InvalidState:
                outcomes.append("409")
            except BaseException as exc:  # noqa: BLE001
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409", "409", "409", "ok"], outcomes
    db.session.commit()
    assert len(register_entries(action="borrow_approve")) == 2  # one decision × two archives
    assert db.session.get(Loan, loan_id).status == PENDING_ARCHIVIST


def test_a_file_that_is_out_cannot_be_lent_again_and_requests_queue(app, user, filed, register_entries):
    first = lh.lent(user, filed[:1])
    second = lh.approved(user, filed[:1], by="head_sales", head="manager")
    third = lh.apply(user, filed, by="supervisor")
    assert [loan.id for loan in borrowing.queue_for(filed[0].id)] == [second.id, third.id]
    with pytest.raises(Conflict) as exc:
        borrowing.lend(lh.as_(user("archivist")), second)
    message = str(exc.value.message)
    assert filed[0].number in message and "张小销" in message and first.due_date.isoformat() in message
    failed = register_entries(action="borrow_lend", result="failed")
    assert failed and "file out with staff_sales" in failed[-1].detail
    assert second.status == APPROVED
    # returned: the next in the queue is told, and the file can be lent
    borrowing.check_in(lh.as_(user("archivist")), first, "complete")
    assert any(f"借阅单 #{second.id} 现在可以办理出借" in t for t in _texts(user("head_sales")))
    borrowing.lend(lh.as_(user("archivist")), second)
    assert second.status == LENT


def test_no_second_open_loan_of_the_same_file_by_the_same_person(app, user, filed):
    lh.apply(user, filed[:1])
    with pytest.raises(ValidationFailed, match="未完结借阅"):
        lh.apply(user, filed)


def test_extension_rules(app, user, filed, monkeypatch):
    loan = lh.lent(user, filed[:1], days=2)  # Monday → due Wednesday 2026-11-25
    assert loan.due_date == date(2026, 11, 25)
    staff = lh.as_(user("staff_sales"))
    with pytest.raises(PermissionDenied):
        borrowing.request_extension(lh.as_(user("head_sales")), loan, 1, "x")
    with pytest.raises(ValidationFailed, match="最长 3 个工作日"):
        borrowing.request_extension(staff, loan, 4, "客户补充材料")
    with pytest.raises(ValidationFailed, match="延期理由"):
        borrowing.request_extension(staff, loan, 2, "")
    # on the due date itself it is too late (0 working days before)
    lh.set_today(monkeypatch, date(2026, 11, 25))
    with pytest.raises(ValidationFailed) as late:
        borrowing.request_extension(staff, loan, 2, "客户补充材料")
    assert "最迟 2026-11-24" in str(late.value.message)
    lh.set_today(monkeypatch, date(2026, 11, 24))  # one working day before: in time
    borrowing.request_extension(staff, loan, 2, "客户补充材料")
    borrowing.reject(lh.as_(user("archivist")), loan, "其他同事在等")
    assert loan.due_date == date(2026, 11, 25)
    with pytest.raises(InvalidState, match="只能延期一次"):
        borrowing.request_extension(staff, loan, 1, "再试一次")


def test_extension_over_the_national_day_week(app, user, filed, monkeypatch):
    lh.set_today(monkeypatch, date(2026, 9, 28))  # Monday before National Day
    loan = lh.lent(user, filed[:1], days=3, pickup=date(2026, 9, 28))
    # 09-29, 09-30, then the holiday week: the third working day is 10-08
    assert loan.due_date == date(2026, 10, 8)
    borrowing.request_extension(lh.as_(user("staff_sales")), loan, 3, "节后补充")
    borrowing.approve(lh.as_(user("archivist")), loan)
    assert loan.due_date == date(2026, 10, 12)  # 10-09, the make-up Saturday 10-10, 10-12


def test_loan_lent_on_2026_12_28_is_due_in_2027(app, user, filed, monkeypatch):
    lh.set_today(monkeypatch, date(2026, 12, 28))
    loan = lh.lent(user, filed[:1], days=7, pickup=date(2026, 12, 28))
    assert loan.due_date == date(2027, 1, 6)


def test_return_condition(app, user, filed):
    loan = lh.lent(user, filed[:1])
    archivist = lh.as_(user("archivist"))
    with pytest.raises(PermissionDenied):
        borrowing.check_in(lh.as_(user("staff_sales")), loan, "complete")
    with pytest.raises(ValidationFailed, match="选择归还档案的状况"):
        borrowing.check_in(archivist, loan, "lost")
    with pytest.raises(ValidationFailed, match="破损或缺页"):
        borrowing.check_in(archivist, loan, "missing_pages", "")
    borrowing.check_in(archivist, loan, "missing_pages", "缺第 12 页")
    assert loan.return_condition == "missing_pages" and loan.return_note == "缺第 12 页"
    with pytest.raises(InvalidState):
        borrowing.check_in(archivist, loan, "complete")


def test_only_the_archivist_lends(app, user, filed):
    loan = lh.approved(user, filed[:1])
    for who in ("staff_sales", "head_sales", "manager"):
        with pytest.raises(PermissionDenied):
            borrowing.lend(lh.as_(user(who)), loan)
    pending = lh.apply(user, filed[1:])
    with pytest.raises(InvalidState):
        borrowing.lend(lh.as_(user("archivist")), pending)


def test_rules_are_configurable_with_validation(app, user, filed, register_entries):
    from portal.workflows import borrowing_rules

    admin = lh.as_(user("admin"))
    with pytest.raises(ValidationFailed) as bad:
        borrowing_rules.save_rules(admin, {"max_days": "0", "max_extension_days": "3",
                                           "extension_notice_days": "1"})
    assert bad.value.detail["field"] == "max_days"
    with pytest.raises(PermissionDenied):
        borrowing_rules.save_rules(lh.as_(user("archivist")), {"max_days": "5", "max_extension_days": "3",
                                                               "extension_notice_days": "1"})
    changes = borrowing_rules.save_rules(admin, {"max_days": "5", "max_extension_days": "2",
                                                "extension_notice_days": "2"})
    assert changes == ["borrow_max_days 7 → 5", "borrow_max_extension_days 3 → 2",
                       "borrow_extension_notice_days 1 → 2"]
    assert "borrow_max_days 7 → 5" in register_entries(action="setting_change")[-1].detail
    with pytest.raises(ValidationFailed, match="最长 5 个工作日"):
        lh.apply(user, filed, days=6)
