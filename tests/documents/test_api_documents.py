"""Documents through the API: the same checks, refusals and register entries as the pages, on both stores."""
from __future__ import annotations

import io
from urllib.parse import quote

import doc_samples as samples
import pytest
import sqlalchemy as sa

from portal.actor import Actor
from portal.auth import services as auth_services
from portal.documents import services
from portal.documents.models import Document
from portal.extensions import db
from portal.storage import StoreUnavailable, make_store, store


@pytest.fixture
def api(app, user):
    """``api("staff_sales").get(path)`` → the test client with a bearer token of that demo user."""

    class _Api:
        def __init__(self, username: str):
            token = auth_services.create_token(None, user(username), name="test")
            self.client = app.test_client()
            self.headers = {"Authorization": f"Bearer {token}"}

        def get(self, path, **kwargs):
            return self.client.get(path, headers=self.headers, **kwargs)

        def upload(self, archive, *files, **fields):
            """POST the files (``(bytes, filename)`` pairs) with the form fields, as multipart."""
            fields.setdefault("doc_type", "合同")
            data = {**fields, "file": [(io.BytesIO(content), name) for content, name in files]}
            return self.client.post(f"/api/v1/archives/{archive.id}/documents?lang=en",
                                    data=data, headers=self.headers, content_type="multipart/form-data")

    return _Api


@pytest.fixture
def sales(make_archive):
    """A filed 二级 archive of 销售部 (responsible staff_sales)."""
    return make_archive("staff_sales", status="filed", name="上海星河贸易有限公司", sensitivity=2)


def _documents(archive) -> list[Document]:
    db.session.commit()  # a fresh snapshot: the request committed in its own transactions
    return list(db.session.scalars(sa.select(Document).where(Document.archive_id == archive.id)))


def _denials(register_entries, username: str) -> int:
    return len(register_entries(action="access_denied", username=username, result="denied"))


def test_upload_answers_201_with_the_document(api, sales, register_entries, store_kind):
    data = samples.pdf(["销售合同 第一条 合作范围", "Contract HT-2026-0042"])
    response = api("staff_sales").upload(sales, (data, "合同扫描件.pdf"), title="2026年销售合同",
                                          doc_date="2026-01-15", sensitivity="2", source="邮寄", notes="原件在柜")
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/documents/{body['id']}")
    assert body["title"] == "2026年销售合同" and body["doc_type"] == "合同"
    assert body["doc_date"] == "2026-01-15" and body["sensitivity"] == 2 and body["source"] == "邮寄"
    assert body["notes"] == "原件在柜" and body["stored_name"] == "上海星河贸易有限公司-合同-2026"
    assert body["filename"] == "合同扫描件.pdf" and body["media_type"] == "application/pdf"
    assert body["text_status"] == "extracted" and body["page_count"] == 1
    assert body["created_by"]["username"] == "staff_sales"
    [version] = body["versions"]
    assert version["size"] == len(data) and len(version["sha256"]) == 64 and version["number"] == 1
    assert [event["action"] for event in body["history"]] == ["upload"]
    [entry] = register_entries(action="document_upload")
    assert entry.document_id == body["id"] and entry.username == "staff_sales" and entry.result == "ok"
    assert [d.id for d in _documents(sales)] == [body["id"]]


def test_list_shows_what_the_user_may_see_and_counts_the_rest(api, sales, upload, register_entries):
    first = upload("staff_sales", sales, samples.pdf(["第一份"]), "a.pdf", title="第一份")
    second = upload("staff_sales", sales, samples.image("PNG"), "scan.png", doc_type="往来函件", title="第二份")
    secret = upload("archivist", sales, samples.pdf(["机密附件"]), "s.pdf", title="机密附件", sensitivity=1)

    response = api("staff_sales").get(f"/api/v1/archives/{sales.id}/documents?purpose=核对")
    assert response.status_code == 200
    body = response.json
    assert {item["id"] for item in body["items"]} == {first.id, second.id}
    assert body["total"] == 2 and body["hidden_count"] == 1 and body["archive"]["id"] == sales.id
    assert "机密附件" not in response.get_data(as_text=True)
    png = next(item for item in body["items"] if item["id"] == second.id)
    assert png["media_type"] == "image/png" and png["text_status"] == "none"
    assert png["url"] == f"/api/v1/documents/{second.id}"
    view = register_entries(action="archive_view", username="staff_sales")[-1]
    assert view.archive_id == sales.id and view.purpose == "核对" and view.detail == "api"

    everything = api("archivist").get(f"/api/v1/archives/{sales.id}/documents").json
    assert {item["id"] for item in everything["items"]} == {first.id, second.id, secret.id}
    assert everything["hidden_count"] == 0


