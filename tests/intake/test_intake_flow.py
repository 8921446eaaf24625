"""Scan intake end to end through the services and the job: scanned-looking input (seed text
rendered at 300 dpi with skew and noise, image-only PDFs, cover sheets with QR codes) becomes
filed, searchable documents — or waits in the queue with a reason; nothing is dropped."""
from __future__ import annotations

import io

import pytest
import scans
import sqlalchemy as sa
from intake_helpers import pages_of

from portal.documents.models import Document
from portal.extensions import db
from portal.intake.models import (
    DUPLICATE,
    FILED,
    PAGE_COVER,
    PAGE_OCR,
    PAGE_TEXT,
    REFUSED,
    REJECTED,
    SPLIT,
    WAITING,
)
from portal.register import actions


def _short_page(script="simplified", start=0, n=3, **kw):
    return scans.render_page(scans.seed_lines(script, n, 24, start), **kw)


def _phrase(lines, length=6):
    """A phrase of the page's first line, as a user would type it."""
    return lines[0][2:2 + length]


@pytest.mark.slow
def test_scans_in_both_scripts_are_ocrd_filed_and_found_by_search(send, run_jobs, item_of, filed, find):
    archive = filed(name="海拓跨境电商有限公司")
    simp = scans.seed_lines("simplified", 3, 24, 3)
    trad = scans.seed_lines("traditional", 3, 24, 5)
    one = send("staff_sales", scans.image_pdf([scans.render_page(simp, skew=2.0, noise=0.3)]), "合同扫描.pdf",
               archive=archive.number, doc_type="合同")
    two = send("staff_sales", scans.image_pdf([scans.render_page(trad, noise=0.2)]), "函件掃描.pdf",
               archive=archive.number, doc_type="往来函件")
    assert item_of(one.id).state == "queued"  # received at once, read later
    run_jobs()
    one, two = item_of(one.id), item_of(two.id)
    assert (one.state, two.state) == (FILED, FILED), (one.reason, two.reason)
    doc = db.session.get(Document, one.document_id)
    assert doc.archive_id == archive.id and doc.doc_type == "合同"
    version = doc.latest
    assert version.text_status == "ocr" and "OCR" in version.text_note
    assert scans.char_accuracy("".join(simp), version.text) >= 0.9
    assert [p.kind for p in pages_of(one.id)] == [PAGE_OCR]
    # found by search, typed in either script
    phrase = _phrase(simp)
    hits = find("staff_sales", f'"{phrase}"')
    assert one.document_id in {h.id for h in hits.hits if h.kind == "document"}
    from portal.search.analysis import fold
    # a phrase as printed (Traditional) that the OCR read — rapidocr's dictionary lacks a few
    # Traditional characters (屬 準 …, bench/README.md), so not every phrase of the page is there
    got = fold("".join(db.session.get(Document, two.document_id).latest.text.split()))
    drawn = "".join(trad)
    trad_phrase = next(drawn[i:i + 5] for i in range(len(drawn) - 5)
                       if fold(drawn[i:i + 5]) in got and fold(drawn[i:i + 5]) != drawn[i:i + 5])
    for typed in (trad_phrase, fold(trad_phrase)):  # as printed (Traditional) and in Simplified
        hits = find("staff_sales", f'"{typed}"')
        assert two.document_id in {h.id for h in hits.hits if h.kind == "document"}, typed


@pytest.mark.slow
def test_cover_sheets_split_a_batch_and_route_each_part(send, run_jobs, item_of, filed, register_entries):
    a = filed(name="甲公司")
    b = filed(name="乙公司")
    batch = scans.image_pdf([
        scans.cover_page(a.number, "合同", a.name, skew=1.5, noise=0.2),
        _short_page(start=1), _short_page(start=4),
        scans.cover_page(b.number, "往来函件", b.name),
        _short_page("traditional", start=2),
    ])
    item = send("archivist", batch, "批量扫描.pdf")
    run_jobs()
    root = item_of(item.id)
    assert root.state == SPLIT
    assert [p.kind for p in pages_of(root.id)] == [PAGE_COVER, PAGE_OCR, PAGE_OCR, PAGE_COVER, PAGE_OCR]
    parts = sorted(root.parts, key=lambda p: p.page_from)
    assert [(p.page_from, p.page_to, p.state) for p in parts] == [(2, 3, FILED), (5, 5, FILED)]
    first, second = (db.session.get(Document, p.document_id) for p in parts)
    assert (first.archive_id, first.doc_type, first.latest.page_count) == (a.id, "合同", 2)
    assert (second.archive_id, second.doc_type, second.latest.page_count) == (b.id, "往来函件", 1)
    # the cover pages are dropped: two pages of text, separated as pages
    assert first.latest.text.count("\f") == 1
    # the staged batch is gone once everything in it is filed
    assert root.staged_key is None and root.wrapped_key is None
    assert register_entries(action=actions.INTAKE_SPLIT)
    assert len(register_entries(action=actions.INTAKE_FILE)) == 2


