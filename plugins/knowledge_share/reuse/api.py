"""Placeholder (owner: its area's helper)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ks_reuse_api", __name__, url_prefix="/api/v1/stories")
