"""Message-set pages: list, editor, side-by-side preview (owner: message-set pages — placeholder until built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cem_message_sets", __name__, url_prefix="/message-sets")
