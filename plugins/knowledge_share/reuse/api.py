"""JSON API of "reuse this campaign": ``POST /api/v1/stories/<id>/reuse`` → 201 ``{"campaign":
{"id", "name", "state", "url"}, "reuse_id"}``. Bearer tokens only; 404 when cem_channels is off or
the story is not a published one the caller sees (never a 403 that reveals it), 403 without
``ks.reuse``, 409 for a story without a campaign, cem's own refusals at ``campaign.<field>``.
Nothing is written on a refusal; one commit after success."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import authenticate_bearer, db, english, error, http_error, refused, require

from ..errors import StoryError
from ..permissions import VIEW
from . import service

bp = Blueprint("ks_reuse_api", __name__, url_prefix="/api/v1/stories")
bp.before_request(authenticate_bearer)
bp.register_error_handler(HTTPException, http_error)

NOT_FOUND = "No success story with this number."


@bp.post("/<story_id>/reuse")
@english
def reuse(story_id: str):
    """A draft campaign in the caller's unit from the story's campaign (KS-10)."""
    if not service.reuse_available():
        return error(404, "not_found", NOT_FOUND)
    require(VIEW)
    try:
        story = service.story_for_reuse(story_id, current_user)
        made = service.reuse_campaign(story, current_user)
        db.session.commit()
    except StoryError as exc:
        db.session.rollback()
        return refused(exc, not_found=NOT_FOUND)
    body = {"campaign": {k: made.get(k) for k in ("id", "name", "state", "url")}, "reuse_id": made["reuse_id"]}
    return jsonify(body), 201
