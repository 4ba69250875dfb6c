"""PLACEHOLDER blueprint ``bm_api`` (keep the name and url_prefix); the area's owner fills it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("bm_api", __name__, url_prefix="/api/v1/monitor")
