"""JSON API of comments, helpful votes and followed tags under ``/api/v1/ks`` (docs/api.md):
bearer tokens, English messages, the add-ons' refusal shape. 404 for a story or comment the
caller may not see (never a 403 that reveals it), 403 for a missing permission on a visible one,
409 for a story that is not published, 422 with field paths for bad input — nothing written."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    authenticate_bearer,
    db,
    english,
    error,
    http_error,
    parse_page_args,
    refused,
)

from ..api_body import json_body
from ..errors import StoryError
from ..permissions import VIEW
from . import service

bp = Blueprint("ks_social_api", __name__, url_prefix="/api/v1/ks")
bp.before_request(authenticate_bearer)
bp.register_error_handler(HTTPException, http_error)


def _refused(exc: StoryError) -> Any:
    return refused(exc, **exc.extra)


def _body(*allowed: str, empty_ok: bool = False) -> dict[str, Any]:
    data = json_body(empty_ok=empty_ok)
    unknown = sorted((str(k) for k in data if k not in allowed), key=str)
    if unknown:
        raise StoryError({k[:60]: "Unknown field; send " + ", ".join(allowed) + "." for k in unknown})
    return data


def _vote_doc(story: Any, voted: bool) -> dict[str, Any]:
    return {"story_id": story.id, "version": story.version, "helpful_count": story.helpful_count, "voted": voted}


@bp.get("/stories/<story_id>/comments")
@english
def comments(story_id: str):
    """``?page=&per_page=``: the story's comments, oldest first (hidden ones without their body)."""
    try:
        page_no, per_page = parse_page_args(request.args, default_size=20, strict=True)
    except ValueError as exc:
        return error(422, "validation_failed", str(exc), errors={"page": str(exc)}, fields={"page": str(exc)})
    try:
        story = service.story_or_404(story_id, current_user)
    except StoryError as exc:
        return _refused(exc)
    page = service.comments_page(story, current_user, page_no, per_page)
    return jsonify({"items": [service.comment_dict(c) for c in page.items], "page": page.page,
                    "per_page": page.per_page, "total": page.total})


@bp.post("/stories/<story_id>/comments")
@english
def add_comment(story_id: str):
    """``{"body": "…"}`` → 201 with the comment."""
    try:
        service.story_or_404(story_id, current_user)
        body = _body("body")
        comment = service.add_comment(story_id, current_user, body.get("body"))
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(service.comment_dict(comment, current_user)), 201


@bp.post("/comments/<comment_id>/hide")
@english
def hide(comment_id: str):
    """``{"reason": "…"}`` hides a comment; ``{"hidden": false}`` shows it again (moderators)."""
    try:
        service.comment_or_404(comment_id, current_user)
        body = _body("reason", "hidden")
        hidden = body.get("hidden", True)
        if not isinstance(hidden, bool):
            raise StoryError({"hidden": "true or false."})
        if hidden:
            comment = service.hide_comment(comment_id, current_user, body.get("reason"))
        else:
            comment = service.unhide_comment(comment_id, current_user)
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(service.comment_dict(comment, current_user))


@bp.post("/stories/<story_id>/vote")
@english
def vote(story_id: str):
    """Vote "helpful" for the story's current version; 201 when counted, 200 when it already was."""
    try:
        story, created = service.vote(story_id, current_user)
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(_vote_doc(story, True)), 201 if created else 200


@bp.delete("/stories/<story_id>/vote")
@english
def unvote(story_id: str):
    """Take one's vote back (200 also when there was none)."""
    try:
        story, _removed = service.unvote(story_id, current_user)
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(_vote_doc(story, False))


@bp.get("/follows")
@english
def follows():
    """The caller's followed tags."""
    if not service.has_permission(current_user, VIEW):
        return error(403, "forbidden", "You may not do this.", errors={}, fields={})
    rows = service.follows_of(current_user)
    cats = service._category_labels(int(f.value) for f in rows if f.kind == "category" and f.value.isdigit())
    return jsonify({"items": [service.follow_dict(f, cats) for f in rows], "total": len(rows),
                    "kinds": list(service.FOLLOW_KINDS)})


@bp.post("/follows")
@english
def add_follow():
    """``{"kind": "category|channel|rfm|season|keyword", "value": "…"}`` → 201 (200 if already followed)."""
    try:
        body = _body("kind", "value")
        row, created = service.follow(current_user, body.get("kind"), body.get("value"))
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(service.follow_dict(row)), 201 if created else 200


@bp.delete("/follows")
@english
def remove_follow():
    """``?id=`` or ``?kind=&value=`` (or the same as a JSON body): stop following; 404 if not followed."""
    try:
        data = _body("id", "kind", "value", empty_ok=True) if request.get_data(cache=True) else {}
        args = {**{k: v for k, v in request.args.items() if k in ("id", "kind", "value")}, **data}
        if args.get("id") is not None:
            service.unfollow(current_user, str(args["id"]))
        else:
            service.unfollow(current_user, kind=args.get("kind"), value=args.get("value"))
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return "", 204
