"""A working copy's attachments through the story service: check-out shares the stored files,
publishing the copy makes its files the story's, and a file the copy dropped leaves the store."""

from __future__ import annotations

from sqlalchemy import func, select

from plugins.knowledge_share.models import KsAttachment
from plugins.knowledge_share.stories.attachments import add_attachment, remove_attachment
from plugins.knowledge_share.stories.service import checkout, fire
from portal.files.models import StoredFile
from portal.toolkit import db
from tests.plugins.knowledge_share.files_fixtures import PDF, PNG
from tests.plugins.knowledge_share.stories_fixtures import story, user


def test_publishing_a_copy_moves_its_files_and_drops_the_removed_one(app):
    author, reviewer = user("store1@example.com"), user("reviewer@example.com")
    s = story()
    old = add_attachment(s, "전단.png", PNG, author)
    fire(s, "submit", author)
    fire(s, "publish", reviewer)
    db.session.commit()
    old_file = old.file_id
    copy = checkout(s, author)
    db.session.commit()
    shared = db.session.scalars(select(KsAttachment).where(KsAttachment.story_id == copy.id)).one()
    assert shared.file_id == old_file  # the bytes are shared, not copied
    remove_attachment(shared, author)
    new = add_attachment(copy, "결과.pdf", PDF, author)
    db.session.commit()
    assert db.session.get(StoredFile, old_file) is not None  # the published story still shows it
    fire(copy, "submit", author)
    fire(copy, "publish", reviewer)
    db.session.commit()
    on_story = db.session.scalars(select(KsAttachment).where(KsAttachment.story_id == s.id)).all()
    assert [(a.filename, a.file_id) for a in on_story] == [("결과.pdf", new.file_id)]
    assert db.session.get(StoredFile, old_file) is None
    assert db.session.scalar(select(func.count()).select_from(KsAttachment)
                             .where(KsAttachment.story_id == copy.id)) == 0
