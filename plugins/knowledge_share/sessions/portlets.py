"""Dashboard portlets of the sessions: "your next session" (the soonest one the user is invited
to, hosts or presents at) and "your branch's open action items" (branch staff)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, or_, select

from portal.toolkit import db, has_permission, utcnow

from ..models import KsAgendaItem, KsInvitee, KsSession
from ..permissions import VIEW

ORDER = 56


def next_session(user: Any) -> KsSession | None:
    """The soonest session not yet ended that ``user`` is invited to, hosts or presents at."""
    return db.session.scalar(
        select(KsSession).where(
            KsSession.cancelled.is_(False), KsSession.ends_at >= utcnow(),
            or_(KsSession.host_id == user.id,
                exists().where(KsInvitee.session_id == KsSession.id, KsInvitee.user_id == user.id),
                exists().where(KsAgendaItem.session_id == KsSession.id, KsAgendaItem.presenter_id == user.id)))
        .order_by(KsSession.starts_at, KsSession.id).limit(1))


def portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    if manager != "dashboard" or not getattr(user, "is_authenticated", False) or not has_permission(user, VIEW):
        return []
    from .actions import branch_open_items
    from .service import to_seoul

    out: list[dict[str, Any]] = []
    s = next_session(user)
    if s is not None:
        out.append({"title": _l("Your next knowledge-sharing session"), "order": ORDER, "permission": VIEW,
                    "template": "knowledge_share/sessions/portlet_next.html",
                    "context": {"session": s, "starts": to_seoul(s.starts_at), "ends": to_seoul(s.ends_at)}})
    items = branch_open_items(user)
    if items:
        out.append({"title": _l("Your branch's open action items"), "order": ORDER + 1, "permission": VIEW,
                    "template": "knowledge_share/sessions/portlet_actions.html", "context": {"items": items}})
    return out
