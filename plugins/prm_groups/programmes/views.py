"""Placeholder (owner: programmes): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_programmes", __name__, url_prefix="/prm/programmes")