def test_metadata_lists_versions_and_history_but_no_contents(api, sales, upload, user):
    old = samples.pdf(["第一版 合同"])
    document = upload("staff_sales", sales, old, "v1.pdf", title="合同")
    services.replace_file(Actor(user("staff_sales"), "127.0.0.1"), document.id, io.BytesIO(samples.pdf(["第二版"])),
                          "v2.pdf", note="签字版")
    services.update_details(Actor(user("staff_sales"), "127.0.0.1"), document.id,
                            services.Details(doc_type="合同", title="合同（签字版）", sensitivity=2),
                            lock_version=db.session.get(Document, document.id).lock_version)

    response = api("head_sales").get(f"/api/v1/documents/{document.id}")
    assert response.status_code == 200
    body = response.json
    assert body["current_version"] == 2 and body["title"] == "合同（签字版）"
    assert [v["number"] for v in body["versions"]] == [1, 2]
    v1, v2 = body["versions"]
    assert v1["filename"] == "v1.pdf" and v1["size"] == len(old) and not v1["current"]
    assert v2["note"] == "签字版" and v2["current"] and v2["uploaded_by"]["username"] == "staff_sales"
    for version in body["versions"]:
        assert {"sha256", "sm3", "page_count", "media_type", "text_status", "uploaded_at"} <= set(version)
        assert version["text_status"] == "extracted" and version["page_count"] == 1
        assert "text" not in version and "thumbnail" not in version
    assert v1["content_url"] == f"/api/v1/documents/{document.id}/content?version=1"
    assert [e["action"] for e in body["history"]] == ["edit", "replace", "upload"]
    assert {"field": "title", "old": "合同", "new": "合同（签字版）"} in body["history"][0]["changes"]
    text = response.get_data(as_text=True)
    assert "第一版" not in text and "第二版" not in text  # the extracted text is never sent


def test_public_content_is_byte_identical_and_registered(api, make_archive, upload, register_entries):
    public = make_archive("staff_sales", status="filed", name="公开客户", sensitivity=3)
    first = samples.pdf(["公开资料 第一版"])
    document = upload("staff_sales", public, first, "资料.pdf", title="公开资料", sensitivity=3)
    second = samples.image("JPEG")
    services.replace_file(Actor(document.created_by, "127.0.0.1"), document.id, io.BytesIO(second), "scan.jpg")
    client = api("staff_marketing")  # clearance 3, but the archive belongs to 销售部
    assert client.get(f"/api/v1/documents/{document.id}/content").status_code == 403

    response = api("staff_sales").get(f"/api/v1/documents/{document.id}/content")
    assert response.status_code == 200
    assert response.data == second and response.mimetype == "image/jpeg"
    assert response.headers["Content-Length"] == str(len(second))
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" + quote("公开客户-合同-", safe="") in disposition
    assert f'filename="document-{document.id}.jpg"' in disposition
    assert response.headers["Cache-Control"] == "no-store"

    old = api("staff_sales").get(f"/api/v1/documents/{document.id}/content?version=1&purpose=对账")
    assert old.status_code == 200 and old.data == first and old.mimetype == "application/pdf"
    assert '-v1.pdf"' in old.headers["Content-Disposition"]
    downloads = register_entries(action="document_download", document_id=document.id)
    assert len(downloads) == 2
    assert all("[api]" in e.detail and "[watermarked]" not in e.detail for e in downloads)
    assert " v2 " in downloads[0].detail and " v1 " in downloads[1].detail
    assert downloads[1].purpose == "对账" and downloads[1].username == "staff_sales"

    assert api("staff_sales").get(f"/api/v1/documents/{document.id}/content?version=7").status_code == 404
    bad = api("staff_sales").get(f"/api/v1/documents/{document.id}/content?version=x")
    assert bad.status_code == 400 and "version" in bad.json["fields"]


def test_internal_content_is_watermarked(api, sales, upload, register_entries):
    data = samples.pdf(["保密合同 价格条款"])
    document = upload("staff_sales", sales, data, "保密.pdf", title="保密合同")
    response = api("head_sales").get(f"/api/v1/documents/{document.id}/content")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data != data and response.headers["Content-Length"] == str(len(response.data))
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "head_sales" in text and "保密合同" in text
    [entry] = register_entries(action="document_download", document_id=document.id)
    assert "[watermarked]" in entry.detail and "[api]" in entry.detail and entry.username == "head_sales"


