"""Viewing documents in the web UI, on both stores: the viewer page and its inline content, the
purpose asked for 一级 material, downloads (watermarked when confidential), prints, thumbnails,
refusals, and the store failing or a stored file altered or gone."""
from __future__ import annotations

import http.client
import io
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import doc_samples as samples
import pytest
from pypdf import PdfReader
from werkzeug.serving import make_server

from portal.actor import Actor
from portal.documents import services
from portal.documents.views_view import issue_ticket
from portal.storage import StoreUnavailable, store

CONTRACT_LINES = ["销售合同 第一条 合作范围", "Contract HT-2026-0042"]


# --- helpers ----------------------------------------------------------------------------------

@pytest.fixture
def sales_archive(make_archive):
    """A filed 二级 archive of 销售部 (responsible: staff_sales)."""
    return make_archive("staff_sales", status="filed", name="上海星河贸易有限公司")


@pytest.fixture
def contract(upload, sales_archive):
    data = samples.pdf(CONTRACT_LINES)
    document = upload("staff_sales", sales_archive, data, "合同扫描件.pdf", doc_type="合同", title="2026年销售合同")
    return document, data


@pytest.fixture
def secret_contract(upload, sales_archive):
    """A 一级 document in the 二级 archive (only the archivist and the manager may open it)."""
    data = samples.pdf(["绝密 合作底价", "Secret price list"])
    document = upload("archivist", sales_archive, data, "底价.pdf", doc_type="合同", title="合作底价",
                      sensitivity=1)
    return document, data


def inline_url(page_html: str) -> str:
    match = re.search(r'src="(/documents/\d+/inline/[^"?]+)', page_html)
    assert match, "the viewer page embeds no inline content"
    return match.group(1).replace("&amp;", "&")


def pdf_text(data: bytes) -> str:
    return PdfReader(io.BytesIO(data)).pages[0].extract_text()


def entries(register_entries, action, document, **more):
    return register_entries(action=action, document_id=document.id, **more)


def rendered(app, message) -> str:
    """A message as the (Chinese by default) page shows it."""
    with app.test_request_context():
        return str(message)


# --- viewing ----------------------------------------------------------------------------------

def test_viewing_registers_one_entry_and_the_content_comes_through_the_portal(
        app, login, contract, register_entries):
    document, data = contract
    client = login("staff_sales")
    page = client.get(f"/documents/{document.id}/view")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2026年销售合同" in html and "上海星河贸易有限公司-合同-2026" in html
    assert "<iframe" in html and "销售合同 第一条 合作范围" in html  # PDF in a frame, its text beside it
    assert 'style="' not in html and "<script>" not in html  # CSP: nothing inline
    views = entries(register_entries, "document_view", document)
    assert len(views) == 1 and views[0].username == "staff_sales" and "v1" in views[0].detail

    content = client.get(inline_url(html))
    assert content.status_code == 200 and content.mimetype == "application/pdf"
    # 二级: what the browser's PDF viewer could save or print is the watermarked copy
    shown = PdfReader(io.BytesIO(content.data)).pages[0].extract_text()
    assert content.data != data and "staff_sales" in shown and "销售合同 第一条" in shown
    assert content.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in content.headers["Content-Security-Policy"]
    assert "no-store" in content.headers["Cache-Control"]
    disposition = content.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and quote("上海星河贸易有限公司-合同-2026.pdf") in disposition
    # the inline content is part of the registered view, not a second one
    assert len(entries(register_entries, "document_view", document)) == 1
    # the page itself may not be framed by anyone; no store address anywhere
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "X-Amz" not in html and "Signature=" not in html


def test_png_is_shown_as_an_image_and_tiff_pages_as_png(app, login, upload, sales_archive):
    from PIL import Image

    png = upload("staff_sales", sales_archive, samples.image("PNG"), "扫描件.png", title="扫描件")
    tiff = upload("staff_sales", sales_archive, samples.tiff_pages(3), "多页.tif", title="多页扫描")
    client = login("staff_sales")
    html = client.get(f"/documents/{png.id}/view").get_data(as_text=True)
    assert '<img class="viewer-image"' in html and "<iframe" not in html
    assert client.get(inline_url(html)).mimetype == "image/png"

    html = client.get(f"/documents/{tiff.id}/view").get_data(as_text=True)
    assert html.count("data-page-src=") == 3  # page selector
    second = client.get(inline_url(html) + "?page=2")
    assert second.status_code == 200 and second.mimetype == "image/png"
    assert Image.open(io.BytesIO(second.data)).size == (300, 420)


