"""The archive-number rule 档案编号规则: validation, preview, and its effect on the next filing."""
from __future__ import annotations

from portal.admin.services import current_year
from portal.extensions import db

DEFAULT = "{prefix}-{year}-{type_code}-{seq:03}"


def _setting(key):
    from portal.admin.models import get_setting

    db.session.expire_all()
    return get_setting(key)


def test_template_without_sequence_is_refused(login, register_entries):
    admin = login("admin")
    response = admin.post("/admin/numbering", data={"number_template": "{prefix}-{year}-{type_code}",
                                                    "number_prefix": "海外", "action": "save"})
    assert response.status_code == 422
    assert "{seq}" in response.get_data(as_text=True)
    response = admin.post("/admin/numbering", data={"number_template": "{prefix}-{year}-{type_code}-{nr}",
                                                    "number_prefix": "海外", "action": "save"})
    assert response.status_code == 422
    assert _setting("number_template") == DEFAULT
    assert register_entries(action="setting_change") == []


def test_preview_shows_the_next_number(login, make_archive):
    year = current_year()
    admin = login("admin")
    page = admin.get("/admin/numbering").get_data(as_text=True)
    assert f"海外-{year}-电商-001" in page and f"海外-{year}-外贸-001" in page
    make_archive(status="filed")
    # htmx live preview: just the fragment, for the values typed so far
    response = admin.get("/admin/numbering/preview",
                         query_string={"number_template": "{type_code}/{year}/{seq:04}", "number_prefix": "海外"},
                         headers={"HX-Request": "true", "HX-Target": "number-preview"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f"电商/{year}/0002" in body and f"外贸/{year}/0001" in body
    response = admin.get("/admin/numbering/preview", query_string={"number_template": "{year}",
                                                                   "number_prefix": "海外"},
                         headers={"HX-Request": "true", "HX-Target": "number-preview"})
    assert "{seq}" in response.get_data(as_text=True)
    # without JavaScript: the "preview" button shows the numbers and saves nothing
    response = admin.post("/admin/numbering", data={"number_template": "{prefix}{year}{type_code}{seq:05}",
                                                    "number_prefix": "HW", "action": "preview"})
    assert response.status_code == 200
    assert f"HW{year}电商00001" in response.get_data(as_text=True)
    assert _setting("number_prefix") == "海外"


def test_changed_rule_applies_to_the_next_filing(login, make_archive, register_entries):
    year = current_year()
    first = make_archive(status="filed")
    assert first.number == f"海外-{year}-电商-001"
    admin = login("admin")
    response = admin.post("/admin/numbering", data={"number_template": "{prefix}{year}{type_code}{seq:04}",
                                                    "number_prefix": "HW", "action": "save"})
    assert response.status_code == 303
    assert f"HW{year}电商0001" in admin.get(response.headers["Location"]).get_data(as_text=True)
    second = make_archive(status="filed")
    assert second.number == f"HW{year}电商0001"  # a new prefix starts its own sequence
    db.session.refresh(first)
    assert first.number == f"海外-{year}-电商-001"  # numbers already issued stay
    entry = register_entries(action="setting_change")[-1]
    assert entry.username == "admin"
    assert entry.detail == (f"number_template {DEFAULT} → {{prefix}}{{year}}{{type_code}}{{seq:04}}; "
                            "number_prefix 海外 → HW")
