"""JSON API of knowledge-sharing sessions under ``/api/v1/ks/sessions`` (docs/api.md).

Bearer tokens, English messages, the add-ons' refusal shape: 404 for a session (or action item)
outside the caller's visibility — the same answer as for a missing id —, 403 for a missing
permission on a visible one, 409 for a state that does not allow the action (attendance before
the start, a cancelled session), 422 with field paths for bad input; nothing written on refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from portal.toolkit import (
    authenticate_bearer,
    db,
    english,
    http_error,
    paginate,
    parse_page_args,
    refused,
    require,
)

from ..api_body import json_body
from ..errors import StoryError
from ..permissions import SESSIONS, VIEW
from . import actions as action_service
from . import service

bp = Blueprint("ks_sessions_api", __name__, url_prefix="/api/v1/ks/sessions")
bp.before_request(authenticate_bearer)
bp.register_error_handler(HTTPException, http_error)


def api(view: Callable[..., Any]) -> Callable[..., Any]:
    """English messages; a ``StoryError`` answered in the refusal shape (session rolled back)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return english(view)(*args, **kwargs)
        except StoryError as exc:
            return refused(exc, not_found="Not found.")

    return wrapper


def _body(empty_ok: bool = False) -> dict[str, Any]:
    return json_body(empty_ok=empty_ok)


def _one_key(body: dict[str, Any], key: str) -> Any:
    unknown = sorted(set(body) - {key}, key=str)
    if unknown:
        raise StoryError({str(k)[:40]: "Unknown field." for k in unknown})
    if key not in body:
        raise StoryError({key: "Required."})
    return body[key]


@bp.get("")
@api
def index():
    """``?when=upcoming|past&page=&per_page=``: the sessions the caller sees."""
    require(VIEW)
    try:
        page_no, per_page = parse_page_args(request.args, strict=True, default_size=20)
    except ValueError as exc:
        raise StoryError({"page": str(exc)}) from None
    when = request.args.get("when", "upcoming")
    if when not in ("upcoming", "past"):
        raise StoryError({"when": "One of: upcoming, past."})
    page = paginate(service.list_query(current_user, when), page_no, per_page)
    return jsonify({"items": [service.session_json(s, current_user, full=False) for s in page.items],
                    "page": page.page, "per_page": page.per_page, "total": page.total})


@bp.post("")
@api
def create():
    require(SESSIONS)
    s = service.create_session(_body(), current_user)
    db.session.commit()
    return jsonify(service.session_json(s, current_user)), 201, {"Location": service.session_url(s)}


@bp.get("/<session_id>")
@api
def show(session_id: str):
    require(VIEW)
    s = service.get_session_or_404(session_id, current_user)
    return jsonify(service.session_json(s, current_user))


@bp.patch("/<session_id>")
@api
def patch(session_id: str):
    """Change the given fields (title, times, place, online_url, host, description, minutes, org_unit)."""
    s = service.manageable_or_403(session_id, current_user)
    service.update_session(s, _body(), current_user)
    db.session.commit()
    return jsonify(service.session_json(s, current_user))


@bp.post("/<session_id>/cancel")
@api
def cancel(session_id: str):
    s = service.manageable_or_403(session_id, current_user)
    told = service.cancel_session(s, current_user)
    db.session.commit()
    return jsonify({"id": s.id, "cancelled": True, "notified": told})


@bp.post("/<session_id>/agenda")
@api
def agenda(session_id: str):
    """``{"agenda": [{"story", "presenter", "note"}, …]}`` replaces the agenda in this order."""
    s = service.manageable_or_403(session_id, current_user)
    service.set_agenda(s, _one_key(_body(), "agenda"), current_user)
    db.session.commit()
    return jsonify({"agenda": service.agenda_rows(s, current_user)})


@bp.post("/<session_id>/invitees")
@api
def invitees(session_id: str):
    """``{"regions", "branches", "roles"}`` sets the rule and invites its users; ``{}`` re-resolves."""
    s = service.manageable_or_403(session_id, current_user)
    body = _body(empty_ok=True)
    counts = service.invite(s, body or None, current_user)
    db.session.commit()
    return jsonify(counts | {"invite_rule": s.invite_rule})


@bp.post("/<session_id>/attendance")
@api
def attendance(session_id: str):
    """``{"attendance": [{"user": id, "attended": true | false | null}]}``, once the session started."""
    s = service.manageable_or_403(session_id, current_user)
    n = service.mark_attendance(s, _one_key(_body(), "attendance"), current_user)
    db.session.commit()
    return jsonify({"marked": n, **service.attendance_counts([s.id])[s.id]})


@bp.post("/<session_id>/actions")
@api
def add_action(session_id: str):
    """``{"title", "owner_branch" (code or id), "due_date": "YYYY-MM-DD"}``."""
    s = service.manageable_or_403(session_id, current_user)
    item = action_service.add_action(s, _body(), current_user)
    db.session.commit()
    row = next(r for r in action_service.action_rows(s) if r["id"] == item.id)
    return jsonify(row), 201


@bp.patch("/actions/<action_id>")
@api
def patch_action(action_id: str):
    """Organisers change any field; the owner branch's staff mark it done (or open again)."""
    item, s = action_service.action_or_404(action_id, current_user)
    action_service.update_action(item, s, _body(), current_user)
    db.session.commit()
    return jsonify(next(r for r in action_service.action_rows(s) if r["id"] == item.id))
