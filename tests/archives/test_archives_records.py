"""Sub-records edited in place (htmx) and through plain pages (JavaScript off)."""
from __future__ import annotations

import re

from archive_helpers import form_values, hx, main_text, text

from portal.actor import Actor
from portal.archives import services
from portal.archives.models import Communication, Contact
from portal.extensions import db


def row_id(html: str) -> str:
    return re.search(r'<tr id="([^"]+)"', html).group(1)


def test_contact_added_edited_and_deleted_in_place(as_user, make_archive, register_since):
    archive = make_archive(name="在线编辑客户")
    client = as_user("staff_sales")
    base = f"/archives/{archive.id}/r/contacts"

    form_row = client.get(f"{base}/new", headers=hx("rows-contacts"))
    html = text(form_row)
    assert form_row.status_code == 200 and "<html" not in html and html.lstrip().startswith("<tr")
    new_id = row_id(html)
    assert new_id.startswith("new-contacts-") and 'hx-target="closest tr"' in html

    # A missing name: the form row comes back with the message (422 is swapped by htmx).
    invalid = client.post(f"{base}/new", data={"name": "", "phone": "13500001111"}, headers=hx(new_id))
    assert invalid.status_code == 422 and row_id(text(invalid)) == new_id
    assert 'class="error"' in text(invalid) and 'value="13500001111"' in text(invalid)

    new = register_since()
    saved = client.post(f"{base}/new", data={"name": "赵经理", "position": "采购", "phone": "13500001111",
                                             "preferred_channel": "wechat"}, headers=hx(new_id))
    assert saved.status_code == 200 and "<html" not in text(saved)
    contact = db.session.query(Contact).filter_by(archive_id=archive.id).one()
    assert row_id(text(saved)) == f"rec-contacts-{contact.id}"
    assert "赵经理" in text(saved) and "微信" in text(saved)  # the channel by its label
    assert [(e.action, e.detail) for e in new()] == [("subrecord_add", f"contacts #{contact.id}")]

    edit_row = client.get(f"{base}/{contact.id}/edit", headers=hx(f"rec-contacts-{contact.id}"))
    assert edit_row.status_code == 200 and 'value="赵经理"' in text(edit_row)
    cancel = client.get(f"{base}/{contact.id}", headers=hx(f"rec-contacts-{contact.id}"))
    assert row_id(text(cancel)) == f"rec-contacts-{contact.id}" and "<form" in text(cancel)  # delete form only

    new = register_since()
    data = form_values(text(edit_row))
    data["position"] = "采购总监"
    changed = client.post(f"{base}/{contact.id}/edit", data=data, headers=hx(f"rec-contacts-{contact.id}"))
    assert changed.status_code == 200 and "采购总监" in text(changed)
    assert [(e.action, e.detail) for e in new()] == [("subrecord_edit", f"contacts #{contact.id}: position")]

    new = register_since()
    deleted = client.post(f"{base}/{contact.id}/delete", headers=hx(f"rec-contacts-{contact.id}"))
    assert deleted.status_code == 200 and text(deleted) == ""  # htmx removes the row
    assert db.session.get(Contact, contact.id) is None
    assert [e.action for e in new()] == ["subrecord_delete"]


