"""KS-13: uninstall with and without purge through the core's lifecycle. Without purge the data
stays and is visible again on reinstall (pages, API, search, attachments, comments, history,
settings); with purge every ks_ table (the SQLite FTS5 shadow tables, the PostgreSQL indexes) is
dropped, the settings cleared, the stories' workflow history purged and the attachments' stored
files deleted — and a reinstall starts from an empty, working add-on."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.plugin_settings import get_settings, save_settings
from portal.plugins_lifecycle import install, uninstall
from portal.toolkit import db
from tests.conftest import scalar
from tests.plugins.knowledge_share.attack_fixtures import headers
from tests.plugins.knowledge_share.files_fixtures import PNG
from tests.plugins.knowledge_share.pages_fixtures import client_for
from tests.plugins.knowledge_share.sessions_fixtures import session_row
from tests.plugins.knowledge_share.stories_fixtures import story, user

TITLE = "재설치후에도남는사례"


def _tables() -> set[str]:
    db.session.commit()
    return set(sa.inspect(db.session.connection()).get_table_names())


def _ks_indexes() -> set[str]:
    if db.engine.dialect.name != "postgresql":
        return set()
    return set(db.session.execute(sa.text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%ks\\_%'"))
               .scalars())


def _world() -> dict[str, Any]:
    """A published story with an attachment, a comment, a vote and a session; settings changed."""
    from plugins.knowledge_share.social.service import add_comment, vote
    from plugins.knowledge_share.stories.attachments import add_attachment
    from plugins.knowledge_share.stories.service import fire

    s = story(title=TITLE, keywords=["재설치"])
    att = add_attachment(s, "사진.png", PNG, user("store1@example.com"))
    fire(s, "submit", user("store1@example.com"))
    fire(s, "publish", user("reviewer@example.com"))
    add_comment(s.id, user("store2@example.com"), "좋은 사례입니다")
    vote(s.id, user("store2@example.com"))
    session_row(title="재설치 공유회")
    db.session.commit()
    assert save_settings("knowledge_share", {"review_months": "6", "digest": "weekly"}) == {}
    db.session.commit()
    return {"story": s.id, "attachment": att.id, "file": att.file_id}


def test_ks13_uninstall_without_purge_keeps_the_data_and_reinstall_shows_it_again(app):
    ids = _world()
    tables = {t for t in _tables() if t.startswith("ks_")}
    hq_headers = headers("hq")
    store2 = client_for(app, "store2@example.com")
    uninstall("knowledge_share")
    assert {t for t in _tables() if t.startswith("ks_")} == tables
    assert store2.get("/stories/").status_code == 404
    assert store2.get(f"/stories/{ids['story']}").status_code == 404
    assert store2.get("/api/v1/stories", headers=hq_headers).status_code == 404
    db.session.remove()
    install("knowledge_share")
    page = store2.get(f"/stories/{ids['story']}")
    assert page.status_code == 200 and TITLE in page.get_data(as_text=True)
    assert TITLE in store2.get("/stories/?q=설치후에도").get_data(as_text=True)  # search works again
    doc = store2.get("/api/v1/stories?q=재설치", headers=hq_headers).get_json()
    assert [d["id"] for d in doc["items"]] == [ids["story"]]
    assert store2.get(f"/stories/files/{ids['attachment']}").status_code == 200
    comments = store2.get(f"/api/v1/ks/stories/{ids['story']}/comments", headers=hq_headers).get_json()
    assert "좋은 사례입니다" in str(comments)
    history = store2.get(f"/api/v1/stories/{ids['story']}/history", headers=hq_headers).get_json()
    assert "publish" in str(history)
    assert get_settings("knowledge_share")["review_months"] == 6
    assert scalar("SELECT count(*) FROM ks_story") == 1  # nothing seeded twice over the kept data
    assert scalar("SELECT count(*) FROM ks_vote") == 1


def test_ks13_uninstall_with_purge_drops_everything_and_reinstall_starts_empty(app):
    ids = _world()
    assert scalar("SELECT count(*) FROM workflow_history WHERE object_type = 'ks.story'") > 0
    assert "ks_search_doc" in _tables()
    if db.engine.dialect.name == "sqlite":
        assert {"ks_search_fts", "ks_search_fts_data"} <= _tables()
    else:
        assert _ks_indexes()
    uninstall("knowledge_share", purge=True)
    db.session.remove()
    left = {t for t in _tables() if t.startswith("ks_") or t.startswith("ks")}
    assert left == set() or left == {"alembic_version_knowledge_share"}, left
    if "alembic_version_knowledge_share" in left:
        assert scalar("SELECT count(*) FROM alembic_version_knowledge_share") == 0
    assert _ks_indexes() == set()
    if db.engine.dialect.name == "sqlite":
        names = set(db.session.execute(sa.text("SELECT name FROM sqlite_master WHERE name LIKE 'ks%' "
                                               "OR tbl_name LIKE 'ks%'")).scalars())
        assert names == set() or names <= {"alembic_version_knowledge_share"}, names  # triggers, FTS shadows
    assert scalar("SELECT settings FROM plugin_state WHERE name = 'knowledge_share'") in (None, "null")
    for table in ("workflow_state", "workflow_history", "workflow_approval"):
        assert scalar(f"SELECT count(*) FROM {table} WHERE object_type = 'ks.story'") == 0, table
    assert scalar("SELECT count(*) FROM stored_file WHERE id = :f", f=ids["file"]) == 0
    # a fresh reinstall: empty, working, with the default settings
    install("knowledge_share")
    assert scalar("SELECT count(*) FROM ks_story") == 0
    assert get_settings("knowledge_share")["review_months"] == 12
    store2 = client_for(app, "store2@example.com")
    assert store2.get(f"/stories/{ids['story']}").status_code == 404
    assert store2.get("/stories/?q=재설치").status_code == 200
    s = story(title="새로 시작한 사례")
    from plugins.knowledge_share.stories.service import fire

    fire(s, "submit", user("store1@example.com"))
    fire(s, "publish", user("reviewer@example.com"))
    db.session.commit()
    doc = store2.get("/api/v1/stories?q=새로", headers=headers("hq")).get_json()
    assert [d["title"] for d in doc["items"]] == ["새로 시작한 사례"]
