"""JSON API of campaigns: /api/v1/campaigns (owner: campaigns API — placeholder until built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cem_api", __name__, url_prefix="/api/v1/campaigns")
