"""The key vault: data keys are wrapped by a per-archive KEK kept outside the database, so that
destroying the KEK makes the archive unreadable from every copy of the database."""
from __future__ import annotations

import os
import stat

import doc_samples as samples
import pytest
import sqlalchemy as sa

from portal import crypto
from portal.actor import Actor, cli_actor
from portal.backup.keyvault import VaultUnavailable, vault
from portal.documents import services
from portal.documents.models import ArchiveKey
from portal.extensions import db
from portal.register import actions
from portal.storage import ObjectMissing


@pytest.fixture
def filed(make_archive):
    return make_archive(status="filed", name="密钥测试客户")


def read_all(user, document_id):
    content = services.open_content(Actor(user, "127.0.0.1"), document_id, purpose="核对")
    return b"".join(content)


def key_row(archive_id):
    db.session.rollback()
    return db.session.scalar(sa.select(ArchiveKey).where(ArchiveKey.archive_id == archive_id))


def test_new_key_is_wrapped_by_a_kek_in_the_vault(app, filed, upload, user):
    data = samples.pdf(["第一页 密钥库"])
    doc = upload("staff_sales", filed, data, "合同.pdf")
    row = key_row(filed.id)
    assert row.vault_key_id and row.wrapped_key
    path = vault().path / f"{row.vault_key_id}.kek"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the master key alone no longer unwraps the stored data key
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unwrap(services.master_key(), row.wrapped_key)
    assert read_all(user("archivist"), doc.id) == data


def test_legacy_row_keeps_working_and_is_migrated(app, filed, upload, user):
    data = samples.pdf(["旧密钥"])
    doc = upload("staff_sales", filed, data, "合同.pdf")
    row = key_row(filed.id)
    plain_key = services.unwrap_data_key(row)
    # make it look like a row from before the vault
    vault().delete(row.vault_key_id)
    row.wrapped_key = crypto.wrap(services.master_key(), plain_key)
    row.vault_key_id = None
    db.session.commit()
    assert read_all(user("archivist"), doc.id) == data  # still readable through the master key
    assert services.migrate_keys() == 1
    row = key_row(filed.id)
    assert row.vault_key_id and vault().has(row.vault_key_id)
    assert read_all(user("archivist"), doc.id) == data
    assert services.migrate_keys() == 0


def test_legacy_row_is_moved_into_the_vault_by_the_next_upload(app, filed, upload):
    upload("staff_sales", filed, samples.pdf(["一"]), "a.pdf")
    row = key_row(filed.id)
    plain_key = services.unwrap_data_key(row)
    vault().delete(row.vault_key_id)
    row.wrapped_key, row.vault_key_id = crypto.wrap(services.master_key(), plain_key), None
    db.session.commit()
    upload("staff_sales", filed, samples.pdf(["二"]), "b.pdf")
    row = key_row(filed.id)
    assert row.vault_key_id and services.unwrap_data_key(row) == plain_key


def test_destroy_data_key(app, filed, upload, user, register_entries, make_archive):
    doc = upload("staff_sales", filed, samples.pdf(["销毁前"]), "合同.pdf")
    other = make_archive(status="filed", name="另一个客户")
    other_data = samples.pdf(["保留"])
    other_doc = upload("staff_sales", other, other_data, "合同.pdf")
    kek_id = key_row(filed.id).vault_key_id
    kek_file = vault().path / f"{kek_id}.kek"
    assert kek_file.exists()

    archivist = Actor(user("archivist"), "127.0.0.1")
    assert services.destroy_data_key(archivist, filed.id) is True
    db.session.commit()
    assert not kek_file.exists()
    row = key_row(filed.id)
    assert row.wrapped_key is None and row.destroyed_at is not None
    entries = register_entries(action=actions.KEY_DESTROY)
    assert len(entries) == 1 and entries[0].archive_id == filed.id and entries[0].username == "archivist"
    with pytest.raises(ObjectMissing) as caught:
        read_all(user("archivist"), doc.id)
    assert "已销毁" in str(caught.value.message)
    assert read_all(user("archivist"), other_doc.id) == other_data
    # idempotent: nothing more happens, nothing more is registered
    assert services.destroy_data_key(archivist, filed.id) is False
    db.session.commit()
    assert len(register_entries(action=actions.KEY_DESTROY)) == 1


