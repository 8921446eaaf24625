"""Holds 冻结: management puts an archive on hold; nobody can destroy or delete it until lifted."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.archives.models import Archive
from portal.errors import InvalidState
from portal.extensions import db
from portal.notifications import Notification
from portal.retention import services as retention
from portal.retention.models import RetentionHold


def _notes(user):
    db.session.commit()
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)))


def test_management_places_a_hold_and_the_archive_page_shows_the_banner(login, terminated, user,
                                                                       register_entries):
    archive = terminated(months_ago=40)
    manager = login("manager")
    form = manager.get(f"/retention/archives/{archive.id}/hold")
    assert form.status_code == 200 and "冻结" in form.get_data(as_text=True)
    response = manager.post(f"/retention/archives/{archive.id}/hold",
                            data={"reason": "与客户的合同纠纷诉讼中", "reference": "(2026)沪01民初123号"})
    assert response.status_code == 303
    assert retention.is_held(archive.id)
    hold = retention.active_hold(archive.id)
    assert (hold.reason, hold.reference, hold.placed_by.username) == ("与客户的合同纠纷诉讼中", "(2026)沪01民初123号",
                                                                     "manager")
    entry = register_entries(action="hold_place")[-1]
    assert entry.archive_id == archive.id and "与客户的合同纠纷诉讼中" in entry.detail
    # the archivists are told
    assert any(archive.number in n.text and "冻结" in n.text for n in _notes(user("archivist")))
    for username in ("staff_sales", "archivist", "supervisor"):
        page = login(username).get(f"/archives/{archive.id}").get_data(as_text=True)
        assert "retention-hold-banner" in page and "与客户的合同纠纷诉讼中" in page, username
        assert "/hold/lift" not in page  # only management lifts
    assert "/hold/lift" in manager.get(f"/archives/{archive.id}").get_data(as_text=True)
    # the review list marks it, the holds list shows it
    assert "与客户的合同纠纷诉讼中" in login("archivist").get("/retention/reviews").get_data(as_text=True)
    for username in ("archivist", "supervisor", "manager"):
        holds = login(username).get("/retention/holds").get_data(as_text=True)
        assert archive.number in holds and "与客户的合同纠纷诉讼中" in holds


def test_a_reason_is_required_and_a_second_hold_is_refused(login, terminated):
    archive = terminated(months_ago=2)
    manager = login("manager")
    missing = manager.post(f"/retention/archives/{archive.id}/hold", data={"reason": "  ", "reference": "函-7"})
    assert missing.status_code == 422
    assert "请填写理由" in missing.get_data(as_text=True) and "函-7" in missing.get_data(as_text=True)
    assert not retention.is_held(archive.id)
    assert manager.post(f"/retention/archives/{archive.id}/hold", data={"reason": "监管问询"}).status_code == 303
    again = manager.post(f"/retention/archives/{archive.id}/hold", data={"reason": "另一起诉讼"})
    assert again.status_code == 409
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(RetentionHold.id))) == 1


@pytest.mark.parametrize("username", ["archivist", "supervisor", "staff_sales", "head_sales", "admin"])
def test_only_management_places_and_lifts_holds(login, terminated, as_actor, register_entries, username):
    free = terminated(months_ago=2, name="未冻结客户")
    held = terminated(months_ago=2, name="已冻结客户")
    retention.place_hold(as_actor("manager"), held, "诉讼")
    client = login(username)
    before = len(register_entries(action="access_denied", username=username))
    assert client.get(f"/retention/archives/{free.id}/hold").status_code == 403
    assert client.post(f"/retention/archives/{free.id}/hold", data={"reason": "试图冻结"}).status_code == 403
    assert client.post(f"/retention/archives/{held.id}/hold/lift",
                       data={"lift_reason": "试图解除"}).status_code == 403
    assert len(register_entries(action="access_denied", username=username)) == before + 3
    assert not retention.is_held(free.id) and retention.is_held(held.id)


def test_a_held_draft_cannot_be_deleted_even_by_its_author(login, make_archive, as_actor, register_entries):
    draft = make_archive(status="draft", name="冻结的草稿")
    manager = login("manager")
    assert manager.post(f"/retention/archives/{draft.id}/hold", data={"reason": "监管机构调取"}).status_code == 303
    assert "监管机构调取" in login("staff_sales").get(f"/archives/{draft.id}").get_data(as_text=True)
    for username in ("staff_sales", "head_sales"):
        response = login(username).post(f"/archives/{draft.id}/delete")
        assert response.status_code == 409, username
        assert "冻结" in response.get_data(as_text=True)
        entry = register_entries(action="access_denied", username=username)[-1]
        assert entry.archive_id == draft.id and "on hold" in entry.detail
    db.session.commit()
    assert db.session.get(Archive, draft.id) is not None
    with pytest.raises(InvalidState):
        retention.require_not_held(as_actor("archivist"), draft, what="destruction")
    # lifted: the author may delete it again
    lift = manager.post(f"/retention/archives/{draft.id}/hold/lift",
                        data={"lift_reason": "调取完毕", "hold_id": str(retention.active_hold(draft.id).id)})
    assert lift.status_code == 303
    assert login("staff_sales").post(f"/archives/{draft.id}/delete").status_code in (302, 303)
    db.session.commit()
    assert db.session.get(Archive, draft.id) is None


def test_lifting_needs_a_reason_keeps_history_and_tells_the_archivists(login, terminated, user, register_entries):
    archive = terminated(months_ago=2)
    manager = login("manager")
    manager.post(f"/retention/archives/{archive.id}/hold", data={"reason": "诉讼"})
    hold_id = retention.active_hold(archive.id).id
    form = manager.get(f"/retention/archives/{archive.id}/hold/lift")
    assert form.status_code == 200 and "诉讼" in form.get_data(as_text=True)
    missing = manager.post(f"/retention/archives/{archive.id}/hold/lift", data={"lift_reason": "", "hold_id": hold_id})
    assert missing.status_code == 422 and retention.is_held(archive.id)
    done = manager.post(f"/retention/archives/{archive.id}/hold/lift",
                        data={"lift_reason": "判决已生效", "hold_id": hold_id})
    assert done.status_code == 303
    assert not retention.is_held(archive.id)
    assert "retention-hold-banner" not in manager.get(f"/archives/{archive.id}").get_data(as_text=True)
    assert "判决已生效" in register_entries(action="hold_lift")[-1].detail
    assert any("判决已生效" in n.text for n in _notes(user("archivist")))
    # a second lift from the same (now stale) form is refused
    stale = manager.post(f"/retention/archives/{archive.id}/hold/lift", data={"lift_reason": "再次", "hold_id": hold_id})
    assert stale.status_code == 409
    history = retention.hold_history(archive.id)
    assert len(history) == 1 and history[0].lift_reason == "判决已生效"
    listing = login("supervisor").get("/retention/holds?show=all").get_data(as_text=True)
    assert "判决已生效" in listing
    assert "判决已生效" not in login("supervisor").get("/retention/holds").get_data(as_text=True)


def test_holds_list_is_refused_to_staff_heads_and_admin(login, register_entries):
    for username in ("staff_sales", "head_sales", "admin"):
        before = len(register_entries(action="access_denied", username=username))
        assert login(username).get("/retention/holds").status_code == 403
        assert len(register_entries(action="access_denied", username=username)) == before + 1


def test_management_finds_an_archive_by_number(login, terminated):
    archive = terminated(months_ago=2)
    response = login("manager").get(f"/retention/holds/find?number={archive.number}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/retention/archives/{archive.id}/hold")
    unknown = login("manager").get("/retention/holds/find?number=海外-1999-无-999")
    assert unknown.status_code == 303 and unknown.headers["Location"].endswith("/retention/holds")


def test_a_forged_hold_without_csrf_token_is_refused(csrf_app, login, terminated):
    archive = terminated(months_ago=2)
    response = login("manager").post(f"/retention/archives/{archive.id}/hold", data={"reason": "伪造"})
    assert response.status_code == 400
    assert not retention.is_held(archive.id)
