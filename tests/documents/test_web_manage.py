"""Upload and manage documents through the web pages (both stores): the upload form with JavaScript
off and the fragment upload.js asks for, the archive's document list, details, versions, history,
editing with a stale form, replacing the file, and who is refused (with a register entry)."""
from __future__ import annotations

import html as html_lib
import io
import re

import doc_samples as samples
import pytest
import sqlalchemy as sa

from portal.documents.models import Document
from portal.extensions import db

OUTCOMES = {"HX-Request": "true", "HX-Target": "upload-outcomes"}  # what upload.js sends


def text(response) -> str:
    return response.get_data(as_text=True)


def plain(response) -> str:
    """The page's visible text, roughly (tags out, entities decoded, spaces collapsed)."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text(response), flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def section(html: str, element_id: str) -> str:
    """The HTML of the <section id=…> (sections do not nest in these pages)."""
    match = re.search(rf'<section[^>]*id="{element_id}".*?</section>', html, re.S)
    assert match, f"no section #{element_id}"
    return match.group(0)


def form_data(**overrides) -> dict:
    data = {"doc_type": "合同", "title": "", "doc_date": "2025-03-01", "source": "邮寄",
            "sensitivity": "2", "notes": "原件存放在档案室"}
    data.update(overrides)
    return data


def files(*pairs) -> list:
    return [(io.BytesIO(data), name) for data, name in pairs]


def post_upload(client, archive, file_list, headers=None, **details):
    data = form_data(**details)
    data["files"] = file_list
    return client.post(f"/archives/{archive.id}/documents/upload", data=data,
                       content_type="multipart/form-data", headers=headers or {})


def documents_of(archive) -> list[Document]:
    db.session.commit()
    return list(db.session.scalars(sa.select(Document).where(Document.archive_id == archive.id)
                                   .order_by(Document.id)))


@pytest.fixture
def archive(make_archive):
    return make_archive("staff_sales", status="filed", name="上海星河贸易有限公司")


# --- upload -----------------------------------------------------------------------------------

def test_upload_page_offers_the_form(login, archive, app):
    response = login("staff_sales").get(f"/archives/{archive.id}/documents/upload")
    assert response.status_code == 200
    html = text(response)
    assert 'enctype="multipart/form-data"' in html and 'name="files"' in html and "multiple" in html
    assert f'data-max-bytes="{app.config["DOCUMENT_MAX_BYTES"]}"' in html
    assert '<script src="/static/js/upload.js' in html and "<script>" not in html  # CSP: no inline script
    assert 'style="' not in html
    types = re.search(r'<select[^>]*name="doc_type".*?</select>', html, re.S).group(0)
    for kind in ("合同", "往来函件", "投诉", "资质文件", "其他"):
        assert f">{kind}</option>" in types
    level = re.search(r'<select[^>]*name="sensitivity".*?</select>', html, re.S).group(0)
    assert re.search(r'<option selected value="2">', level)  # the archive's level by default
    assert 'value="1"' not in level  # staff_sales (clearance 2) cannot give level 1
    assert "上传材料" in plain(response)


def test_upload_one_file_with_javascript_off(login, archive, register_entries):
    client = login("staff_sales")
    response = post_upload(client, archive, files((samples.pdf(["销售合同 第一条"]), "销售合同扫描件.pdf")))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/archives/{archive.id}#documents")
    [document] = documents_of(archive)
    assert document.stored_name == "上海星河贸易有限公司-合同-2025"  # 客户名称-档案类型-年份
    assert document.title == "销售合同扫描件"  # blank title → the file's name
    assert document.source == "邮寄" and document.notes == "原件存放在档案室"
    assert document.latest.original_filename == "销售合同扫描件.pdf"
    [entry] = register_entries(action="document_upload", document_id=document.id)
    assert entry.result == "ok" and entry.username == "staff_sales"

    page = client.get(f"/archives/{archive.id}")
    assert "1 份材料已上传" in plain(page)  # the flash after the redirect
    listing = section(text(page), "documents")
    assert "上海星河贸易有限公司-合同-2025" in listing and "销售合同扫描件" in listing
    assert f'href="/documents/{document.id}"' in listing
    assert 'loading="lazy"' in listing  # the first page's thumbnail
    assert 'href="#documents"' in text(page)  # in the page's table of contents


def test_upload_several_files_at_once(login, archive, register_entries):
    client = login("staff_sales")
    response = post_upload(client, archive, files((samples.pdf(["合同甲"]), "合同甲.pdf"),
                                                  (samples.image("PNG"), "扫描件.png"),
                                                  (samples.docx(), "补充协议.docx")),
                           title="2025年合作协议")
    assert response.status_code == 303
    documents = documents_of(archive)
    assert [d.stored_name for d in documents] == ["上海星河贸易有限公司-合同-2025",
                                                  "上海星河贸易有限公司-合同-2025-2",
                                                  "上海星河贸易有限公司-合同-2025-3"]
    assert {d.title for d in documents} == {"2025年合作协议"}
    assert len(register_entries(action="document_upload", archive_id=archive.id, result="ok")) == 3
    assert "3 份材料已上传" in plain(client.get(f"/archives/{archive.id}"))

    # the list as a fragment (htmx) and as a page of its own
    fragment = client.get(f"/archives/{archive.id}/documents",
                          headers={"HX-Request": "true", "HX-Target": "documents"})
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    for d in documents:
        assert d.stored_name in text(fragment)
    assert "DOCX" in text(fragment) and "PNG" in text(fragment)
    page = client.get(f"/archives/{archive.id}/documents")
    assert page.status_code == 200 and "<html" in text(page) and "补充协议" not in text(page)
    assert "上海星河贸易有限公司-合同-2025-3" in text(page)


def test_good_files_are_stored_and_bad_ones_explained(login, archive):
    client = login("staff_sales")
    good = samples.pdf(["好的合同"])
    response = post_upload(client, archive, files((good, "好的合同.pdf"),
                                                  (samples.truncated(samples.pdf(["坏的"])), "损坏.pdf"),
                                                  (b"MZ\x90\x00" + b"\x00" * 200, "伪装.pdf"),
                                                  (b"", "空文件.pdf")),
                           source="电子邮件", notes="客户寄来的第二批材料")
    assert response.status_code == 200  # something was stored: the outcomes, not a redirect
    html = text(response)
    [document] = documents_of(archive)
    assert document.latest.original_filename == "好的合同.pdf"
    stored = re.findall(r'<li class="outcome outcome-stored">.*?</li>', html, re.S)
    refused = re.findall(r'<li class="outcome outcome-refused">.*?</li>', html, re.S)
    assert len(stored) == 1 and f'href="/documents/{document.id}"' in stored[0]
    assert len(refused) == 3
    for name, item in zip(("损坏.pdf", "伪装.pdf", "空文件.pdf"), refused, strict=True):
        assert name in item
        reason = re.search(r'<span class="outcome-reason">(.*?)</span>', item, re.S).group(1)
        assert len(plain_text(reason)) > len("未存储：") + 5  # a reason, not just "failed"
    assert "1 个文件已存储" in plain(response) and "3 个文件未存储" in plain(response)
    # the form again, with the details kept
    assert 'value="电子邮件"' in html and "客户寄来的第二批材料</textarea>" in html
    assert re.search(r'<option selected value="合同">', html)


def plain_text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def test_duplicate_upload_links_to_the_stored_document(login, archive, register_entries):
    client = login("staff_sales")
    data = samples.pdf(["同一份合同"])
    assert post_upload(client, archive, files((data, "合同.pdf"))).status_code == 303
    [first] = documents_of(archive)
    response = post_upload(client, archive, files((data, "合同-副本.pdf")))
    assert response.status_code == 409  # nothing stored: the refusal's own status
    refused = re.search(r'<li class="outcome outcome-refused">.*?</li>', text(response), re.S).group(0)
    assert "合同-副本.pdf" in refused and first.stored_name in refused
    assert f'href="/documents/{first.id}"' in refused and "打开已存储的材料" in refused
    assert len(documents_of(archive)) == 1
    assert register_entries(action="document_upload", result="failed")[-1].detail.startswith("合同-副本.pdf")


def test_upload_js_gets_the_outcomes_fragment(csrf_app, login, archive):
    client = login("staff_sales")
    page = text(client.get(f"/archives/{archive.id}/documents/upload"))
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    data = form_data()
    data.pop("title")
    data["files"] = files((samples.pdf(["脚本上传"]), "脚本上传.pdf"), (b"", "空.pdf"))
    response = client.post(f"/archives/{archive.id}/documents/upload", data=data,
                           content_type="multipart/form-data", headers={**OUTCOMES, "X-CSRFToken": token})
    assert response.status_code == 200
    html = text(response)
    assert "<html" not in html and "<form" not in html  # only the outcomes
    assert "outcome-stored" in html and "outcome-refused" in html and "空.pdf" in html
    [document] = documents_of(archive)

    # every file stored: still the fragment (upload.js shows it), never a redirect
    data["files"] = files((samples.pdf(["第二份"]), "第二份.pdf"))
    response = client.post(f"/archives/{archive.id}/documents/upload", data=data,
                           content_type="multipart/form-data", headers={**OUTCOMES, "X-CSRFToken": token})
    assert response.status_code == 200 and "outcome-stored" in text(response)
    assert "转到档案的材料列表" in plain(response)

    # form errors reach the fragment too (no document type chosen)
    data.update(doc_type="", files=files((samples.pdf(["第三份"]), "第三份.pdf")))
    response = client.post(f"/archives/{archive.id}/documents/upload", data=data,
                           content_type="multipart/form-data", headers={**OUTCOMES, "X-CSRFToken": token})
    assert response.status_code == 422 and "<form" not in text(response)
    assert 'href="#doc_type"' in text(response)
    assert len(documents_of(archive)) == 2

    # without the token the upload is refused
    data.update(doc_type="合同", files=files((samples.pdf(["第四份"]), "第四份.pdf")))
    response = client.post(f"/archives/{archive.id}/documents/upload", data=data,
                           content_type="multipart/form-data", headers=OUTCOMES)
    assert response.status_code == 400 and len(documents_of(archive)) == 2


def test_upload_form_problems_keep_the_input(login, archive):
    client = login("staff_sales")
    response = post_upload(client, archive, [], title="没有文件")
    assert response.status_code == 422
    assert "请选择至少一个要上传的文件" in plain(response) and 'value="没有文件"' in text(response)
    response = post_upload(client, archive, files((samples.pdf(["未来"]), "未来.pdf")),
                           doc_date="2999-01-01", title="日期不对")
    assert response.status_code == 422
    html = text(response)
    field = re.search(r'<div class="field has-error">\s*<label for="doc_date".*?</div>', html, re.S)
    assert field and 'class="error"' in field.group(0)  # the message at the date field
    assert 'value="日期不对"' in html and 'value="2999-01-01"' in html
    assert documents_of(archive) == []


def test_too_large_request_gets_a_clear_413(login, archive, app):
    client = login("staff_sales")
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    response = post_upload(client, archive, files((b"%PDF-1.4" + b"0" * 60_000, "大文件.pdf")))
    assert response.status_code == 413
    assert "每个文件最多" in plain(response) and "没有保存任何内容" in plain(response)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024 * 1024
    app.config["DOCUMENT_MAX_BYTES"] = 10_000
    response = post_upload(client, archive, files((samples.pdf(["大"] * 10, pages=30), "大合同.pdf")))
    assert response.status_code == 413  # one file over the per-file limit, refused by the service
    assert "大合同.pdf" in plain(response)
    assert documents_of(archive) == []


@pytest.mark.parametrize("username", ["staff_marketing", "head_marketing"])
def test_other_department_is_refused_and_registered(login, archive, upload, username, register_entries):
    document = upload("staff_sales", archive, samples.pdf(["销售部的合同"]), "合同.pdf")
    client = login(username)
    urls = [("GET", f"/archives/{archive.id}/documents/upload"),
            ("POST", f"/archives/{archive.id}/documents/upload"),
            ("GET", f"/archives/{archive.id}/documents"),
            ("GET", f"/documents/{document.id}"),
            ("GET", f"/documents/{document.id}/edit"), ("POST", f"/documents/{document.id}/edit"),
            ("GET", f"/documents/{document.id}/replace"), ("POST", f"/documents/{document.id}/replace")]
    for method, url in urls:
        before = len(register_entries(action="access_denied", username=username))
        if method == "POST" and url.endswith("/upload"):
            response = post_upload(client, archive, files((samples.pdf(["外部门"]), "外部门.pdf")))
        else:
            response = client.open(url, method=method)
        assert response.status_code == 403, (method, url)
        entries = register_entries(action="access_denied", username=username)
        assert len(entries) == before + 1, (method, url)
        assert entries[-1].result == "denied" and entries[-1].archive_id == archive.id
        assert "销售部的合同" not in text(response) and document.stored_name not in text(response)
    assert len(documents_of(archive)) == 1


def test_viewer_without_upload_right_sees_no_upload_button(login, archive, upload):
    upload("staff_sales", archive, samples.pdf(["合同"]), "合同.pdf")
    listing = section(text(login("manager").get(f"/archives/{archive.id}")), "documents")
    assert "上海星河贸易有限公司-合同" in listing and "/documents/upload" not in listing
    assert login("manager").get(f"/archives/{archive.id}/documents/upload").status_code == 403


def test_secret_documents_are_counted_not_listed(login, archive, upload):
    secret = samples.pdf(["绝密补充协议"])
    upload("staff_sales", archive, samples.pdf(["普通合同"]), "普通合同.pdf", title="普通合同")
    hidden = upload("archivist", archive, secret, "绝密.pdf", title="绝密补充协议", sensitivity=1,
                    doc_type="方案")
    client = login("staff_sales")
    listing = section(text(client.get(f"/archives/{archive.id}")), "documents")
    assert "普通合同" in listing and "绝密补充协议" not in listing and "-方案-" not in listing
    assert "1 份密级高于您权限的材料未列出" in plain_text(listing)
    # the same file uploaded again is refused without naming the hidden document
    response = post_upload(client, archive, files((secret, "再传一次.pdf")))
    assert response.status_code == 409
    refused = re.search(r'<li class="outcome outcome-refused">.*?</li>', text(response), re.S).group(0)
    assert "再传一次.pdf" in refused and "密级高于您权限" in refused
    assert "绝密补充协议" not in text(response) and hidden.stored_name not in text(response)
    assert f"/documents/{hidden.id}" not in text(response)
    archivist = section(text(login("archivist").get(f"/archives/{archive.id}")), "documents")
    assert "绝密补充协议" in archivist and "未列出" not in archivist


# --- one document -----------------------------------------------------------------------------

def test_detail_page_shows_details_versions_history(login, archive, upload, register_entries):
    document = upload("staff_sales", archive, samples.pdf(["合同正文"]), "合同正文.pdf", title="年度合同",
                      source="邮寄")
    client = login("head_sales")
    before = len(register_entries(archive_id=archive.id))
    response = client.get(f"/documents/{document.id}")
    assert response.status_code == 200
    assert len(register_entries(archive_id=archive.id)) == before  # details are not a view of the content
    html = text(response)
    versions = section(html, "document-versions")
    assert "合同正文.pdf" in versions and document.latest.sha256[:12] in versions
    assert document.latest.sm3[:12] in versions and "已提取文字" in plain_text(versions)
    history = section(html, "document-history")
    assert "上传为第 1 版" in plain_text(history) and "张小销" in plain_text(history)
    assert f"/documents/{document.id}/edit" in html and f"/documents/{document.id}/replace" in html
    # a viewer who may not change it sees no edit buttons
    html = text(login("supervisor").get(f"/documents/{document.id}"))
    assert f"/documents/{document.id}/edit" not in html and "年度合同" in html


def test_edit_details_writes_history(login, archive, upload, register_entries):
    document = upload("staff_sales", archive, samples.pdf(["合同"]), "合同.pdf", title="旧标题",
                      source="邮寄")
    stored_name = document.stored_name
    client = login("staff_sales")
    page = text(client.get(f"/documents/{document.id}/edit"))
    assert 'value="旧标题"' in page and f'name="lock_version" type="hidden" value="{document.lock_version}"' in page
    response = client.post(f"/documents/{document.id}/edit", data={
        "doc_type": "往来函件", "title": "新标题", "doc_date": "2024-12-31", "source": "邮寄",
        "sensitivity": "2", "notes": "", "lock_version": str(document.lock_version)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/documents/{document.id}")
    db.session.expire_all()
    assert document.title == "新标题" and document.doc_type == "往来函件"
    assert document.stored_name == stored_name  # the name given on upload stays
    history = plain_text(section(text(client.get(f"/documents/{document.id}")), "document-history"))
    assert re.search("旧标题 → .{0,4}新标题", history) and re.search("合同 → .{0,4}往来函件", history)
    assert "详细信息已修改" in history
    [entry] = register_entries(action="document_edit", document_id=document.id)
    assert "旧标题 → 新标题" in entry.detail


def test_edit_conflict_keeps_the_input(login, archive, upload):
    document = upload("staff_sales", archive, samples.pdf(["合同"]), "合同.pdf", title="原标题")
    stale = str(document.lock_version)
    first, second = login("staff_sales"), login("head_sales")
    data = {"doc_type": "合同", "title": "部门负责人的标题", "doc_date": "", "source": "", "sensitivity": "2",
            "notes": "", "lock_version": stale}
    assert second.post(f"/documents/{document.id}/edit", data=data).status_code == 303
    data.update(title="业务员的标题", notes="我的备注")
    response = first.post(f"/documents/{document.id}/edit", data=data)
    assert response.status_code == 409
    html = text(response)
    assert 'value="业务员的标题"' in html and "我的备注</textarea>" in html  # nothing lost
    assert "部门负责人的标题" in plain_text(re.search(r'<div class="notice notice-conflict".*?</div>', html,
                                                   re.S).group(0))
    db.session.expire_all()
    assert document.title == "部门负责人的标题"
    # saving again (the form now carries the current lock version) replaces it knowingly
    fresh = re.search(r'name="lock_version" type="hidden" value="(\d+)"', html).group(1)
    assert fresh != stale
    data["lock_version"] = fresh
    assert first.post(f"/documents/{document.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    assert document.title == "业务员的标题"


def test_edit_validation_message_at_the_field(login, archive, upload):
    document = upload("staff_sales", archive, samples.pdf(["合同"]), "合同.pdf", title="标题")
    response = login("staff_sales").post(f"/documents/{document.id}/edit", data={
        "doc_type": "合同", "title": "", "doc_date": "", "source": "来源", "sensitivity": "2", "notes": "",
        "lock_version": str(document.lock_version)})
    assert response.status_code == 422
    field = re.search(r'<div class="field has-error">\s*<label for="title".*?</div>', text(response), re.S)
    assert field and 'class="error"' in field.group(0) and 'value="来源"' in text(response)


def test_replace_file_makes_version_two(login, archive, upload, register_entries):
    document = upload("staff_sales", archive, samples.pdf(["第一版"]), "第一版.pdf", title="合同")
    client = login("staff_sales")
    page = text(client.get(f"/documents/{document.id}/replace"))
    assert 'name="file"' in page and 'enctype="multipart/form-data"' in page
    response = client.post(f"/documents/{document.id}/replace", content_type="multipart/form-data", data={
        "file": (io.BytesIO(samples.pdf(["第二版 修订"])), "第二版.pdf"), "note": "客户签字后的版本",
        "lock_version": str(document.lock_version)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/documents/{document.id}")
    detail = client.get(f"/documents/{document.id}")
    assert "第 2 版" in plain(detail)  # the flash
    versions = section(text(detail), "document-versions")
    assert "第一版.pdf" in versions and "第二版.pdf" in versions and "客户签字后的版本" in versions
    assert versions.index("第二版.pdf") < versions.index("第一版.pdf")  # newest first
    history = plain_text(section(text(detail), "document-history"))
    assert "新文件：第 2 版" in history and "客户签字后的版本" in history
    assert len(register_entries(action="document_replace", document_id=document.id)) == 1
    listing = section(text(client.get(f"/archives/{archive.id}")), "documents")
    assert re.search(r'<td class="num" data-label="[^"]+">2</td>', listing)  # versions count


def test_replace_problems_keep_the_note(login, archive, upload):
    first_data, other_data = samples.pdf(["第一版"]), samples.pdf(["另一份"])
    document = upload("staff_sales", archive, first_data, "第一版.pdf")
    other = upload("staff_sales", archive, other_data, "另一份.pdf")
    client = login("staff_sales")

    def replace(data, name, lock=None):
        return client.post(f"/documents/{document.id}/replace", content_type="multipart/form-data", data={
            "file": (io.BytesIO(data), name), "note": "我的说明",
            "lock_version": str(lock if lock is not None else document.lock_version)})

    response = replace(samples.truncated(samples.pdf(["坏"])), "坏.pdf")
    assert response.status_code == 422 and 'value="我的说明"' in text(response) and "坏.pdf" in plain(response)
    response = replace(other_data, "另一份副本.pdf")
    assert response.status_code == 409 and f'href="/documents/{other.id}"' in text(response)
    response = replace(first_data, "同一个.pdf")
    assert response.status_code == 409 and 'value="我的说明"' in text(response)
    response = replace(samples.pdf(["新的"]), "新的.pdf", lock=document.lock_version + 5)
    assert response.status_code == 409
    response = client.post(f"/documents/{document.id}/replace", data={"note": "没有文件",
                                                                       "lock_version": "1"})
    assert response.status_code == 422 and "请选择新文件" in plain(response)
    db.session.expire_all()
    assert document.current_version == 1 and len(document.versions) == 1