def test_secret_content_needs_a_purpose_which_is_registered(api, sales, upload, register_entries):
    data = samples.pdf(["一级 机密 协议"])
    document = upload("archivist", sales, data, "机密.pdf", title="机密协议", sensitivity=1)
    archivist = api("archivist")
    assert archivist.get(f"/api/v1/documents/{document.id}").json["purpose_required"] is True

    refused = archivist.get(f"/api/v1/documents/{document.id}/content?lang=en")
    assert refused.status_code == 428 and refused.is_json
    assert "purpose" in refused.json["error"] and refused.json["status"] == 428
    assert not register_entries(action="document_download")

    response = archivist.get(f"/api/v1/documents/{document.id}/content?purpose=" + quote("合同纠纷核查"))
    assert response.status_code == 200 and response.data[:5] == b"%PDF-" and response.data != data
    [entry] = register_entries(action="document_download", document_id=document.id)
    assert entry.purpose == "合同纠纷核查" and "[api]" in entry.detail and "[watermarked]" in entry.detail


@pytest.mark.parametrize("username, why", [
    ("staff_marketing", "other department"),
    ("head_marketing", "other department"),
    ("staff_sales", "lower clearance"),
    ("admin", "system administrator"),
])
def test_refused_tokens_get_403_and_a_register_entry(api, sales, upload, register_entries, username, why):
    document = upload("archivist", sales, samples.pdf(["机密"]), "s.pdf", title="机密", sensitivity=1)
    client = api(username)
    attempts = [
        lambda: client.get(f"/api/v1/documents/{document.id}"),
        lambda: client.get(f"/api/v1/documents/{document.id}/content?purpose=" + quote("查看")),
    ]
    if why != "lower clearance":  # staff_sales may see the archive and add to it, not this document
        attempts += [
            lambda: client.get(f"/api/v1/archives/{sales.id}/documents"),
            lambda: client.upload(sales, (samples.pdf(["新文件"]), "new.pdf")),
        ]
    for attempt in attempts:
        before = _denials(register_entries, username)
        response = attempt()
        assert response.status_code == 403 and response.is_json, (why, response.status_code)
        assert response.json["error"]
        assert _denials(register_entries, username) == before + 1, why
    assert not register_entries(action="document_download")
    assert [d.id for d in _documents(sales)] == [document.id]  # nothing was added


def test_no_token_gets_401(app, sales, upload):
    document = upload("staff_sales", sales, samples.pdf(), "a.pdf")
    client = app.test_client()
    for method, path in [("GET", f"/api/v1/archives/{sales.id}/documents"),
                         ("POST", f"/api/v1/archives/{sales.id}/documents"),
                         ("GET", f"/api/v1/documents/{document.id}"),
                         ("GET", f"/api/v1/documents/{document.id}/content")]:
        response = client.open(path, method=method)
        assert response.status_code == 401 and response.is_json, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_file_above_the_document_limit_gets_413(app, api, sales, register_entries):
    app.config["DOCUMENT_MAX_BYTES"] = 5_000
    data = samples.pdf([samples.seed_text()] * 3, pages=8)
    assert len(data) > 5_000
    response = api("staff_sales").upload(sales, (data, "大文件.pdf"))
    assert response.status_code == 413 and response.is_json
    assert "大文件.pdf" in response.json["error"] and "limit" in response.json["error"]
    assert not _documents(sales)
    [failed] = register_entries(action="document_upload")
    assert failed.result == "failed" and "大文件.pdf" in failed.detail


def test_request_above_the_request_limit_gets_413_json(app, api, sales):
    app.config["MAX_CONTENT_LENGTH"] = 4_000
    response = api("staff_sales").upload(sales, (samples.pdf(["x"] * 50, pages=3), "a.pdf"))
    assert response.status_code == 413
    assert response.is_json and response.json["status"] == 413
    assert "larger than the portal accepts" in response.json["error"]  # werkzeug's refusal, as JSON
    assert not _documents(sales)


def test_duplicate_gets_409_with_the_existing_document(api, sales, upload, register_entries):
    data = samples.pdf(["同一份合同"])
    existing = upload("staff_sales", sales, data, "first.pdf", title="原件")
    response = api("head_sales").upload(sales, (data, "again.pdf"), title="重复")
    assert response.status_code == 409 and response.is_json
    assert response.json["existing_document_id"] == existing.id
    assert response.json["existing_document_url"] == f"/api/v1/documents/{existing.id}"
    assert "again.pdf" in response.json["error"] and "原件" in response.json["error"]
    assert [d.id for d in _documents(sales)] == [existing.id]
    assert register_entries(action="document_upload", username="head_sales")[-1].result == "failed"


