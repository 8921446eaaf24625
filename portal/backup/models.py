"""Tables of backup (migration: see migrations/versions)."""
from __future__ import annotations
