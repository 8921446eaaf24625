"""Pages of destruction."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("destruction", __name__, url_prefix="/destruction")