@pytest.mark.parametrize("content, filename, words", [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500 + b"This program cannot be run in DOS mode",
     "invoice.pdf", "not an accepted kind of file"),
    ("这只是一段文字，不是 PDF。\n".encode() * 20, "合同.pdf", "not an accepted kind of file"),
    (b"", "empty.pdf", "empty"),
])
def test_unacceptable_files_get_422_with_a_clear_message(api, sales, register_entries, content, filename, words):
    response = api("staff_sales").upload(sales, (content, filename))
    assert response.status_code == 422 and response.is_json
    assert filename in response.json["error"] and words in response.json["error"]
    assert not _documents(sales)
    assert register_entries(action="document_upload")[-1].result == "failed"


@pytest.mark.parametrize("fields, field", [
    ({"doc_type": "不存在的类型"}, "doc_type"),
    ({"doc_date": "2026/01/15"}, "doc_date"),
    ({"doc_date": "2999-01-01"}, "doc_date"),
    ({"sensitivity": "5"}, "sensitivity"),
    ({"sensitivity": "1"}, "sensitivity"),  # staff_sales (clearance 2) cannot make a 一级 document
    ({"title": "x" * 201}, "title"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_fields_get_422_naming_the_field(api, sales, fields, field):
    response = api("staff_sales").upload(sales, (samples.pdf(), "a.pdf"), **fields)
    assert response.status_code == 422, response.json
    assert response.json["field"] == field and response.json["fields"][field] == [response.json["error"]]
    assert not _documents(sales)


def test_missing_file_gets_422(api, sales):
    client = api("staff_sales")
    response = client.client.post(f"/api/v1/archives/{sales.id}/documents", data={"doc_type": "合同"},
                                  headers=client.headers, content_type="multipart/form-data")
    assert response.status_code == 422 and response.json["field"] == "file"
    as_text = client.client.post(f"/api/v1/archives/{sales.id}/documents",
                                 data={"doc_type": "合同", "file": "not a file"},
                                 headers=client.headers, content_type="multipart/form-data")
    assert as_text.status_code == 422 and as_text.json["field"] == "file"


def test_several_files_are_answered_file_by_file(api, sales, upload):
    old = samples.pdf(["已有"])
    existing = upload("staff_sales", sales, old, "old.pdf")
    client = api("staff_sales")
    both = client.upload(sales, (samples.pdf(["甲"]), "甲.pdf"), (samples.image("PNG"), "乙.png"), title="批量")
    assert both.status_code == 201
    assert [(i["filename"], i["status"]) for i in both.json["items"]] == [("甲.pdf", 201), ("乙.png", 201)]
    assert both.json["created"] == 2 and both.json["failed"] == 0

    mixed = client.upload(sales, (samples.pdf(["丙"]), "丙.pdf"), (old, "again.pdf"),
                          (b"plain text", "fake.pdf"))
    assert mixed.status_code == 207
    stored, duplicate, wrong = mixed.json["items"]
    assert stored["status"] == 201 and stored["document"]["filename"] == "丙.pdf"
    assert duplicate["status"] == 409 and duplicate["existing_document_id"] == existing.id
    assert wrong["status"] == 422 and "fake.pdf" in wrong["error"]
    assert mixed.json["created"] == 1 and mixed.json["failed"] == 2
    assert len(_documents(sales)) == 4


@pytest.fixture
def store_down(app, store_kind, s3_config, monkeypatch):
    """``down()`` takes the app's store away: on S3 a moto server of this test's own is stopped
    (the session's server stays up for the other tests); locally put/get raise StoreUnavailable."""
    if store_kind == "local":
        def down():
            def unavailable(*_args, **_kwargs):
                raise StoreUnavailable(detail="test: disk gone")
            monkeypatch.setattr(store(), "put", unavailable)
            monkeypatch.setattr(store(), "get", unavailable)
        yield down
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    running = [True]
    own = make_store(s3_config(server), app.instance_path)
    monkeypatch.setitem(app.extensions, "portal_store", own)

    def down():
        server.stop()
        running[0] = False

    yield down
    if running[0]:
        server.stop()


def test_store_down_gets_503_and_no_document(api, sales, upload, store_down, register_entries):
    stored = upload("staff_sales", sales, samples.pdf(["存储正常时上传"]), "ok.pdf")
    store_down()
    client = api("staff_sales")
    response = client.upload(sales, (samples.pdf(["存储故障时上传"]), "lost.pdf"))
    assert response.status_code == 503 and response.is_json and response.json["error"]
    assert [d.id for d in _documents(sales)] == [stored.id]
    assert register_entries(action="document_upload")[-1].result == "failed"

    download = client.get(f"/api/v1/documents/{stored.id}/content")
    assert download.status_code == 503 and download.is_json
    assert not register_entries(action="document_download")
