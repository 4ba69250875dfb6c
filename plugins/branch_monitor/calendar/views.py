"""PLACEHOLDER blueprint ``bm_calendar`` (keep the name and url_prefix); the area's owner fills it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("bm_calendar", __name__, url_prefix="/monitor/calendar")