def test_sub_records_without_javascript(as_user, make_archive, register_entries):
    archive = make_archive(name="无脚本客户")
    client = as_user("staff_sales")
    page = text(client.get(f"/archives/{archive.id}"))
    add_link = f'href="/archives/{archive.id}/r/communications/new"'
    assert add_link in page  # a real link: works without htmx

    form_page = client.get(f"/archives/{archive.id}/r/communications/new")
    assert form_page.status_code == 200 and "<html" in text(form_page)
    data = form_values(text(form_page))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["occurred_on"])  # today, as a start
    data.update(topic="报价确认", channel="email", agreements="同意 FOB 报价")
    response = client.post(f"/archives/{archive.id}/r/communications/new", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/archives/{archive.id}#records-communications")
    entry = db.session.query(Communication).filter_by(archive_id=archive.id).one()
    assert "记录已添加" in text(client.get(f"/archives/{archive.id}"))

    invalid = client.post(f"/archives/{archive.id}/r/communications/new", data={"topic": ""})
    assert invalid.status_code == 422 and "<html" in text(invalid)

    edit_page = client.get(f"/archives/{archive.id}/r/communications/{entry.id}/edit")
    data = form_values(text(edit_page))
    data["disagreements"] = "交期"
    assert client.post(f"/archives/{archive.id}/r/communications/{entry.id}/edit", data=data).status_code == 303
    db.session.refresh(entry)
    assert entry.disagreements == "交期" and entry.agreements == "同意 FOB 报价"

    deleted = client.post(f"/archives/{archive.id}/r/communications/{entry.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith("#records-communications")
    assert [e.action for e in register_entries(archive_id=archive.id) if e.action.startswith("subrecord")] == [
        "subrecord_add", "subrecord_edit", "subrecord_delete"]
    # The htmx-only addresses lead back to the page without JavaScript.
    assert client.get(f"/archives/{archive.id}/r/contacts").status_code == 303


def test_filed_archive_takes_new_log_entries_but_no_contact_changes(as_user, make_archive, add_record,
                                                                     register_since, user):
    archive = make_archive(name="已归档客户")
    contact = add_record(archive, "contacts", name="钱女士", phone="13600002222")
    for by, step in (("staff_sales", services.submit), ("head_sales", services.approve),
                     ("archivist", services.file_archive)):
        step(Actor(user(by)), archive)
    client = as_user("staff_sales")

    page = text(client.get(f"/archives/{archive.id}"))
    assert f"/archives/{archive.id}/r/communications/new" in page
    assert f"/archives/{archive.id}/r/contacts/new" not in page
    assert f"/r/contacts/{contact.id}/edit" not in page

    new = register_since()
    added = client.post(f"/archives/{archive.id}/r/communications/new",
                        data={"occurred_on": "2026-03-02", "topic": "年度回访", "channel": "phone"},
                        headers=hx("new-communications-abc"))
    assert added.status_code == 200 and "年度回访" in text(added)
    assert [e.action for e in new()] == ["subrecord_add"]

    new = register_since()
    refused = client.get(f"/archives/{archive.id}/r/contacts/{contact.id}/edit",
                         headers=hx(f"rec-contacts-{contact.id}"))
    assert refused.status_code == 403
    assert "已归档档案的记录只能通过变更申请修改" in text(refused)
    assert refused.headers["HX-Retarget"] == "#msg-contacts"  # shown above the table, row kept
    assert client.post(f"/archives/{archive.id}/r/contacts/{contact.id}/edit",
                       data={"name": "改名"}).status_code == 403
    assert client.post(f"/archives/{archive.id}/r/contacts/{contact.id}/delete").status_code == 403
    assert [(e.action, e.result) for e in new()] == [("access_denied", "denied")] * 3
    db.session.refresh(contact)
    assert contact.name == "钱女士"


def test_other_department_cannot_touch_records(as_user, make_archive, add_record, register_since):
    archive = make_archive(name="销售客户", sensitivity=3)
    contact = add_record(archive, "contacts", name="孙先生")
    client = as_user("staff_marketing")
    new = register_since()
    assert client.get(f"/archives/{archive.id}/r/contacts/new").status_code == 403
    assert client.post(f"/archives/{archive.id}/r/contacts/new", data={"name": "x"}).status_code == 403
    response = client.get(f"/archives/{archive.id}/r/contacts/{contact.id}", headers=hx(f"rec-contacts-{contact.id}"))
    assert response.status_code == 403 and "孙先生" not in text(response)
    assert [e.result for e in new()] == ["denied"] * 3


def test_contact_phone_and_email_are_masked(as_user, make_archive, add_record):
    archive = make_archive("staff_marketing", name="市场客户", sensitivity=3)
    contact = add_record(archive, "contacts", by="staff_marketing", name="周先生",
                         phone="13912345678", email="zhou@example.com")
    client = as_user("staff_marketing")  # clearance 3
    page = text(client.get(f"/archives/{archive.id}"))
    assert "139****5678" in page and "z***@example.com" in page
    assert "13912345678" not in page and "zhou@example.com" not in page

    edit_row = text(client.get(f"/archives/{archive.id}/r/contacts/{contact.id}/edit",
                               headers=hx(f"rec-contacts-{contact.id}")))
    assert "13912345678" not in edit_row and 'placeholder="139****5678"' in edit_row
    data = form_values(edit_row)
    data["position"] = "经理"
    saved = client.post(f"/archives/{archive.id}/r/contacts/{contact.id}/edit", data=data,
                        headers=hx(f"rec-contacts-{contact.id}"))
    assert saved.status_code == 200 and "13912345678" not in text(saved)
    db.session.refresh(contact)
    assert (contact.phone, contact.email, contact.position) == ("13912345678", "zhou@example.com", "经理")

    assert "13912345678" in main_text(as_user("head_marketing").get(f"/archives/{archive.id}"))
