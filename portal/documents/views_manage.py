"""Upload, list, edit details, replace file, history (owned by the upload/manage helper)."""
from __future__ import annotations

from portal.documents.views import bp  # noqa: F401
