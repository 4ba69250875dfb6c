"""Korean search over published stories (KS-7, issue item 5): two-syllable words, no-space
compounds, Latin words in any case, visibility in SQL (listed and counted), filters, sorting,
pagination and the index kept in step on publish, retract, archive and edit. The suite runs on
SQLite and on PostgreSQL, so each assertion holds the two backends to the same answers."""

from __future__ import annotations

import pytest

from portal.extensions import db

from .search_fixtures import branch_user, found, story, unit, user

HEALTH = "건강식품 세미나로 재구매율 상승"
KAKAO = "Kakao 친구톡 win-back"


@pytest.fixture
def ks7(app):
    """The two stories of KS-7, visible to everyone, plus one unrelated story."""
    story(HEALTH, category="health", channels=["seminar"], age_hours=3)
    story(KAKAO, category="beauty", channels=["kakao"], age_hours=2)
    story("화장품 샘플 증정 이벤트", category="beauty", age_hours=1)
    return app


# KS-7: each query finds the right story and not the other, on SQLite and on PostgreSQL alike
KS7_QUERIES = [
    ("건강", [HEALTH]),  # two syllables
    ("세미나", [HEALTH]),
    ("재구매", [HEALTH]),
    ("건강식품세미나", [HEALTH]),  # no space
    ("건강식품 세미나", [HEALTH]),
    ("세미나로", [HEALTH]),  # particle
    ("kakao", [KAKAO]),  # case-insensitive
    ("KAKAO", [KAKAO]),
    ("Win-Back", [KAKAO]),
    ("친구톡", [KAKAO]),
    ("카카오", []),
    ("건강 kakao", []),  # every word must match
    ("식품건강", []),  # 품건 is in neither story
    ("상", [HEALTH]),  # one syllable: prefix of a bigram
    ("승", [HEALTH]),  # the last syllable of a segment
    ("화장품", [KAKAO, "화장품 샘플 증정 이벤트"]),  # the category (화장품) is a tag
    ("beauty", [KAKAO, "화장품 샘플 증정 이벤트"]),  # the category's code is a tag
]


@pytest.mark.parametrize(("q", "titles"), KS7_QUERIES)
def test_ks7_queries(ks7, q, titles):
    assert sorted(found(user("store2"), q)) == sorted(titles)


def test_ks7_region_story_neither_listed_nor_counted_for_another_region(ks7):
    from plugins.knowledge_share.search.query import search

    story("건강 상담 데이 (수도권 한정)", visibility="region", scope="R01")
    r02 = branch_user("store5@example.com", "B005")
    assert unit("B005").parent_id == unit("R02").id
    page = search(r02, "건강")
    assert [s.title for s in page.items] == [HEALTH] and page.total == 1
    assert search(r02, "").total == 3
    page = search(user("store2"), "건강")  # B002 is in R01
    assert page.total == 2 and {s.title for s in page.items} == {HEALTH, "건강 상담 데이 (수도권 한정)"}


def test_ks7_region_story_is_404_by_url_for_another_region(ks7, client):
    from werkzeug.exceptions import NotFound

    from plugins.knowledge_share.stories import service
    from tests.conftest import login

    hidden = story("건강 상담 데이 (수도권 한정)", visibility="region", scope="R01")
    r02 = branch_user("store5@example.com", "B005")
    assert service.get_story_or_404(hidden.id, user("store2")).id == hidden.id
    with pytest.raises(NotFound):
        service.get_story_or_404(hidden.id, r02)
    assert login(client, "store5@example.com").status_code == 302
    assert client.get(f"/stories/{hidden.id}").status_code == 404
    page = client.get("/stories/?q=건강")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "수도권 한정" not in html and "세미나로" in html


def test_branch_and_group_visibility(app):
    story("B001 건강 노하우", visibility="branch", scope="B001")
    assert found(user("store1"), "건강") == ["B001 건강 노하우"]
    assert found(user("store2"), "건강") == []
    assert found(user("hq"), "건강") == ["B001 건강 노하우"]  # ks.see_all