def test_office_files_show_their_text_and_say_there_is_no_preview(app, login, upload, sales_archive, user,
                                                                  register_entries):
    data = samples.docx(["往来函件：关于续签合同的说明"])
    document = upload("staff_sales", sales_archive, data, "函件.docx", doc_type="往来函件", title="续签函")
    client = login("staff_sales")
    html = client.get(f"/documents/{document.id}/view").get_data(as_text=True)
    assert "往来函件：关于续签合同的说明" in html
    assert "/inline/" not in html and "<iframe" not in html
    assert f"/documents/{document.id}/download" in html
    # no in-page delivery of an Office file, even with a valid ticket (that would be an unregistered download)
    ticket = issue_ticket(user("staff_sales").id, document.id, 1)
    assert client.get(f"/documents/{document.id}/inline/{ticket}").status_code == 404
    # printing: explained, nothing registered as printed
    page = client.get(f"/documents/{document.id}/print")
    assert page.status_code == 200 and f"/documents/{document.id}/download" in page.get_data(as_text=True)
    assert not entries(register_entries, "document_print", document)
    # a Word file cannot carry a drawn watermark: delivered as stored, and the register says so truthfully
    got = client.get(f"/documents/{document.id}/download")
    assert got.status_code == 200 and got.data == data
    [download] = entries(register_entries, "document_download", document)
    assert "watermarked" not in download.detail


def test_older_versions_stay_viewable(app, login, contract, user, register_entries):
    document, first = contract
    second = samples.pdf(["销售合同 修订版 第一条"])
    services.replace_file(Actor(user("staff_sales"), "127.0.0.1"), document.id, io.BytesIO(second), "修订版.pdf",
                          note="修订")
    client = login("staff_sales")
    html = client.get(f"/documents/{document.id}/view").get_data(as_text=True)
    assert "修订版" in html and 'value="1"' in html and 'value="2"' in html  # the version selector
    assert "修订版" in pdf_text(client.get(inline_url(html)).data)  # (watermarked: 二级)

    html = client.get(f"/documents/{document.id}/view?version=1").get_data(as_text=True)
    assert "合作范围" in pdf_text(client.get(inline_url(html)).data)
    views = entries(register_entries, "document_view", document)
    assert [("v2" in e.detail, "v1" in e.detail) for e in views] == [(True, False), (False, True)]

    old = client.get(f"/documents/{document.id}/download?version=1")
    assert old.status_code == 200
    assert quote("上海星河贸易有限公司-合同-2026-v1.pdf") in old.headers["Content-Disposition"]


# --- 一级: the purpose first --------------------------------------------------------------------

