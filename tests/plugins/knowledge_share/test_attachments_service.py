"""Story attachments (stories/attachments.py): KS-6 (a customer list refused) and KS-12 (11 MB,
``.exe``, an ``.exe`` renamed ``.png``) — refused with nothing written; states, roles, the limit
of ten, and files shared between a published story and its working copy."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from plugins.knowledge_share.errors import StoryError
from plugins.knowledge_share.models import KsAttachment
from plugins.knowledge_share.stories.attachments import (
    MAX_PER_STORY,
    add_attachment,
    copy_attachments,
    merge_attachments,
    remove_attachment,
)
from portal.toolkit import StoredFile, db
from tests.plugins.knowledge_share.files_fixtures import EXE, PDF, PNG, customers_csv, make_story, user

__all__ = ["make_story"]


@pytest.fixture(autouse=True)
def _english(app):
    from flask_babel import force_locale

    with force_locale("en"):
        yield


def counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(KsAttachment)),
            db.session.scalar(select(func.count()).select_from(StoredFile)))


def refused(story, name: str, data: bytes, actor_email: str = "store1@example.com") -> StoryError:
    before = counts()
    with pytest.raises(StoryError) as exc:
        add_attachment(story, name, data, user(actor_email))
    db.session.rollback()
    assert counts() == before  # nothing written
    return exc.value


def test_an_image_and_a_pdf_are_attached_and_stored(make_story):
    story = make_story()
    png = add_attachment(story, "C:\\사진\\매장 행사.png", PNG, user("store1@example.com"))
    pdf = add_attachment(story, "결과 보고서.pdf", PDF, user("store1@example.com"))
    db.session.commit()
    assert [(a.filename, a.mime, a.size) for a in story.attachments] == [
        ("매장 행사.png", "image/png", len(PNG)), ("결과 보고서.pdf", "application/pdf", len(PDF))]
    assert db.session.get(StoredFile, png.file_id).data == PNG and pdf.file_id != png.file_id


def test_ks6_a_csv_of_500_customers_is_refused_as_a_customer_list(make_story):
    """KS-6: the attachment is refused with its own message, even though CSV is no allowed type."""
    exc = refused(make_story(), "고객명단.csv", customers_csv(500))
    assert exc.status == 422 and "customer list" in exc.errors["attachments"]
    assert "500 rows look like customer records" in exc.errors["attachments"]
    assert exc.extra["findings"][0]["kind"] == "customer_list"


def test_ks6_a_pdf_holding_personal_data_is_refused(make_story):
    data = PDF.replace(b"<<>>", b"(Call 010-1234-5678 or kim@example.com, RRN 900101-1234567)")
    exc = refused(make_story(), "report.pdf", data)
    assert {f["excerpt"] for f in exc.extra["findings"]} == {"010-1234-5678", "kim@example.com", "900101-1234567"}
    assert "010-1234-5678" in exc.errors["attachments"]


@pytest.mark.parametrize(("name", "data", "words"), [
    ("big.png", PNG + b"\x00" * (11 * 1024 * 1024), "at most 10 MB"),  # KS-12: 11 MB
    ("setup.exe", EXE, "cannot be uploaded"),  # KS-12: .exe
    ("photo.png", EXE, "not what its name says"),  # KS-12: an .exe renamed .png
    ("drawing.svg", b"<svg><script>alert(1)</script></svg>", "cannot be uploaded"),
    ("empty.png", b"", "empty"),
])
def test_ks12_files_breaking_the_upload_rules_are_refused(make_story, name, data, words):
    exc = refused(make_story(), name, data)
    assert exc.status == 422 and words in exc.errors["attachments"]


def test_at_most_ten_attachments(make_story):
    story = make_story()
    for i in range(MAX_PER_STORY):
        add_attachment(story, f"p{i}.png", PNG, user("store1@example.com"))
    db.session.commit()
    exc = refused(story, "one-more.png", PNG)
    assert exc.errors["attachments"] == "A story has at most 10 attachments; remove one first."


@pytest.mark.parametrize("state", ["published", "archived", "merged"])
def test_only_private_or_pending_stories_change(make_story, state):
    """A published story changes through its working copy: 409."""
    assert refused(make_story(state=state), "p.png", PNG).status == 409


@pytest.mark.parametrize(("state", "email", "status"), [
    ("private", "store2@example.com", 403),  # another branch's staff
    ("private", "hq@example.com", 403),  # sees every story, is not its author
    ("private", "reviewer@example.com", 403),  # not submitted yet: the author's own
    ("pending", "hq@example.com", 403),
])
def test_only_the_author_or_a_reviewer_of_a_pending_story(make_story, state, email, status):
    assert refused(make_story(state=state), "p.png", PNG, email).status == status


def test_a_reviewer_may_change_a_pending_story(make_story):
    story = make_story(state="pending")
    a = add_attachment(story, "p.png", PNG, user("reviewer@example.com"))
    remove_attachment(a, user("reviewer@example.com"))
    db.session.commit()
    assert counts() == (0, 0)


def test_remove_deletes_the_file_unless_another_version_uses_it(make_story):
    base = make_story()
    author = user("store1@example.com")
    kept = add_attachment(base, "kept.png", PNG, author)
    gone = add_attachment(base, "gone.pdf", PDF, author)
    db.session.commit()
    base.state = "published"
    copy = make_story(state="pending", base=base)
    copy_attachments(base, copy)
    db.session.commit()
    assert counts() == (4, 2)
    copy_gone = next(a for a in copy.attachments if a.filename == "gone.pdf")
    remove_attachment(copy_gone, author)
    db.session.commit()
    assert counts() == (3, 2)  # the published story still shows gone.pdf
    add_attachment(copy, "new.png", PNG, author)
    db.session.commit()
    merge_attachments(copy, base)
    db.session.commit()
    assert sorted(a.filename for a in base.attachments) == ["kept.png", "new.png"]
    assert copy.attachments == []
    assert counts() == (2, 2) and db.session.get(StoredFile, gone.file_id) is None
    assert db.session.get(StoredFile, kept.file_id) is not None


def test_remove_on_a_published_story_is_409(make_story):
    story = make_story()
    a = add_attachment(story, "p.png", PNG, user("store1@example.com"))
    story.state = "published"
    db.session.commit()
    with pytest.raises(StoryError) as exc:
        remove_attachment(a, user("store1@example.com"))
    assert exc.value.status == 409


def test_discarding_a_copy_keeps_the_shared_files(make_story):
    from plugins.knowledge_share.stories.attachments import discard_attachments

    base = make_story()
    author = user("store1@example.com")
    add_attachment(base, "kept.png", PNG, author)
    db.session.commit()
    base.state = "published"
    copy = make_story(state="pending", base=base)
    copy_attachments(base, copy)
    add_attachment(copy, "only-copy.pdf", PDF, author)
    db.session.commit()
    assert counts() == (3, 2)
    discard_attachments(copy)
    db.session.delete(copy)
    db.session.commit()
    assert counts() == (1, 1) and [a.filename for a in base.attachments] == ["kept.png"]


def test_ks13_purge_deletes_the_add_ons_files_only(make_story):
    """KS-13 (files): uninstall with purge leaves no stored file of a story behind; others stay."""
    from plugins.knowledge_share.stories.attachments import purge_files
    from portal.toolkit import check_upload, store_file

    story = make_story()
    for i in range(3):
        add_attachment(story, f"p{i}.png", PNG, user("store1@example.com"))
    other = store_file(check_upload("library.pdf", PDF), PDF, None)  # another add-on's file
    db.session.commit()
    assert purge_files() == 3
    db.session.commit()
    assert db.session.scalars(select(StoredFile.id)).all() == [other.id]
