"""Digests of followed tags (visibility per follower: an R02 user never gets an R01-only story)
and the freshness flag (KS-11: a story reviewed 13 months ago is flagged for its author and the
reviewers, told once, and still found by search). Times pinned to noon in Seoul."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.conftest import login, scalar
from tests.plugins.knowledge_share.social_fixtures import NOON_KST, make_branch_user, make_story, user

DAY = timedelta(days=1)


def _follow(email: str, kind: str, value: str) -> None:
    from plugins.knowledge_share.models import KsFollow
    from plugins.knowledge_share.social.service import follow
    from portal.toolkit import db

    u = user(email)
    row, _ = follow(u, kind, value)
    db.session.execute(update(KsFollow).where(KsFollow.id == row.id)
                       .values(created_at=NOON_KST - 2 * DAY, digested_until=NOON_KST - 2 * DAY))
    db.session.commit()


def _digests(email: str) -> list[tuple[str, str]]:
    from portal.toolkit import db

    rows = db.session.execute(
        select_text("SELECT text, url FROM notification n JOIN user_account u ON u.id = n.user_id "
                    "WHERE n.kind = 'ks.digest' AND u.email = :e ORDER BY n.id"), {"e": email}).all()
    return [(r[0], r[1]) for r in rows]


def select_text(q: str):
    from sqlalchemy import text

    return text(q)


def test_digest_lists_new_visible_stories_of_followed_tags_once(app):
    from plugins.knowledge_share.social.service import send_digests

    make_branch_user("store5@example.com", "B005")
    _follow("store2@example.com", "category", "health")
    _follow("store5@example.com", "category", "health")
    _follow("store5@example.com", "keyword", "WIN-BACK")
    everyone = make_story("store1", title="건강식품 세미나로 재구매율 상승", published_at=NOON_KST - timedelta(hours=3))
    region = make_story("store1", title="R01 지역 한정 건강 사례", visibility="region", scope="R01",
                        published_at=NOON_KST - timedelta(hours=2))
    make_story("store1", title="화장품 샘플링", category_code="beauty", published_at=NOON_KST - timedelta(hours=2))
    make_story("store1", title="비공개 초안", state="private")
    make_story("store1", title="오래된 사례", published_at=NOON_KST - 5 * DAY)
    kw = make_story("hq", title="Kakao 친구톡 win-back", category_code=None, keywords=["Win-Back"],
                    published_at=NOON_KST - timedelta(hours=1))

    result = send_digests(now=NOON_KST)
    assert result["users"] == 2
    (s2,) = _digests("store2@example.com")
    assert "건강식품 세미나로 재구매율 상승" in s2[0] and "R01 지역 한정" in s2[0]
    assert "화장품" not in s2[0] and "비공개" not in s2[0] and "오래된" not in s2[0] and "Kakao" not in s2[0]
    (s5,) = _digests("store5@example.com")
    assert "건강식품 세미나로 재구매율 상승" in s5[0] and "Kakao 친구톡 win-back" in s5[0]
    assert "R01 지역 한정" not in s5[0], "an R02 user never hears of an R01-only story"
    assert region.id and everyone.id and kw.id
    from plugins.knowledge_share.models import KsFollow
    from portal.toolkit import db

    assert set(db.session.execute(select(KsFollow.digested_until)).scalars()) == {NOON_KST}

    # again the same day: nothing new, nothing sent
    assert send_digests(now=NOON_KST + timedelta(hours=1))["users"] == 0
    assert len(_digests("store2@example.com")) == 1

    # a story published after today's digest waits for tomorrow's (one digest a day)
    late = make_story("store1", title="오후에 올라온 건강 사례", published_at=NOON_KST + timedelta(hours=2))
    assert send_digests(now=NOON_KST + timedelta(hours=3))["users"] == 0
    assert len(_digests("store2@example.com")) == 1
    assert send_digests(now=NOON_KST + DAY)["users"] == 2
    texts = _digests("store2@example.com")
    assert len(texts) == 2 and "오후에 올라온" in texts[1][0] and texts[1][1] == f"/stories/{late.id}"


def test_own_stories_and_followers_without_news_get_nothing(app):
    from plugins.knowledge_share.social.service import send_digests

    _follow("store1@example.com", "channel", "sms")
    make_story("store1", title="내 사례", channels=["sms"], published_at=NOON_KST - timedelta(hours=1))
    assert send_digests(now=NOON_KST) == {"users": 0, "stories": 0, "skipped": 0}
    assert scalar("SELECT count(*) FROM notification WHERE kind = 'ks.digest'") == 0


def test_digest_of_many_stories_counts_the_rest(app):
    from plugins.knowledge_share.social.service import DIGEST_LIST_MAX, send_digests

    _follow("store2@example.com", "season", "chuseok")
    for i in range(DIGEST_LIST_MAX + 3):
        make_story("store1", title=f"추석 사례 {i:02d}", season="chuseok", commit=False,
                   published_at=NOON_KST - timedelta(minutes=i + 1))
    from portal.toolkit import db

    db.session.commit()
    assert send_digests(now=NOON_KST) == {"users": 1, "stories": DIGEST_LIST_MAX + 3, "skipped": 0}
    (text, url), = _digests("store2@example.com")
    assert text.count("추석 사례") == DIGEST_LIST_MAX and "3" in text.splitlines()[-1]
    assert url == "/stories/social/follows"


def test_ks11_reviewed_13_months_ago_is_flagged_told_once_and_still_found(app):
    """KS-11: last reviewed 13 months ago → "needs review" for its author and the reviewers (not
    for other readers), one notice to the author per due date, and found by search as before."""
    from plugins.knowledge_share.models import KsStory
    from plugins.knowledge_share.search.query import search
    from plugins.knowledge_share.social.service import (
        needs_review,
        needs_review_expr,
        notify_needs_review,
        review_due_from,
        seoul_today,
    )
    from portal.toolkit import db

    today = seoul_today(NOON_KST)
    reviewed = NOON_KST - timedelta(days=395)
    stale = make_story("store1", title="건강식품 시음회 사례", reviewed_at=reviewed, published_at=reviewed,
                       review_due=review_due_from(reviewed))
    fresh = make_story("store1", title="건강식품 세미나 사례", review_due=review_due_from(NOON_KST))
    archived = make_story("store1", title="건강 보관 사례", state="archived", review_due=review_due_from(reviewed))
    assert needs_review(stale, today) and not needs_review(fresh, today) and not needs_review(archived, today)
    flagged = set(db.session.execute(select(KsStory.id).where(needs_review_expr(today))).scalars())
    assert stale.id in flagged and fresh.id not in flagged and archived.id not in flagged

    assert notify_needs_review(now=NOON_KST) == 1
    assert notify_needs_review(now=NOON_KST + timedelta(days=1)) == 0, "once per due date"
    row = db.session.execute(select_text(
        "SELECT u.email, n.url FROM notification n JOIN user_account u ON u.id = n.user_id "
        "WHERE n.kind = 'ks.needs_review'")).one()
    assert row == ("store1@example.com", f"/stories/{stale.id}")

    # still searchable: found like the fresh story
    ids = {s.id for s in search(user("store2"), "건강식품").items}
    assert stale.id in ids and fresh.id in ids

    # the flag on the story's panel: its author and a reviewer see it, another reader does not
    page = f"/stories/social/{stale.id}/comments"
    for email, shown in (("store1@example.com", True), ("reviewer@example.com", True), ("store2@example.com", False)):
        c = app.test_client()
        login(c, email)
        html = c.get(page).get_data(as_text=True)
        assert ('data-testid="ks-needs-review"' in html) is shown, email


def test_jobs_are_registered_and_run(app):
    from portal.toolkit import db, run_now

    db.session.commit()
    assert run_now("ks.social.digest")["skipped"] in (0, 1)
    assert run_now("ks.social.needs_review") == 0
