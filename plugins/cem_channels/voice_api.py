"""JSON API of message sets, renditions and previews: /api/v1/message-sets (owner: voice API — placeholder until built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cem_voice_api", __name__, url_prefix="/api/v1/message-sets")
