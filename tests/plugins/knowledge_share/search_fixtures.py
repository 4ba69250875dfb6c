"""Helpers of the search tests: users and units by code, published stories written straight into
the table and indexed with ``reindex_story`` (the story service's own tests cover its writes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

#: Noon in Seoul on 2026-12-07, as naive UTC (tests never depend on the time of day).
NOON_KST = datetime(2026, 12, 7, 3, 0, 0)


def user(email: str) -> Any:
    from portal.toolkit import User, db

    if "@" not in email:
        email = f"{email}@example.com"
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def unit(code: str) -> Any:
    from portal.toolkit import OrgUnit, db

    return db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one()


def category_id(code: str) -> int:
    from portal.toolkit import Category, db

    return db.session.execute(select(Category.id).where(Category.code == code)).scalar_one()


def branch_user(email: str, branch: str) -> Any:
    """Branch staff of ``branch`` (``B005`` is in R02), created once."""
    from portal.models import LocalRole
    from portal.toolkit import User, db

    existing = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if existing is not None:
        return existing
    u = User(email=email, name=email.split("@")[0], password_hash=user("store1").password_hash, locale="ko")
    db.session.add(u)
    db.session.flush()
    db.session.add(LocalRole(user_id=u.id, role="Branch Staff", org_unit_id=unit(branch).id))
    db.session.commit()
    db.session.refresh(u)
    return u


def story(title: str, *, author: str = "store1", state: str = "published", visibility: str = "all",
          scope: str | None = None, body: str = "", category: str | None = None, channels: list[str] | None = None,
          keywords: list[str] | None = None, season: str | None = None, rfm: str | None = None,
          mark: str = "self_reported", age_hours: float = 1, helpful: int = 0, base_id: int | None = None) -> Any:
    """A story (published unless ``state`` says otherwise), indexed; ``age_hours`` before noon KST."""
    from plugins.knowledge_share.models import KsStory
    from plugins.knowledge_share.search.index import reindex_story
    from portal.toolkit import db

    a = user(author)
    branch = next((lr.org_unit_id for lr in a.local_roles if lr.org_unit_id is not None), None)
    scope_unit = unit(scope).id if scope else (branch if visibility in ("branch", "region") else None)
    published = NOON_KST - timedelta(hours=age_hours)
    row = KsStory(title=title, summary=body, channels=channels or [], keywords=keywords or [], season=season,
                  rfm_segment=rfm, author_id=a.id, author_unit_id=branch, visibility=visibility,
                  scope_unit_id=scope_unit, state=state, published_at=published if state == "published" else None,
                  category_id=category_id(category) if category else None, result_mark=mark,
                  helpful_count=helpful, base_id=base_id)
    db.session.add(row)
    db.session.flush()
    reindex_story(row.id)
    db.session.commit()
    return row


def found(who: Any, q: str, **kwargs: Any) -> list[str]:
    """Titles of every story ``who`` finds with ``q``, in the search's order."""
    from plugins.knowledge_share.search.query import search

    page = search(who, q, per_page=100, **kwargs)
    return [s.title for s in page.items]
