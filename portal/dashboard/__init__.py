"""The dashboard: portlets contributed by the core and plugins, filtered by permission."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import views  # noqa: E402,F401
