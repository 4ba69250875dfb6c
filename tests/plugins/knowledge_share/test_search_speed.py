"""The search's speed design held to its answers (docs/knowledge_share.md "Korean search"): the
capped count (a common word counts at most 1,000: "1,000+" on the page, ``total_is_capped`` in
the API), the fast path (a walk of the stories newest first, two bounded queries for relevance)
against the ordinary path (every match joined and sorted), and the same first page on SQLite and
PostgreSQL (the suite runs on both: each exact list below holds both backends to it). KS-7."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from portal.extensions import db

from .search_fixtures import NOON_KST, branch_user, found, story, user


@pytest.fixture
def library(app):
    """24 stories, all with 세미나 — in the title (every 3rd) or only in the body — in mixed
    visibility (R01, B001, everyone), two with the same publication time (the id decides)."""
    made = []
    for i in range(24):
        vis = ("region", "R01") if i % 5 == 0 else (("branch", "B001") if i % 7 == 0 else ("all", None))
        title = f"세미나 사례 {i}" if i % 3 == 0 else f"고객 행사 사례 {i}"
        made.append(story(title, body="" if i % 3 == 0 else "본문의 세미나 이야기", visibility=vis[0],
                          scope=vis[1], age_hours=100 - i if i != 23 else 100 - 22, helpful=i % 4))
    return made


def _ids(who, q, **kw):
    from plugins.knowledge_share.search.query import search

    page_no, out = 1, []
    while True:
        page = search(who, q, page=page_no, **kw)
        out += [s.id for s in page.items]
        if not page.has_next:
            return out
        page_no += 1


@pytest.mark.parametrize("sort", ["relevance", "newest", "helpful"])
@pytest.mark.parametrize("who", ["hq", "store2", "r02"])
def test_fast_path_answers_as_the_ordinary_path(library, monkeypatch, sort, who):
    """Cap 3: every query takes the fast path (walk, two bounded queries) against the one sorted
    statement; every page of 4 the same ids in the same order, and the same capped totals."""
    from plugins.knowledge_share.search import query

    u = branch_user("store5@example.com", "B005") if who == "r02" else user(who)
    monkeypatch.setattr(query, "COUNT_CAP", 3)
    for q in ("세미나", "사례", "세미나 사례", "고객"):
        for n in range(1, 9):
            fast = query.search(u, q, sort=sort, page=n, per_page=4)
            slow = query.search(u, q, sort=sort, page=n, per_page=4, fast=False)
            assert [s.id for s in fast.items] == [s.id for s in slow.items], (q, n)
            assert (fast.total, fast.total_is_capped, fast.has_next) == (slow.total, slow.total_is_capped,
                                                                          slow.has_next)
    monkeypatch.setattr(query, "COUNT_CAP", 3)
    capped = _ids(u, "세미나", sort=sort, per_page=4)
    monkeypatch.setattr(query, "COUNT_CAP", 1000)
    assert capped == _ids(u, "세미나", sort=sort, per_page=4)  # paging on past the cap finds every story


def test_same_first_page_on_both_backends(library):
    """The exact first page (title matches newest first, then the others newest first; equal times
    by id, highest first) — the same list on SQLite and on PostgreSQL."""
    from plugins.knowledge_share.search.query import search

    by_id = {s.id: s for s in library}
    page = search(user("store2"), "세미나", per_page=6)
    titles = [by_id[s.id].title for s in page.items]
    # 세미나 사례 21 is B001's (store2 is B002); 0 and 15 are R01's (B002's region)
    assert titles == ["세미나 사례 18", "세미나 사례 15", "세미나 사례 12", "세미나 사례 9", "세미나 사례 6",
                      "세미나 사례 3"]
    # 7 title matches, then the body matches newest first (23 and 22 published together: 23 first)
    page = search(user("store2"), "세미나", per_page=4, page=2, sort="relevance")
    assert [by_id[s.id].title for s in page.items] == ["세미나 사례 6", "세미나 사례 3", "세미나 사례 0",
                                                       "고객 행사 사례 23"]
    page = search(user("store2"), "세미나", per_page=4, page=3, sort="relevance")
    assert [by_id[s.id].title for s in page.items] == ["고객 행사 사례 22", "고객 행사 사례 20",
                                                       "고객 행사 사례 19", "고객 행사 사례 17"]
    assert page.total == 21 and not page.total_is_capped


def _bulk(n: int, word: str) -> None:
    """``n`` published stories for everyone holding ``word``, written set-wise and indexed."""
    from plugins.knowledge_share.models import KsStory
    from plugins.knowledge_share.search.index import reindex_all

    author = user("store1")
    rows = [{"title": f"{word} 사례 {i}", "summary": "", "channels": [], "keywords": [], "author_id": author.id,
             "visibility": "all", "state": "published", "published_at": NOON_KST - timedelta(minutes=i),
             "result_mark": "self_reported", "helpful_count": 0, "reuse_count": 0, "version": 1,
             "created_at": NOON_KST, "updated_at": NOON_KST} for i in range(n)]
    db.session.execute(insert(KsStory), rows)
    reindex_all()
    db.session.commit()


def test_a_common_word_counts_at_most_1000(app, client):
    """KS-7 at scale: 1,005 stories with 세미나 — total 1000, capped, the pages go on while full;
    the list page says "1,000+" (Korean: 1,000건 이상) and the API total_is_capped."""
    from plugins.knowledge_share.search.query import COUNT_CAP, search, visible_ids
    from tests.conftest import api_token_for, bearer, login

    assert COUNT_CAP == 1000
    _bulk(1005, "세미나")
    story("드문 낱말 이야기")
    hq = user("hq")
    page = search(hq, "세미나")
    assert (page.total, page.total_is_capped, page.pages, page.has_next) == (1000, True, 50, True)
    assert [s.title for s in page.items[:2]] == ["세미나 사례 0", "세미나 사례 1"]
    last = search(hq, "세미나", page=51)
    assert [s.title for s in last.items] == [f"세미나 사례 {i}" for i in range(1000, 1005)] and not last.has_next
    assert last.total == 1000 and last.total_is_capped
    rare = search(hq, "낱말")
    assert (rare.total, rare.total_is_capped) == (1, False)
    assert search(hq, "").total == 1006  # no text: the exact count
    assert len(visible_ids(hq, "세미나")) == 1005
    body = client.get("/api/v1/stories?q=세미나", headers=bearer(api_token_for("hq@example.com"))).get_json()
    assert (body["total"], body["total_is_capped"], len(body["items"])) == (1000, True, 20) and body["next"]
    body = client.get("/api/v1/stories?q=낱말", headers=bearer(api_token_for("hq@example.com"))).get_json()
    assert (body["total"], body["total_is_capped"]) == (1, False) and "next" not in body
    assert login(client, "hq@example.com").status_code == 302
    html = client.get("/stories/?q=세미나").get_data(as_text=True)
    assert "사례 1,000건 이상" in html  # hq@ reads Korean
    assert 'rel="next"' in html


def test_the_reindex_command_is_one_level_deep(app):
    """``flask portal knowledge_share reindex`` (not ``… knowledge_share knowledge_share reindex``)."""
    story("건강 세미나 CLI")
    result = app.test_cli_runner().invoke(args=["portal", "knowledge_share", "reindex", "--chunk", "10"])
    assert result.exit_code == 0, result.output
    assert "1 stories indexed" in result.output
    assert found(user("hq"), "건강") == ["건강 세미나 CLI"]
