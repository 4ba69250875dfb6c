"""Placeholder (owner: radar): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_radar", __name__, url_prefix="/prm/radar")
