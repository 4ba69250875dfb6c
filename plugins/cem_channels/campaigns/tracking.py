"""E-mail open pixel, click redirect and provider delivery reports (owner: tracking — placeholder until built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cem_tracking", __name__, url_prefix="/c")
