"""HQ pages: banned terms, caller numbers, KakaoTalk templates, 080 import, reply review (owner: admin pages — placeholder until built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cem_admin", __name__, url_prefix="/manage/cem")
