from flask import Blueprint

bp = Blueprint("archives", __name__)


@bp.route("/")
def index():
    return "archives"
