"""Races at the same instant (PostgreSQL, where requests really run in parallel): two reviewers
publishing one pending story, two submits, two check-outs of one published story, two votes, two
reuse clicks — one winner and a 409 (no second history row, no second copy), or, where each click
is its own act (a reuse makes a draft per click: a unit may reuse a story twice), counts that agree."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.dbs import BACKEND
from tests.plugins.knowledge_share.stories_fixtures import published, story, user

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="parallel requests need PostgreSQL; SQLite has one writer")


def _race(app, calls: list[tuple[str, str, dict, Any]]) -> list[int]:
    """Run the (method, url, headers, json) calls at once; their status codes, sorted."""
    barrier = threading.Barrier(len(calls))
    out: list[int] = []

    def run(method: str, url: str, headers: dict, data: Any) -> None:
        client = app.test_client()
        barrier.wait(timeout=20)
        try:
            out.append(client.open(url, method=method, json=data, headers=headers).status_code)
        except Exception:  # noqa: BLE001 - a request that raised is the 500 it would be
            out.append(500)

    threads = [threading.Thread(target=run, args=c) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return sorted(out)


def _h(email: str) -> dict[str, str]:
    return bearer(api_token_for(email))


def test_two_reviewers_publish_one_pending_story_one_wins(app):
    from plugins.knowledge_share.stories.service import fire
    from portal.toolkit import db

    s = story()
    fire(s, "submit", user("store1@example.com"))
    db.session.commit()
    url = f"/api/v1/stories/{s.id}/transitions"
    codes = _race(app, [("POST", url, _h("reviewer@example.com"), {"transition": "publish"}),
                        ("POST", url, _h("admin@example.com"), {"transition": "publish"})])
    assert codes == [200, 409], codes
    assert scalar("SELECT state FROM ks_story WHERE id = :i", i=s.id) == "published"
    assert scalar("SELECT count(*) FROM workflow_history WHERE object_type = 'ks.story' AND object_id = :i "
                  "AND transition = 'publish'", i=s.id) == 1


def test_a_double_submit_is_one_submit(app):
    s = story()
    url = f"/api/v1/stories/{s.id}/transitions"
    h = _h("store1@example.com")
    codes = _race(app, [("POST", url, h, {"transition": "submit"})] * 2)
    assert codes == [200, 409], codes
    assert scalar("SELECT count(*) FROM workflow_history WHERE object_type = 'ks.story' AND object_id = :i "
                  "AND transition = 'submit'", i=s.id) == 1


def test_two_checkouts_of_one_story_make_one_working_copy(app):
    s = published()
    url = f"/api/v1/stories/{s.id}/checkout"
    h = _h("store1@example.com")
    assert _race(app, [("POST", url, h, {})] * 2) == [200, 201]  # the second gets the first's copy
    assert scalar("SELECT count(*) FROM ks_story WHERE base_id = :i AND state <> 'merged'", i=s.id) == 1
    other = published(title="두 작성자의 사례")
    url = f"/api/v1/stories/{other.id}/checkout"
    codes = _race(app, [("POST", url, h, {}), ("POST", url, _h("hq@example.com"), {})])
    # store1 first: HQ (see_all) is handed store1's copy (200); HQ first: store1 is refused (409)
    assert codes in ([200, 201], [201, 409]), codes
    assert scalar("SELECT count(*) FROM ks_story WHERE base_id = :i AND state <> 'merged'", i=other.id) == 1


def test_two_votes_at_once_count_once(app):
    s = published()
    url = f"/api/v1/ks/stories/{s.id}/vote"
    h = _h("store2@example.com")
    codes = _race(app, [("POST", url, h, {})] * 3)
    assert all(c < 500 for c in codes) and any(c in (200, 201) for c in codes), codes
    assert scalar("SELECT count(*) FROM ks_vote WHERE story_id = :i", i=s.id) == 1
    assert scalar("SELECT helpful_count FROM ks_story WHERE id = :i", i=s.id) == 1


def test_two_reuse_clicks_at_once_are_two_drafts_and_the_count_agrees(app):
    from plugins.knowledge_share.results.service import link_result
    from portal.toolkit import db
    from tests.plugins.knowledge_share.results_fixtures import measured_campaign, users
    from tests.plugins.knowledge_share.results_fixtures import story as result_story

    u = users()
    campaign = measured_campaign()
    s = result_story(u.store1)
    link_result(s, campaign_id=campaign.id, actor=u.store1)
    db.session.commit()
    url = f"/api/v1/stories/{s.id}/reuse"
    h = _h("store2@example.com")
    codes = _race(app, [("POST", url, h, None)] * 2)
    assert all(c in (201, 409) for c in codes) and 201 in codes, codes
    made = codes.count(201)
    assert scalar("SELECT count(*) FROM ks_reuse WHERE story_id = :i", i=s.id) == made
    assert scalar("SELECT reuse_count FROM ks_story WHERE id = :i", i=s.id) == made
