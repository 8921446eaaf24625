"""The OpenAPI 3.1 description served at ``/api/v1/openapi.json``.

Written by hand; the archive fields come from ``profile.py`` and ``subrecords.py`` so the
schema cannot drift from the forms. ``tests/api/test_openapi.py`` checks that every API route
is described here.
"""
from __future__ import annotations

from portal.archives.forms import FIXED_CHOICES, INT_CHOICES
from portal.archives.models import IMPORTANCE_LEVELS, INDIVIDUAL, ORGANISATION, STAGES, STATUSES
from portal.archives.profile import ALL_FIELDS, Field
from portal.archives.services import SORTS
from portal.archives.subrecords import KINDS
from portal.documents import filetypes
from portal.documents.models import TEXT_STATUSES
from portal.documents.services import document_types
from portal.register import actions
from portal.register.reading import RESULTS


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _field_schema(f: Field) -> dict:
    if f.type == "date":
        schema: dict = {"type": ["string", "null"], "format": "date"}
    elif f.type == "decimal":
        schema = {"type": ["string", "null"], "description": "Decimal number, two places (a string "
                                                              "in answers; a number or string in requests)."}
    elif f.type == "choice" and f.choices in INT_CHOICES:
        schema = {"type": ["integer", "null"]}
    elif f.type == "choice":
        schema = {"type": "string", "enum": [v for v, _label in FIXED_CHOICES.get(f.choices, [])]}
    else:
        schema = {"type": "string"}
        if f.max_length:
            schema["maxLength"] = f.max_length
    schema["title"] = str(f.label)
    if f.personal:
        schema["description"] = ("Personal data: masked (e.g. 138****1234) unless the token's user has "
                                 "the clearance this field needs, exactly as on the archive page.")
    return schema


def _error(description: str, schema: str = "Error") -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _query(name: str, schema: dict, description: str = "") -> dict:
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


