from flask import Blueprint

bp = Blueprint("register", __name__, url_prefix="/register")
