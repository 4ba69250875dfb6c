"""PLACEHOLDER blueprint ``bm_monitor`` (keep the name and url_prefix); the area's owner fills it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("bm_monitor", __name__, url_prefix="/monitor")
