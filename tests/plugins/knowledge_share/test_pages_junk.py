"""The story pages with junk: every form and POST with a valid CSRF token and wrong values, ids out
of range, junk query strings — a 4xx with the message next to its field, never a 500, nothing
written; a reviewer's edit of a pending story keeps the author's visibility."""

from __future__ import annotations

import pytest

from tests.conftest import scalar
from tests.plugins.knowledge_share.pages_fixtures import FORM, client_for, post
from tests.plugins.knowledge_share.stories_fixtures import published, story, user

JUNK_FORMS = [
    ({"visibility": "group"}, "visibility"),  # store1 writes for a branch, not a group
    ({"visibility": "world"}, "visibility"),
    ({"keywords": ", ".join(f"키워드{i}" for i in range(11))}, "keywords"),
    ({"keywords": "가" * 31}, "keywords"),
    ({"category": "nope"}, "category"),
    ({"rfm_segment": "<script>"}, "rfm_segment"),
    ({"summary": "가" * 20_001}, "summary"),
    ({"channels": ["email", "javascript:alert(1)"]}, "channels"),
]


@pytest.mark.parametrize(("change", "field"), JUNK_FORMS)
def test_junk_form_values_come_back_next_to_their_field(app, change, field):
    store1 = client_for(app, "store1@example.com")
    resp = post(store1, "/stories/new", {**FORM, **change}, "/stories/new")
    assert resp.status_code == 422, resp.get_data(as_text=True)[:1000]
    assert f'data-testid="error-{field}"' in resp.get_data(as_text=True)
    assert scalar("SELECT count(*) FROM ks_story") == 0


def test_junk_transitions_ids_and_queries_never_500(app):
    s = story()
    store1 = client_for(app, "store1@example.com")
    for data in ({"transition": "merge"}, {"transition": "explode"}, {"transition": ""},
                 {"transition": "submit", "comment": "가" * 3000}, {"transition": "publish", "revision": "x" * 64}):
        resp = post(store1, f"/stories/{s.id}/transition", data)
        assert 400 <= resp.status_code < 500, (data, resp.status_code)
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=s.id) == "private"
    for url in ("/stories/0", "/stories/99999999999", "/stories/99999999999999999999999/history",
                "/stories/2147483648/edit", "/stories/mine?page=-1&state=x", "/stories/mine?page=99999999999999999999",
                "/stories/new?campaign=%F0%9F%98%80"):
        assert store1.get(url).status_code in (200, 404), url
    reviewer = client_for(app, "reviewer@example.com")
    assert reviewer.get("/stories/review?page=abc").status_code == 200
    assert post(store1, "/stories/99999999999/checkout", {}).status_code == 404
    assert post(store1, f"/stories/{s.id}/checkout", {}).status_code == 409  # not published: edit it directly


def test_reviewer_edit_of_a_pending_story_keeps_its_visibility(app):
    from plugins.knowledge_share.stories.service import fire
    from portal.toolkit import db

    s = story(visibility="branch")
    fire(s, "submit", user("store1@example.com"))
    db.session.commit()
    reviewer = client_for(app, "reviewer@example.com")
    html = reviewer.get(f"/stories/{s.id}/edit").get_data(as_text=True)
    assert 'selected value="branch"' in html
    resp = post(reviewer, f"/stories/{s.id}/edit", {**FORM, "visibility": "branch", "title": "검토자가 다듬은 제목"},
                f"/stories/{s.id}/edit")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1000]
    assert scalar("SELECT visibility FROM ks_story WHERE id = :i", i=s.id) == "branch"
    assert scalar("SELECT title FROM ks_story WHERE id = :i", i=s.id) == "검토자가 다듬은 제목"
    # a reader who may not edit: no button, and the form is 403
    other = published(title="모두의 이야기")
    store2 = client_for(app, "store2@example.com")
    assert 'data-testid="edit-story"' not in store2.get(f"/stories/{other.id}").get_data(as_text=True)
    assert store2.get(f"/stories/{other.id}/edit").status_code == 303  # published: edited through a copy
