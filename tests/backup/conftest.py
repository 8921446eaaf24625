"""Backups run on both stores (local files and a real S3 API server); helpers in backup_helpers.py."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "documents"))  # doc_samples


@pytest.fixture(params=["local", "s3"])
def store_config(request, s3_config):
    if request.param == "local":
        return {}
    return s3_config(request.getfixturevalue("s3_server"))


@pytest.fixture
def store_kind(store_config):
    return "s3" if store_config else "local"


@pytest.fixture
def upload(app, user):
    """``upload("staff_sales", archive, data, "合同.pdf", doc_type="合同")`` → Document."""
    from portal.actor import Actor
    from portal.documents import services

    def _upload(by, archive, data: bytes, filename: str = "file.pdf", **details):
        details.setdefault("doc_type", "合同")
        return services.upload(Actor(user(by), "127.0.0.1"), archive.id, io.BytesIO(data), filename,
                               services.Details(**details))

    return _upload
