"""Placeholder (owner: its area's helper)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ks_social", __name__, url_prefix="/stories/social")
