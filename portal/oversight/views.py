"""Pages of oversight."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("oversight", __name__, url_prefix="/oversight")
