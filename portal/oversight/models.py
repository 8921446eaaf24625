"""Tables of oversight (migration: see migrations/versions)."""
from __future__ import annotations
