"""The register through the API: only for the archivist and the supervisor, and itself registered."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("username", ("staff_sales", "head_sales", "manager", "admin"))
def test_register_api_refused(api, register_entries, username):
    response = api(username).get("/api/v1/register")
    assert response.status_code == 403 and response.is_json and "items" not in response.json
    denied = register_entries(action="access_denied", username=username)
    assert len(denied) == 1 and denied[0].detail.startswith("register:")
    assert not register_entries(action="register_view")


@pytest.mark.parametrize("username", ("archivist", "supervisor"))
def test_register_api_lists_filters_and_registers(api, login, register_entries, username):
    for name in ("staff_sales", "head_sales", "staff_sales"):
        login(name)
    reader = api(username)
    body = reader.get("/api/v1/register?user=staff_sales&action=login&per_page=1").json
    assert body["total"] == 2 and body["per_page"] == 1 and len(body["items"]) == 1
    entry = body["items"][0]
    assert entry["user"] == "staff_sales" and entry["action"] == "login" and entry["result"] == "ok"
    assert entry["role"] == "staff" and entry["department"] == "销售部" and len(entry["hash"]) == 64
    assert entry["at"].endswith("+08:00")
    everything = reader.get("/api/v1/register").json
    seqs = [e["seq"] for e in everything["items"]]
    assert seqs == sorted(seqs, reverse=True)
    views = register_entries(action="register_view", username=username)
    assert [v.detail for v in views] == ["api user=staff_sales action=login page=1", "api all page=1"]


def test_register_api_rejects_bad_filters(api):
    response = api("archivist").get("/api/v1/register?from=31.12.2025&result=maybe&page=0")
    assert response.status_code == 400
    assert set(response.json["fields"]) == {"from", "result", "page"}
