"""Search tests: the index is written synchronously right after each commit (``SEARCH_WRITER=sync``)
so that a test can search for what it has just saved. Other test folders leave the outbox alone."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "documents"))  # doc_samples


@pytest.fixture
def store_config():
    return {"SEARCH_WRITER": "sync"}


@pytest.fixture
def upload(app, user):
    """``upload("staff_sales", archive, data, "合同.pdf", doc_type="合同", …)`` → Document."""
    from portal.actor import Actor
    from portal.documents import services

    def _upload(by, archive, data: bytes, filename: str = "file.pdf", **details):
        details.setdefault("doc_type", "合同")
        return services.upload(Actor(user(by), "127.0.0.1"), archive.id, io.BytesIO(data), filename,
                               services.Details(**details))

    return _upload
