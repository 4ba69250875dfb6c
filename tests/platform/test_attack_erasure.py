"""Erasure through the consent service: ``pseudonymize`` withdraws marketing consent with
``record_consent`` (source ``erasure``, actor the user), so ``portal_consent_changed`` fires for
every channel like any other withdrawal; queued marketing is cancelled and nothing is ever sent
to the erased customer afterwards."""

from __future__ import annotations

from sqlalchemy import select, text

from portal.extensions import db
from portal.messaging import dispatch, queue_message
from portal.messaging.models import Message
from portal.models import CHANNELS, Consent, Customer
from tests.conftest import login, post_form
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)


def _customer_with_email() -> Customer:
    cid = db.session.execute(text(
        "SELECT id FROM customer WHERE email IS NOT NULL AND pseudonymized_at IS NULL ORDER BY id LIMIT 1")).scalar_one()
    return db.session.get(Customer, cid)


def test_erasure_withdraws_through_the_consent_service_and_nothing_is_sent(app, client, smtp_sink):  # noqa: F811
    from portal.contact import record_consent

    app.config.update(PORTAL_SMTP_URL=smtp_sink.url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False,
                      PORTAL_SENDER_CONTACT="02-1234-5678", PORTAL_OPTOUT_080="080-123-4567")
    c = _customer_with_email()
    record_consent(c.id, "email", "marketing", True, method="web", source="test")
    for key in ("erase:1", "erase:2"):
        queue_message(channel="email", purpose="marketing", customer_id=c.id, subject="세일", body="안내",
                      idempotency_key=key, source="core")
    db.session.commit()
    login(client, "admin@example.com")
    resp = post_form(client, f"/customers/{c.id}/privacy/pseudonymize", {"confirm_code": c.code, "reason": "REQ-9"})
    assert resp.status_code in (302, 303)
    db.session.expire_all()
    # Every consent channel withdrawn through the service: source "erasure", recorded by the admin.
    rows = db.session.execute(select(Consent).where(Consent.customer_id == c.id, Consent.source == "erasure")).scalars().all()
    assert {r.channel for r in rows} == set(CHANNELS) and not any(r.granted for r in rows)
    assert all(r.recorded_by_id is not None and r.purpose == "marketing" and r.kind == "consent" for r in rows)
    audited = db.session.execute(text(
        "SELECT count(*) FROM audit_event WHERE action = 'customer.consent' AND object_id = :i"), {"i": str(c.id)}).scalar_one()
    assert audited >= len(CHANNELS)
    # The queued marketing is cancelled, its text gone, and a dispatch sends nothing to them.
    msgs = db.session.execute(select(Message).where(Message.idempotency_key.in_(["erase:1", "erase:2"]))).scalars().all()
    assert {m.status for m in msgs} == {"cancelled"}
    assert dispatch().get("sent", 0) == 0 and smtp_sink.received == []


def test_erasure_fires_portal_consent_changed_for_each_channel(app, client, monkeypatch):
    """Add-ons that keep their own suppression lists hear of the erasure's withdrawals."""
    from portal.events import fire as real_fire

    fired: list[dict] = []

    def spy(name, **kwargs):
        if name == "portal_consent_changed":
            fired.append(kwargs)
        return real_fire(name, **kwargs)

    monkeypatch.setattr("portal.events.fire", spy)
    c = _customer_with_email()
    login(client, "admin@example.com")
    post_form(client, f"/customers/{c.id}/privacy/pseudonymize", {"confirm_code": c.code})
    assert {f["channel"] for f in fired} == set(CHANNELS)
    assert all(f["source"] == "erasure" and f["granted"] is False and f["actor"] is not None for f in fired)


def test_after_erasure_a_new_marketing_message_is_refused_or_suppressed(app, client, smtp_sink):  # noqa: F811
    from portal.messaging import MessagingError

    app.config.update(PORTAL_SMTP_URL=smtp_sink.url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False,
                      PORTAL_SENDER_CONTACT="02-1234-5678", PORTAL_OPTOUT_080="080-123-4567")
    c = _customer_with_email()
    cid = c.id
    login(client, "admin@example.com")
    post_form(client, f"/customers/{cid}/privacy/pseudonymize", {"confirm_code": c.code})
    db.session.expire_all()
    for purpose in ("marketing", "service"):
        try:
            queue_message(channel="email", purpose=purpose, customer_id=cid, subject="세일", body="안내",
                          idempotency_key=f"late:{purpose}", source="core")
            db.session.commit()
        except MessagingError:
            db.session.rollback()
    dispatch()
    assert smtp_sink.received == []


def test_a_letter_in_an_open_print_file_is_cancelled_by_erasure(app, client):
    """A DM letter claimed into a print file but not yet mailed: erasure cancels it, a re-download
    leaves it out, and "mailed" never records it as sent."""
    from datetime import date

    from portal.contact import record_consent

    app.config.update(PORTAL_SMTP_URL="", PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
    ids = [r[0] for r in db.session.execute(text(
        "SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
        "AND c.address IS NOT NULL AND c.pseudonymized_at IS NULL ORDER BY c.id LIMIT 2"))]
    for i, cid in enumerate(ids):
        record_consent(cid, "dm", "marketing", True, method="paper", source="test")
        queue_message(channel="dm", purpose="service", customer_id=cid, body="안내", idempotency_key=f"dm-e:{i}",
                      source="core")
    db.session.commit()
    login(client, "store1@example.com")
    assert post_form(client, "/manage/messages/dm/print-file", {"format": "csv"},
                     form_page="/manage/messages/dm").status_code == 200
    token = db.session.execute(text("SELECT claimed_by FROM message WHERE idempotency_key = 'dm-e:0'")).scalar_one()[3:]
    erased = db.session.get(Customer, ids[0])
    admin = app.test_client()
    login(admin, "admin@example.com")
    post_form(admin, f"/customers/{erased.id}/privacy/pseudonymize", {"confirm_code": erased.code})
    again = post_form(client, f"/manage/messages/dm/{token}/download", {}, form_page="/manage/messages/dm")
    assert again.status_code == 200 and len(again.get_data(as_text=True).strip().splitlines()) == 2  # header + 1
    post_form(client, f"/manage/messages/dm/{token}/mailed", {"mailed_on": date.today().isoformat()},
              form_page="/manage/messages/dm")
    db.session.expire_all()
    rows = dict(db.session.execute(text(
        "SELECT idempotency_key, status FROM message WHERE idempotency_key IN ('dm-e:0', 'dm-e:1')")).all())
    assert rows == {"dm-e:0": "cancelled", "dm-e:1": "sent"}
