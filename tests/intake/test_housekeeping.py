"""Housekeeping of staging data (portal.housekeeping): after the retention period the page texts of
finished intake items and old finished jobs are gone — and only those; the filed document, its
search entry, waiting items and the pages people use are untouched."""
from __future__ import annotations

from datetime import timedelta

import pytest
import scans
import sqlalchemy as sa
from intake_helpers import pages_of

from portal.actor import Actor
from portal.extensions import db
from portal.housekeeping import services as housekeeping
from portal.intake import covers
from portal.intake import services as intake
from portal.intake.models import FILED, PAGE_COVER, PAGE_TEXT, REJECTED, SPLIT, WAITING, IntakeItem
from portal.jobs.models import Job
from portal.models_base import utcnow
from portal.register import actions
from portal.templating import local_time

CLEARED = "页面文字已于 {date} 按保留规则清除（文档本身的文字不受影响）"


def _pdf(*texts: str) -> bytes:
    """A born-digital PDF, one page per text (a text layer: no OCR needed)."""
    return scans.text_pdf([[scans.FILLER + text] for text in texts])


def _later(days: int):
    return utcnow() + timedelta(days=days)


def _cleared_line(item) -> str:
    return CLEARED.format(date=local_time(item.texts_cleared_at, "%Y-%m-%d"))


def _job(job_id):
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _age(item_id: int, *, finished_days: int | None = None, job_days: int | None = None) -> None:
    """Move an item's finish time (and its job's end) back, as if that many days had passed."""
    item = db.session.get(IntakeItem, item_id)
    if finished_days is not None:
        db.session.execute(sa.update(IntakeItem).where(IntakeItem.id == item_id)
                           .values(updated_at=utcnow() - timedelta(days=finished_days)))
    if job_days is not None and item.job_id is not None:
        db.session.execute(sa.update(Job).where(Job.id == item.job_id)
                           .values(finished_at=utcnow() - timedelta(days=job_days)))
    db.session.commit()


@pytest.fixture
def filed_item(send, run_jobs, item_of, filed):
    """A two-page born-digital contract sent by staff_sales to a filed archive, filed by the job."""
    def _make(first="甲方乙方合同正文第一页", second="第二页付款条款内容"):
        archive = filed(name="清理测试客户有限公司")
        item = send("staff_sales", _pdf(first, second), "合同.pdf", archive=archive.number, doc_type="合同")
        run_jobs()
        item = item_of(item.id)
        assert item.state == FILED, item.reason
        return item
    return _make


def test_after_the_period_the_item_page_shows_the_cleared_line_and_the_document_keeps_its_text(
        filed_item, item_of, login, find, register_entries):
    item = filed_item()
    client = login("staff_sales")
    assert "甲方乙方合同正文第一页" in client.get(f"/intake/{item.id}").get_data(as_text=True)

    # 29 days later nothing is due yet
    assert not housekeeping.run(now=_later(29)).changed
    assert [p.text != "" for p in pages_of(item.id)] == [True, True]

    outcome = housekeeping.run(now=_later(31))
    assert (outcome.items, outcome.pages) == (1, 2)
    item = item_of(item.id)
    assert item.texts_cleared_at is not None
    pages = pages_of(item.id)
    assert [(p.number, p.kind, p.text) for p in pages] == [(1, PAGE_TEXT, ""), (2, PAGE_TEXT, "")]

    html = client.get(f"/intake/{item.id}").get_data(as_text=True)
    assert "甲方乙方合同正文第一页" not in html and "第二页付款条款内容" not in html
    assert html.count(_cleared_line(item)) == 2  # one line per page, instead of "no text on this page"
    assert "本页没有文字" not in html
    # the filed document still shows its text, and search still finds it
    document = client.get(f"/documents/{item.document_id}/view").get_data(as_text=True)
    assert "甲方乙方合同正文第一页" in document and "第二页付款条款内容" in document
    hits = find("staff_sales", '"合同正文第一页"')
    assert item.document_id in {h.id for h in hits.hits if h.kind == "document"}

    (entry,) = register_entries(action=actions.HOUSEKEEPING)
    assert "1 finished intake items" in entry.detail and "(2 pages;" in entry.detail
    assert entry.result == "ok"

    # a second run at the same moment changes nothing and records nothing
    again = housekeeping.run(now=_later(31))
    assert not again.changed and (again.items, again.pages, again.jobs, again.unlinked) == (0, 0, 0, 0)
    assert len(register_entries(action=actions.HOUSEKEEPING)) == 1


