"""Uploads at the same instant on PostgreSQL (SQLite has one writer): the limit of ten
attachments per story holds — the count runs under a lock on the story row."""

from __future__ import annotations

import threading

import pytest

from plugins.knowledge_share.errors import StoryError
from plugins.knowledge_share.models import KsStory
from plugins.knowledge_share.stories.attachments import MAX_PER_STORY, add_attachment
from portal.toolkit import db
from tests.conftest import scalar
from tests.dbs import BACKEND
from tests.plugins.knowledge_share.files_fixtures import PNG, make_story, user

__all__ = ["make_story"]
pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="parallel writers need PostgreSQL")


def test_four_uploads_at_once_on_eight_attachments_leave_ten(app, make_story):
    story = make_story()
    for i in range(MAX_PER_STORY - 2):
        add_attachment(story, f"p{i}.png", PNG, user("store1@example.com"))
    db.session.commit()
    story_id = story.id
    barrier = threading.Barrier(4)
    out: list[str] = []

    def run(i: int) -> None:
        with app.app_context():
            s = db.session.get(KsStory, story_id)
            actor = user("store1@example.com")
            barrier.wait(timeout=20)
            try:
                add_attachment(s, f"race{i}.png", PNG, actor)
                db.session.commit()
                out.append("ok")
            except StoryError as exc:
                db.session.rollback()
                out.append(str(exc.status))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(out) == ["422", "422", "ok", "ok"]
    assert scalar("SELECT count(*) FROM ks_attachment WHERE story_id = :s", s=story_id) == MAX_PER_STORY
    assert scalar("SELECT count(*) FROM stored_file") == MAX_PER_STORY