def test_only_published_base_stories_are_indexed(app):
    from plugins.knowledge_share.models import KsSearchDoc

    pub = story("건강 이야기 공개")
    story("건강 이야기 비공개", state="private")
    story("건강 이야기 검토중", state="pending")
    story("건강 이야기 보관", state="archived")
    story("건강 이야기 작업본", state="pending", base_id=pub.id)
    assert found(user("hq"), "건강") == ["건강 이야기 공개"]
    assert db.session.query(KsSearchDoc.story_id).all() == [(pub.id,)]


def test_reindex_on_retract_edit_and_republish(app):
    from plugins.knowledge_share.search.index import reindex_story

    s = story("재구매 캠페인 후기")
    store2 = user("store2")
    assert found(store2, "재구매") == ["재구매 캠페인 후기"]
    s.state = "private"  # retracted
    reindex_story(s.id)
    db.session.commit()
    assert found(store2, "재구매") == []
    s.title = "재방문 캠페인 후기"
    s.state = "published"
    reindex_story(s.id)
    db.session.commit()
    assert found(store2, "재구매") == [] and found(store2, "재방문") == ["재방문 캠페인 후기"]
    db.session.delete(s)  # the document goes with the story (and the FTS row with the document)
    db.session.commit()
    assert found(store2, "재방문") == []


def test_reindex_all_rebuilds_from_the_stories(app):
    from plugins.knowledge_share.models import KsSearchDoc
    from plugins.knowledge_share.search.index import reindex_all

    a = story("건강 세미나 A")
    story("건강 세미나 B", state="private")
    db.session.query(KsSearchDoc).delete()
    db.session.commit()
    assert found(user("hq"), "세미나") == []
    assert reindex_all(chunk=10) == 1
    db.session.commit()
    assert found(user("hq"), "세미나") == ["건강 세미나 A"]
    assert reindex_all() == 1  # nothing changed: nothing rewritten, same answer
    db.session.commit()
    assert found(user("hq"), "세미나") == ["건강 세미나 A"] and a.id


def test_reindex_cli(app):
    from flask.cli import AppGroup

    from plugins.knowledge_share.search.cli import register

    story("건강 세미나 CLI")
    group = AppGroup("knowledge_share")  # ``flask portal knowledge_share`` (the add-on's group)
    register(group)
    result = app.test_cli_runner().invoke(group, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "1 stories indexed" in result.output


def test_filters(app):
    story("건강 A", category="health", channels=["kakao", "sms"], keywords=["재구매"], season="chuseok",
          rfm="champions", mark="verified")
    story("건강 B", category="beauty", channels=["sms"], keywords=["신규"], season="winter", rfm="at_risk")
    hq = user("hq")
    from .search_fixtures import category_id

    assert found(hq, "건강", filters={"category_id": category_id("health")}) == ["건강 A"]
    assert found(hq, "건강", filters={"channel": "kakao"}) == ["건강 A"]
    assert sorted(found(hq, "", filters={"channel": "sms"})) == ["건강 A", "건강 B"]
    assert found(hq, "", filters={"keyword": "신규"}) == ["건강 B"]
    assert found(hq, "", filters={"channel": "sms", "keyword": "재구매"}) == ["건강 A"]
    assert found(hq, "", filters={"season": "winter"}) == ["건강 B"]
    assert found(hq, "", filters={"rfm_segment": "champions"}) == ["건강 A"]
    assert found(hq, "", filters={"mark": "verified"}) == ["건강 A"]
    assert found(hq, "", filters={"author_unit_id": unit("B001").id, "season": "winter"}) == ["건강 B"]
    assert found(hq, "", filters={"author_unit_id": unit("B002").id}) == []


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"filters": {"category_id": "abc"}}, "category_id"),
    ({"filters": {"category_id": "99999999999999999999"}}, "category_id"),
    ({"filters": {"channel": "fax"}}, "channel"),
    ({"filters": {"mark": "trusted"}}, "mark"),
    ({"filters": {"keyword": "가" * 31}}, "keyword"),
    ({"sort": "random"}, "sort"),
    ({"page": 0}, "page"),
    ({"page": 10**20}, "page"),
    ({"per_page": 101}, "per_page"),
    ({"q": "건강" * 101}, "q"),
])
def test_bad_arguments_are_422_by_name(app, kwargs, field):
    from plugins.knowledge_share.errors import StoryError
    from plugins.knowledge_share.search.query import search

    with pytest.raises(StoryError) as exc:
        search(user("hq"), **kwargs)
    assert exc.value.status == 422 and field in exc.value.errors


