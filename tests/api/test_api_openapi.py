"""/api/v1/openapi.json describes every API route the app has."""
from __future__ import annotations

import re


def _openapi_path(rule: str) -> str:
    """Flask rule → OpenAPI path relative to the server: ``/api/v1/archives/<path:ident>`` → ``/archives/{ident}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_openapi_describes_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json")  # no token needed: it holds no data
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    assert doc["servers"][0]["url"].endswith("/api/v1")
    described = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = _openapi_path(rule.rule)
        assert path in doc["paths"], f"{rule.rule} is not described"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"][path].get(method.lower())
            assert operation, f"{method} {rule.rule} is not described"
            assert {"200", "201", "202"} & set(operation["responses"]), f"{method} {rule.rule}"
            if rule.endpoint != "api.openapi":
                assert {"401", "403"} <= set(operation["responses"]), f"{method} {rule.rule}"
            described += 1
    assert described >= 5
    # and nothing is described that does not exist
    routes = {_openapi_path(r.rule) for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert set(doc["paths"]) == routes


def test_openapi_schemas_resolve(client):
    doc = client.get("/api/v1/openapi.json").json
    text = str(doc)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in doc["components"]["schemas"], name
    archive_input = doc["components"]["schemas"]["ArchiveInput"]
    assert {"kind", "name", "phone", "customer_type_id"} <= set(archive_input["properties"])
