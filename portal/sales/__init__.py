"""Daily sales reports (판매일보) into the warehouse: import, status board, sale-line export."""

from flask import Blueprint

bp = Blueprint("sales", __name__, url_prefix="/sales")

from . import export_views, views  # noqa: E402,F401
