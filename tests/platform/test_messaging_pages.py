"""The outbox pages: who sees which messages, texts only for administrators, pause and resume from
the page, postal DM print files; Korean and English."""

from __future__ import annotations

from sqlalchemy import text

from portal.extensions import db
from portal.messaging import dispatch, queue_message
from tests.conftest import post_form


def _queue(app, customer_id=None, user_id=None, key="pg:1", channel="email", **kw):
    app.config.update(PORTAL_SMTP_URL="", PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
    kw.setdefault("subject", "안내")
    m = queue_message(channel=channel, purpose="service", body="비밀 링크 https://x/reset/abc", idempotency_key=key,
                      source=kw.pop("source", "core"), customer_id=customer_id, user_id=user_id, **kw)
    db.session.commit()
    return m.id


def _customer_of(branch_code: str) -> int:
    return db.session.execute(text(
        "SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = :b AND c.email IS NOT NULL "
        "ORDER BY c.id LIMIT 1"), {"b": branch_code}).scalar_one()


def test_admin_reads_the_demo_mail_on_the_outbox_page(app, client, login_as):
    user_id = db.session.execute(text("SELECT id FROM user_account WHERE email = 'hq@example.com'")).scalar_one()
    mid = _queue(app, user_id=user_id)
    dispatch()
    login_as("admin@example.com")
    page = client.get("/manage/messages/?status=sent")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'data-id="{mid}"' in html and page.headers["Cache-Control"] == "no-store"
    detail = client.get(f"/manage/messages/{mid}").get_data(as_text=True)
    assert "https://x/reset/abc" in detail and "local-outbox" in detail


def test_hq_sees_statuses_but_not_texts(app, client, login_as):
    user_id = db.session.execute(text("SELECT id FROM user_account WHERE email = 'admin@example.com'")).scalar_one()
    mid = _queue(app, user_id=user_id)
    login_as("hq@example.com")
    assert f'data-id="{mid}"' in client.get("/manage/messages/").get_data(as_text=True)
    detail = client.get(f"/manage/messages/{mid}").get_data(as_text=True)
    assert "https://x/reset/abc" not in detail and 'data-testid="text-hidden"' in detail


def test_field_roles_get_no_outbox(app, client, login_as):
    mid = _queue(app, customer_id=_customer_of("B001"))
    login_as("store1@example.com")
    assert client.get("/manage/messages/").status_code == 403
    assert client.get(f"/manage/messages/{mid}").status_code == 403


def test_unknown_message_is_404_and_bad_filters_are_ignored(app, client, login_as):
    login_as("admin@example.com")
    assert client.get("/manage/messages/999999").status_code == 404
    assert client.get("/manage/messages/99999999999999999999").status_code == 404
    assert client.get("/manage/messages/?status=nonsense&channel=" + "x" * 500).status_code == 200


def test_pause_and_resume_from_the_page(app, client, login_as):
    cid = _customer_of("B001")
    mid = _queue(app, customer_id=cid, source="sample", source_object="campaign:3")
    login_as("hq@example.com")
    resp = post_form(client, "/manage/messages/pause", {"source": "sample", "source_object": "campaign:3"})
    assert resp.status_code == 302
    assert dispatch().get("claimed", 0) == 0
    page = client.get("/manage/messages/?source=sample").get_data(as_text=True)
    assert 'data-testid="paused-sample-campaign:3"' in page
    post_form(client, "/manage/messages/resume", {"source": "sample", "source_object": "campaign:3"})
    assert dispatch()["sent"] == 1
    db.session.expire_all()
    assert db.session.execute(text("SELECT status FROM message WHERE id = :i"), {"i": mid}).scalar_one() == "sent"
    actions = [r[0] for r in db.session.execute(text("SELECT action FROM audit_event WHERE action LIKE 'messages.%'"))]
    assert actions == ["messages.paused", "messages.resumed"]


def test_pause_needs_the_permission_and_a_csrf_token(app, client, login_as):
    from tests.conftest import login

    login_as("reviewer@example.com")
    assert post_form(client, "/manage/messages/pause", {"source": "sample"}).status_code == 403
    hq = app.test_client()
    login(hq, "hq@example.com")
    assert hq.post("/manage/messages/pause", data={"source": "sample"}).status_code == 400
    assert db.session.execute(text("SELECT count(*) FROM message_pause")).scalar_one() == 0


def test_pages_in_korean_and_english(app, client, login_as):
    _queue(app, user_id=1)
    login_as("admin@example.com")
    client.set_cookie("portal_lang", "ko")
    ko = client.get("/manage/messages/").get_data(as_text=True)
    assert "메시지" in ko and "대기" in ko
    post_form(client, "/language", {"lang": "en", "next": "/manage/messages/"})
    en = client.get("/manage/messages/").get_data(as_text=True)
    assert "Messages" in en and "Queued" in en


def test_dm_print_file_then_mailed(app, client, login_as):
    from portal.contact import record_consent

    cid = db.session.execute(text(
        "SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
        "AND c.address IS NOT NULL AND c.pseudonymized_at IS NULL ORDER BY c.id LIMIT 1")).scalar_one()
    other = db.session.execute(text(
        "SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B002' "
        "AND c.address IS NOT NULL AND c.pseudonymized_at IS NULL ORDER BY c.id LIMIT 1")).scalar_one()
    record_consent(cid, "dm", "marketing", True, method="paper", source="test")
    db.session.commit()
    mine = _queue(app, customer_id=cid, key="dm:1", channel="dm")
    _queue(app, customer_id=other, key="dm:2", channel="dm")
    assert dispatch().get("claimed", 0) == 0  # the dispatcher leaves postal mail alone
    login_as("store1@example.com")
    page = client.get("/manage/messages/dm").get_data(as_text=True)
    assert "1" in page and 'data-testid="dm-print"' in page
    resp = post_form(client, "/manage/messages/dm/print-file", {"format": "csv"}, form_page="/manage/messages/dm")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    body = resp.get_data(as_text=True)
    assert str(mine) in body.splitlines()[1] and len(body.strip().splitlines()) == 2  # B002's letter is not mine
    token = db.session.execute(text("SELECT claimed_by FROM message WHERE id = :i"), {"i": mine}).scalar_one()[3:]
    resp = post_form(client, f"/manage/messages/dm/{token}/mailed", {"mailed_on": "2999-01-01"}, form_page="/manage/messages/dm")
    assert resp.status_code == 302
    assert db.session.execute(text("SELECT status FROM message WHERE id = :i"), {"i": mine}).scalar_one() == "claimed"
    from datetime import date

    post_form(client, f"/manage/messages/dm/{token}/mailed", {"mailed_on": date.today().isoformat()}, form_page="/manage/messages/dm")
    db.session.expire_all()
    row = db.session.execute(text("SELECT status, provider_id FROM message WHERE id = :i"), {"i": mine}).one()
    assert row.status == "sent" and row.provider_id == f"print:{token}"
    assert db.session.execute(text("SELECT count(*) FROM access_log WHERE action = 'export' AND detail LIKE 'messaging.dm%'")).scalar_one() == 1


def test_pausing_a_source_takes_the_permission_everywhere_not_on_one_region(app, client, login_as):
    """A regional HQ grant may see the outbox of its region, but a pause stops the source's messages
    to every branch: 403, nothing paused, and no pause button on the page."""
    from portal.models import LocalRole, OrgUnit, User, UserRole

    hq = db.session.execute(db.select(User).where(User.email == "hq@example.com")).scalar_one()
    region = db.session.execute(db.select(OrgUnit).where(OrgUnit.kind == "region").order_by(OrgUnit.id)).scalars().first()
    db.session.execute(db.delete(UserRole).where(UserRole.user_id == hq.id))
    db.session.add(LocalRole(user_id=hq.id, role="HQ Staff", org_unit_id=region.id))
    db.session.commit()
    _queue(app, customer_id=_customer_of("B001"), source="sample", source_object="campaign:9")
    login_as("hq@example.com")
    resp = post_form(client, "/manage/messages/pause", {"source": "sample", "source_object": "campaign:9"})
    assert resp.status_code == 403
    assert db.session.execute(text("SELECT count(*) FROM message_pause")).scalar_one() == 0
