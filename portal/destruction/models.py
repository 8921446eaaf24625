"""Tables of destruction (migration: see migrations/versions)."""
from __future__ import annotations
