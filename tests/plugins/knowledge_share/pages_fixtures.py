"""Helpers of the story page tests: a logged-in test client, a form body, posting with a token."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import csrf_token, login

FORM: dict[str, Any] = {
    "title": "건강식품 세미나로 재구매율 상승",
    "summary": "강남점 단골 고객 대상 **건강식품 세미나** 후 재구매율이 올랐습니다.",
    "problem": "건강식품 재구매가 줄었다.",
    "audience": "최근 6개월 건강식품 구매 고객",
    "channels": ["sms", "seminar"],
    "offer": "세미나 참석 시 샘플 증정",
    "timeline": "9월 한 달",
    "steps": "1. 초대 문자\n2. 세미나\n3. 후속 전화",
    "result_text": "재구매율 +8 %p (자체 집계)",
    "lessons": "세미나 다음 날 전화가 효과적",
    "category": "health",
    "rfm_segment": "loyal",
    "season": "autumn",
    "keywords": "세미나, 재구매",
    "visibility": "all",
}


def client_for(app, email: str):
    client = app.test_client()
    resp = login(client, email)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


def post(client, url: str, data: dict[str, Any], form_page: str | None = None):
    """POST with a valid CSRF token taken from ``form_page`` (default: the dashboard)."""
    token = csrf_token(client, form_page or "/dashboard")
    return client.post(url, data={**data, "csrf_token": token})


def story_id_from(location: str) -> int:
    return int(re.search(r"/stories/(\d+)", location).group(1))


def r02_login(app, email: str = "store5@example.com"):
    """An R02 branch staff member (stories_fixtures.r02_user) who can log in with the demo password."""
    from sqlalchemy import text

    from portal.toolkit import db
    from tests.plugins.knowledge_share.stories_fixtures import r02_user

    r02_user(email)
    db.session.execute(text("UPDATE user_account SET password_hash = (SELECT u.password_hash FROM user_account u"
                            " WHERE u.email = 'store1@example.com') WHERE email = :e"), {"e": email})
    db.session.commit()
    return client_for(app, email)
