"""Pages of retention."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("retention", __name__, url_prefix="/retention")
