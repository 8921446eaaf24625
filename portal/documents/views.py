"""Document pages (blueprint ``documents``). Routes live in ``views_manage`` (upload, list, edit,
replace, history) and ``views_view`` (viewer, inline content, download, print, thumbnail); both
register on this blueprint.

URL contract (kept stable for tests, the bench and the API docs):
- GET/POST /archives/<archive_id>/documents/upload   documents.upload   (multi-file field ``files``)
- GET      /archives/<archive_id>/documents          documents.for_archive (list fragment/page)
- GET      /documents/<doc_id>                       documents.detail   (details, versions, history)
- GET/POST /documents/<doc_id>/edit                  documents.edit
- GET/POST /documents/<doc_id>/replace               documents.replace
- GET/POST /documents/<doc_id>/view?version=N        documents.view     (viewer; 一级 asks purpose)
- GET      /documents/<doc_id>/inline/<ticket>       documents.inline   (content inside the viewer)
- GET/POST /documents/<doc_id>/download?version=N    documents.download
- GET/POST /documents/<doc_id>/print?version=N       documents.print_view
- GET      /documents/<doc_id>/thumbnail?version=N   documents.thumbnail
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("documents", __name__)

from portal.documents import views_manage, views_view  # noqa: E402,F401  (routes on ``bp``)
