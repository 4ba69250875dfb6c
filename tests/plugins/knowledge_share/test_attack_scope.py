"""Scope leaks, hunted from an R02 branch user's seat: a story visible to region R01 only, with its
attachment, comment, vote, history, working copy, result block and reuse panel, and an R01
knowledge-sharing session (agenda, invitees, action item) are never shown to the R02 user — not
by a list, a count, the search, the digest, a dashboard portlet, the API nor a guessed URL (404,
the answer of a missing id). A private story is seen by its author, reviewers and ks.see_all
only; a working copy is never a search hit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text as sql_text

from tests.conftest import csrf_token, scalar
from tests.plugins.knowledge_share.attack_fixtures import R02, fill, headers, ks_routes, text_of
from tests.plugins.knowledge_share.files_fixtures import PNG
from tests.plugins.knowledge_share.pages_fixtures import client_for, r02_login
from tests.plugins.knowledge_share.sessions_fixtures import noon_kst, session_row
from tests.plugins.knowledge_share.stories_fixtures import published, story, user

MARK = "알공일전용비밀사례"
COPY_MARK = "작업사본제목표식"


@pytest.fixture
def r01(app) -> dict[str, Any]:
    """The R01-only world (through the services, committed): ids by route variable name."""
    from plugins.knowledge_share.sessions.actions import add_action
    from plugins.knowledge_share.sessions.service import invite, set_agenda
    from plugins.knowledge_share.social.service import add_comment, vote
    from plugins.knowledge_share.stories.attachments import add_attachment
    from plugins.knowledge_share.stories.service import checkout, fire, update_story
    from portal.toolkit import db

    store1, store2, hq = user("store1@example.com"), user("store2@example.com"), user("hq@example.com")
    s = story(title=MARK, visibility="region", keywords=["비밀키워드"])
    att = add_attachment(s, "사진.png", PNG, store1)
    fire(s, "submit", store1)
    fire(s, "publish", user("reviewer@example.com"))
    comment = add_comment(s.id, store2, f"{MARK} 댓글")
    vote(s.id, store2)
    copy = checkout(s, store1)
    update_story(copy, {"title": COPY_MARK}, store1)
    sess = session_row(org="R01", title=f"{MARK} 공유회")
    set_agenda(sess, [{"story": s.id, "note": MARK}], hq)
    invite(sess, {"regions": ["R01"]}, hq)
    item = add_action(sess, {"title": f"{MARK} 할 일", "owner_branch": "B001",
                             "due_date": (noon_kst(14).date()).isoformat()}, hq)
    db.session.commit()
    return {"story_id": s.id, "copy_id": copy.id, "attachment_id": att.id, "comment_id": comment.id,
            "session_id": sess.id, "action_id": item.id}


def _ids_for(rule: str, ids: dict[str, Any]) -> list[str]:
    for name in ("story_id", "attachment_id", "comment_id", "session_id", "action_id"):
        if f"{name}>" in rule:
            return [str(ids[name])] + ([str(ids["copy_id"])] if name == "story_id" else [])
    return []


def test_every_route_answers_404_to_the_r02_user_for_r01_objects(app, r01):
    client = r02_login(app, R02)
    hdrs = headers("store5")
    token = csrf_token(client, "/dashboard")
    failures = []
    for rule, methods, endpoint in ks_routes(app):
        for value in _ids_for(rule, r01):
            url = fill(rule, value)
            for method in sorted(methods):
                if url.startswith("/api/"):
                    resp = client.open(url, method=method, headers=hdrs,
                                       json={} if method != "GET" else None)
                else:
                    resp = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
                text = text_of(resp)
                # the answer of a missing id: 404, or a 403 the route gives whatever the id (no permission)
                missing = client.open(fill(rule, "999999999"), method=method, headers=hdrs if url.startswith("/api/")
                                      else None, json={} if url.startswith("/api/") and method != "GET" else None,
                                      data={"csrf_token": token} if method == "POST" and not url.startswith("/api/")
                                      else None)
                if resp.status_code not in (403, 404) or resp.status_code != missing.status_code \
                        or MARK in text or COPY_MARK in text:
                    failures.append((method, url, endpoint, resp.status_code, missing.status_code))
    assert not failures, failures
    # nothing was written by the attempts
    assert scalar("SELECT count(*) FROM ks_comment") == 1 and scalar("SELECT count(*) FROM ks_vote") == 1
    assert scalar("SELECT count(*) FROM ks_reuse") == 0


LISTS = ["/stories/", "/stories/?q=공일전용비밀", "/stories/?q=비밀키워드", "/stories/mine", "/stories/review",
         "/stories/sessions/", "/stories/sessions/?when=past", "/stories/social/follows", "/dashboard",
         "/notifications/"]
API_LISTS = ["/api/v1/stories", "/api/v1/stories?q=공일전용비밀", "/api/v1/stories?q=비밀키워드&sort=helpful",
             "/api/v1/ks/sessions", "/api/v1/ks/sessions?when=past", "/api/v1/ks/follows"]


def test_no_list_count_search_portlet_or_digest_shows_r01_to_the_r02_user(app, r01):
    from plugins.knowledge_share.social.service import follow, send_digests
    from portal.toolkit import db

    client = r02_login(app, R02)
    follow(user(R02), "keyword", "비밀키워드")
    follow(user("store2@example.com"), "keyword", "비밀키워드")  # the control: a same-region follower
    db.session.commit()
    db.session.execute(sql_text("UPDATE ks_follow SET created_at = :t, digested_until = :t"), {"t": datetime(2020, 1, 1)})
    db.session.commit()
    send_digests(force=True)
    db.session.commit()
    hdrs = headers("store5")
    for url in LISTS:
        resp = client.get(url)
        assert resp.status_code in (200, 403, 404), (url, resp.status_code)
        text = text_of(resp)
        assert MARK not in text and COPY_MARK not in text, url
    for url in API_LISTS:
        resp = client.get(url, headers=hdrs)
        assert resp.status_code == 200, (url, resp.status_code)
        text = text_of(resp)
        assert MARK not in text and COPY_MARK not in text, url
    assert client.get("/api/v1/stories", headers=hdrs).get_json()["total"] == 0
    assert scalar("SELECT count(*) FROM notification n JOIN user_account u ON u.id = n.user_id "
                  "WHERE u.email = :e AND (n.text LIKE :m OR n.url LIKE :u)", e=R02, m=f"%{MARK}%",
                  u=f"%/stories/{r01['story_id']}%") == 0
    assert scalar("SELECT count(*) FROM notification n JOIN user_account u ON u.id = n.user_id "
                  "WHERE u.email = 'store2@example.com' AND n.kind = 'ks.digest' AND n.text LIKE :m", m=f"%{MARK}%") == 1
    # the same pages show it to a same-region reader (the test can see what it hunts for)
    store2 = client_for(app, "store2@example.com")
    assert MARK in store2.get("/stories/?q=공일전용비밀").get_data(as_text=True)
    assert MARK in store2.get(f"/stories/sessions/{r01['session_id']}").get_data(as_text=True)
    assert MARK in text_of(store2.get("/api/v1/stories?q=공일전용비밀", headers=headers("store2")))
    assert MARK in text_of(store2.get(f"/api/v1/ks/sessions/{r01['session_id']}", headers=headers("store2")))


def test_a_private_story_is_seen_by_its_author_reviewers_and_see_all_only(app):
    s = story(title="비공개초안표식")
    hq_seen = {"store1", "reviewer", "hq", "admin"}
    for who in ("admin", "hq", "reviewer", "leader1", "ibo1", "store1", "store2", "store5"):
        client = r02_login(app, R02) if who == "store5" else client_for(app, f"{who}@example.com")
        page = client.get(f"/stories/{s.id}")
        api = client.get(f"/api/v1/stories/{s.id}", headers=headers(who))
        listed = text_of(client.get("/api/v1/stories?q=비공개초안표식", headers=headers(who)))
        if who in hq_seen:
            assert page.status_code == 200 and api.status_code == 200, who
        else:
            assert page.status_code == 404 and api.status_code == 404, (who, page.status_code, api.status_code)
            assert "비공개초안표식" not in listed, who
        assert "비공개초안표식" not in listed or who in hq_seen


def test_a_working_copy_is_never_a_search_hit(app, r01):
    for who in ("hq@example.com", "store1@example.com", "reviewer@example.com"):
        client = client_for(app, who)
        for url in ("/stories/?q=사본제목", "/api/v1/stories?q=사본제목"):
            resp = client.get(url, headers=headers(who.split("@")[0]))
            assert resp.status_code == 200 and f"/stories/{r01['copy_id']}\"" not in text_of(resp)
        doc = client.get(f"/api/v1/stories?q={MARK}", headers=headers(who.split("@")[0])).get_json()
        assert [d["id"] for d in doc["items"]] == [r01["story_id"]], doc


def test_an_r01_story_changes_nothing_the_r02_user_sees_not_even_a_count(app):
    """The R02 user's list, search, review and dashboard pages and API answers are the same before
    and after an R01-only story (with its working copy and comments) exists: no count, facet or
    page number moves."""
    import re

    client = r02_login(app, R02)
    hdrs = headers("store5")
    urls = ["/stories/", "/stories/?q=세미나", "/stories/?category=health", "/stories/?sort=helpful", "/stories/mine",
            "/stories/sessions/", "/dashboard"]
    api = ["/api/v1/stories", "/api/v1/stories?q=세미나", "/api/v1/stories?sort=helpful", "/api/v1/ks/sessions"]
    noise = re.compile(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*" name="csrf_token"|nonce="[^"]*"')

    def snapshot() -> list[str]:
        return [noise.sub("", client.get(u).get_data(as_text=True)) for u in urls] + \
               [text_of(client.get(u, headers=hdrs)) for u in api]

    before = snapshot()
    from plugins.knowledge_share.social.service import add_comment, vote
    from plugins.knowledge_share.stories.service import checkout
    from portal.toolkit import db

    s = published(title="건강식품 세미나 R01", visibility="region", category="health")
    add_comment(s.id, user("store2@example.com"), "세미나 좋네요")
    vote(s.id, user("store2@example.com"))
    checkout(s, user("store1@example.com"))
    db.session.commit()
    after = snapshot()
    for url, a, b in zip(urls + api, before, after, strict=True):
        assert a == b, url
    published(title="모두에게 보이는 세미나", visibility="all")  # the control: a story for everyone moves them
    assert snapshot()[0] != after[0] and snapshot()[-4] != after[-4]