def test_sorting_and_pagination(app):
    from plugins.knowledge_share.search.query import search, visible_ids

    for i in range(7):
        story(f"세미나 후기 {i}", age_hours=10 - i, helpful=i % 3)
    story("본문에만 있는 이야기", body="지난달 세미나 이야기", age_hours=0.5)
    story("오래된 세미나", age_hours=20)
    hq = user("hq")
    newest = found(hq, "", sort="newest")
    assert newest[:2] == ["본문에만 있는 이야기", "세미나 후기 6"] and newest[-1] == "오래된 세미나"
    assert found(hq, "")[:1] == ["본문에만 있는 이야기"]  # no q: newest first
    # relevance: the stories with every query term in the title first (newest first among them)
    by_relevance = found(hq, "세미나")
    assert by_relevance[0] == "세미나 후기 6" and by_relevance[-2:] == ["오래된 세미나", "본문에만 있는 이야기"]
    assert found(hq, "세미나 이야기") == ["본문에만 있는 이야기"]
    assert found(hq, "세미나", sort="helpful")[:2] == ["세미나 후기 5", "세미나 후기 2"]
    pages = [search(hq, "세미나", page=n, per_page=3, sort="newest") for n in (1, 2, 3)]
    assert [p.total for p in pages] == [9, 9, 9] and [len(p.items) for p in pages] == [3, 3, 3]
    assert [s.title for p in pages for s in p.items] == found(hq, "세미나", sort="newest")
    assert pages[0].has_next and not pages[2].has_next and pages[2].pages == 3
    assert search(hq, "세미나", page=4, per_page=3).items == []
    assert len(visible_ids(hq, "세미나")) == 9


def test_a_query_with_nothing_to_search_finds_nothing(app):
    from plugins.knowledge_share.search.query import search

    story("건강 세미나")
    page = search(user("hq"), "!!! ***")
    assert page.total == 0 and page.items == []
    # FTS syntax in the query is only text
    assert found(user("hq"), 'NEAR("건강" OR') == []
    assert found(user("hq"), '"건강" -세미나*') == ["건강 세미나"]
    assert found(user("hq"), "건강 OR 세미나") == []  # "or" is a word like any other


def test_purge_drops_the_text_index_and_reinstall_rebuilds_it(app):
    """KS-13 (the search part): uninstall with purge drops ks_search_fts (and its FTS5 shadow
    tables) or the GIN index with the documents; a reinstall starts with a working empty index."""
    from sqlalchemy import inspect

    from portal.plugins_lifecycle import install, uninstall

    story("건강 세미나 퍼지")
    uninstall("knowledge_share", purge=True)
    names = set(inspect(db.engine).get_table_names())
    assert not {n for n in names if n.startswith("ks_")}
    if db.engine.dialect.name == "postgresql":
        found_index = db.session.execute(db.text(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_ks_search_doc_tsv'")).scalar_one()
        assert found_index == 0
    db.session.remove()
    install("knowledge_share")
    assert found(user("hq"), "건강") == []
    story("건강 세미나 재설치")
    assert found(user("hq"), "건강") == ["건강 세미나 재설치"]
