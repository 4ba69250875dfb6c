"""Customer analytics: RFM, lifetime-value models, segments and extraction."""

from flask import Blueprint

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

from . import views  # noqa: E402,F401
