"""Organisation trees: org units (HQ → regions → branches) and partner groups."""

from flask import Blueprint

bp = Blueprint("org", __name__, url_prefix="/org")

from . import views  # noqa: E402,F401
