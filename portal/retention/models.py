"""Tables of retention (migration: see migrations/versions)."""
from __future__ import annotations