def test_text_layer_pages_are_not_ocrd(send, run_jobs, item_of, filed, monkeypatch):
    from portal.intake import ocr

    calls = []
    real = ocr.ocr_image

    def counting(image, **kw):
        calls.append(image.size)
        return real(image, **kw)

    monkeypatch.setattr(ocr, "ocr_image", counting)
    archive = filed()
    lines = scans.seed_lines("simplified", 4, 24, 7)
    data = scans.mixed_pdf([lines, _short_page(start=9, n=2)])
    item = send("staff_sales", data, "混合.pdf", archive=archive.number, doc_type="合同")
    run_jobs()
    item = item_of(item.id)
    assert item.state == FILED
    assert [p.kind for p in pages_of(item.id)] == [PAGE_TEXT, PAGE_OCR]
    assert len(calls) == 1  # only the image page
    text = db.session.get(Document, item.document_id).latest.text
    assert lines[0][:10] in text.replace(" ", "")


def test_unroutable_files_wait_in_the_queue_and_the_archivist_decides(send, run_jobs, item_of, filed, user,
                                                                       register_entries):
    from portal.actor import Actor
    from portal.intake import services

    archive = filed()
    data = scans.text_pdf([scans.seed_lines("simplified", 3, 24, 11)])
    item = send("staff_sales", data, "无归属.pdf")
    run_jobs()
    item = item_of(item.id)
    assert item.state == WAITING and "封面" in item.reason  # 未指定档案，也没有找到封面分隔页
    assert register_entries(action=actions.INTAKE_QUEUE)
    # the archivist sees it in the queue and files it
    items, total = services.list_items(user("archivist"), "queue")
    assert item.id in {i.id for i in items}
    services.assign(Actor(user("archivist"), "127.0.0.1"), item.id, archive.number, "合同")
    run_jobs()
    item = item_of(item.id)
    assert item.state == FILED and item.document_id
    doc = db.session.get(Document, item.document_id)
    assert doc.archive_id == archive.id and doc.created_by.username == "archivist"
    assert item.staged_key is None


def test_a_cover_sheet_for_a_missing_archive_or_a_foreign_one_waits_with_the_reason(
        send, run_jobs, item_of, make_archive, filed):
    marketing = make_archive("staff_marketing", status="filed", name="市场部客户", sensitivity=3)
    batch = scans.image_pdf([
        scans.cover_page("海外-2099-电商-999", "合同", "不存在的客户"), _short_page(start=13, n=1),
        scans.cover_page(marketing.number, "合同", marketing.name), _short_page(start=15, n=1),
    ])
    item = send("staff_sales", batch, "错误封面.pdf")
    run_jobs()
    parts = sorted(item_of(item.id).parts, key=lambda p: p.page_from)
    assert [p.state for p in parts] == [WAITING, WAITING]
    assert "海外-2099-电商-999" in parts[0].reason
    assert marketing.number in parts[1].reason  # staff_sales cannot add to 市场部's archive
    assert parts[1].document_id is None
    assert item_of(item.id).staged_key is not None  # kept until decided


def test_reject_removes_the_staged_file_and_keeps_the_reason(send, run_jobs, item_of, user, register_entries):
    from portal.actor import Actor
    from portal.intake import services
    from portal.storage import store

    item = send("staff_sales", scans.text_pdf([[scans.FILLER + "一页无关的文字"]]), "误扫.pdf")
    run_jobs()
    key = item_of(item.id).staged_key
    assert any(v.key == key for v in store().list_versions("intake/"))
    services.reject(Actor(user("archivist"), "127.0.0.1"), item.id, "重复扫描，纸质件已归档")
    item = item_of(item.id)
    assert item.state == REJECTED and item.reason == "重复扫描，纸质件已归档"
    assert not any(v.key == key for v in store().list_versions("intake/"))
    assert register_entries(action=actions.INTAKE_REJECT)[0].detail.endswith("重复扫描，纸质件已归档")


def test_a_file_already_in_the_archive_is_marked_duplicate(send, run_jobs, item_of, filed):
    archive = filed()
    data = scans.text_pdf([scans.seed_lines("simplified", 2, 24, 17)])
    first = send("staff_sales", data, "一.pdf", archive=archive.number, doc_type="合同")
    run_jobs()
    second = send("staff_sales", data, "二.pdf", archive=archive.number, doc_type="合同")
    run_jobs()
    first, second = item_of(first.id), item_of(second.id)
    assert first.state == FILED and second.state == DUPLICATE
    assert second.document_id == first.document_id


def test_the_same_file_twice_in_intake_is_refused_at_the_door(send):
    from portal.intake.services import DuplicateIntake

    data = scans.text_pdf([[scans.FILLER + "同一文件"]])
    first = send("staff_sales", data, "a.pdf")
    with pytest.raises(DuplicateIntake) as caught:
        send("staff_sales", data, "b.pdf")
    assert str(first.id) in str(caught.value.message)


# --- bad input: a clear message, nothing lost ----------------------------------------------

