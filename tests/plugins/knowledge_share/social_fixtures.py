"""Shared helpers of the social tests (comments, votes, follows, digests, freshness): published
stories built directly (model + ``reindex_story``), users by e-mail, an R02 branch user."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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


def category(code: str) -> Any:
    from portal.toolkit import Category, db

    return db.session.execute(select(Category).where(Category.code == code)).scalar_one()


def make_branch_user(email: str, branch: str, role: str = "Branch Staff") -> Any:
    """A branch staff member of ``branch`` (e.g. ``B005`` in R02), password as store1's."""
    from portal.models import LocalRole
    from portal.toolkit import User, db

    existing = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if existing is not None:
        return existing
    u = User(email=email, name=email.split("@")[0], password_hash=user("store1").password_hash, locale="ko")
    db.session.add(u)
    db.session.flush()
    db.session.add(LocalRole(user_id=u.id, role=role, org_unit_id=unit(branch).id))
    db.session.commit()
    db.session.refresh(u)
    return u


def make_story(author: str = "store1", *, title: str = "건강식품 세미나로 재구매율 상승", state: str = "published",
               visibility: str = "all", scope: str | None = None, category_code: str | None = "health",
               channels: list[str] | None = None, keywords: list[str] | None = None, season: str | None = None,
               rfm: str | None = None, published_at: datetime | None = None, reviewed_at: datetime | None = None,
               review_due: date | None = None, version: int = 1, commit: bool = True) -> Any:
    """A base story written straight into the table (the story service's own tests cover its writes)."""
    from plugins.knowledge_share.models import KsStory
    from plugins.knowledge_share.search.index import reindex_story
    from portal.toolkit import db

    a = user(author)
    branch = next((lr.org_unit_id for lr in a.local_roles if lr.org_unit_id is not None), None)
    scope_unit = unit(scope).id if scope else (branch if visibility in ("branch", "region") else None)
    pub = published_at or (NOON_KST - timedelta(hours=1) if state == "published" else None)
    story = KsStory(title=title, summary="요약", problem="문제", channels=channels or ["sms"], keywords=keywords or [],
                    season=season, rfm_segment=rfm, author_id=a.id, author_unit_id=branch, visibility=visibility,
                    scope_unit_id=scope_unit, state=state, version=version, published_at=pub,
                    reviewed_at=reviewed_at or pub, review_due=review_due,
                    category_id=category(category_code).id if category_code else None)
    db.session.add(story)
    db.session.flush()
    reindex_story(story.id)
    if commit:
        db.session.commit()
    return story
