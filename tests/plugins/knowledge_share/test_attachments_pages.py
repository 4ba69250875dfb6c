"""The attachment routes (stories/attachment_views.py): upload and removal by the author with CSRF,
flash and redirect to the story page; downloads only where the story may be read (else 404, never
a hint that it exists), with headers that keep a browser from running the file."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from plugins.knowledge_share.models import KsAttachment
from plugins.knowledge_share.stories.attachments import add_attachment
from portal.toolkit import StoredFile, db
from tests.conftest import csrf_token
from tests.plugins.knowledge_share.files_fixtures import EXE, PDF, PNG, customers_csv, make_story, user

__all__ = ["make_story"]


def upload(client, story_id: int, name: str, data: bytes, *, token: bool = True):
    form = {"file": (io.BytesIO(data), name)}
    if token:
        form["csrf_token"] = csrf_token(client, "/dashboard")
    return client.post(f"/stories/files/{story_id}/upload", data=form, content_type="multipart/form-data")


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def attachment_count() -> int:
    return db.session.scalar(select(func.count()).select_from(KsAttachment))


def test_author_uploads_downloads_and_removes(make_story, login_as):
    story = make_story()
    client = login_as("store1@example.com")
    resp = upload(client, story.id, "매장 행사 사진.png", PNG)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/stories/{story.id}#attachments")
    assert flashes(client)[-1][0] == "success"
    attachment = db.session.scalars(select(KsAttachment)).one()

    resp = client.get(f"/stories/files/{attachment.id}")
    assert resp.status_code == 200 and resp.data == PNG and resp.mimetype == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Content-Disposition"].startswith("inline;")
    assert "filename*=UTF-8''%EB%A7%A4%EC%9E%A5" in resp.headers["Content-Disposition"]
    assert client.get(f"/stories/files/{attachment.id}?download=1").headers["Content-Disposition"].startswith(
        "attachment;")

    resp = client.post(f"/stories/files/{attachment.id}/delete", data={"csrf_token": csrf_token(client, "/dashboard")})
    assert resp.status_code == 303 and attachment_count() == 0
    assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 0


def test_a_pdf_downloads_as_an_attachment(make_story, login_as):
    story = make_story()
    client = login_as("store1@example.com")
    assert upload(client, story.id, "report.pdf", PDF).status_code == 303
    attachment = db.session.scalars(select(KsAttachment)).one()
    resp = client.get(f"/stories/files/{attachment.id}")
    assert resp.mimetype == "application/pdf" and resp.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(("name", "data"), [
    ("고객명단.csv", customers_csv(500)),  # KS-6
    ("big.png", PNG + b"\x00" * (11 * 1024 * 1024)),  # KS-12
    ("setup.exe", EXE),  # KS-12
    ("photo.png", EXE),  # KS-12: renamed
])
def test_refused_uploads_flash_the_reason_and_write_nothing(make_story, login_as, name, data):
    story = make_story()
    client = login_as("store1@example.com")
    resp = upload(client, story.id, name, data)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/stories/{story.id}#attachments")
    category, message = flashes(client)[-1]
    assert category == "error" and message
    assert attachment_count() == 0


def test_customer_list_message_in_korean(make_story, login_as):
    story = make_story()
    client = login_as("store1@example.com")
    upload(client, story.id, "고객명단.csv", customers_csv(500))
    assert "고객 명단" in flashes(client)[-1][1] and "500개 행" in flashes(client)[-1][1]


def test_upload_without_csrf_is_refused(make_story, login_as):
    story = make_story()
    client = login_as("store1@example.com")
    assert upload(client, story.id, "p.png", PNG, token=False).status_code == 400
    assert attachment_count() == 0


def test_upload_without_a_file(make_story, login_as):
    story = make_story()
    client = login_as("store1@example.com")
    resp = client.post(f"/stories/files/{story.id}/upload", data={"csrf_token": csrf_token(client, "/dashboard")})
    assert resp.status_code == 303 and flashes(client)[-1][0] == "error"


def test_back_to_the_edit_form_when_asked(make_story, login_as, app):
    story = make_story()
    client = login_as("store1@example.com")
    form = {"file": (io.BytesIO(PNG), "p.png"), "csrf_token": csrf_token(client, "/dashboard"), "back": "edit"}
    resp = client.post(f"/stories/files/{story.id}/upload", data=form, content_type="multipart/form-data")
    target = "/edit#attachments" if "ks_stories.edit" in app.view_functions else "#attachments"
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/stories/{story.id}{target}")


@pytest.mark.parametrize(("state", "visibility", "email", "status"), [
    ("private", "all", "store2@example.com", 404),  # a private story: only its author and reviewers
    ("pending", "all", "store2@example.com", 404),
    ("private", "all", "reviewer@example.com", 200),
    ("private", "all", "hq@example.com", 200),
    ("published", "all", "store2@example.com", 200),
    ("published", "all", "ibo1@example.com", 200),
    ("published", "branch", "store2@example.com", 404),  # B001's story, store2 is B002
    ("published", "branch", "store1@example.com", 200),
    ("archived", "all", "store2@example.com", 404),
])
def test_downloads_follow_the_story_visibility(make_story, login_as, state, visibility, email, status):
    story = make_story(visibility=visibility)
    attachment = add_attachment(story, "p.png", PNG, user("store1@example.com"))
    story.state = state
    db.session.commit()
    client = login_as(email)
    assert client.get(f"/stories/files/{attachment.id}").status_code == status


def test_another_branch_cannot_upload_or_remove(make_story, login_as):
    story = make_story()
    attachment = add_attachment(story, "p.png", PNG, user("store1@example.com"))
    db.session.commit()
    client = login_as("store2@example.com")
    assert upload(client, story.id, "x.png", PNG).status_code == 404  # private: invisible
    token = csrf_token(client, "/dashboard")
    assert client.post(f"/stories/files/{attachment.id}/delete", data={"csrf_token": token}).status_code == 404
    assert attachment_count() == 1


def test_a_visible_story_of_someone_else_is_403(make_story, login_as):
    story = make_story(state="pending")
    client = login_as("hq@example.com")
    assert upload(client, story.id, "x.png", PNG).status_code == 403
    assert attachment_count() == 0


def test_a_published_story_flashes_409_message(make_story, login_as):
    story = make_story(state="published")
    client = login_as("store1@example.com")
    assert upload(client, story.id, "x.png", PNG).status_code == 303
    assert flashes(client)[-1][0] == "error" and attachment_count() == 0


@pytest.mark.parametrize("path", ["/stories/files/0", "/stories/files/99999999999999999999",
                                  "/stories/files/123456", "/stories/files/abc"])
def test_junk_ids_are_404(login_as, path):
    assert login_as("store1@example.com").get(path).status_code == 404


def test_anonymous_is_sent_to_login(make_story, client):
    story = make_story(state="published")
    attachment = KsAttachment(story_id=story.id, file_id=0, filename="p.png", mime="image/png", size=1)
    db.session.add(attachment)
    db.session.commit()
    assert client.get(f"/stories/files/{attachment.id}").status_code == 302
