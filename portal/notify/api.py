"""``/api/v1/notifications``: the caller's own notifications (bearer token, JSON errors).

Another user's id answers 404 like a missing one; the list is paginated like every API list
(``page``, ``per_page``; junk is a 400) and takes ``unread=1`` / ``true`` to list only unread ones.
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask_login import current_user

from ..api.paging import page_args, page_body
from ..api.support import authenticate_bearer
from ..extensions import db
from ..pagination import paginate
from ..security import id_or_404, not_found_message
from . import api_bp
from .models import Notification
from .service import get_own, inbox_query, kind_label, mark_all_read, mark_read, unread_count

api_bp.before_request(authenticate_bearer)

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


def to_dict(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "kind_label": kind_label(n.kind), "title": n.title, "text": n.text, "url": n.url,
        "object": {"type": n.object_type, "id": n.object_id} if n.object_type else None,
        "created_at": n.created_at.isoformat() + "Z", "read_at": n.read_at.isoformat() + "Z" if n.read_at else None,
    }


def _unread_arg() -> bool:
    raw = (request.args.get("unread") or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    abort(400, description="unread must be 1 / true or 0 / false.")


@api_bp.get("")
def notifications():
    unread = _unread_arg()
    page_no, per_page = page_args()
    page = paginate(inbox_query(current_user.id, unread_only=unread), page_no, per_page)
    body = page_body(page, [to_dict(n) for n in page.items], "notify_api.notifications",
                     {"unread": "1"} if unread else {}, unread_count=unread_count(current_user.id, cap=None))
    return jsonify(body)


@api_bp.post("/<notification_id>/read")
def read(notification_id: str):
    n = get_own(current_user.id, id_or_404(Notification, notification_id))
    if n is None:
        abort(404, description=not_found_message(Notification))
    mark_read(current_user.id, [n.id])
    db.session.commit()
    db.session.refresh(n)
    return jsonify(to_dict(n))


@api_bp.post("/read-all")
def read_all():
    n = mark_all_read(current_user.id)
    db.session.commit()
    return jsonify({"marked_read": n})
