"""Pages of backup."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("backup", __name__, url_prefix="/backups")
