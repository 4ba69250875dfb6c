"""Hostile files and calendar text: an attachment is served as a download that no browser runs
(nosniff, attachment disposition for anything but images, never text/html or SVG inline); an
upload to a story that is not the uploader's is refused with nothing stored; a session title
or place with line breaks cannot add lines to the .ics."""

from __future__ import annotations

from io import BytesIO

from tests.conftest import csrf_token, scalar, sql
from tests.plugins.knowledge_share.attack_fixtures import headers
from tests.plugins.knowledge_share.files_fixtures import PDF, PNG
from tests.plugins.knowledge_share.pages_fixtures import client_for
from tests.plugins.knowledge_share.sessions_fixtures import seoul_iso
from tests.plugins.knowledge_share.stories_fixtures import story, user

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><script>alert(1)</script></html>"


def test_downloads_never_run_in_the_browser(app):
    from plugins.knowledge_share.stories.attachments import add_attachment
    from portal.toolkit import db

    s = story()
    png = add_attachment(s, "사진.png", PNG, user("store1@example.com"))
    pdf = add_attachment(s, "자료.pdf", PDF, user("store1@example.com"))
    db.session.commit()
    client = client_for(app, "store1@example.com")
    for att in (png, pdf):
        resp = client.get(f"/stories/files/{att.id}")
        assert resp.status_code == 200
        assert resp.headers.get("X-Content-Type-Options") == "nosniff"
        assert not resp.mimetype.startswith(("text/", "image/svg"))
        if not resp.mimetype.startswith("image/"):
            assert resp.headers.get("Content-Disposition", "").startswith("attachment")


def test_svg_html_and_disguised_uploads_are_refused(app):
    s = story()
    client = client_for(app, "store1@example.com")
    token = csrf_token(client, f"/stories/{s.id}")
    before = scalar("SELECT count(*) FROM stored_file")
    for name, data in (("그림.svg", SVG), ("페이지.html", HTML), ("사진.png", HTML), ("사진.png", SVG),
                       ("자료.pdf", b"MZ" + b"\x00" * 100)):
        resp = client.post(f"/stories/files/{s.id}/upload", data={"csrf_token": token, "file": (BytesIO(data), name)},
                           content_type="multipart/form-data")
        assert resp.status_code in (303, 400, 413, 415, 422), (name, resp.status_code)
        assert scalar("SELECT count(*) FROM stored_file") == before, (name, resp.status_code)
    assert scalar("SELECT count(*) FROM ks_attachment") == 0
    resp = client.post(f"/stories/files/{s.id}/upload", data={"csrf_token": token, "file": (BytesIO(PNG),
                                                                                          "../../etc/x.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303
    names = [r[0] for r in sql("SELECT filename FROM stored_file ORDER BY id DESC LIMIT 1")]
    assert names and "/" not in names[0] and ".." not in names[0], names


def test_uploading_to_someone_elses_story_is_refused(app):
    s = story()
    before = scalar("SELECT count(*) FROM stored_file")
    for who, codes in (("store2@example.com", (404,)), ("ibo1@example.com", (404,)), ("hq@example.com", (403, 404, 409))):
        client = client_for(app, who)
        token = csrf_token(client, "/dashboard")
        resp = client.post(f"/stories/files/{s.id}/upload", data={"csrf_token": token, "file": (BytesIO(PNG), "a.png")},
                           content_type="multipart/form-data")
        assert resp.status_code in codes + (303,), (who, resp.status_code)
    assert scalar("SELECT count(*) FROM ks_attachment") == 0 and scalar("SELECT count(*) FROM stored_file") == before


def test_a_session_title_cannot_add_lines_to_the_calendar(app):
    client = app.test_client()
    h = headers("hq")
    for field in ("title", "place"):
        data = {"title": "공유회", "starts_at": seoul_iso(7, 14), "ends_at": seoul_iso(7, 16), "place": "본사",
                field: "공유회\r\nATTENDEE:mailto:evil@example.com\nBEGIN:VALARM"}
        resp = client.post("/api/v1/ks/sessions", json=data, headers=h)
        if resp.status_code == 422:
            assert field in resp.get_json()["errors"]
            continue
        assert resp.status_code == 201, resp.get_json()
        ics = client_for(app, "hq@example.com").get(f"/stories/sessions/{resp.get_json()['id']}/session.ics")
        lines = ics.get_data(as_text=True).split("\r\n")
        assert not [ln for ln in lines if ln.startswith(("ATTENDEE:mailto:evil", "BEGIN:VALARM"))], lines
