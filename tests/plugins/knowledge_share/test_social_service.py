"""Comments, helpful votes and follows through the social service and the JSON API (KS-8)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.knowledge_share.social_fixtures import make_branch_user, make_story, user

API = "/api/v1/ks"


def _count_votes(story_id: int) -> int:
    return scalar("SELECT count(*) FROM ks_vote WHERE story_id = :s", s=story_id)


def test_ks8_comment_on_a_private_story_is_404_and_two_votes_count_once(app):
    """KS-8: a comment on another's private story → 404 (its existence not revealed); the author
    on their own private story → 409; two helpful votes by one user → one vote counted."""
    private = make_story("store1", state="private")
    published = make_story("store1", title="Kakao 친구톡 win-back")
    store2 = bearer(api_token_for("store2@example.com"))
    c = app.test_client()
    resp = c.post(f"{API}/stories/{private.id}/comments", json={"body": "좋은 사례네요"}, headers=store2)
    assert resp.status_code == 404, resp.get_json()
    assert resp.get_json()["error"] == "not_found"
    assert c.post(f"{API}/stories/{private.id}/vote", headers=store2).status_code == 404
    assert c.get(f"{API}/stories/{private.id}/comments", headers=store2).status_code == 404
    own = bearer(api_token_for("store1@example.com"))
    assert c.post(f"{API}/stories/{private.id}/comments", json={"body": "메모"}, headers=own).status_code == 409
    assert scalar("SELECT count(*) FROM ks_comment") == 0

    first = c.post(f"{API}/stories/{published.id}/vote", headers=store2)
    second = c.post(f"{API}/stories/{published.id}/vote", headers=store2)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json() == {"story_id": published.id, "version": 1, "helpful_count": 1, "voted": True}
    assert _count_votes(published.id) == 1
    assert scalar("SELECT helpful_count FROM ks_story WHERE id = :s", s=published.id) == 1


def test_comments_on_a_published_story(app):
    story = make_story("store1")
    store2 = bearer(api_token_for("store2@example.com"))
    c = app.test_client()
    resp = c.post(f"{API}/stories/{story.id}/comments", json={"body": "  저희 지점도 해봤어요.\n재구매가 늘었습니다  "},
                  headers=store2)
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    assert doc["body"] == "저희 지점도 해봤어요.\n재구매가 늘었습니다" and doc["version"] == 1 and not doc["hidden"]
    listed = c.get(f"{API}/stories/{story.id}/comments", headers=store2).get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == doc["id"]
    for bad in ("", "   ", "x" * 2001, 12, None):
        r = c.post(f"{API}/stories/{story.id}/comments", json={"body": bad}, headers=store2)
        assert r.status_code == 422 and "body" in r.get_json()["errors"], bad
    r = c.post(f"{API}/stories/{story.id}/comments", json={"body": "ok", "story_id": 9}, headers=store2)
    assert r.status_code == 422 and "story_id" in r.get_json()["errors"]
    assert c.post(f"{API}/stories/{story.id}/comments", data="nope", headers=store2).status_code == 422
    for junk in ("abc", "0", "99999999999999999999", "-1"):
        assert c.post(f"{API}/stories/{junk}/comments", json={"body": "x"}, headers=store2).status_code == 404
    assert scalar("SELECT count(*) FROM ks_comment") == 1


def test_comment_with_personal_data_is_refused_with_the_excerpt(app, monkeypatch):
    """The personal-data guard runs on comments too (its own tests cover the patterns)."""
    story = make_story("store1")
    store2 = bearer(api_token_for("store2@example.com"))
    r = app.test_client().post(f"{API}/stories/{story.id}/comments",
                               json={"body": "고객 김씨 010-1234-5678 으로 연락"}, headers=store2)
    from plugins.knowledge_share.stories.pii import scan_text

    if scan_text({"body": "010-1234-5678"}):  # the guard has landed
        assert r.status_code == 422
        body = r.get_json()
        assert any(k.startswith("body[") for k in body["errors"])
        assert "010-1234-5678" in " ".join(body["errors"].values())
        assert scalar("SELECT count(*) FROM ks_comment") == 0
    else:
        assert r.status_code == 201


def test_hide_and_unhide_by_a_moderator_only(app):
    story = make_story("store1")
    c = app.test_client()
    store2 = bearer(api_token_for("store2@example.com"))
    cid = c.post(f"{API}/stories/{story.id}/comments", json={"body": "광고성 글입니다"}, headers=store2).get_json()["id"]
    # store1 (no ks.moderate) sees the comment: 403, nothing changes
    r = c.post(f"{API}/comments/{cid}/hide", json={"reason": "광고"}, headers=bearer(api_token_for("store1@example.com")))
    assert r.status_code == 403
    reviewer = bearer(api_token_for("reviewer@example.com"))
    r = c.post(f"{API}/comments/{cid}/hide", json={"reason": ""}, headers=reviewer)
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    r = c.post(f"{API}/comments/{cid}/hide", json={"reason": "광고성 내용"}, headers=reviewer)
    assert r.status_code == 200 and r.get_json()["hidden"] and r.get_json()["hidden_reason"] == "광고성 내용"
    listed = c.get(f"{API}/stories/{story.id}/comments", headers=store2).get_json()["items"]
    assert listed[0]["hidden"] is True and listed[0]["body"] is None and "hidden_reason" not in listed[0]
    assert scalar("SELECT count(*) FROM audit_event WHERE action = 'ks.comment_hidden'") == 1
    r = c.post(f"{API}/comments/{cid}/hide", json={"hidden": False}, headers=reviewer)
    assert r.status_code == 200 and r.get_json()["hidden"] is False
    assert scalar("SELECT count(*) FROM audit_event WHERE action = 'ks.comment_unhidden'") == 1
    assert c.get(f"{API}/stories/{story.id}/comments", headers=store2).get_json()["items"][0]["body"] == "광고성 글입니다"
    assert c.post(f"{API}/comments/999999/hide", json={"reason": "광고성"}, headers=reviewer).status_code == 404


def test_votes_are_per_version_and_can_be_taken_back(app):
    from plugins.knowledge_share.models import KsStory
    from portal.toolkit import db

    story = make_story("store1")
    c = app.test_client()
    store2 = bearer(api_token_for("store2@example.com"))
    hq = bearer(api_token_for("hq@example.com"))
    assert c.post(f"{API}/stories/{story.id}/vote", headers=store2).status_code == 201
    assert c.post(f"{API}/stories/{story.id}/vote", headers=hq).get_json()["helpful_count"] == 2
    r = c.delete(f"{API}/stories/{story.id}/vote", headers=hq)
    assert r.status_code == 200 and r.get_json() == {"story_id": story.id, "version": 1, "helpful_count": 1,
                                                     "voted": False}
    assert c.delete(f"{API}/stories/{story.id}/vote", headers=hq).get_json()["helpful_count"] == 1
    # the author does not vote for their own story
    assert c.post(f"{API}/stories/{story.id}/vote", headers=bearer(api_token_for("store1@example.com"))).status_code == 403
    # a new published version starts at 0 (the story service resets the count); old votes stay with version 1
    db.session.execute(KsStory.__table__.update().where(KsStory.id == story.id).values(version=2, helpful_count=0))
    db.session.commit()
    r = c.post(f"{API}/stories/{story.id}/vote", headers=store2)
    assert r.status_code == 201 and r.get_json() == {"story_id": story.id, "version": 2, "helpful_count": 1,
                                                     "voted": True}
    assert scalar("SELECT count(*) FROM ks_vote WHERE story_id = :s", s=story.id) == 2
    assert c.delete(f"{API}/stories/{story.id}/vote", headers=store2).get_json()["helpful_count"] == 0


def test_region_story_is_404_for_an_r02_user(app):
    story = make_story("store1", visibility="region", scope="R01")
    make_branch_user("store5@example.com", "B005")
    r02 = bearer(api_token_for("store5@example.com"))
    c = app.test_client()
    assert c.post(f"{API}/stories/{story.id}/comments", json={"body": "hi"}, headers=r02).status_code == 404
    assert c.post(f"{API}/stories/{story.id}/vote", headers=r02).status_code == 404
    assert c.get(f"{API}/stories/{story.id}/comments", headers=r02).status_code == 404
    assert c.post(f"{API}/stories/{story.id}/vote", headers=bearer(api_token_for("store2@example.com"))).status_code == 201


def test_follows_api(app):
    from plugins.knowledge_share.models import KsFollow
    from portal.toolkit import db

    c = app.test_client()
    h = bearer(api_token_for("store2@example.com"))
    assert c.get(f"{API}/follows", headers=h).get_json()["items"] == []
    r = c.post(f"{API}/follows", json={"kind": "category", "value": "health"}, headers=h)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["label"] in ("건강식품", "Health food") or r.get_json()["label"]
    assert c.post(f"{API}/follows", json={"kind": "category", "value": "health"}, headers=h).status_code == 200
    assert c.post(f"{API}/follows", json={"kind": "keyword", "value": "  Kakao  "}, headers=h).get_json()["value"] == "kakao"
    assert c.post(f"{API}/follows", json={"kind": "channel", "value": "kakao"}, headers=h).status_code == 201
    for bad, field in (({"kind": "colour", "value": "x"}, "kind"), ({"kind": "channel", "value": "fax"}, "value"),
                       ({"kind": "season", "value": "monsoon"}, "value"), ({"kind": "rfm", "value": "vip"}, "value"),
                       ({"kind": "category", "value": "99999"}, "value"), ({"kind": "keyword", "value": "x" * 31}, "value"),
                       ({"kind": "keyword", "value": ["a"]}, "value"), ({"kind": "keyword", "value": "a", "x": 1}, "x")):
        r = c.post(f"{API}/follows", json=bad, headers=h)
        assert r.status_code == 422 and field in r.get_json()["errors"], (bad, r.get_json())
    items = c.get(f"{API}/follows", headers=h).get_json()["items"]
    assert [i["kind"] for i in items] == ["category", "channel", "keyword"]
    assert c.delete(f"{API}/follows?kind=keyword&value=kakao", headers=h).status_code == 204
    assert c.delete(f"{API}/follows?kind=keyword&value=kakao", headers=h).status_code == 404
    other = db.session.execute(select(KsFollow.id).where(KsFollow.user_id == user("store2").id)).scalars().first()
    assert c.delete(f"{API}/follows?id={other}", headers=bearer(api_token_for("store1@example.com"))).status_code == 404
    assert c.delete(f"{API}/follows?id={other}", headers=h).status_code == 204
    assert len(c.get(f"{API}/follows", headers=h).get_json()["items"]) == 1


def test_api_junk_is_a_4xx_never_a_500(app):
    story = make_story("store1")
    c = app.test_client()
    h = bearer(api_token_for("store2@example.com"))
    assert c.get(f"{API}/stories/{story.id}/comments").status_code == 401
    assert c.get(f"{API}/stories/{story.id}/comments?page=abc", headers=h).status_code == 422
    assert c.get(f"{API}/stories/{story.id}/comments?page=99999999999999999999", headers=h).status_code == 422
    assert c.get(f"{API}/stories/{story.id}/comments?page=5", headers=h).get_json()["items"] == []
    for body in ([], "x", 1, None, {"body": {"a": 1}}, {"body": "\x00\x00"}):
        r = c.post(f"{API}/stories/{story.id}/comments", json=body, headers=h)
        assert r.status_code == 422, (body, r.status_code)
    for raw in ('{"body": "\\ud800"}', '{"body": "a\\udfff"}'):
        r = c.post(f"{API}/stories/{story.id}/comments", data=raw, headers={**h, "Content-Type": "application/json"})
        assert r.status_code == 422, raw
    r = c.post(f"{API}/follows", data='{"kind": "keyword", "value": "\\ud800"}',
               headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422
    r = c.post(f"{API}/stories/{story.id}/comments", data="[" * 5000, headers={**h, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    for body in ([], {"kind": None}, {"kind": "category", "value": True}, {"kind": "category", "value": 10**30}):
        r = c.post(f"{API}/follows", json=body, headers=h)
        assert r.status_code == 422, (body, r.status_code)
    assert c.delete(f"{API}/follows?id=abc", headers=h).status_code == 404
    assert c.post(f"{API}/comments/abc/hide", json={"reason": "xxxx"}, headers=h).status_code == 404
    assert c.post(f"{API}/stories/{story.id}/vote", json={"x": 1}, headers=h).status_code == 201
    assert scalar("SELECT count(*) FROM ks_comment") == 0
