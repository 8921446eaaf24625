"""Viewer, inline content, download, print, thumbnail (owned by the viewing helper)."""
from __future__ import annotations

from portal.documents.views import bp  # noqa: F401
