"""Data quality: the data-to-fix queue, duplicate candidates and the audited merge."""

from flask import Blueprint

bp = Blueprint("quality", __name__, url_prefix="/quality")

from . import views  # noqa: E402,F401