def test_waiting_items_and_jobs_of_unfinished_items_are_never_touched(send, run_jobs, item_of, login):
    waiting = send("staff_sales", _pdf("等待分派的页面文字"), "wait.pdf")  # no archive: waits for the archivist
    run_jobs()
    waiting = item_of(waiting.id)
    assert waiting.state == WAITING
    # a file whose job failed for good while it was queued: its state (failed) depends on that job
    stuck = send("staff_sales", _pdf("卡住的文件"), "stuck.pdf")
    db.session.execute(sa.update(Job).where(Job.id == stuck.job_id).values(
        state="failed", active_key=None, error="worker killed too often", finished_at=utcnow()))
    db.session.commit()

    outcome = housekeeping.run(now=_later(400))  # long past both periods
    assert (outcome.items, outcome.pages, outcome.jobs, outcome.unlinked) == (0, 0, 0, 0)
    waiting, stuck = item_of(waiting.id), item_of(stuck.id)
    assert waiting.texts_cleared_at is None and [p.text != "" for p in pages_of(waiting.id)] == [True]
    assert _job(waiting.job_id) is not None and _job(stuck.job_id) is not None
    assert intake.state_of(stuck)["state"] == "failed"
    html = login("archivist").get(f"/intake/{waiting.id}").get_data(as_text=True)
    assert "等待分派的页面文字" in html and "按保留规则清除" not in html


def test_a_split_batch_is_cleared_part_by_part_and_as_a_whole_once_every_part_is_finished(
        send, run_jobs, item_of, filed, login, user):
    a = filed(name="甲公司")
    cover = "客户档案封面分隔页"
    batch = scans.text_pdf([
        [cover, covers.payload(a.number, "合同")], [scans.FILLER + "甲公司合同页面"],
        [cover, covers.payload("海外-2099-电商-999", "合同")], [scans.FILLER + "未知档案的页面"],
    ])
    root = send("archivist", batch, "批量扫描.pdf")
    run_jobs()
    root = item_of(root.id)
    assert root.state == SPLIT
    filed_part, waiting_part = sorted(root.parts, key=lambda p: p.page_from)
    assert [(p.page_from, p.state) for p in (filed_part, waiting_part)] == [(2, FILED), (4, WAITING)]

    outcome = housekeeping.run(now=_later(31))
    assert (outcome.items, outcome.pages) == (1, 1)  # the filed part only
    pages = pages_of(root.id)
    assert [p.kind for p in pages] == [PAGE_COVER, PAGE_TEXT, PAGE_COVER, PAGE_TEXT]
    assert [p.text for p in pages][1] == "" and "未知档案的页面" in pages[3].text
    assert pages[0].cover_number == a.number  # what the page was stays
    root, filed_part = item_of(root.id), item_of(filed_part.id)
    assert root.texts_cleared_at is None and filed_part.texts_cleared_at is not None
    assert item_of(waiting_part.id).texts_cleared_at is None
    client = login("archivist")
    html = client.get(f"/intake/{root.id}").get_data(as_text=True)
    assert "甲公司合同页面" not in html and _cleared_line(filed_part) in html and "未知档案的页面" in html
    assert _cleared_line(filed_part) in client.get(f"/intake/{filed_part.id}").get_data(as_text=True)
    assert "未知档案的页面" in client.get(f"/intake/{waiting_part.id}").get_data(as_text=True)

    # the archivist rejects the other part: once its period passed, it and the batch are cleared
    intake.reject(Actor(user("archivist"), "127.0.0.1"), waiting_part.id, "封面档案号有误，重新扫描")
    assert item_of(waiting_part.id).state == REJECTED
    outcome = housekeeping.run(now=_later(31))
    assert (outcome.items, outcome.pages) == (2, 1)  # the part and the batch (its covers had no text)
    assert all(p.text == "" for p in pages_of(root.id))
    assert item_of(root.id).texts_cleared_at is not None
    assert "未知档案的页面" not in client.get(f"/intake/{root.id}").get_data(as_text=True)


