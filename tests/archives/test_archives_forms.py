"""New and edit forms: creation, validation, a stale form (conflict), masked personal fields."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from archive_helpers import form_values, main_text, text

from portal.actor import Actor
from portal.archives import services
from portal.archives.models import Archive
from portal.extensions import db


def test_create_an_archive_through_the_form(login, register_entries, user):
    client = login("staff_sales")  # a real log-in once, as a user would
    page = client.get("/archives/new?kind=organisation")
    assert page.status_code == 200
    html = text(page)
    for legend in ("基础信息", "分类信息", "负责人", "纸质档案存放位置"):
        assert f"<legend>{legend}</legend>" in html
    assert 'name="id_number"' not in html  # individual-only field
    data = form_values(html)
    data.update(name="新丝路贸易有限公司", name_en="New Silk Road Trading", region="中东",
                phone="13700001234", founded_on="2015-06-01", paper_room="A101")
    response = client.post("/archives/new?kind=organisation", data=data)
    assert response.status_code == 303
    archive = db.session.scalar(sa.select(Archive).where(Archive.name == "新丝路贸易有限公司"))
    assert response.headers["Location"].endswith(f"/archives/{archive.id}")
    assert archive.kind == "organisation" and archive.status == "draft" and archive.number is None
    assert archive.responsible_id == user("staff_sales").id and archive.founded_on.isoformat() == "2015-06-01"
    assert archive.paper_room == "A101" and archive.sensitivity == 2
    assert len(register_entries(action="archive_create", archive_id=archive.id)) == 1
    assert "草稿已保存" in text(client.get(response.headers["Location"]))  # the flashed message


def test_individual_form_and_kind_choice(as_user):
    client = as_user("staff_sales")
    assert "企业/机构" in main_text(client.get("/archives/new"))  # no kind yet: choose one
    html = text(client.get("/archives/new?kind=individual"))
    assert 'name="id_number"' in html and 'name="legal_representative"' not in html
    selected_type = re.search(r'<select[^>]*name="customer_type_id"[^>]*>.*?</select>', html, re.S).group(0)
    assert re.search(r"<option selected value=\"\d+\">个人客户</option>", selected_type)


def test_invalid_input_is_shown_again_with_messages(as_user):
    client = as_user("staff_sales")
    data = form_values(text(client.get("/archives/new?kind=organisation")))
    data.update(name="", region="南美", founded_on="不是日期")
    response = client.post("/archives/new?kind=organisation", data=data)
    assert response.status_code == 422
    html = text(response)
    assert 'value="南美"' in html  # the user's input is kept
    assert html.count('class="error"') == 2 and 'aria-invalid="true"' in html
    assert "请更正下面标出的 2 处错误" in main_text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Archive)) == 0


@pytest.mark.parametrize("username", ["admin", "archivist", "manager"])
def test_roles_that_do_not_enter_archives_are_refused(as_user, register_entries, username):
    client = as_user(username)
    assert client.get("/archives/new?kind=organisation").status_code == 403
    assert client.post("/archives/new?kind=organisation", data={"name": "x"}).status_code == 403
    assert len(register_entries(action="access_denied", username=username)) == 2


def test_edit_a_draft(as_user, make_archive, register_entries):
    archive = make_archive(name="旧名称", region="欧洲")
    client = as_user("staff_sales")
    page = client.get(f"/archives/{archive.id}/edit")
    assert page.status_code == 200
    # Opening the form shows the whole archive: it is a view on the register.
    assert register_entries(action="archive_view", archive_id=archive.id)[-1].purpose == "edit"
    data = form_values(text(page))
    assert data["name"] == "旧名称" and data["version"] == str(archive.version)
    data.update(name="新名称", region="北美")
    response = client.post(f"/archives/{archive.id}/edit", data=data)
    assert response.status_code == 303
    db.session.refresh(archive)
    assert (archive.name, archive.region) == ("新名称", "北美")
    updates = register_entries(action="archive_update", archive_id=archive.id)
    assert len(updates) == 1 and updates[0].detail == "name, region"


def test_a_stale_form_is_refused_without_losing_the_input(as_user, make_archive, user):
    archive = make_archive(name="共享客户", region="欧洲")
    client = as_user("staff_sales")
    data = form_values(text(client.get(f"/archives/{archive.id}/edit")))
    # Meanwhile the head saves a change.
    services.update_draft(Actor(user("head_sales")), archive, {"region": "亚洲"}, archive.version)

    data.update(name="共享客户（新）", industry="电子")
    response = client.post(f"/archives/{archive.id}/edit", data=data)
    assert response.status_code == 409
    html, page = text(response), main_text(response)
    assert "其他人已保存了此档案" in page
    assert 'value="共享客户（新）"' in html and 'value="电子"' in html  # nothing lost
    assert re.search(r"对方保存的值：\s*亚洲", page)  # the other person's value, beside the field
    db.session.refresh(archive)
    assert (archive.name, archive.region) == ("共享客户", "亚洲")  # nothing overwritten yet

    # Saving the re-shown form again is a deliberate overwrite and goes through.
    again = form_values(html)
    assert client.post(f"/archives/{archive.id}/edit", data=again).status_code == 303
    db.session.refresh(archive)
    assert (archive.name, archive.region, archive.industry) == ("共享客户（新）", "欧洲", "电子")


def test_masked_personal_fields_never_enter_the_edit_form(as_user, make_archive):
    # staff_marketing (clearance 3) may edit its own draft but sees phones and e-mails masked.
    archive = make_archive("staff_marketing", name="市场客户", sensitivity=3,
                           phone="13812341234", email="buyer@example.com")
    client = as_user("staff_marketing")
    html = text(client.get(f"/archives/{archive.id}/edit"))
    assert "13812341234" not in html and "buyer@example.com" not in html
    phone_input = re.search(r'<input[^>]*name="phone"[^>]*>', html).group(0)
    assert 'value=""' in phone_input and 'placeholder="138****1234"' in phone_input
    assert 'name="clear_email"' in html

    data = form_values(html)  # left empty: the stored values stay
    data["region"] = "东南亚"
    assert client.post(f"/archives/{archive.id}/edit", data=data).status_code == 303
    db.session.refresh(archive)
    assert (archive.phone, archive.email, archive.region) == ("13812341234", "buyer@example.com", "东南亚")

    data = form_values(text(client.get(f"/archives/{archive.id}/edit")))
    data.update(phone="13900009999", clear_email="1")  # typed anew / cleared on purpose
    assert client.post(f"/archives/{archive.id}/edit", data=data).status_code == 303
    db.session.refresh(archive)
    assert (archive.phone, archive.email) == ("13900009999", "")


def test_head_sees_personal_fields_in_full_in_the_form(as_user, make_archive):
    archive = make_archive("staff_marketing", name="市场客户", sensitivity=3, phone="13812341234")
    html = text(as_user("head_marketing").get(f"/archives/{archive.id}/edit"))  # clearance 2
    assert re.search(r'<input[^>]*name="phone"[^>]*value="13812341234"', html)


@pytest.mark.parametrize("username, status", [
    ("head_marketing", "draft"),  # another department
    ("archivist", "draft"),  # files, does not edit
    ("staff_sales", "submitted"),  # waiting for review: no longer editable
])
def test_edit_is_refused_to_those_who_may_not(as_user, make_archive, register_entries, username, status):
    archive = make_archive(name="不可编辑", status=status)
    client = as_user(username)
    response = client.get(f"/archives/{archive.id}/edit")
    assert response.status_code == 403 and "不可编辑" not in main_text(response)
    assert client.post(f"/archives/{archive.id}/edit", data={"name": "改掉"}).status_code == 403
    db.session.refresh(archive)
    assert archive.name == "不可编辑"
    denied = register_entries(action="access_denied", archive_id=archive.id)
    assert [e.username for e in denied] == [username, username]