def test_empty_wrong_kind_and_too_large_files_are_refused_when_received(app, send, register_entries):
    from portal.documents.inspect import Unacceptable
    from portal.documents.services import FileTooLarge

    with pytest.raises(Unacceptable, match="0"):
        send("staff_sales", b"", "空.pdf")
    with pytest.raises(Unacceptable):
        send("staff_sales", b"MZ\x90\x00" + b"\x00" * 200, "病毒.pdf")
    app.config["INTAKE_MAX_BYTES"] = 1000
    with pytest.raises(FileTooLarge) as caught:
        send("staff_sales", b"%PDF-1.7\n" + b"0" * 2000, "大.pdf")
    assert caught.value.status == 413
    assert len(register_entries(action=actions.INTAKE_REFUSE)) == 3


def test_broken_and_encrypted_pdfs_are_refused_with_a_reason_and_kept(send, run_jobs, item_of):
    import doc_samples as samples

    broken = send("staff_sales", samples.truncated(scans.text_pdf([[scans.FILLER + "断掉的文件"]] * 3)), "坏.pdf")
    locked = send("staff_sales", scans.text_pdf([[scans.FILLER + "加密的文件"]], encrypt_password="secret"), "密.pdf")
    run_jobs()
    broken, locked = item_of(broken.id), item_of(locked.id)
    assert broken.state == REFUSED and broken.reason
    assert locked.state == REFUSED and ("密码" in locked.reason or "password" in locked.reason.lower())
    assert broken.staged_key and locked.staged_key  # kept for the archivist to decide


def test_over_the_page_limit_is_refused_and_can_be_retried_after_raising_it(app, send, run_jobs, item_of, user):
    from portal.actor import Actor
    from portal.intake import services

    app.config["INTAKE_MAX_PAGES"] = 2
    item = send("staff_sales", scans.text_pdf([[scans.FILLER + "第一页"], [scans.FILLER + "第二页"], [scans.FILLER + "第三页"]]), "三页.pdf")
    run_jobs()
    item = item_of(item.id)
    assert item.state == REFUSED and "3" in item.reason and "2" in item.reason
    app.config["INTAKE_MAX_PAGES"] = 10
    services.retry(Actor(user("archivist"), "127.0.0.1"), item.id)
    run_jobs()
    item = item_of(item.id)
    assert item.state == WAITING and item.page_count == 3  # read now; no archive given: the queue


def test_an_oversized_page_image_is_refused_not_decoded(app, send, run_jobs, item_of):
    from PIL import Image

    app.config["INTAKE_MAX_PAGE_PIXELS"] = 1_000_000
    big = Image.new("L", (2000, 2000), 255)
    out = io.BytesIO()
    big.save(out, format="PNG")
    item = send("staff_sales", out.getvalue(), "巨幅.png")
    run_jobs()
    item = item_of(item.id)
    assert item.state == REFUSED and item.reason


def test_a_dead_store_during_filing_retries_later_and_loses_nothing(send, run_jobs, item_of, filed, monkeypatch):
    from portal.documents import services as documents
    from portal.jobs.models import Job
    from portal.models_base import utcnow
    from portal.storage import StoreUnavailable

    archive = filed()
    item = send("staff_sales", scans.text_pdf([[scans.FILLER + "存储暂时不可用"]]), "store.pdf",
                archive=archive.number, doc_type="合同")

    def down(*a, **kw):
        raise StoreUnavailable()

    monkeypatch.setattr(documents, "_put", down)
    run_jobs()
    item = item_of(item.id)
    assert item.state not in (FILED, REFUSED) and item.document_id is None
    job = db.session.get(Job, item.job_id)
    assert job.state == "queued" and job.run_after > utcnow()  # will be tried again, later
    monkeypatch.undo()
    job.run_after = utcnow()
    db.session.commit()
    run_jobs()
    assert item_of(item.id).state == FILED


def test_progress_and_register_trail_of_one_item(send, run_jobs, item_of, filed, register_entries):
    archive = filed()
    item = send("staff_sales", scans.text_pdf([scans.seed_lines("simplified", 2, 24, 40),
                                                scans.seed_lines("simplified", 2, 24, 44)]), "trail.pdf",
                archive=archive.number, doc_type="合同")
    run_jobs()
    item = item_of(item.id)
    assert item.state == FILED and item.pages_done == 2
    trail = [e.action for e in register_entries() if e.action.startswith("intake") or e.action == "document_upload"]
    assert trail[:1] == [actions.INTAKE_RECEIVE] or actions.INTAKE_RECEIVE in trail
    assert actions.DOCUMENT_UPLOAD in trail and actions.INTAKE_FILE in trail
    doc = db.session.scalar(sa.select(Document).where(Document.id == item.document_id))
    assert doc.latest.text_status == "extracted"


def test_portal_verify_checks_the_files_waiting_in_intake(send, item_of):
    from portal.documents.services import verify_store
    from portal.storage import store

    item = send("staff_sales", scans.text_pdf([[scans.FILLER + "等待核对"]]), "verify.pdf")
    assert verify_store().ok
    item = item_of(item.id)
    store().delete_version(item.staged_key, item.staged_version)
    report = verify_store()
    assert not report.ok and any(f"intake item {item.id}" in m for m in report.missing)
