"""JSON API v1: bearer tokens only (no cookies, so no CSRF), JSON errors."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import analytics, quality, sale_lines, sales_reports, views  # noqa: E402,F401
