"""Permissions on objects the caller can see: a missing permission is a 403 (the story is visible,
so existence is no secret), an illegal state a 409 — and nothing changes. Four eyes: nobody
publishes their own story, not even a Site Administrator; a reject needs a real reason; only the
author retracts; no field outside the form is assignable (state, counters, result marks, scope)."""

from __future__ import annotations

import pytest

from tests.conftest import scalar
from tests.plugins.knowledge_share.attack_fixtures import headers
from tests.plugins.knowledge_share.stories_fixtures import body, published, story, user


def _state(sid: int) -> str:
    return scalar("SELECT state FROM ks_story WHERE id = :i", i=sid)


def test_a_reader_without_the_permission_gets_403_on_a_visible_story(app):
    client = app.test_client()
    s = published()
    before = scalar("SELECT count(*) FROM ks_story"), scalar("SELECT count(*) FROM workflow_history")
    ibo = headers("ibo1")  # a distributor reads (ks.view) and does nothing else
    assert client.get(f"/api/v1/stories/{s.id}", headers=ibo).status_code == 200
    assert client.patch(f"/api/v1/stories/{s.id}", json={"title": "탈취"}, headers=ibo).status_code in (403, 409)
    assert client.post(f"/api/v1/stories/{s.id}/checkout", json={}, headers=ibo).status_code == 403
    assert client.post(f"/api/v1/stories/{s.id}/reuse", headers=ibo).status_code in (403, 409)
    assert client.post(f"/api/v1/stories/{s.id}/transitions", json={"transition": "archive"},
                       headers=ibo).status_code == 403
    assert client.post("/api/v1/stories", json=body(), headers=ibo).status_code == 403
    assert client.post("/api/v1/ks/sessions", json={"title": "x"}, headers=ibo).status_code == 403
    store2 = headers("store2")  # a writer of another branch: reads it, may not archive it
    assert client.post(f"/api/v1/stories/{s.id}/transitions", json={"transition": "archive"},
                       headers=store2).status_code == 403
    assert (scalar("SELECT count(*) FROM ks_story"), scalar("SELECT count(*) FROM workflow_history")) == before
    assert _state(s.id) == "published"


def test_four_eyes_even_for_the_site_administrator(app):
    client = app.test_client()
    h = headers("admin")
    resp = client.post("/api/v1/stories", json=body(visibility="all"), headers=h)
    assert resp.status_code == 201, resp.get_json()
    sid = resp.get_json()["id"]
    assert client.post(f"/api/v1/stories/{sid}/transitions", json={"transition": "submit"}, headers=h).status_code == 200
    resp = client.post(f"/api/v1/stories/{sid}/transitions", json={"transition": "publish"}, headers=h)
    assert resp.status_code in (403, 409), resp.get_json()
    assert _state(sid) == "pending"
    assert client.post(f"/api/v1/stories/{sid}/transitions", json={"transition": "publish"},
                       headers=headers("reviewer")).status_code == 200


def test_reject_needs_ten_characters_and_only_the_author_retracts(app):
    from plugins.knowledge_share.stories.service import fire
    from portal.toolkit import db

    client = app.test_client()
    s = story()
    fire(s, "submit", user("store1@example.com"))
    db.session.commit()
    url = f"/api/v1/stories/{s.id}/transitions"
    for comment in ("", "짧아요", " " * 20, "\u200b" * 12, None, 12345):
        resp = client.post(url, json={"transition": "reject", "comment": comment}, headers=headers("reviewer"))
        assert resp.status_code == 422 and "comment" in resp.get_json()["errors"], (repr(comment), resp.get_json())
    assert _state(s.id) == "pending"
    resp = client.post(url, json={"transition": "retract"}, headers=headers("store2"))
    assert resp.status_code == 404  # a pending story is not another branch's to see
    for who in ("hq", "reviewer"):
        resp = client.post(url, json={"transition": "retract"}, headers=headers(who))
        assert resp.status_code in (403, 409), (who, resp.status_code)
    assert _state(s.id) == "pending"
    assert client.post(url, json={"transition": "retract"}, headers=headers("store1")).status_code == 200
    assert _state(s.id) == "private"


@pytest.mark.parametrize("extra", [{"state": "published"}, {"author_id": 1}, {"helpful_count": 999},
                                   {"reuse_count": 5}, {"result_mark": "verified"}, {"base_id": 1},
                                   {"scope_unit_id": 1}, {"published_at": "2026-01-01"}, {"version": 99},
                                   {"review_due": "2099-01-01"}, {"id": 7}])
def test_no_mass_assignment(app, extra):
    client = app.test_client()
    h = headers("store1")
    before = scalar("SELECT count(*) FROM ks_story")
    resp = client.post("/api/v1/stories", json={**body(), **extra}, headers=h)
    assert resp.status_code == 422 and next(iter(extra)) in resp.get_json()["errors"], resp.get_json()
    assert scalar("SELECT count(*) FROM ks_story") == before
    s = story()
    resp = client.patch(f"/api/v1/stories/{s.id}", json=extra, headers=h)
    assert resp.status_code == 422, resp.get_json()
    assert _state(s.id) == "private"
    assert scalar("SELECT helpful_count FROM ks_story WHERE id = :i", i=s.id) == 0
