"""JSON API of success stories under ``/api/v1/stories`` (docs/api.md): bearer tokens only; the
story service does the work, this module only translates.

Refusals are ``{"error", "message", "errors": {path: message}, "fields"}``: 404 for a story the
caller may not see (the same answer as a missing id, never a 403 that reveals it), 403 for a
missing permission on a visible story, 409 for a state that does not allow the action, 422 for
bad input — with nothing written. Writes commit once, after the service succeeded.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    Category,
    authenticate_bearer,
    db,
    english,
    error,
    http_error,
    parse_page_args,
    refused,
    require,
)

from ..api_body import json_body
from ..errors import StoryError
from ..models import INTERIM, SEASONS, SELF_REPORTED, STORY_CHANNELS, VERIFIED, KsStory
from ..permissions import VIEW, WRITE

bp = Blueprint("ks_stories_api", __name__, url_prefix="/api/v1/stories")
bp.before_request(authenticate_bearer)
bp.register_error_handler(HTTPException, http_error)

TRANSITION_FIELDS = ("transition", "comment", "revision")
MARKS = (VERIFIED, INTERIM, SELF_REPORTED)
SORTS = ("relevance", "newest", "helpful")
Q_MAX = 200
PER_PAGE_MAX = 100


def _refused(exc: StoryError) -> Any:
    extra = {k: v for k, v in exc.extra.items() if k in ("findings",)}
    return refused(exc, not_found="No story with this id.", **extra)


def _body() -> dict[str, Any]:
    return json_body()


def _query_filters() -> tuple[dict[str, Any], dict[str, str]]:
    """The list's filters from the query string, with a message per bad parameter."""
    args = request.args
    filters: dict[str, Any] = {}
    fields: dict[str, str] = {}
    category = args.get("category")
    if category:
        cid = db.session.scalar(select(Category.id).where(Category.code == category[:20]))
        if cid is None:
            fields["category"] = "Unknown category code."
        else:
            filters["category_id"] = cid
    for name, allowed in (("channel", STORY_CHANNELS), ("season", SEASONS), ("mark", MARKS)):
        value = args.get(name)
        if value:
            if value not in allowed:
                fields[name] = "One of: " + ", ".join(allowed) + "."
            else:
                filters[name] = value
    for name, limit in (("rfm_segment", 40), ("keyword", 30)):
        value = args.get(name)
        if value:
            if len(value) > limit:
                fields[name] = f"At most {limit} characters."
            else:
                filters[name] = value
    return filters, fields


@bp.get("")
@english
def index():
    """``?q=&category=&channel=&season=&mark=&sort=&page=&per_page=``: published stories the
    caller may see (Korean bigram search, Latin words in any case), counted and paged in SQL."""
    from ..search.query import search
    from .service import story_summaries

    require(VIEW)
    try:
        page_no, per_page = parse_page_args(request.args, default_size=20, strict=True)
    except ValueError as exc:
        return error(422, "validation_failed", str(exc), errors={"page": str(exc)}, fields={"page": str(exc)})
    filters, fields = _query_filters()
    q = request.args.get("q") or ""
    if len(q) > Q_MAX:
        fields["q"] = f"At most {Q_MAX} characters."
    sort = request.args.get("sort") or "relevance"
    if sort not in SORTS:
        fields["sort"] = "One of: " + ", ".join(SORTS) + "."
    if "\x00" in q:
        fields["q"] = "Remove the control characters."
    if fields:
        return error(422, "validation_failed", "Some parameters are not valid.", errors=fields, fields=fields)
    try:
        result = search(current_user, q, filters=filters, sort=sort, page=page_no, per_page=min(per_page, PER_PAGE_MAX))
    except StoryError as exc:
        return _refused(exc)
    # a text query's total is capped (search.query.COUNT_CAP): total = 1000, total_is_capped true
    body: dict[str, Any] = {"items": story_summaries(list(result.items)), "total": result.total,
                            "total_is_capped": result.total_is_capped, "page": result.page,
                            "per_page": result.per_page}
    if result.has_next:
        args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
        body["next"] = url_for("ks_stories_api.index", **args, page=result.page + 1, per_page=result.per_page)
    return jsonify(body)


@bp.post("")
@english
def create():
    """A new private story (201, ``Location``) written for the caller's unit or group."""
    from .service import create_story, story_document

    require(WRITE)
    try:
        story = create_story(_body(), current_user)
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    resp = jsonify(story_document(story, current_user))
    resp.headers["Location"] = url_for("ks_stories_api.show", story_id=story.id)
    return resp, 201


@bp.get("/<story_id>")
@english
def show(story_id: str):
    """The story document: every field, tags, the result block with its mark, history."""
    from .service import get_story_or_404, story_document

    require(VIEW)
    story = get_story_or_404(story_id, current_user)
    return jsonify(story_document(story, current_user))


@bp.patch("/<story_id>")
@english
def edit(story_id: str):
    """Change the fields sent (private: the author; pending: the author or a reviewer). A
    published story → 409: edit it through a working copy (``POST …/checkout``)."""
    from .service import get_story_or_404, story_document, update_story

    require(VIEW)
    story = get_story_or_404(story_id, current_user)
    try:
        update_story(story, _body(), current_user)
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(story_document(story, current_user))


@bp.post("/<story_id>/checkout")
@english
def checkout_copy(story_id: str):
    """The working copy of a published story: 201 when created, 200 when the open one is returned."""
    from .service import checkout, get_story_or_404, open_copy_id, story_document

    require(VIEW)
    story = get_story_or_404(story_id, current_user)
    try:
        # the base row's lock first (PostgreSQL): a parallel check-out has then either made its copy
        # (ours is returned: 200) or not begun (ours is made: 201) — never two 201s for one copy
        db.session.execute(select(KsStory.id).where(KsStory.id == story.id).with_for_update())
        existing = open_copy_id(story)
        copy = checkout(story, current_user)
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    resp = jsonify(story_document(copy, current_user))
    resp.headers["Location"] = url_for("ks_stories_api.show", story_id=copy.id)
    return resp, (200 if existing == copy.id else 201)


@bp.post("/<story_id>/transitions")
@english
def transitions(story_id: str):
    """``{"transition": "submit"|"publish"|"reject"|"retract"|"archive"|"restore", "comment",
    "revision"}``: the story after it (the base story after a working copy is published)."""
    from .service import fire, get_story_or_404, story_document

    require(VIEW)
    story = get_story_or_404(story_id, current_user)
    try:
        data = _body()
        unknown = sorted((str(k) for k in data if k not in TRANSITION_FIELDS), key=str)
        if unknown:
            raise StoryError({k[:60]: "Unknown field; send transition, comment, revision." for k in unknown}, 422)
        name = data.get("transition")
        if not isinstance(name, str) or not name:
            raise StoryError({"transition": "Name the transition (submit, publish, reject, retract, archive, "
                                            "restore)."}, 422)
        current = fire(story, name, current_user, data.get("comment") or "", revision=data.get("revision"))
    except StoryError as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(story_document(current, current_user))


@bp.get("/<story_id>/history")
@english
def history(story_id: str):
    """The workflow history, oldest first: from, to, transition, actor, time, comment."""
    from .service import get_story_or_404, history_document

    require(VIEW)
    story = get_story_or_404(story_id, current_user)
    return jsonify({"id": story.id, "state": story.state, "history": history_document(story)})
