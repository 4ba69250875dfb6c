"""Helpful votes at the same instant on PostgreSQL (requests really run in parallel there): one
user's double click from two tabs counts once; two users' votes both count (no lost update)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.dbs import BACKEND
from tests.plugins.knowledge_share.social_fixtures import make_story

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="parallel requests need PostgreSQL; SQLite has one writer")


def _race(app, url: str, headers: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(headers))
    out: list[int] = []

    def run(h: dict) -> None:
        client = app.test_client()
        barrier.wait(timeout=20)
        out.append(client.post(url, headers=h).status_code)

    threads = [threading.Thread(target=run, args=(h,)) for h in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return sorted(out)


def test_one_user_voting_four_times_at_once_counts_once(app):
    story = make_story("store1")
    h = bearer(api_token_for("store2@example.com"))
    assert _race(app, f"/api/v1/ks/stories/{story.id}/vote", [h] * 4) == [200, 200, 200, 201]
    assert scalar("SELECT count(*) FROM ks_vote WHERE story_id = :s", s=story.id) == 1
    assert scalar("SELECT helpful_count FROM ks_story WHERE id = :s", s=story.id) == 1


def test_different_users_voting_at_once_all_count(app):
    story = make_story("store1")
    heads = [bearer(api_token_for(f"{who}@example.com")) for who in ("store2", "hq", "reviewer", "leader1")]
    assert _race(app, f"/api/v1/ks/stories/{story.id}/vote", heads) == [201] * 4
    assert scalar("SELECT helpful_count FROM ks_story WHERE id = :s", s=story.id) == 4