def test_secret_document_asks_the_purpose_before_anything_is_registered(
        app, login, secret_contract, register_entries):
    document, data = secret_contract
    client = login("manager")
    form = client.get(f"/documents/{document.id}/view")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and 'name="purpose"' in html and "/inline/" not in html
    assert 'name="csrf_token"' in html
    assert not entries(register_entries, "document_view", document)

    empty = client.post(f"/documents/{document.id}/view", data={"purpose": "  "})
    assert empty.status_code == 422 and 'name="purpose"' in empty.get_data(as_text=True)
    assert not entries(register_entries, "document_view", document)

    page = client.post(f"/documents/{document.id}/view", data={"purpose": "核对合作底价"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "核对合作底价" in html
    views = entries(register_entries, "document_view", document)
    assert len(views) == 1 and views[0].purpose == "核对合作底价"
    shown = pdf_text(client.get(inline_url(html)).data)
    assert "合作底价" in shown and "manager" in shown  # 一级: shown watermarked

    # downloads and prints ask as well, and record their own purpose
    assert 'name="purpose"' in client.get(f"/documents/{document.id}/download").get_data(as_text=True)
    assert not entries(register_entries, "document_download", document)
    got = client.post(f"/documents/{document.id}/download", data={"purpose": "报送审计"})
    assert got.status_code == 200 and got.data.startswith(b"%PDF")
    assert [e.purpose for e in entries(register_entries, "document_download", document)] == ["报送审计"]
    printed = client.post(f"/documents/{document.id}/print", data={"purpose": "会议材料"})
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    assert [e.purpose for e in entries(register_entries, "document_print", document)] == ["会议材料"]


def test_purpose_form_is_protected_against_cross_site_posts(csrf_app, login, secret_contract, register_entries):
    document, _data = secret_contract
    client = login("archivist")
    assert client.post(f"/documents/{document.id}/view", data={"purpose": "x"}).status_code == 400
    html = client.get(f"/documents/{document.id}/view").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    ok = client.post(f"/documents/{document.id}/view", data={"purpose": "年度检查", "csrf_token": token})
    assert ok.status_code == 200
    assert [e.purpose for e in entries(register_entries, "document_view", document)] == ["年度检查"]


# --- refusals ---------------------------------------------------------------------------------

REFUSED = [("staff_marketing", "contract"), ("head_marketing", "contract"), ("supervisor", "secret_contract"),
           ("staff_sales", "secret_contract")]


@pytest.mark.parametrize(("username", "subject"), REFUSED)
def test_refused_users_get_403_and_a_register_entry_everywhere(
        app, login, user, register_entries, request, username, subject):
    document, _data = request.getfixturevalue(subject)
    client = login(username)
    # a correctly signed ticket of their own: the content check must still refuse
    ticket = issue_ticket(user(username).id, document.id, 1)
    attempts = [("GET", "view"), ("POST", "view"), ("GET", "download"), ("POST", "download"),
                ("GET", "print"), ("POST", "print"), ("GET", f"inline/{ticket}"), ("GET", "thumbnail")]
    for method, what in attempts:
        before = len(entries(register_entries, "access_denied", document, username=username))
        response = client.open(f"/documents/{document.id}/{what}", method=method, data={"purpose": "看看"})
        assert response.status_code == 403, (method, what)
        body = response.get_data()
        assert b"%PDF" not in body and b"\x89PNG" not in body
        denied = entries(register_entries, "access_denied", document, username=username)
        assert len(denied) == before + 1, (method, what)
        assert denied[-1].result == "denied"
    for action in ("document_view", "document_download", "document_print"):
        assert not entries(register_entries, action, document)


def test_inline_content_needs_a_valid_ticket_of_this_user(app, login, contract, user, register_entries,
                                                          monkeypatch):
    import itsdangerous.timed
    from itsdangerous import URLSafeTimedSerializer

    document, _data = contract
    client = login("staff_sales")
    me = user("staff_sales").id
    issued = time.time() - 20 * 60
    with monkeypatch.context() as m:  # issued 20 minutes ago
        m.setattr(itsdangerous.timed.time, "time", lambda: issued)
        expired = issue_ticket(me, document.id, 1)
    forged = URLSafeTimedSerializer("not-the-secret", salt="document-inline").dumps(
        {"u": me, "d": document.id, "v": 1})
    bad = [
        "nonsense",
        forged,
        expired,
        issue_ticket(user("head_sales").id, document.id, 1),  # someone else's
        issue_ticket(me, document.id + 1000, 1),  # another document
    ]
    for ticket in bad:
        response = client.get(f"/documents/{document.id}/inline/{ticket}")
        assert response.status_code == 403, ticket
        assert b"%PDF" not in response.data
    denied = entries(register_entries, "access_denied", document, username="staff_sales")
    assert len(denied) == len(bad)
    assert client.get(f"/documents/{document.id}/inline/{issue_ticket(me, document.id, 1)}").status_code == 200


# --- downloads, prints, thumbnails ------------------------------------------------------------

def test_confidential_pdf_download_is_watermarked_and_public_one_is_identical(
        app, login, contract, upload, make_archive, register_entries):
    from pypdf import PdfReader

    document, data = contract
    client = login("staff_sales")
    got = client.get(f"/documents/{document.id}/download")
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert got.data != data and int(got.headers["Content-Length"]) == len(got.data)
    assert "staff_sales" in PdfReader(io.BytesIO(got.data)).pages[0].extract_text()
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert quote("上海星河贸易有限公司-合同-2026.pdf") in disposition
    assert "no-store" in got.headers["Cache-Control"]
    downloads = entries(register_entries, "document_download", document)
    assert len(downloads) == 1 and "watermarked" in downloads[0].detail

    public_archive = make_archive("staff_sales", status="filed", name="公开资料有限公司", sensitivity=3)
    public = upload("staff_sales", public_archive, data, "公开.pdf", doc_type="方案")
    assert public.effective_sensitivity == 3
    plain = client.get(f"/documents/{public.id}/download")
    assert plain.status_code == 200 and plain.data == data
    assert int(plain.headers["Content-Length"]) == len(data)


def test_confidential_image_download_is_watermarked_at_the_same_size(app, login, upload, sales_archive):
    from PIL import Image

    data = samples.image("PNG", size=(600, 800))
    document = upload("staff_sales", sales_archive, data, "扫描.png", title="扫描件")
    got = login("staff_sales").get(f"/documents/{document.id}/download")
    assert got.status_code == 200 and got.mimetype == "image/png"
    assert got.data != data
    assert Image.open(io.BytesIO(got.data)).size == (600, 800)


def test_print_is_registered_and_watermarked(app, login, contract, upload, sales_archive, register_entries):
    from pypdf import PdfReader

    document, _data = contract
    client = login("staff_sales")
    printed = client.get(f"/documents/{document.id}/print")
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    assert printed.headers["Content-Disposition"].startswith("inline;")
    assert "staff_sales" in PdfReader(io.BytesIO(printed.data)).pages[0].extract_text()
    assert len(entries(register_entries, "document_print", document)) == 1

    image = upload("staff_sales", sales_archive, samples.image("PNG"), "扫描.png", title="扫描件")
    page = client.get(f"/documents/{image.id}/print")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert html.count('src="data:image/png;base64,') == 1 and "data-print" in html
    assert len(entries(register_entries, "document_print", image)) == 1


def test_thumbnail(app, login, contract):
    document, _data = contract
    client = login("staff_sales")
    thumb = client.get(f"/documents/{document.id}/thumbnail")
    assert thumb.status_code == 200 and thumb.mimetype == "image/png" and thumb.data.startswith(b"\x89PNG")
    assert "no-store" in thumb.headers["Cache-Control"] and "private" in thumb.headers["Cache-Control"]
    assert client.get(f"/documents/{document.id}/thumbnail?version=9").status_code == 404


# --- the store failing, stored files altered or gone ------------------------------------------

@pytest.fixture
def store_down(store_kind, request, monkeypatch):
    """``store_down()`` → the store stops answering (S3: the server goes away; local: reads fail)."""
    stopped = []

    def _down():
        if store_kind == "s3":
            server = request.getfixturevalue("s3_server")
            host, port = server.get_host_and_port()
            server.stop()
            server._server.server_close()  # noqa: SLF001 (refuse connections, do not just hang)
            stopped.append((server, port))
        else:
            def unreachable(*_args, **_kwargs):
                raise StoreUnavailable(detail="simulated outage")
            monkeypatch.setattr(store(), "get", unreachable)

    yield _down
    for server, port in stopped:
        server._port = port  # noqa: SLF001 (back on the same address for the other tests)
        server.start()


def test_store_down_before_download_gives_503_and_no_download(app, login, contract, store_down, register_entries):
    document, _data = contract
    client = login("staff_sales")
    store_down()
    for url in (f"/documents/{document.id}/download", f"/documents/{document.id}/view",
                f"/documents/{document.id}/print"):
        response = client.get(url)
        assert response.status_code == 503, url
        html = response.get_data(as_text=True)
        assert rendered(app, StoreUnavailable().message) in html
        assert "%PDF" not in html
    for action in ("document_download", "document_view", "document_print"):
        assert not entries(register_entries, action, document)


def _noise_png(width=1400, height=1400) -> bytes:
    import os

    from PIL import Image
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def large_public_image(upload, make_archive):
    archive = make_archive("staff_sales", status="filed", name="公开图片有限公司", sensitivity=3)
    data = _noise_png()
    assert len(data) > 5 * 1024 * 1024
    return upload("staff_sales", archive, data, "大图.png", doc_type="其他", title="大图"), data


def _dies_after(limit: int, monkeypatch):
    real_get = store().get

    def get(key, version_id, chunk_size=256 * 1024):
        chunks = real_get(key, version_id, chunk_size)

        def stream():
            sent = 0
            for chunk in chunks:
                if sent >= limit:
                    raise StoreUnavailable(detail="connection reset (simulated)")
                sent += len(chunk)
                yield chunk
        return stream()

    monkeypatch.setattr(store(), "get", get)


def test_store_dying_mid_download_breaks_the_download_visibly(app, login, large_public_image, monkeypatch,
                                                             register_entries):
    document, data = large_public_image
    client = login("staff_sales")
    _dies_after(4 * 1024 * 1024, monkeypatch)
    response = client.get(f"/documents/{document.id}/download")
    assert response.status_code == 200  # already sent when the store died …
    assert int(response.headers["Content-Length"]) == len(data)  # … with the full length promised
    with pytest.raises(StoreUnavailable):
        response.get_data()  # the exception reaches the server, which closes the connection
    failed = entries(register_entries, "document_download", document, result="failed")
    assert len(failed) == 1 and "interrupted" in failed[0].detail


def test_a_real_server_closes_the_connection_short_of_content_length(app, login, large_public_image,
                                                                     monkeypatch):
    """What a browser sees: fewer bytes than promised and the connection closed (not a 'complete' file)."""
    document, data = large_public_image
    app.config["PROPAGATE_EXCEPTIONS"] = False
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("POST", "/login", urlencode({"username": "staff_sales", "password": "demo12345"}),
                     {"Content-Type": "application/x-www-form-urlencoded"})
        login_response = conn.getresponse()
        login_response.read()
        cookie = login_response.getheader("Set-Cookie").split(";", 1)[0]
        _dies_after(4 * 1024 * 1024, monkeypatch)
        conn.request("GET", f"/documents/{document.id}/download", headers={"Cookie": cookie})
        response = conn.getresponse()
        assert response.status == 200 and int(response.getheader("Content-Length")) == len(data)
        with pytest.raises(http.client.IncompleteRead) as short:
            response.read()
        assert 0 < len(short.value.partial) < len(data)
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


def test_altered_stored_file_is_not_delivered(app, login, contract, store_kind, register_entries):
    if store_kind != "local":
        pytest.skip("S3 versions cannot be overwritten in place; see the deleted-version test")
    document, _data = contract
    version = document.latest
    path = Path(app.instance_path) / "store" / "objects" / version.store_key / version.store_version
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    client = login("staff_sales")
    for url in (f"/documents/{document.id}/download", f"/documents/{document.id}/print"):
        response = client.get(url)
        assert response.status_code == 500, url
        assert b"%PDF" not in response.data
        assert rendered(app, _fixity_message()) in response.get_data(as_text=True)
    html = client.get(f"/documents/{document.id}/view").get_data(as_text=True)
    inline = client.get(inline_url(html))
    assert inline.status_code == 500 and b"%PDF" not in inline.data
    assert len(entries(register_entries, "fixity_failure", document)) == 3


def _fixity_message():
    from flask_babel import lazy_gettext as _l
    return _l("The stored file failed its integrity check and was not delivered. The archivist has been told.")


def test_deleted_stored_version_is_reported(app, login, contract, register_entries):
    document, _data = contract
    version = document.latest
    store().delete_version(version.store_key, version.store_version)
    client = login("staff_sales")
    for url in (f"/documents/{document.id}/view", f"/documents/{document.id}/download"):
        response = client.get(url)
        assert response.status_code == 500, url
        assert b"%PDF" not in response.data
    failures = entries(register_entries, "fixity_failure", document)
    assert len(failures) == 2 and all(f.result == "failed" for f in failures)
    assert not entries(register_entries, "document_view", document)
    assert not entries(register_entries, "document_download", document)
