"""Tables of inspection (migration: see migrations/versions)."""
from __future__ import annotations
