"""A query authorisation reaches full-text search by itself: the search filters its hits with the
same permission clauses the grant widens, and an expired grant narrows them again."""
from __future__ import annotations

import io
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import request_helpers as rh

from portal.actor import Actor
from portal.extensions import db
from portal.models_base import utcnow
from portal.workflows import query_requests as queries
from portal.workflows.requests import QueryRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "documents"))
import doc_samples as samples  # noqa: E402

WORD = "璇玑阁"  # rare enough to match only what this test stores


@pytest.fixture
def store_config():
    return {"SEARCH_WRITER": "sync"}  # the index is written right after each commit


def _titles(user, q):
    from portal.search import services

    results = services.search(Actor(user, "127.0.0.1"), services.SearchRequest.from_args({"q": q}))
    return {hit.title for hit in results.hits}


def test_grant_opens_and_expiry_closes_search_hits(app, user, make_archive):
    from portal.documents import services as documents

    archive = make_archive(status="filed", name=f"{WORD}贸易有限公司")
    documents.upload(rh.as_(user("staff_sales")), archive.id, io.BytesIO(samples.pdf([f"{WORD} 年度框架合同"])),
                     "框架合同.pdf", documents.Details(doc_type="合同", title=f"{WORD}框架合同", sensitivity=2))
    marketing = user("staff_marketing")
    assert _titles(marketing, WORD) == set()
    req = queries.submit(rh.as_(marketing), purpose="核对", scope="all", period_days=2, archive_ref=archive.number)
    assert _titles(marketing, WORD) == set()  # pending: nothing
    queries.approve(rh.as_(user("archivist")), req)
    assert _titles(rh.user_named("staff_marketing"), WORD) == {f"{WORD}贸易有限公司", f"{WORD}框架合同"}
    req = rh.fresh(QueryRequest, req.id)
    req.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert _titles(rh.user_named("staff_marketing"), WORD) == set()
