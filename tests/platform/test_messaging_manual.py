"""record_manual_outcome: a message worked by hand (a phone call) settled like a send — contact
history, a quality issue for a wrong number, conditional on the row still waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest


def _phone_message(key: str = "call:1", purpose: str = "service"):
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Customer
    from portal.toolkit import queue_message

    customer = db.session.execute(select(Customer).where(Customer.pseudonymized_at.is_(None), Customer.phone.is_not(None))
                                  .order_by(Customer.id)).scalars().first()
    m = queue_message(channel="phone", purpose=purpose, body="안부 전화 스크립트", idempotency_key=key,
                      source="core", customer_id=customer.id)
    db.session.commit()
    return m, customer


def _contacts(customer_id: int) -> list[tuple]:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.toolkit import Contact

    return [tuple(r) for r in db.session.execute(select(Contact.channel, Contact.outcome, Contact.ref, Contact.note)
                                                 .where(Contact.customer_id == customer_id, Contact.channel == "phone"))]


def test_reached_call_is_sent_with_contact_history(app):
    from portal.auth.service import find_user
    from portal.extensions import db
    from portal.toolkit import record_manual_outcome, utcnow

    m, customer = _phone_message()
    staff = find_user("store1@example.com")
    at = utcnow() - timedelta(minutes=5)
    summary = record_manual_outcome(m.id, status="sent", reason="reached", actor=staff, at=at, outcome="answered",
                                    note="다음 주 방문 예정")
    db.session.refresh(m)
    assert (m.status, m.status_reason, m.sent_at, m.attempts) == ("sent", "reached", at, 1)
    assert m.provider_id == f"manual:{staff.id}"
    assert summary["status"] == "sent" and summary["id"] == m.id
    assert _contacts(customer.id) == [("phone", "answered", f"message:{m.id}", "다음 주 방문 예정")]


def test_wrong_number_fails_and_flags_the_phone(app):
    from sqlalchemy import select

    from portal.auth.service import find_user
    from portal.extensions import db
    from portal.models import QualityIssue
    from portal.toolkit import record_manual_outcome

    m, customer = _phone_message("call:2")
    record_manual_outcome(m.id, status="failed_permanent", reason="wrong_number", note="없는 번호",
                          actor=find_user("store1@example.com"), quality_issue=True)
    db.session.refresh(m)
    assert (m.status, m.status_reason, m.last_error) == ("failed_permanent", "wrong_number", "없는 번호")
    issues = db.session.execute(select(QualityIssue.field, QualityIssue.reason).where(
        QualityIssue.customer_id == customer.id, QualityIssue.resolved_at.is_(None))).all()
    assert ("phone", "wrong_number (phone)") in [tuple(i) for i in issues]
    assert _contacts(customer.id) == []


def test_only_waiting_manual_messages_can_be_settled(app):
    from portal.extensions import db
    from portal.toolkit import MessagingError, queue_message, record_manual_outcome, utcnow

    m, _customer = _phone_message("call:3")
    record_manual_outcome(m.id, status="sent", reason="reached")
    with pytest.raises(MessagingError) as err:
        record_manual_outcome(m.id, status="failed_permanent", reason="wrong_number")
    assert err.value.field == "state"
    for kwargs, field in (({"status": "delivered", "reason": "x"}, "status"), ({"status": "sent", "reason": ""}, "reason"),
                          ({"status": "sent", "reason": "x" * 61}, "reason"),
                          ({"status": "sent", "reason": "x", "at": utcnow() + timedelta(hours=1)}, "at")):
        m2, _c = _phone_message(f"call:x:{field}:{len(kwargs['reason'])}")
        with pytest.raises(MessagingError) as err:
            record_manual_outcome(m2.id, **kwargs)
        assert err.value.field == field
    with pytest.raises(MessagingError) as err:
        record_manual_outcome(2**40, status="sent", reason="reached")
    assert err.value.field == "message"
    mail = queue_message(channel="email", purpose="service", body="b", subject="s", idempotency_key="mail:1",
                         source="core", to="someone@example.com")
    db.session.commit()
    with pytest.raises(MessagingError) as err:  # the dispatcher sends e-mail: never settled by hand
        record_manual_outcome(mail.id, status="sent", reason="reached")
    assert err.value.field == "message"
