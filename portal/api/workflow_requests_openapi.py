"""OpenAPI description of the query and change request endpoints (``portal/api/workflow_requests.py``),
merged into ``/api/v1/openapi.json`` by ``portal.api.openapi``."""
from __future__ import annotations

from portal.workflows.requests import C_STATUSES, Q_STATUSES, SCOPES


def openapi_paths(errors: dict, error_response) -> dict:
    """The paths of this module for ``portal.api.openapi.document``."""
    rid = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    obj = {"type": "object"}
    not_found = {"404": error_response("No such request.")}
    conflict = {"409": error_response("The request is no longer at this step (e.g. already decided): "
                                      "registered, nothing changed.")}
    invalid = {"422": error_response("Invalid input (see `fields`).", "ValidationError")}

    def action(op_id: str, summary: str, description: str, body_props: dict | None = None) -> dict:
        operation = {"operationId": op_id, "summary": summary, "description": description,
                     "parameters": [rid],
                     "responses": {"200": {"description": "The request after the action.",
                                           "content": {"application/json": {"schema": obj}}},
                                   **errors, **not_found, **conflict, **invalid}}
        if body_props:
            operation["requestBody"] = {"required": False, "content": {"application/json": {
                "schema": {"type": "object", "properties": body_props}}}}
        return {"post": operation}

    note = {"note": {"type": "string", "maxLength": 2000}}
    reason = {"reason": {"type": "string", "maxLength": 4000, "description": "Required."}}
    status_q = lambda values: {"name": "status", "in": "query", "required": False,  # noqa: E731
                               "schema": {"type": "string", "enum": list(values)}}
    return {
        "/query-requests": {
            "get": {"operationId": "listQueryRequests", "summary": "Query requests (查询申请)",
                    "description": "The user's own; the archivist, management and the quality supervisor "
                                   "see all (`mine=1` for their own). `archive` is null when the user may "
                                   "not open the archive (only `archive_ref`, as typed, is shown).",
                    "parameters": [status_q((*Q_STATUSES, "active", "expired")),
                                   {"name": "mine", "in": "query", "required": False,
                                    "schema": {"type": "string", "enum": ["1"]}}],
                    "responses": {"200": {"description": "The requests, newest first.",
                                          "content": {"application/json": {"schema": obj}}}, **errors}},
            "post": {"operationId": "createQueryRequest", "summary": "Ask for time-limited query access",
                     "description": "For an archive above the user's clearance or of another department. "
                                    "Answered 201 whether or not a filed archive has that number (hidden "
                                    "archives are not revealed; the archivist answers). Registered "
                                    "(query_request).",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["archive", "purpose", "scope"],
                         "properties": {
                             "archive": {"type": ["string", "integer"],
                                         "description": "Archive number (exact) or id."},
                             "purpose": {"type": "string", "maxLength": 2000},
                             "scope": {"type": "string", "enum": list(SCOPES),
                                       "description": "`all`: the archive with all documents; `listed`: "
                                                      "the archive, the documents at the user's clearance "
                                                      "and those the archivist ticks."},
                             "scope_note": {"type": "string", "maxLength": 2000},
                             "period_days": {"type": "integer", "minimum": 1,
                                             "description": "Working days from approval (or `until`)."},
                             "until": {"type": "string", "format": "date"},
                             "document": {"type": "integer", "description": "A refused document of it."}}}}}},
                     "responses": {"201": {"description": "Submitted.",
                                           "content": {"application/json": {"schema": obj}}},
                                   **errors, **invalid}},
        },
        "/query-requests/{request_id}": {
            "get": {"operationId": "getQueryRequest", "summary": "One query request", "parameters": [rid],
                    "responses": {"200": {"description": "The request.",
                                          "content": {"application/json": {"schema": obj}}},
                                  **errors, **not_found}},
        },
        "/query-requests/{request_id}/approve": action(
            "approveQueryRequest", "Approve (archivist; then management for 一级 material)",
            "The final approval makes the grant: viewing only, until `expires_at`.",
            {**note, "documents": {"type": "array", "items": {"type": "integer"},
                                   "description": "Scope `listed`: documents above the requester's "
                                                  "clearance to open as well (archivist step)."}}),
        "/query-requests/{request_id}/reject": action(
            "rejectQueryRequest", "Reject with a reason", "By the archivist or management at their step.",
            reason),
        "/query-requests/{request_id}/withdraw": action(
            "withdrawQueryRequest", "Withdraw (the requester, while undecided)", "Registered."),
        "/change-requests": {
            "get": {"operationId": "listChangeRequests", "summary": "Change requests (变更申请)",
                    "description": "Of the archives the user may open; personal values masked as on the "
                                   "pages.",
                    "parameters": [status_q(C_STATUSES),
                                   {"name": "archive", "in": "query", "required": False,
                                    "schema": {"type": "string"},
                                    "description": "Part of the archive number or name."}],
                    "responses": {"200": {"description": "The requests, newest first.",
                                          "content": {"application/json": {"schema": obj}}}, **errors}},
            "post": {"operationId": "createChangeRequest", "summary": "Propose a change of a filed archive",
                     "description": "Field by field; values validated like the profile form. Needs a "
                                    "reason and an evidence document of the archive. Registered "
                                    "(change_request, field names only).",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["archive", "changes", "reason",
                                                        "evidence_document_id"],
                         "properties": {
                             "archive": {"type": ["string", "integer"]},
                             "changes": {"type": "object", "description": "Profile field → new value."},
                             "reason": {"type": "string", "maxLength": 4000},
                             "evidence_document_id": {"type": "integer"}}}}}},
                     "responses": {"201": {"description": "Submitted.",
                                           "content": {"application/json": {"schema": obj}}},
                                   **errors, **invalid, "404": error_response("No such archive.")}},
        },
        "/change-requests/{request_id}": {
            "get": {"operationId": "getChangeRequest", "summary": "One change request", "parameters": [rid],
                    "responses": {"200": {"description": "The request.",
                                          "content": {"application/json": {"schema": obj}}},
                                  **errors, **not_found}},
        },
        "/change-requests/{request_id}/approve": action(
            "approveChangeRequest", "Approve (department head; then customer-service head for important "
                                    "fields)", "Never by the proposer; management stands in for a head "
                                               "who proposed.", note),
        "/change-requests/{request_id}/reject": action(
            "rejectChangeRequest", "Reject with a reason", "A head at their step, or the archivist "
                                                           "instead of applying.", reason),
        "/change-requests/{request_id}/withdraw": action(
            "withdrawChangeRequest", "Withdraw (the proposer, until applied or rejected)", "Registered."),
        "/change-requests/{request_id}/apply": action(
            "applyChangeRequest", "Apply the approved change (archivist)",
            "409 when the archive changed since the proposal (the old values no longer match); nothing "
            "is written then."),
    }
