"""Campaign pages: list, calendar, composer, approvals, progress, results, call list (owner: campaign pages — placeholder until built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cem_campaigns", __name__, url_prefix="/campaigns")
