"""``portal verify`` (DA/T 70 integrity) and the store's line on /healthz, on both stores.

Altering a stored version in place is only possible on the local store (an S3 version is
immutable: a new upload is a new version id), so "altered" is tested there; missing and orphaned
objects on both.
"""
from __future__ import annotations

import io
import os
import socket

import doc_samples as samples
import pytest
import sqlalchemy as sa

from portal.cli import verify_command
from portal.documents import services
from portal.documents.models import ArchiveKey
from portal.extensions import db
from portal.storage import make_store, store


def run_verify(app, *args):
    db.session.commit()
    result = app.test_cli_runner().invoke(verify_command, list(args))
    db.session.commit()
    return result


def output(result) -> str:
    return result.output  # stdout and stderr (click ≥ 8.2 mixes them here)


def fixity_entries(register_entries):
    return register_entries(action="fixity_check")


def local_object_path(version):
    s = store()
    return s.objects / version.store_key / version.store_version


@pytest.fixture
def stored(app, make_archive, upload):
    """Two documents (one with two versions) in one archive, a third in another."""
    from portal.actor import Actor
    from portal.auth.models import User

    first = make_archive(status="filed", name="上海星河贸易有限公司")
    second = make_archive(status="filed", name="杭州云帆科技有限公司")
    a = upload("staff_sales", first, samples.pdf(["合同甲"]), "合同甲.pdf")
    b = upload("staff_sales", first, samples.image("PNG"), "扫描.png", doc_type="资质文件")
    author = db.session.scalar(sa.select(User).where(User.username == "staff_sales"))
    services.replace_file(Actor(author, "127.0.0.1"), b.id, io.BytesIO(samples.image("JPEG")), "扫描.jpg")
    c = upload("staff_sales", second, samples.docx(), "函件.docx", doc_type="往来函件")
    db.session.commit()
    return [db.session.get(type(a), d.id) for d in (a, b, c)]


def test_verify_reports_ok_on_a_clean_store(app, stored, register_entries):
    result = run_verify(app)
    text = output(result)
    assert result.exit_code == 0, text
    assert "Checked 4 version(s)" in text and "OK: every stored version is present and intact" in text
    assert "Missing: 0" in text and "Altered: 0" in text and "Orphaned: 0" in text
    assert "portal register verify" in text  # the register's chain is checked separately
    [entry] = fixity_entries(register_entries)
    assert entry.result == "ok" and "checked 4 versions" in entry.detail and entry.client_addr == "cli"


def test_verify_without_contents_is_ok_too(app, stored, register_entries):
    result = run_verify(app, "--no-contents")
    assert result.exit_code == 0, output(result)
    assert "existence and size only" in output(result) and "(0.0 MB read)" in output(result)


def test_verify_catches_an_altered_object(app, stored, register_entries, store_kind):
    if store_kind != "local":
        pytest.skip("an S3 object version cannot be changed in place")
    version = stored[0].latest
    path = local_object_path(version)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit-rotted byte, same size
    path.write_bytes(bytes(data))

    quick = run_verify(app, "--no-contents")
    assert quick.exit_code == 0, output(quick)  # same size: only reading the contents finds it

    result = run_verify(app)
    text = output(result)
    assert result.exit_code == 1, text
    assert "Altered: 1" in text and f"document {stored[0].id} v1" in text
    assert "PROBLEMS FOUND: 0 missing, 1 altered, 0 orphaned" in text
    entries = fixity_entries(register_entries)
    assert [e.result for e in entries] == ["ok", "failed"] and "altered 1" in entries[-1].detail


def test_verify_catches_a_truncated_object_by_its_size(app, stored, store_kind):
    if store_kind != "local":
        pytest.skip("an S3 object version cannot be changed in place")
    path = local_object_path(stored[2].latest)
    path.write_bytes(path.read_bytes()[:-100])
    result = run_verify(app, "--no-contents")
    assert result.exit_code == 1 and "Altered: 1" in output(result) and "size" in output(result)


def test_verify_catches_a_deleted_object(app, stored, register_entries):
    version = stored[1].version(1)  # an earlier version of a replaced document
    store().delete_version(version.store_key, version.store_version)
    for args in ([], ["--no-contents"]):
        result = run_verify(app, *args)
        text = output(result)
        assert result.exit_code == 1, text
        assert "Missing: 1" in text and f"document {stored[1].id} v1" in text
        assert "Altered: 0" in text and "Orphaned: 0" in text
    assert [e.result for e in fixity_entries(register_entries)] == ["failed", "failed"]


