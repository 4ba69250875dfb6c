"""Placeholder (owner: content): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_content_api", __name__, url_prefix="/api/v1/prm")
