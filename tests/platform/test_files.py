"""The core file store (portal/files): the upload rules (SECURITY.md 5.2.1/5.2.2), storage in the
caller's transaction, and download headers that keep a browser from running a file."""

from __future__ import annotations

import hashlib

import pytest

from portal.toolkit import (
    StoredFile,
    UploadRefused,
    User,
    check_upload,
    db,
    delete_file,
    file_response,
    store_file,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
GIF = b"GIF89a" + b"\x00" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"


@pytest.mark.parametrize(("name", "data", "mime"), [
    ("photo.png", PNG, "image/png"), ("photo.JPG", JPEG, "image/jpeg"), ("photo.jpeg", JPEG, "image/jpeg"),
    ("anim.gif", GIF, "image/gif"), ("pic.webp", WEBP, "image/webp"), ("결과 보고서.pdf", PDF, "application/pdf"),
])
def test_allowed_types_pass_with_their_detected_type(app, name, data, mime):
    checked = check_upload(name, data)
    assert checked.mime == mime and checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("setup.exe", EXE, "type"),  # KS-12: an .exe
    ("setup.png", EXE, "content"),  # KS-12: an .exe renamed .png
    ("drawing.svg", SVG, "type"),
    ("page.html", HTML, "type"),
    ("page.png", HTML, "content"),
    ("photo.png", JPEG, "content"),  # a JPEG named .png: extension and content must agree
    ("report.pdf", PNG, "content"),
    ("noextension", PNG, "type"),
    ("empty.png", b"", "empty"),
])
def test_refused_uploads(app, name, data, reason):
    with pytest.raises(UploadRefused) as exc:
        check_upload(name, data)
    assert exc.value.reason == reason and str(exc.value)


def test_size_limit_from_config_default_10_mb(app):
    """KS-12: 11 MB refused; exactly the limit passes."""
    assert app.config["PORTAL_MAX_ATTACHMENT_MB"] == 10
    with pytest.raises(UploadRefused) as exc:
        check_upload("big.png", PNG + b"\x00" * (11 * 1024 * 1024))
    assert exc.value.reason == "too_large" and "10" in str(exc.value)
    limit = 10 * 1024 * 1024
    assert check_upload("ok.png", PNG + b"\x00" * (limit - len(PNG))).size == limit
    with pytest.raises(UploadRefused):
        check_upload("small.png", PNG, max_bytes=10)
    app.config["PORTAL_MAX_ATTACHMENT_MB"] = 1
    with pytest.raises(UploadRefused):
        check_upload("big.png", PNG + b"\x00" * (2 * 1024 * 1024))


def test_kinds_restrict_the_allow_list(app):
    with pytest.raises(UploadRefused):
        check_upload("report.pdf", PDF, kinds=("image",))
    assert check_upload("report.pdf", PDF, kinds=("pdf",)).mime == "application/pdf"
    with pytest.raises(ValueError):
        check_upload("x.png", PNG, kinds=("spreadsheet",))


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd.png", "passwd.png"),
    ("C:\\Users\\kim\\Desktop\\매장 사진.PNG", "매장 사진.png"),
    ("a<b>c:d|e?.png", "a_b_c_d_e_.png"),
    ("\u202egnp.exe.png", "gnp.exe.png"),  # right-to-left override removed
    ("  ...hidden.png  ", "hidden.png"),
    (".png", "file.png"),
    ("tab\tand\nnewline.png", "tab and newline.png"),
])
def test_filenames_are_sanitised_and_korean_kept(app, raw, clean):
    assert check_upload(raw, PNG).filename == clean


def test_long_names_keep_their_extension_within_200_characters(app):
    name = check_upload("가" * 500 + ".pdf", PDF).filename
    assert len(name) == 200 and name.endswith(".pdf") and name.startswith("가가")


def test_store_serve_delete(app):
    admin = db.session.execute(db.select(User).filter_by(email="store1@example.com")).scalar_one()
    checked = check_upload("매장 행사 사진.png", PNG)
    row = store_file(checked, PNG, admin)
    db.session.commit()
    stored = db.session.get(StoredFile, row.id)
    assert (stored.size, stored.mime, stored.created_by_id, stored.data) == (len(PNG), "image/png", admin.id, PNG)
    with pytest.raises(ValueError):
        store_file(checked, PNG + b"x", admin)

    with app.test_request_context():
        resp = file_response(stored)
        assert resp.get_data() == PNG and resp.mimetype == "image/png"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        disposition = resp.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''%EB%A7%A4%EC%9E%A5%20%ED%96%89%EC%82%AC%20%EC%82%AC%EC%A7%84.png" in disposition
        assert 'filename="' in disposition and disposition.encode("latin-1")  # header stays ASCII
        assert file_response(stored, inline=True).headers["Content-Disposition"].startswith("inline;")

    assert delete_file(stored.id) is True
    db.session.commit()
    assert db.session.get(StoredFile, row.id) is None
    assert delete_file(row.id) is False


def test_a_quote_in_a_name_cannot_break_the_header(app):
    checked = check_upload('evil"; filename=x.html; a=".png', PNG)
    row = store_file(checked, PNG, None)
    with app.test_request_context():
        disposition = file_response(row).headers["Content-Disposition"]
    plain = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in plain and ";" not in disposition.split("filename*=", 1)[1]
