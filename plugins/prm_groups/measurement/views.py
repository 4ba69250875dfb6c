"""Placeholder (owner: measurement): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_results", __name__, url_prefix="/prm/programmes")
