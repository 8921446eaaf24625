"""The core path on both stores: upload, read back byte for byte, fixity, verify."""
from __future__ import annotations

import doc_samples as samples

from portal.actor import Actor
from portal.documents import services
from portal.extensions import db
from portal.storage import store


def test_upload_and_read_back(app, make_archive, upload, user, store_kind, register_entries):
    archive = make_archive("staff_sales", status="filed", name="上海星河贸易有限公司")
    data = samples.pdf(["销售合同 第一条 合作范围", "Contract HT-2026-0042"])
    document = upload("staff_sales", archive, data, "合同扫描件.pdf", doc_type="合同", title="2026年销售合同")
    assert document.stored_name == "上海星河贸易有限公司-合同-2026"
    version = document.latest
    assert version.original_filename == "合同扫描件.pdf"
    assert version.media_type == "application/pdf"
    assert "销售合同" in version.text and version.text_status == "extracted"
    assert version.page_count == 1 and version.thumbnail

    # the store holds ciphertext only
    raw = b"".join(store().get(version.store_key, version.store_version))
    assert data not in raw and b"%PDF" not in raw

    content = services.open_content(Actor(user("staff_sales"), "127.0.0.1"), document.id, mode="download")
    assert b"".join(content) == data
    assert [e.action for e in register_entries(document_id=document.id)] == ["document_upload",
                                                                             "document_download"]
    report = services.verify_store()
    assert report.ok and report.checked == 1, report.summary()
    db.session.commit()


def test_confidential_download_is_watermarked(app, make_archive, upload, user):
    archive = make_archive("staff_sales", status="filed", sensitivity=2)
    data = samples.pdf(["保密合同"])
    document = upload("staff_sales", archive, data, "保密.pdf", doc_type="合同")
    content = services.open_content(Actor(user("staff_sales"), "127.0.0.1"), document.id, mode="download")
    chunks, media_type, length = services.deliverable(content)
    marked = b"".join(chunks)
    assert media_type == "application/pdf" and len(marked) == length and marked != data
    from io import BytesIO

    from pypdf import PdfReader
    text = PdfReader(BytesIO(marked)).pages[0].extract_text()
    assert "staff_sales" in text and "保密合同" in text


def test_a_refused_replacement_is_registered_as_such(app, make_archive, upload, user, register_entries):
    archive = make_archive("staff_sales", status="filed")
    document = upload("staff_sales", archive, samples.pdf(["第一版"]), "v1.pdf")
    import io

    import pytest
    with pytest.raises(services.Unacceptable):
        services.replace_file(Actor(user("staff_sales"), "127.0.0.1"), document.id, io.BytesIO(b""), "空.pdf")
    failed = register_entries(action="document_replace", result="failed")
    assert len(failed) == 1 and failed[0].document_id == document.id and "空.pdf" in failed[0].detail
    assert document.current_version == 1
