"""Pages of inspection."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("inspection", __name__, url_prefix="/inspections")
