"""Dashboard boxes of the story pages: reviewers see how many stories wait for them; writers see
their published stories whose 12-month review is due ("needs review": flagged, never hidden);
every reader sees the latest stories published for them. Each box is one or two small queries
under the visibility rule; a box with nothing to say is left out (no empty cards)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.toolkit import db, has_permission

from ..models import PENDING, PUBLISHED, KsStory
from ..permissions import REVIEW, VIEW, WRITE
from .visibility import visible_filter

ORDER = 40
LIMIT = 5


def portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    if manager != "dashboard" or not getattr(user, "is_authenticated", False) or not has_permission(user, VIEW):
        return []
    from .views import today_kst

    out: list[dict[str, Any]] = []
    seen = visible_filter(user)
    if has_permission(user, REVIEW):
        waiting = db.session.scalar(select(func.count()).select_from(KsStory).where(KsStory.state == PENDING, seen))
        if waiting:
            out.append({"title": _l("Stories waiting for review"), "template": "knowledge_share/stories/portlet_review.html",
                        "order": ORDER, "permission": REVIEW, "context": {"total": waiting}})
    if has_permission(user, WRITE):
        due_q = select(KsStory).where(KsStory.author_id == user.id, KsStory.base_id.is_(None),
                                      KsStory.state == PUBLISHED, KsStory.review_due < today_kst(), seen)
        due = list(db.session.execute(due_q.order_by(KsStory.review_due, KsStory.id).limit(LIMIT)).scalars())
        if due:
            total = len(due) if len(due) < LIMIT else db.session.scalar(
                select(func.count()).select_from(due_q.order_by(None).subquery()))
            out.append({"title": _l("Your stories that need a review"),
                        "template": "knowledge_share/stories/portlet_due.html", "order": ORDER + 1,
                        "permission": WRITE,
                        "context": {"items": [{"id": s.id, "title": s.title, "due": s.review_due} for s in due],
                                    "total": total}})
    latest = list(db.session.execute(select(KsStory).where(KsStory.state == PUBLISHED, KsStory.base_id.is_(None), seen)
                                     .order_by(KsStory.published_at.desc(), KsStory.id.desc()).limit(LIMIT)).scalars())
    if latest:
        out.append({"title": _l("New success stories"), "template": "knowledge_share/stories/portlet_latest.html",
                    "order": ORDER + 2, "permission": VIEW,
                    "context": {"items": [{"id": s.id, "title": s.title, "mark": s.result_mark if s.result else "self_reported",
                                           "at": s.published_at} for s in latest]}})
    return out
