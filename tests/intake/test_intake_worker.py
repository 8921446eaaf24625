"""A ``portal worker`` killed in the middle of OCR: the next worker resumes the item at the first
page without a result, and the batch is filed whole."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import scans
from intake_helpers import pages_of

from portal.extensions import db
from portal.intake.models import FILED

PORTAL = os.path.join(os.path.dirname(sys.executable), "portal")


@pytest.fixture
def start_worker(app, database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_INSTANCE_PATH": app.instance_path,  # the same master key and local store
        "PORTAL_SECRET_KEY": "test-secret",
        "PORTAL_JOBS_LEASE_SECONDS": "3",
        "PORTAL_JOBS_POLL_SECONDS": "0.3",
        "PORTAL_SEARCH_WRITER": "sync",
    })
    procs = []

    def _start(name):
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([PORTAL, "worker", "--name", name], env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append((proc, log))
        return proc

    yield _start
    for proc, log in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log.close()


def _wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.commit()
        db.session.expire_all()
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_killed_worker_is_resumed_at_the_next_page(send, item_of, filed, start_worker):
    from portal.jobs.models import Job

    archive = filed()
    texts = [scans.seed_lines("simplified", 2, 20, 30 + 3 * i) for i in range(4)]
    item = send("archivist", scans.image_pdf([scans.render_page(t) for t in texts]), "长批次.pdf",
                archive=archive.number, doc_type="合同")
    first = start_worker("first")
    _wait(lambda: item_of(item.id).pages_done >= 1, 120, "the first page read")
    first.kill()  # SIGKILL: no chance to clean up
    first.wait(10)
    done_at_kill = item_of(item.id).pages_done
    assert done_at_kill < 4, "the worker finished before it could be killed; make the batch longer"
    kept = {p.number: p.id for p in pages_of(item.id)}
    second = start_worker("second")
    _wait(lambda: item_of(item.id).state == FILED, 180, "the batch filed by the second worker")
    # The item is filed inside the job; the runner marks the job done in its own transaction just
    # after. Killing the worker in between would leave the job "running" until its lease expires.
    job_id = item_of(item.id).job_id
    _wait(lambda: db.session.get(Job, job_id).state != "running", 30, "the job finished")
    second.kill()
    rows = pages_of(item.id)
    assert [p.number for p in rows] == [1, 2, 3, 4]
    assert {p.number: p.id for p in rows if p.number in kept} == kept  # pages read before the kill kept
    job = db.session.get(Job, job_id)
    assert job.state == "done" and job.attempts == 2
    text = item_of(item.id).document.latest.text
    assert text.count("\f") == 3
    assert scans.char_accuracy("".join(texts[-1]), text.split("\f")[-1]) > 0.9