def test_verify_catches_an_orphan(app, stored):
    archive_id = stored[0].archive_id
    orphan = store().put(f"archives/{archive_id}/left-behind", io.BytesIO(b"x" * 100), 100)
    result = run_verify(app)
    text = output(result)
    assert result.exit_code == 1, text
    assert "Orphaned: 1" in text and f"archives/{archive_id}/left-behind@{orphan.version_id}" in text
    assert "Missing: 0" in text and "Altered: 0" in text


def test_verify_reports_every_kind_at_once(app, stored, store_kind):
    gone = stored[0].latest
    store().delete_version(gone.store_key, gone.store_version)
    store().put(f"archives/{stored[2].archive_id}/stray", io.BytesIO(b"stray"), 5)
    if store_kind == "local":
        path = local_object_path(stored[2].latest)
        path.write_bytes(os.urandom(path.stat().st_size))
    result = run_verify(app)
    text = output(result)
    assert result.exit_code == 1
    assert "Missing: 1" in text and "Orphaned: 1" in text
    assert ("Altered: 1" if store_kind == "local" else "Altered: 0") in text


def test_destroyed_archive_key_is_listed_but_not_a_failure(app, stored):
    row = db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == stored[2].archive_id))
    row.wrapped_key = None
    db.session.commit()
    result = run_verify(app)
    text = output(result)
    assert result.exit_code == 0, text
    assert "Unreadable: 1" in text and f"document {stored[2].id} v1" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _take_store_down(app, store_kind) -> None:
    if store_kind == "local":
        blocker = os.path.join(app.instance_path, "blocked")
        with open(blocker, "w") as handle:
            handle.write("a file where the store's folder should be")
        app.extensions["portal_store"] = make_store({"STORAGE_DIR": os.path.join(blocker, "store")},
                                                    app.instance_path)
    else:
        app.config["S3_ENDPOINT"] = f"127.0.0.1:{_free_port()}"  # nothing listens there
        app.extensions["portal_store"] = make_store(app.config, app.instance_path)


def test_verify_with_the_store_down_fails_and_says_so(app, stored, register_entries, store_kind):
    _take_store_down(app, store_kind)
    result = run_verify(app)
    assert result.exit_code == 1
    assert "FAILED: the document store could not be read" in output(result)
    [entry] = fixity_entries(register_entries)
    assert entry.result == "failed" and "store unavailable" in entry.detail


def test_verify_clears_what_interrupted_writes_left(app, stored, store_kind):
    if store_kind == "local":
        leftover = store().tmp / "0123abcd.part"
        leftover.write_bytes(b"half a file")
        os.utime(leftover, (0, 0))  # from long ago
        result = run_verify(app)
        assert result.exit_code == 0, output(result)
        assert "Removed 1 incomplete upload(s)" in output(result) and not leftover.exists()
    else:
        from datetime import UTC, datetime, timedelta

        client = store().client
        client._create_multipart_upload(store().bucket, "archives/1/unfinished", {})
        [unfinished] = store().incomplete_uploads("archives/")
        # moto reports every upload as begun in 2010; a real server's fresh one is kept (may be running)
        old = unfinished.initiated_time < datetime.now(UTC) - timedelta(hours=1)
        result = run_verify(app)
        assert result.exit_code == 0, output(result)
        assert len(store().incomplete_uploads("archives/")) == (0 if old else 1)
        assert ("Removed 1 incomplete upload(s)" in output(result)) == old
        store().clear_incomplete("archives/", older_than=0)
        assert store().incomplete_uploads("archives/") == []


# --- /healthz ---------------------------------------------------------------------------------

def test_healthz_reports_the_store(app, client, store_kind):
    response = client.get("/healthz")
    data = response.get_json()
    assert response.status_code == 200 and data["status"] == "ok"
    assert data["components"]["store"] == {"ok": True, "kind": store_kind}


def test_healthz_degrades_when_the_store_is_down(app, client, store_kind):
    _take_store_down(app, store_kind)
    response = client.get("/healthz")
    data = response.get_json()
    assert response.status_code == 503 and data["status"] == "degraded"
    assert data["components"]["store"]["ok"] is False
    assert data["components"]["database"]["ok"] is True
    assert "127.0.0.1" not in response.get_data(as_text=True)  # /healthz is public: no addresses
    assert app.instance_path not in response.get_data(as_text=True)
