"""Customer records: list, detail with plugin tabs, create/edit, consent, flags, export."""

from flask import Blueprint

bp = Blueprint("customers", __name__, url_prefix="/customers")

from . import privacy_views, views  # noqa: E402,F401
