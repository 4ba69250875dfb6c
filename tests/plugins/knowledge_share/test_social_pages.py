"""The social pages through the test client: the story's panel (comments, helpful button, tag
follows, the hidden-comment placeholder), the follows page, and their phone layout (390 px: no
fixed widths, tables that stack)."""

from __future__ import annotations

import re

from tests.conftest import csrf_token, login, scalar
from tests.plugins.knowledge_share.social_fixtures import make_branch_user, make_story

WIDE = re.compile(r"(?:min-)?width:\s*(\d{3,})px")


def _phone_ok(html: str) -> None:
    assert 'name="viewport"' in html
    assert not [w for w in WIDE.findall(html) if int(w) > 390], "a fixed width wider than a phone"


def test_panel_comment_vote_follow_and_hide(app, login_as):
    story = make_story("store1", keywords=["재구매"], channels=["sms", "kakao"])
    client = login_as("store2@example.com")
    page = f"/stories/social/{story.id}/comments"
    html = client.get(page).get_data(as_text=True)
    _phone_ok(html)
    assert "ks-no-comments" in html and 'data-testid="ks-helpful"' in html and 'data-testid="ks-follow-tag"' in html
    token = csrf_token(client, page)
    resp = client.post(f"/stories/social/{story.id}/comments", data={"body": "<b>저희도</b> 해봤어요", "csrf_token": token,
                                                                      "next": f"{page}#ks-social"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{page}#ks-social")
    # the panel's own forms come back to the panel
    assert f'name="next" value="{page}#ks-social"' in client.get(page).get_data(as_text=True)
    html = client.get(page).get_data(as_text=True)
    assert "&lt;b&gt;저희도&lt;/b&gt; 해봤어요" in html and "<b>저희도" not in html
    # an empty comment: flashed, nothing written
    client.post(f"/stories/social/{story.id}/comments", data={"body": "  ", "csrf_token": token})
    assert scalar("SELECT count(*) FROM ks_comment") == 1
    # no CSRF token: refused
    assert client.post(f"/stories/social/{story.id}/vote", data={}).status_code == 400
    client.post(f"/stories/social/{story.id}/vote", data={"csrf_token": token})
    client.post(f"/stories/social/{story.id}/vote", data={"csrf_token": token})
    html = client.get(page).get_data(as_text=True)
    assert re.search(r'data-testid="ks-helpful-count">1<', html) and 'aria-pressed="true"' in html
    client.post(f"/stories/social/{story.id}/vote", data={"csrf_token": token, "action": "unvote"})
    assert scalar("SELECT helpful_count FROM ks_story WHERE id = :s", s=story.id) == 0
    # follow a tag from the story, then see it on the follows page
    client.post("/stories/social/follows", data={"csrf_token": token, "kind": "keyword", "value": "재구매",
                                                 "next": page})
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="ks-unfollow-tag"' in html
    follows = client.get("/stories/social/follows").get_data(as_text=True)
    _phone_ok(follows)
    assert "재구매" in follows and 'class="stack"' in follows
    # a moderator hides the comment: a placeholder for the reader
    cid = scalar("SELECT id FROM ks_comment")
    mod = app.test_client()
    login(mod, "reviewer@example.com")
    mtoken = csrf_token(mod, page)
    assert mod.post(f"/stories/social/comments/{cid}/hide", data={"csrf_token": mtoken, "reason": "광고성 내용"}
                    ).status_code == 302
    assert "광고성 내용" in mod.get(page).get_data(as_text=True)
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="ks-comment-hidden"' in html and "해봤어요" not in html and "광고성 내용" not in html


def test_store_staff_cannot_hide_and_invisible_story_is_404(app, login_as):
    story = make_story("store1", visibility="region", scope="R01")
    make_branch_user("store5@example.com", "B005")
    client = login_as("store5@example.com")
    assert client.get(f"/stories/social/{story.id}/comments").status_code == 404
    token = csrf_token(client, "/stories/social/follows")
    assert client.post(f"/stories/social/{story.id}/comments", data={"body": "hi", "csrf_token": token}
                       ).status_code == 404
    assert client.post(f"/stories/social/{story.id}/vote", data={"csrf_token": token}).status_code == 404
    assert client.post("/stories/social/comments/1/hide", data={"csrf_token": token, "reason": "xxxx"}
                       ).status_code in (403, 404)
    assert scalar("SELECT count(*) FROM ks_comment") + scalar("SELECT count(*) FROM ks_vote") == 0


def test_follows_page_empty_state_and_select(app, login_as):
    client = login_as("store2@example.com")
    html = client.get("/stories/social/follows").get_data(as_text=True)
    assert 'data-testid="ks-follows-empty"' in html and "<optgroup" in html
    token = csrf_token(client, "/stories/social/follows")
    client.post("/stories/social/follows", data={"csrf_token": token, "tag": "season:chuseok"})
    client.post("/stories/social/follows", data={"csrf_token": token, "tag": "channel:fax"})
    assert scalar("SELECT count(*) FROM ks_follow") == 1
    fid = scalar("SELECT id FROM ks_follow")
    client.post(f"/stories/social/follows/{fid}/delete", data={"csrf_token": token})
    assert scalar("SELECT count(*) FROM ks_follow") == 0
    # a `next` pointing elsewhere is ignored
    resp = client.post("/stories/social/follows", data={"csrf_token": token, "tag": "season:winter",
                                                        "next": "//evil.example/x"})
    assert resp.headers["Location"].endswith("/stories/social/follows")


def test_story_page_includes_the_panel_and_posts_come_back_to_it(app, login_as):
    story = make_story("store1", keywords=["재구매"])
    client = login_as("store2@example.com")
    detail = f"/stories/{story.id}"
    html = client.get(detail).get_data(as_text=True)
    assert 'data-testid="ks-social"' in html and 'data-testid="ks-comment-form"' in html
    _phone_ok(html)
    token = csrf_token(client, detail)
    resp = client.post(f"/stories/social/{story.id}/vote", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{detail}#ks-social")
    html = client.get(detail).get_data(as_text=True)
    assert re.search(r'data-testid="ks-helpful-count">1<', html)
