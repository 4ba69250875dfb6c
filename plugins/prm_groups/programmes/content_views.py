"""Placeholder (owner: content): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_content", __name__, url_prefix="/prm/programmes")
