"""Placeholder (owner: radar): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_radar_api", __name__, url_prefix="/api/v1/prm")
