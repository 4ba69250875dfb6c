"""The customer page's "Contact history" tab: every channel on one timeline, newest first,
paginated, only for customers in scope; staff log a call from it."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.conftest import scalar
from tests.test_segments import HQ, STORE1, STORE2, make, now_utc, user, web_client


def build_history(cid: int) -> None:
    """A contact on three channels, consent events and (when messaging is there) an unsent message."""
    from portal.contact import record_consent, record_contact, record_contacts
    from portal.extensions import db

    staff = user(STORE1)
    t0 = now_utc() - timedelta(days=3)
    record_consent(cid, "kakao", "marketing", True, method="store", source="staff", actor=staff)
    record_contacts([
        {"customer_id": cid, "channel": "email", "purpose": "marketing", "source": "messaging", "ref": "message:9",
         "outcome": "sent", "at": t0},
        {"customer_id": cid, "channel": "kakao", "purpose": "marketing", "source": "cem_channels", "at": t0 + timedelta(days=1)},
    ])
    record_contact(cid, "phone", purpose="service", source="phone_call", actor=staff, outcome="answered",
                   note="asked about the seminar")
    record_consent(cid, "email", "marketing", False, method="web", source="unsubscribe_link")
    db.session.commit()


def items(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="timeline-item" data-kind="(\w+)" data-channel="(\w+)"', html)


def test_tab_shows_every_channel_newest_first(app):
    cid = make(branch="B001")
    build_history(cid)
    client = web_client(app, STORE1)
    resp = client.get(f"/customers/{cid}?tab=contacts")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    got = items(html)
    # Newest first: the unsubscribe, the call, the kakao grant (today), then kakao 2 days ago, e-mail 3 days ago.
    assert got[:2] == [("consent", "email"), ("contact", "phone")]
    assert got[-2:] == [("contact", "kakao"), ("contact", "email")]
    assert {c for _k, c in got} == {"email", "kakao", "phone"}
    assert "asked about the seminar" in html and "store1@example.com" in html and "Unsubscribe link" in html
    assert 'data-testid="tab-contacts"' in html
    # The view is access-logged like every tab.
    assert scalar("SELECT COUNT(*) FROM access_log WHERE object_id = :c AND detail = 'tab=contacts'", c=str(cid)) == 1


def test_unsent_messages_appear_with_their_state(app):
    from portal.extensions import db

    try:
        from portal.messaging.models import Message
    except ImportError:  # pragma: no cover
        return
    cid = make(branch="B001", consents={"sms": True})
    db.session.add(Message(channel="sms", purpose="marketing", customer_id=cid, body="x", source="cem_channels",
                           idempotency_key=f"hist-{cid}", status="suppressed_at_send", status_reason="opted_out",
                           subject="Spring offer"))
    db.session.commit()
    html = web_client(app, STORE1).get(f"/customers/{cid}?tab=contacts").get_data(as_text=True)
    assert ("message", "sms") in items(html) and "Not sent" in html and "Opted out" in html


def test_pagination_and_korean(app):
    from portal.contact import record_contacts
    from portal.extensions import db

    cid = make(branch="B001")
    base = now_utc() - timedelta(days=40)
    record_contacts([{"customer_id": cid, "channel": "dm", "purpose": "marketing", "source": "staff",
                      "at": base + timedelta(hours=i), "note": f"mailing {i}"} for i in range(30)])
    db.session.commit()
    client = web_client(app, STORE1)
    first = client.get(f"/customers/{cid}?tab=contacts").get_data(as_text=True)
    assert len(items(first)) == 25 and "mailing 29" in first and "mailing 4<" not in first and 'rel="next"' in first
    second = client.get(f"/customers/{cid}?tab=contacts&page=2").get_data(as_text=True)
    assert len(items(second)) == 5 and "mailing 0" in second
    assert len(items(client.get(f"/customers/{cid}?tab=contacts&page=99").get_data(as_text=True))) == 5
    assert client.get(f"/customers/{cid}?tab=contacts&page=abc").status_code == 200
    client.post("/language", data={"lang": "ko", "next": "/dashboard", "csrf_token": client.csrf})
    html = client.get(f"/customers/{cid}?tab=contacts").get_data(as_text=True)
    for english in ("Contact history", "Contacted", "Log a contact", "Direct mail"):
        assert english not in html, english
    assert "연락 이력" in html


def test_only_for_customers_in_scope(app):
    cid = make(branch="B001")
    build_history(cid)
    other = web_client(app, STORE2)
    assert other.get(f"/customers/{cid}?tab=contacts").status_code == 404
    assert other.post(f"/customers/{cid}/contacts", data={"channel": "phone", "purpose": "service", "outcome": "answered",
                                                          "csrf_token": other.csrf}).status_code == 404
    assert web_client(app, HQ).get(f"/customers/{cid}?tab=contacts").status_code == 200
    reviewer = web_client(app, "reviewer@example.com")
    assert reviewer.post(f"/customers/{cid}/contacts", data={"channel": "phone", "purpose": "service",
                                                             "outcome": "answered", "csrf_token": reviewer.csrf}
                         ).status_code == 403
    assert scalar("SELECT COUNT(*) FROM contact WHERE customer_id = :c AND source = 'staff'", c=cid) == 0


def test_staff_log_a_call_and_bad_input_is_refused(app):
    cid = make(branch="B001")
    client = web_client(app, STORE1)
    html = client.get(f"/customers/{cid}?tab=contacts").get_data(as_text=True)
    assert 'data-testid="timeline-empty"' in html and "Log a contact" in html
    resp = client.post(f"/customers/{cid}/contacts", data={"channel": "phone", "purpose": "marketing",
                                                           "outcome": "no_answer", "note": "call back Friday",
                                                           "csrf_token": client.csrf})
    assert resp.status_code == 302
    row = scalar("SELECT outcome || '/' || source || '/' || note FROM contact WHERE customer_id = :c", c=cid)
    assert row == "no_answer/staff/call back Friday"
    resp = client.post(f"/customers/{cid}/contacts", data={"channel": "fax", "purpose": "marketing",
                                                           "outcome": "answered", "csrf_token": client.csrf},
                       follow_redirects=True)
    assert resp.status_code == 200 and "Check the contact form." in resp.get_data(as_text=True)
    assert scalar("SELECT COUNT(*) FROM contact WHERE customer_id = :c", c=cid) == 1
    # Without CSRF token: refused, nothing written.
    assert client.post(f"/customers/{cid}/contacts", data={"channel": "phone", "purpose": "marketing",
                                                           "outcome": "answered"}).status_code in (400, 302)
    assert scalar("SELECT COUNT(*) FROM contact WHERE customer_id = :c", c=cid) == 1


def test_data_subject_export_has_the_contacts_and_erasure_drops_their_notes(app):
    import json

    from portal.customers.privacy import pseudonymize
    from portal.extensions import db
    from portal.models import Customer

    cid = make(branch="B001")
    build_history(cid)
    client = web_client(app, HQ)
    data = json.loads(client.get(f"/customers/{cid}/privacy/export.json").get_data(as_text=True))
    contacts = data["add_ons"]["contact"]
    assert {(c["channel"], c["source"]) for c in contacts} == {("email", "messaging"), ("kakao", "cem_channels"),
                                                              ("phone", "phone_call")}
    assert "asked about the seminar" in {c["note"] for c in contacts}
    pseudonymize(user(HQ), db.session.get(Customer, cid), "REQ-9")
    db.session.commit()
    assert scalar("SELECT COUNT(*) FROM contact WHERE customer_id = :c", c=cid) == 3
    assert scalar("SELECT COUNT(*) FROM contact WHERE customer_id = :c AND note IS NOT NULL", c=cid) == 0
    # Erased: every channel refused, for service too.
    from portal.contact import may_contact

    assert may_contact(cid, "phone", "service").reason == "erased"


def test_consent_tab_shows_notices_as_notices(app):
    from portal.contact import record_consent
    from portal.extensions import db

    cid = make(branch="B001", consents={"sms": True})
    record_consent(cid, "sms", "marketing", True, method="message", source="cem_channels", kind="reconfirmation_notice")
    db.session.commit()
    html = web_client(app, STORE1).get(f"/customers/{cid}?tab=consent").get_data(as_text=True)
    assert "Re-confirmation notice" in html and "By a message we sent" in html
