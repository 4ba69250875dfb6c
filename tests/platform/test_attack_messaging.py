"""Attacks on the outbox, the e-mail adapter and the DM print files (issue 14 security pass)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.messaging import dispatch, queue_message
from portal.messaging.models import Message
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)


@pytest.fixture
def mail(app, smtp_sink):  # noqa: F811
    app.config.update(PORTAL_SMTP_URL=smtp_sink.url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False,
                      PORTAL_SENDER_CONTACT="02-1234-5678", PORTAL_OPTOUT_080="080-123-4567")
    return smtp_sink


def _row(key: str) -> Message:
    db.session.expire_all()
    return db.session.execute(select(Message).where(Message.idempotency_key == key)).scalar_one()


@pytest.mark.parametrize("to", ["a@example.com\r\nRCPT TO:<evil@example.net>", "a@example.com\nBcc: evil@example.net",
                                "a@example.com, evil@example.net"])
def test_an_address_with_a_line_break_adds_no_recipient_and_no_header(mail, to):
    """CR/LF or a list in an address: the envelope has the one address (smtplib's ``quoteaddr``),
    the ``To`` header stays one line, and the rest of the batch goes on."""
    queue_message(channel="email", purpose="service", to=to, subject="안내", body="본문", idempotency_key="inj",
                  source="core")
    queue_message(channel="email", purpose="service", to="ok@example.com", subject="안내", body="본문",
                  idempotency_key="fine", source="core")
    db.session.commit()
    dispatch()
    assert _row("fine").status == "sent"
    rcpts = [r for m in mail.received for r in m.rcpt_tos]
    assert "evil@example.net" not in rcpts and "ok@example.com" in rcpts
    for got in mail.received:
        assert got.header("Bcc") in (None, "")
        assert "\n" not in (got.header("To") or "")


def test_a_subject_with_a_line_break_adds_no_header(mail):
    queue_message(channel="email", purpose="service", to="ok@example.com", subject="안내\r\nBcc: evil@example.net",
                  body="본문", idempotency_key="subj", source="core")
    db.session.commit()
    dispatch()
    assert _row("subj").status == "sent"
    got = mail.received[0]
    assert got.header("Bcc") in (None, "") and got.rcpt_tos == ["ok@example.com"]


# -- pages ---------------------------------------------------------------------------------------

from tests.conftest import login, post_form  # noqa: E402


def _customer(branch_code: str) -> int:
    return db.session.execute(text(
        "SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = :b "
        "AND c.address IS NOT NULL AND c.email IS NOT NULL AND c.pseudonymized_at IS NULL ORDER BY c.id LIMIT 1"),
        {"b": branch_code}).scalar_one()


@pytest.mark.parametrize("target", ["/manage/messages\r\nSet-Cookie: a=b", "/manage/messages/\nX-Evil: 1",
                                    "/manage/messages\\\\evil.example", "/manage/messages//evil.example",
                                    "https://evil.example/manage/messages"])
def test_pause_next_is_an_outbox_page_and_never_splits_the_header(app, client, target):
    login(client, "admin@example.com")
    resp = post_form(client, "/manage/messages/pause", {"source": "core", "source_object": "x", "next": target})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith("/manage/messages") and "evil" not in location and "\n" not in location
    assert not resp.headers.get("X-Evil")


def test_message_texts_and_html_are_shown_escaped_never_rendered(app, client):
    app.config.update(PORTAL_SMTP_URL="", PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    m = queue_message(channel="email", purpose="service", customer_id=_customer("B001"), subject=evil, body=evil,
                      html=f"<p>hi</p>{evil}", idempotency_key="xss", source="core", source_object=evil[:100])
    db.session.commit()
    login(client, "admin@example.com")
    for url in (f"/manage/messages/{m.id}", "/manage/messages/", "/manage/messages/?source=core"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html and "<p>hi</p>" not in html, url
    assert "&lt;script&gt;" in client.get(f"/manage/messages/{m.id}").get_data(as_text=True)


def test_another_stores_print_file_cannot_be_downloaded_or_marked(app, client):
    from portal.contact import record_consent

    app.config.update(PORTAL_SMTP_URL="", PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
    cid = _customer("B001")
    record_consent(cid, "dm", "marketing", True, method="paper", source="test")
    db.session.execute(text("UPDATE customer SET name = :n WHERE id = :i"), {"n": "=HYPERLINK(\"http://x\")", "i": cid})
    mid = queue_message(channel="dm", purpose="service", customer_id=cid, body="안내", idempotency_key="dm:x",
                        source="core").id
    db.session.commit()
    login(client, "store1@example.com")
    resp = post_form(client, "/manage/messages/dm/print-file", {"format": "csv"}, form_page="/manage/messages/dm")
    assert resp.status_code == 200 and "'=HYPERLINK" in resp.get_data(as_text=True)  # formula neutralised
    token = db.session.execute(text("SELECT claimed_by FROM message WHERE id = :i"), {"i": mid}).scalar_one()[3:]
    logged = db.session.execute(text(
        "SELECT count(*) FROM access_log WHERE action = 'export' AND detail LIKE :d"), {"d": f"%{token}%"}).scalar_one()
    assert logged == 1
    for email in ("store2@example.com", "leader1@example.com"):
        other = app.test_client()
        login(other, email)
        assert post_form(other, f"/manage/messages/dm/{token}/download", {}, form_page="/dashboard").status_code in (403, 404)
        post_form(other, f"/manage/messages/dm/{token}/mailed", {"mailed_on": "2026-01-01"}, form_page="/dashboard")
    db.session.expire_all()
    assert db.session.execute(text("SELECT status FROM message WHERE id = :i"), {"i": mid}).scalar_one() == "claimed"


def test_message_views_are_access_logged_without_personal_data(app, client):
    app.config.update(PORTAL_SMTP_URL="", PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
    cid = _customer("B001")
    m = queue_message(channel="email", purpose="service", customer_id=cid, subject="안내", body="본문 비밀",
                      idempotency_key="log:1", source="core")
    db.session.commit()
    address = db.session.execute(text("SELECT email FROM customer WHERE id = :i"), {"i": cid}).scalar_one()
    login(client, "admin@example.com")
    assert client.get(f"/manage/messages/{m.id}").status_code == 200
    assert client.get("/manage/messages/").status_code == 200
    rows = db.session.execute(text(
        "SELECT action, object_id, detail FROM access_log WHERE detail LIKE 'message%' OR detail LIKE 'messaging.%'")).all()
    assert any(r.action == "view" and r.object_id == str(cid) for r in rows)
    assert any(r.action == "list" for r in rows)
    for r in rows:
        assert address not in (r.detail or "") and "비밀" not in (r.detail or "")