def test_old_jobs_are_deleted_and_the_intake_pages_still_render(app, filed_item, send, run_jobs, item_of, login,
                                                                register_entries):
    item = filed_item()
    waiting = send("staff_sales", _pdf("仍在等待"), "wait.pdf")
    run_jobs()
    filed_job, waiting_job = item.job_id, item_of(waiting.id).job_id
    _age(item.id, job_days=91)
    _age(waiting.id, job_days=91)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["housekeeping"])
    assert result.exit_code == 0, result.output
    assert "已清除" in result.output and "结束超过 90 天的后台任务：1 个；已先解除 1 个已办结收件项" in result.output
    assert "办结超过 30 天的收件项页面文字：0 个收件项，0 页" in result.output  # filed today: texts kept
    assert _job(filed_job) is None and item_of(item.id).job_id is None
    assert _job(waiting_job) is not None and item_of(waiting.id).job_id == waiting_job  # still waiting
    assert [p.text != "" for p in pages_of(item.id)] == [True, True]

    client = login("archivist")
    for url in ("/intake", "/intake?view=done", "/intake?view=queue", "/intake?view=all",
                f"/intake/{item.id}", f"/intake/{waiting.id}"):
        assert client.get(url).status_code == 200, url
    sender = login("staff_sales").get(f"/intake/{item.id}")
    assert sender.status_code == 200 and "甲方乙方合同正文第一页" in sender.get_data(as_text=True)

    again = runner.invoke(args=["housekeeping"])
    assert again.exit_code == 0 and "没有到期的数据，未做任何修改。" in again.output
    assert len(register_entries(action=actions.HOUSEKEEPING)) == 1


def test_a_dry_run_changes_nothing_and_counts_what_the_run_then_clears(app, filed_item, item_of,
                                                                          register_entries):
    item = filed_item()
    _age(item.id, finished_days=31, job_days=91)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["housekeeping", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "试运行：未做任何修改。" in dry.output
    assert "1 个收件项，2 页" in dry.output and "后台任务：1 个" in dry.output
    assert [p.text != "" for p in pages_of(item.id)] == [True, True]
    assert item_of(item.id).texts_cleared_at is None and _job(item.job_id) is not None
    assert register_entries(action=actions.HOUSEKEEPING) == []

    due = housekeeping.run(dry_run=True)
    done = housekeeping.run()
    assert (done.items, done.pages, done.jobs, done.unlinked) == (due.items, due.pages, due.jobs, due.unlinked) \
        == (1, 2, 1, 1)
    assert all(p.text == "" for p in pages_of(item.id))
    assert len(register_entries(action=actions.HOUSEKEEPING)) == 1


def test_the_administrator_changes_the_cut_off(filed_item, item_of, login, register_entries):
    item = filed_item()
    assert not housekeeping.run(now=_later(15)).changed  # default: 30 days

    admin = login("admin")
    page = admin.get("/admin/housekeeping")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "暂存数据清理" in html and 'value="30"' in html and 'value="90"' in html
    refused = admin.post("/admin/housekeeping", data={"text_days": "0", "job_days": "90"})
    assert refused.status_code == 422 and "请输入 1 至 3650 之间的整数" in refused.get_data(as_text=True)
    assert housekeeping.settings().text_days == 30
    saved = admin.post("/admin/housekeeping", data={"text_days": "10", "job_days": "90"})
    assert saved.status_code == 303
    assert "housekeeping_text_days 30 → 10" in register_entries(action=actions.SETTING_CHANGE)[-1].detail
    assert 'value="10"' in admin.get("/admin/housekeeping").get_data(as_text=True)

    outcome = housekeeping.run(now=_later(15))
    assert (outcome.items, outcome.pages) == (1, 2) and outcome.text_days == 10
    assert item_of(item.id).texts_cleared_at is not None
    # only the administrator sees or changes the settings
    archivist = login("archivist")
    assert archivist.get("/admin/housekeeping").status_code == 403
    assert archivist.post("/admin/housekeeping", data={"text_days": "1", "job_days": "1"}).status_code == 403
    assert housekeeping.settings().text_days == 10