def test_destroy_survives_restoring_the_old_row(app, filed, upload, user):
    """The heart of it: the old wrapped key (as a backup holds it) is useless without the KEK."""
    doc = upload("staff_sales", filed, samples.pdf(["备份里的旧行"]), "合同.pdf")
    old = key_row(filed.id)
    old_wrapped, old_kek = old.wrapped_key, old.vault_key_id
    services.destroy_data_key(cli_actor(), filed.id)
    db.session.commit()
    row = key_row(filed.id)
    row.wrapped_key, row.vault_key_id, row.destroyed_at = old_wrapped, old_kek, None  # "restored"
    db.session.commit()
    with pytest.raises(ObjectMissing):
        read_all(user("archivist"), doc.id)


def test_failed_vault_deletion_raises_and_changes_nothing(app, filed, upload, user, register_entries,
                                                         monkeypatch):
    doc = upload("staff_sales", filed, samples.pdf(["仍可读"]), "合同.pdf")

    def broken(self, kek_id):
        raise VaultUnavailable(detail="disk gone")

    monkeypatch.setattr(type(vault()), "delete", broken)
    with pytest.raises(VaultUnavailable):
        services.destroy_data_key(cli_actor(), filed.id)
    db.session.rollback()
    monkeypatch.undo()
    assert key_row(filed.id).wrapped_key is not None
    assert register_entries(action=actions.KEY_DESTROY) == []
    assert read_all(user("archivist"), doc.id)


def test_missing_vault_is_an_outage_not_a_destruction(app, filed, upload, user, tmp_path):
    doc = upload("staff_sales", filed, samples.pdf(["挂载"]), "合同.pdf")
    path = vault().path
    moved = tmp_path / "unmounted"
    os.rename(path, moved)
    try:
        with pytest.raises(VaultUnavailable):
            read_all(user("archivist"), doc.id)
    finally:
        os.rename(moved, path)
    assert read_all(user("archivist"), doc.id)


def test_verify_lists_destroyed_keys_as_unreadable_not_as_failures(app, filed, upload):
    upload("staff_sales", filed, samples.pdf(["校验"]), "合同.pdf")
    services.destroy_data_key(cli_actor(), filed.id)
    db.session.commit()
    report = services.verify_store()
    assert report.ok and len(report.unreadable) == 1 and report.altered == []


def test_a_vault_that_never_had_the_key_is_an_outage_not_a_destruction(app, filed, upload, user, login, tmp_path):
    """A second server with a vault folder of its own (not the shared one) must not take the
    archives made elsewhere for destroyed: it says what is wrong, and /healthz is not ok."""
    from portal.backup.keyvault import KeyMissing, KeyVault

    doc = upload("staff_sales", filed, samples.pdf(["第二台服务器"]), "合同.pdf")
    shared = app.config.get("KEY_VAULT")
    own = KeyVault(tmp_path / "own-vault")
    own.ensure_ready()
    app.config["KEY_VAULT"] = str(own.path)
    app.extensions.pop("portal_key_vault", None)
    try:
        with pytest.raises(KeyMissing) as caught:
            read_all(user("archivist"), doc.id)
        assert "没有被销毁" in str(caught.value.message)
        page = login("archivist").get(f"/documents/{doc.id}/view")
        assert page.status_code == 503 and "PORTAL_KEY_VAULT" in page.get_data(as_text=True)
        health = app.test_client().get("/healthz").get_json()
        assert health["components"]["keyvault"] == {"ok": False, "error": "keys missing", "missing": 1, "checked": 1}
    finally:
        app.config["KEY_VAULT"] = shared
        app.extensions.pop("portal_key_vault", None)
    assert read_all(user("archivist"), doc.id)
    assert app.test_client().get("/healthz").get_json()["components"]["keyvault"] == {"ok": True}


def test_a_destroyed_key_reads_as_destroyed_even_from_an_old_database_row(app, filed, upload, user):
    """The vault keeps a marker of each key it destroyed (no key material): a database restored by
    other means (old rows, archive still "filed") reads as destroyed, not as the wrong vault, and
    /healthz does not count it as missing."""
    doc = upload("staff_sales", filed, samples.pdf(["旧行"]), "合同.pdf")
    old = key_row(filed.id)
    old_wrapped, old_kek = old.wrapped_key, old.vault_key_id
    services.destroy_data_key(cli_actor(), filed.id)
    db.session.commit()
    marker = vault().path / f"{old_kek}.destroyed"
    assert marker.is_file() and b"kek" not in marker.read_bytes()
    row = key_row(filed.id)
    row.wrapped_key, row.vault_key_id, row.destroyed_at = old_wrapped, old_kek, None
    db.session.commit()
    with pytest.raises(ObjectMissing) as caught:
        read_all(user("archivist"), doc.id)
    assert "已销毁" in str(caught.value.message)
    assert app.test_client().get("/healthz").get_json()["components"]["keyvault"] == {"ok": True}
