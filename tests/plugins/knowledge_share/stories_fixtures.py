"""Helpers of the story service/API tests: users by e-mail (an R02 branch user made on demand),
a valid story body, stories created and moved through the service."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select

BODY: dict[str, Any] = {
    "title": "건강식품 세미나로 재구매율 상승",
    "summary": "강남점 단골 고객 대상 **건강식품 세미나** 후 재구매율이 올랐습니다.",
    "problem": "건강식품 재구매가 줄었다.",
    "audience": "최근 6개월 건강식품 구매 고객",
    "offer": "세미나 참석 시 샘플 증정",
    "steps": "1. 초대 문자\n2. 세미나\n3. 후속 전화",
    "result_text": "재구매율 +8 %p (자체 집계)",
    "lessons": "세미나 다음 날 전화가 효과적",
    "channels": ["sms", "seminar"],
    "category": "health",
    "season": "autumn",
    "rfm_segment": "loyal",
    "keywords": ["세미나", "재구매"],
    "visibility": "all",
}


def body(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BODY)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def user(email: str):
    from portal.toolkit import User, db

    return db.session.scalar(select(User).where(User.email == email))


def r02_user(email: str = "store5@example.com", branch: str = "B005"):
    """A Branch Staff member of an R02 branch (the demo has none)."""
    from portal.models import LocalRole
    from portal.toolkit import BRANCH_STAFF, OrgUnit, User, db

    found = user(email)
    if found is not None:
        return found
    unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == branch))
    u = User(email=email, name="대전점 직원", password_hash="!", locale="ko", active=True)
    db.session.add(u)
    db.session.flush()
    db.session.add(LocalRole(user_id=u.id, role=BRANCH_STAFF, org_unit_id=unit.id))
    db.session.commit()
    db.session.refresh(u)
    return u


def story(email: str = "store1@example.com", **changes: Any):
    """A private story created through the service (committed)."""
    from plugins.knowledge_share.stories.service import create_story
    from portal.toolkit import db

    s = create_story(body(**changes), user(email))
    db.session.commit()
    return s


def published(email: str = "store1@example.com", **changes: Any):
    """A story submitted by its author and published by the reviewer (committed)."""
    from plugins.knowledge_share.stories.service import fire
    from portal.toolkit import db

    s = story(email, **changes)
    fire(s, "submit", user(email))
    fire(s, "publish", user("reviewer@example.com"))
    db.session.commit()
    return s
