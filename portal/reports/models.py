"""Tables of reports (migration: see migrations/versions)."""
from __future__ import annotations