ERRORS = {
    "400": _error("Malformed request or invalid query parameters (see `fields`).", "ValidationError"),
    "401": {**_error("No token, or the token is invalid, expired or revoked (registered as a failed "
                     "log-in)."), "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
    "403": _error("Refused by the same permission rules as the pages; the attempt is registered."),
}


def _archive_list_parameters() -> list[dict]:
    return [
        _query("q", {"type": "string"}, "Active search: name, English name, number, phone, contact "
                                         "name or contact phone."),
        _query("customer_type_id", {"type": "integer", "minimum": 1}),
        _query("stage", {"type": "string", "enum": list(STAGES)}),
        _query("region", {"type": "string"}, "Part of the market / region."),
        _query("industry", {"type": "string"}, "Part of the industry."),
        _query("importance", {"type": "string", "enum": list(IMPORTANCE_LEVELS)}),
        _query("department_id", {"type": "integer", "minimum": 1}),
        _query("responsible_id", {"type": "integer", "minimum": 1}),
        _query("status", {"type": "string", "enum": list(STATUSES)}),
        _query("kind", {"type": "string", "enum": [ORGANISATION, INDIVIDUAL]}),
        _query("sort", {"type": "string", "enum": list(SORTS), "default": "updated"}),
        _query("page", {"type": "integer", "minimum": 1, "default": 1}),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
    ]


def _register_parameters() -> list[dict]:
    return [
        _query("from", {"type": "string", "format": "date"}, "First day (Beijing time), inclusive."),
        _query("to", {"type": "string", "format": "date"}, "Last day (Beijing time), inclusive."),
        _query("user", {"type": "string"}, "Exact user name."),
        _query("archive", {"type": "string"}, "Part of the archive number (or #id of a draft)."),
        _query("action", {"type": "string", "enum": list(actions.LABELS)}),
        _query("result", {"type": "string", "enum": list(RESULTS)}),
        _query("page", {"type": "integer", "minimum": 1, "default": 1}),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
    ]


def _schemas() -> dict:
    ref_obj = {"type": ["object", "null"]}
    profile_props = {name: _field_schema(f) for name, f in ALL_FIELDS.items()}
    record_schemas = {}
    for kind in KINDS:
        props = {"id": {"type": "integer"}}
        props.update({f.name: _field_schema(f) for f in kind.fields})
        props["created_at"] = {"type": "string", "format": "date-time"}
        props["updated_at"] = {"type": "string", "format": "date-time"}
        record_schemas[kind.key] = {"type": "array", "title": str(kind.label),
                                    "items": {"type": "object", "properties": props}}
    summary_props = {
        "id": {"type": "integer"},
        "number": {"type": ["string", "null"], "description": "Archive number 档案编号, set when filed "
                                                               "(e.g. 海外-2026-电商-001)."},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": [ORGANISATION, INDIVIDUAL]},
        "kind_label": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "status_label": {"type": "string"},
        "stage": {"type": "string", "enum": list(STAGES)},
        "customer_type": {**ref_obj, "properties": {"id": {"type": "integer"}, "code": {"type": "string"},
                                                    "name": {"type": "string"}}},
        "department": {**ref_obj, "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "responsible": _ref("Person"),
        "region": {"type": "string"},
        "industry": {"type": "string"},
        "importance": {"type": "string", "enum": list(IMPORTANCE_LEVELS)},
        "sensitivity": {"type": "integer", "enum": [1, 2, 3],
                        "description": "1 一级 secret, 2 二级 internal, 3 三级 public."},
        "sensitivity_label": {"type": "string"},
        "phone": {"type": "string", "description": "Masked unless the user's clearance allows."},
        "updated_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string", "description": "This archive in the API."},
    }
    return {
        "Error": {"type": "object", "required": ["error", "status"], "properties": {
            "error": {"type": "string", "description": "User-facing message (Chinese by default; "
                                                       "`?lang=en` for English)."},
            "status": {"type": "integer"}}},
        "ValidationError": {"allOf": [_ref("Error"), {"type": "object", "properties": {
            "fields": {"type": "object", "description": "Field or parameter name → message(s).",
                       "additionalProperties": {"oneOf": [
                           {"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}}}]},
        "Person": {"type": ["object", "null"], "properties": {
            "id": {"type": "integer"}, "username": {"type": "string"}, "name": {"type": "string"}}},
        "ArchiveSummary": {"type": "object", "properties": summary_props},
        "ArchiveList": {"type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
            "items": {"type": "array", "items": _ref("ArchiveSummary")},
            "total": {"type": "integer", "description": "All matching archives, over all pages."},
            "page": {"type": "integer"}, "per_page": {"type": "integer"}}},
        "Archive": {"allOf": [_ref("ArchiveSummary"), {"type": "object", "properties": {
            "profile": {"type": "object", "properties": profile_props,
                        "description": "The fields of the archive's kind."},
            "paper_location": {"type": "string"},
            "workflow": {"type": "object", "properties": {
                "created_at": {"type": "string", "format": "date-time"},
                "created_by": _ref("Person"),
                "submitted_at": {"type": ["string", "null"], "format": "date-time"},
                "reviewed_at": {"type": ["string", "null"], "format": "date-time"},
                "reviewed_by": _ref("Person"),
                "review_note": {"type": "string"},
                "filed_at": {"type": ["string", "null"], "format": "date-time"},
                "filed_by": _ref("Person")}},
            "version": {"type": "integer"},
            "records": {"type": "object", "properties": record_schemas}}}]},
        "ArchiveInput": {
            "type": "object", "required": ["kind", "name", "customer_type_id", "stage", "importance",
                                           "sensitivity"],
            "description": "The fields of the chosen kind (see Archive.profile); validated by the same "
                           "rules as the page's form. department_id defaults to the user's own "
                           "department; unknown fields are refused.",
            "properties": {"kind": {"type": "string", "enum": [ORGANISATION, INDIVIDUAL]}, **profile_props},
            "additionalProperties": False},
        "RegisterEntry": {"type": "object", "properties": {
            "seq": {"type": "integer", "description": "Position in the hash chain."},
            "at": {"type": "string", "format": "date-time"},
            "user": {"type": "string"}, "role": {"type": "string"}, "role_label": {"type": "string"},
            "department": {"type": "string"},
            "action": {"type": "string", "enum": list(actions.LABELS)}, "action_label": {"type": "string"},
            "archive_id": {"type": ["integer", "null"]}, "archive_number": {"type": "string"},
            "detail": {"type": "string"}, "purpose": {"type": "string"}, "client_addr": {"type": "string"},
            "result": {"type": "string", "enum": list(RESULTS)}, "result_label": {"type": "string"},
            "hash": {"type": "string"}, "prev_hash": {"type": "string"}}},
        "RegisterPage": {"type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
            "items": {"type": "array", "items": _ref("RegisterEntry")},
            "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}},
        **_document_schemas(),
        **_search_schemas(),
        **_borrowing_schemas(),
        **_intake_schemas(),
    }


# --- documents 档案材料 -------------------------------------------------------------------------

LEVEL = {"type": "integer", "enum": [1, 2, 3], "description": "1 一级 secret, 2 二级 internal, 3 三级 public."}
MEDIA_TYPES = sorted(filetypes.EXTENSIONS)


def _document_schemas() -> dict:
    when = {"type": "string", "format": "date-time"}
    summary_props = {
        "id": {"type": "integer"},
        "archive": {"type": "object", "properties": {
            "id": {"type": "integer"}, "number": {"type": ["string", "null"]}, "name": {"type": "string"},
            "url": {"type": "string"}}},
        "doc_type": {"type": "string"},
        "title": {"type": "string"},
        "doc_date": {"type": ["string", "null"], "format": "date"},
        "source": {"type": "string", "description": "Source / channel 来源渠道."},
        "sensitivity": LEVEL,
        "sensitivity_label": {"type": "string"},
        "effective_sensitivity": {**LEVEL, "description": "The stricter of the document's and its "
                                                          "archive's level; it decides access."},
        "effective_sensitivity_label": {"type": "string"},
        "purpose_required": {"type": "boolean", "description": "一级: the content needs `purpose`."},
        "stored_name": {"type": "string", "description": "Naming rule 客户名称-档案类型-年份[-n]."},
        "download_name": {"type": ["string", "null"], "description": "File name of the current "
                                                                       "version's download."},
        "current_version": {"type": "integer"},
        "lock_version": {"type": "integer"},
        "filename": {"type": ["string", "null"], "description": "Original file name of the current version."},
        "media_type": {"type": ["string", "null"], "enum": [*MEDIA_TYPES, None]},
        "size": {"type": ["integer", "null"], "description": "Bytes."},
        "page_count": {"type": ["integer", "null"]},
        "text_status": {"type": ["string", "null"], "enum": [*TEXT_STATUSES, None]},
        "created_at": when,
        "created_by": _ref("Person"),
        "updated_at": when,
        "url": {"type": "string", "description": "This document in the API."},
        "content_url": {"type": "string", "description": "Its current file (registered download)."},
    }
    version_props = {
        "number": {"type": "integer"},
        "current": {"type": "boolean"},
        "filename": {"type": "string", "description": "Original file name (cleaned)."},
        "media_type": {"type": "string", "enum": MEDIA_TYPES, "description": "Sniffed from the content."},
        "size": {"type": "integer", "description": "Bytes."},
        "sha256": {"type": "string", "description": "SHA-256 fixity of the file, checked on every read."},
        "sm3": {"type": ["string", "null"], "description": "SM3 (GB/T 32905) fixity."},
        "page_count": {"type": ["integer", "null"]},
        "text_status": {"type": "string", "enum": list(TEXT_STATUSES),
                        "description": "extracted: text read for search; none: no text layer; failed."},
        "text_note": {"type": "string"},
        "has_thumbnail": {"type": "boolean"},
        "uploaded_at": when,
        "uploaded_by": _ref("Person"),
        "note": {"type": "string", "description": "Why the file was replaced."},
        "content_url": {"type": "string", "description": "This version's file (registered download)."},
    }
    return {
        "DocumentSummary": {"type": "object", "properties": summary_props},
        "DocumentVersion": {"type": "object", "properties": version_props},
        "DocumentEvent": {"type": "object", "properties": {
            "at": when, "user": {"type": "string"},
            "action": {"type": "string", "enum": ["upload", "replace", "edit"]},
            "version": {"type": ["integer", "null"]},
            "changes": {"type": "array", "items": {"type": "object", "properties": {
                "field": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}}}},
            "note": {"type": "string"}}},
        "Document": {"allOf": [_ref("DocumentSummary"), {"type": "object", "properties": {
            "notes": {"type": "string"},
            "versions": {"type": "array", "items": _ref("DocumentVersion")},
            "history": {"type": "array", "items": _ref("DocumentEvent"),
                        "description": "Uploads, replacements and detail changes, newest first."}}}]},
        "DocumentList": {"type": "object", "required": ["items", "total", "hidden_count"], "properties": {
            "archive": {"type": "object", "properties": {
                "id": {"type": "integer"}, "number": {"type": ["string", "null"]},
                "name": {"type": "string"}, "url": {"type": "string"}}},
            "items": {"type": "array", "items": _ref("DocumentSummary")},
            "total": {"type": "integer"},
            "hidden_count": {"type": "integer", "description": "Documents of this archive above the "
                                                                "user's clearance (not listed)."}}},
        "DocumentUploadInput": {
            "type": "object", "required": ["file", "doc_type"],
            "properties": {
                "file": {"type": "array", "items": {"type": "string", "contentMediaType":
                                                    "application/octet-stream"},
                         "description": "One file, or several `file` parts (each stored on its own). "
                                        "Accepted: PDF, JPEG, PNG, TIFF, DOCX, XLSX, recognised by "
                                        "content, not by the extension."},
                "doc_type": {"type": "string", "description": "One of the configured document types."},
                "title": {"type": "string", "maxLength": 200,
                          "description": "Defaults to the file name without its extension."},
                "doc_date": {"type": "string", "format": "date", "description": "YYYY-MM-DD, not in the "
                                                                                 "future."},
                "sensitivity": {**LEVEL, "description": "Defaults to the archive's level (or the user's "
                                                        "clearance if stricter); never a level the user "
                                                        "could not open."},
                "source": {"type": "string", "maxLength": 100},
                "notes": {"type": "string", "maxLength": 4000},
            },
            "additionalProperties": False},
        "DocumentUploadResults": {"type": "object", "required": ["items", "created", "failed"], "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "filename": {"type": "string"},
                "status": {"type": "integer", "description": "201 stored; 409 duplicate; 413 too large; "
                                                             "422 unacceptable file; 503 store down."},
                "document": _ref("DocumentSummary"),
                "error": {"type": "string"},
                "existing_document_id": {"type": "integer"}}}},
            "created": {"type": "integer"}, "failed": {"type": "integer"}}},
        "DocumentError": {"allOf": [_ref("ValidationError"), {"type": "object", "properties": {
            "field": {"type": "string", "description": "The field at fault (422)."},
            "existing_document_id": {"type": "integer", "description": "409: the document that already "
                                                                       "holds this file."},
            "existing_document_url": {"type": "string"}}}]},
    }


def _document_paths() -> dict:
    archive_id = {"name": "archive_id", "in": "path", "required": True, "schema": {"type": "integer"},
                  "description": "The archive's database id."}
    doc_id = {"name": "doc_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    not_found = {"404": _error("No such archive or document.")}
    types = document_types()
    return {
        "/archives/{archive_id}/documents": {
            "get": {
                "operationId": "listDocuments",
                "summary": "The archive's documents the user may see",
                "description": "Opening the list is registered as an archive view (a refusal as "
                               "access_denied, 403). Documents above the user's clearance are not "
                               "listed, only counted in `hidden_count`.",
                "parameters": [archive_id, _query("purpose", {"type": "string", "maxLength": 300},
                                                  "Purpose of the consultation, kept in the register.")],
                "responses": {
                    "200": {"description": "The documents, newest document date first.",
                            "content": {"application/json": {"schema": _ref("DocumentList")}}},
                    **ERRORS, **not_found},
            },
            "post": {
                "operationId": "uploadDocuments",
                "summary": "Upload one or several files as new documents",
                "description": "Same rules as the upload page: who may add material, the document's "
                               "level, the type sniffed from the content, the size limit, duplicates "
                               "(the same file already in the archive). Every upload and every refused "
                               "one is registered (document_upload). Document types: "
                               + "、".join(types) + ".",
                "parameters": [archive_id],
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": _ref("DocumentUploadInput"),
                    "encoding": {"file": {"contentType": "application/octet-stream"}}}}},
                "responses": {
                    "201": {"description": "One file: the new document. Several files: all were stored "
                                           "(DocumentUploadResults).",
                            "headers": {"Location": {"schema": {"type": "string"},
                                                     "description": "The new document (one file)."}},
                            "content": {"application/json": {"schema": {"oneOf": [
                                _ref("Document"), _ref("DocumentUploadResults")]}}}},
                    "207": {"description": "Several files, not all stored: each file's own status.",
                            "content": {"application/json": {"schema": _ref("DocumentUploadResults")}}},
                    **ERRORS, **not_found,
                    "409": _error("The same file is already in this archive (`existing_document_id`).",
                                  "DocumentError"),
                    "413": _error("The file is above the per-file limit, or the request above the "
                                  "portal's request limit; nothing was stored."),
                    "422": _error("Unacceptable file (not an accepted type, empty, damaged, encrypted, "
                                  "a decompression bomb …) or an invalid field (`field`).",
                                  "DocumentError"),
                    "503": _error("The document store is not reachable; nothing was stored."),
                },
            },
        },
        "/documents/{doc_id}": {
            "get": {
                "operationId": "getDocument",
                "summary": "A document's details, versions and history (never its contents)",
                "description": "Refusals (department, clearance, the system administrator) are "
                               "registered as access_denied and answered 403.",
                "parameters": [doc_id],
                "responses": {
                    "200": {"description": "The document.",
                            "content": {"application/json": {"schema": _ref("Document")}}},
                    **ERRORS, **not_found},
            },
        },
        "/documents/{doc_id}/content": {
            "get": {
                "operationId": "getDocumentContent",
                "summary": "Download a version's file",
                "description": "Registered as document_download (detail marked [api], with the purpose). "
                               "一级 (secret) documents need `purpose` (428 without). Downloads of "
                               "confidential PDFs and images carry a visible watermark with the user's "
                               "name and the time; level 3 files are delivered byte for byte, checked "
                               "against their SHA-256 and SM3 fixity.",
                "parameters": [
                    doc_id,
                    _query("version", {"type": "integer", "minimum": 1}, "Version number; default the "
                                                                         "current version."),
                    _query("purpose", {"type": "string", "maxLength": 300},
                           "Purpose of the download, kept in the register (required for 一级)."),
                ],
                "responses": {
                    "200": {"description": "The file, as an attachment (Content-Disposition with an "
                                           "RFC 5987 `filename*`).",
                            "headers": {"Content-Disposition": {"schema": {"type": "string"}},
                                        "X-Document-Version": {"schema": {"type": "integer"}}},
                            "content": {media: {"schema": {"type": "string", "contentMediaType": media}}
                                        for media in MEDIA_TYPES}},
                    **ERRORS, **not_found,
                    "428": _error("一级 document: repeat with `purpose`."),
                    "503": _error("The document store is not reachable."),
                },
            },
        },
    }


# --- search 全文检索 (issue 6) ------------------------------------------------------------------

def _search_schemas() -> dict:
    return {
        "SearchHit": {"type": "object", "properties": {
            "kind": {"type": "string", "enum": ["archive", "document"]},
            "id": {"type": "integer", "description": "The archive's or the document's id."},
            "title": {"type": "string", "description": "Archive name or document title."},
            "url": {"type": "string", "description": "The hit in the API (opening it is a registered view)."},
            "web_url": {"type": "string", "description": "The hit's page in the portal."},
            "archive": {"type": "object", "properties": {
                "id": {"type": "integer"}, "number": {"type": ["string", "null"]},
                "name": {"type": "string"}, "url": {"type": "string"}}},
            "document": {"type": ["object", "null"], "properties": {
                "id": {"type": "integer"}, "title": {"type": "string"}, "doc_type": {"type": "string"},
                "doc_date": {"type": ["string", "null"], "format": "date"}}},
            "snippet": {"type": "string", "description": "Plain text around the first matches, cut "
                                                        "from the text of record."},
            "highlights": {"type": "array", "items": {"type": "array", "items": {"type": "integer"},
                                                      "minItems": 2, "maxItems": 2},
                           "description": "[start, end) offsets of the matched words in `snippet`, "
                                          "counted in Unicode code points."},
            "day": {"type": ["string", "null"], "format": "date",
                    "description": "Document date, or the day an archive was filed (created, drafts)."},
            "score": {"type": "number", "description": "Relevance (only for ordering)."}}},
        "SearchResults": {"type": "object", "required": ["query", "total", "total_exact", "hits"], "properties": {
            "query": {"type": "string"},
            "filters": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "The filters in force."},
            "sort": {"type": "string", "enum": ["relevance", "date"]},
            "page": {"type": "integer"}, "per_page": {"type": "integer"}, "pages": {"type": "integer"},
            "total": {"type": "integer", "description": "Hits the user may open, over all pages."},
            "total_exact": {"type": "boolean", "description": "False: `total` is an estimate (shown as "
                                                             "约 N); pages up to `pages` are exact."},
            "hits": {"type": "array", "items": _ref("SearchHit")}}},
    }


def _search_paths() -> dict:
    return {"/search": {"get": {
        "operationId": "search",
        "summary": "Full-text search over the archives and documents the user may open",
        "description": "The search page's semantics: words separated by spaces must all occur; "
                       "\"quoted phrases\"; AND, OR, NOT in capitals and brackets. Simplified and "
                       "Traditional characters, full- and half-width forms match each other; archive "
                       "and contract numbers match whole or in parts. Hits, counts and snippets "
                       "only ever include what the user may open. Every search is registered "
                       "(action `search`: query, filters, number of hits). The system administrator "
                       "is refused (403, registered).",
        "parameters": [
            _query("q", {"type": "string", "maxLength": 500}, "The query (required)."),
            _query("kind", {"type": "string", "enum": ["archive", "document"]}),
            _query("customer_type", {"type": "integer", "minimum": 1}),
            _query("stage", {"type": "string", "enum": list(STAGES)}),
            _query("region", {"type": "string"}, "Exact market / region of the archive."),
            _query("department", {"type": "integer", "minimum": 1}),
            _query("doc_type", {"type": "string"}, "A document type (only documents then)."),
            _query("date_from", {"type": "string", "format": "date"}, "First day, inclusive."),
            _query("date_to", {"type": "string", "format": "date"}, "Last day, inclusive."),
            _query("sensitivity", LEVEL),
            _query("sort", {"type": "string", "enum": ["relevance", "date"], "default": "relevance"}),
            _query("page", {"type": "integer", "minimum": 1, "maximum": 50, "default": 1}),
            _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
        ],
        "responses": {
            "200": {"description": "One page of hits and the total.",
                    "content": {"application/json": {"schema": _ref("SearchResults")}}},
            **ERRORS,
            "422": _error("The query is empty or malformed (unbalanced quotation mark or bracket, "
                          "NOT alone …); `error` says why."),
            "503": _error("The search index is being rebuilt; try again later."),
        }}}}


def _borrowing_schemas() -> dict:
    from portal.api.borrowings import openapi_schemas  # (imports views: not at module level)

    return openapi_schemas()


def _borrowing_paths() -> dict:
    from portal.api.borrowings import openapi_paths

    return openapi_paths(ERRORS, _error)


def _workflow_request_paths() -> dict:
    """Query requests and change requests (issue 5): described beside their routes."""
    from portal.api.workflow_requests_openapi import openapi_paths

    return openapi_paths(ERRORS, _error)


def _intake_schemas() -> dict:
    from portal.api.intake import openapi_schemas

    return openapi_schemas()


def _intake_paths() -> dict:
    """Scan intake (issue 4): described beside its routes."""
    from portal.api.intake import openapi_paths

    return openapi_paths(ERRORS, _error)


def document(server_url: str = "") -> dict:
    """The OpenAPI document (a fresh dict: labels follow the request's language)."""
    ok_json = {"application/json": {}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Customer Archive Portal API 客户档案管理门户",
            "version": "1",
            "description": ("Bearer-token access to customer archives, their documents and the access "
                            "register. The API applies exactly the permissions, masking 脱敏 and register logging of the "
                            "pages. Tokens: `portal token create USERNAME`. Times are RFC 3339 in Beijing "
                            "time. Error messages are Chinese unless `?lang=en`."),
        },
        "servers": [{"url": f"{server_url}/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API token from `portal token create`."}},
            "schemas": _schemas(),
        },
        "paths": {
            "/archives": {
                "get": {
                    "operationId": "listArchives",
                    "summary": "Archives the user may see, filtered, sorted and paginated",
                    "description": "Same scope as the archive list page: staff their department "
                                   "(and archives they are responsible for), heads their department, "
                                   "archivist, supervisor and management all, always bounded by "
                                   "clearance; the system administrator none.",
                    "parameters": _archive_list_parameters(),
                    "responses": {
                        "200": {"description": "One page and the total.",
                                "content": {"application/json": {"schema": _ref("ArchiveList")}}},
                        **ERRORS},
                },
                "post": {
                    "operationId": "createArchive",
                    "summary": "Create a draft archive",
                    "description": "Staff and department heads only. Registered as archive_create.",
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": _ref("ArchiveInput")}}},
                    "responses": {
                        "201": {"description": "The draft, as its author sees it.",
                                "headers": {"Location": {"schema": {"type": "string"},
                                                         "description": "The new archive in the API."}},
                                "content": {"application/json": {"schema": _ref("Archive")}}},
                        **ERRORS,
                        "413": _error("The body is larger than the portal accepts."),
                        "422": _error("Invalid fields (see `fields`).", "ValidationError"),
                    },
                },
            },
            "/archives/{ident}": {
                "get": {
                    "operationId": "getArchive",
                    "summary": "One archive with its profile and sub-records",
                    "description": "Opening is registered (archive_view); a refusal is registered as "
                                   "access_denied and answered 403. Personal fields are masked exactly "
                                   "as on the archive page.",
                    "parameters": [
                        {"name": "ident", "in": "path", "required": True, "schema": {"type": "string"},
                         "description": "Database id or archive number (e.g. 海外-2026-电商-001, "
                                        "URL-encoded)."},
                        _query("purpose", {"type": "string", "maxLength": 300},
                               "Purpose of the consultation, kept in the register."),
                    ],
                    "responses": {
                        "200": {"description": "The archive.",
                                "content": {"application/json": {"schema": _ref("Archive")}}},
                        **ERRORS,
                        "404": _error("No such archive."),
                    },
                },
            },
            **_document_paths(),
            **_workflow_request_paths(),
            **_borrowing_paths(),
            **_intake_paths(),
            **_search_paths(),
            "/register": {
                "get": {
                    "operationId": "listRegister",
                    "summary": "Access register entries, newest first",
                    "description": "Archivist and quality supervisor only (others: 403, registered). "
                                   "Reading is itself registered (register_view).",
                    "parameters": _register_parameters(),
                    "responses": {
                        "200": {"description": "One page and the total.",
                                "content": {"application/json": {"schema": _ref("RegisterPage")}}},
                        **ERRORS},
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1 document.", "content": ok_json}},
                },
            },
        },
    }
