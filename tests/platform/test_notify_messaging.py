"""notify → the real messaging outbox: an e-mail preference queues one service e-mail row (links
only, no customer data), idempotent by ``notify:<id>``; the digest likewise, once per day."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Customer, User
from portal.notify import notify, send_daily_digest
from portal.notify import service as svc
from portal.notify.models import Notification
from tests.platform.test_notify_service import pin_created

messaging_models = pytest.importorskip("portal.messaging.models")
if not hasattr(messaging_models, "Message"):
    pytest.skip("the messaging service's Message table is not there yet", allow_module_level=True)
Message = messaging_models.Message
KIND = "portal.notice"


def test_email_preference_queues_one_service_message_without_customer_data(app):
    store1 = db.session.execute(select(User).where(User.email == "store1@example.com")).scalar_one()
    svc.set_preferences(store1.id, {KIND: "email"})
    customer = db.session.execute(select(Customer).where(Customer.phone.is_not(None)).limit(1)).scalar_one()
    notify([store1], KIND, customer, f"{customer.name} {customer.phone} wants a call")
    db.session.commit()
    nid = db.session.execute(select(Notification.id).where(Notification.user_id == store1.id)).scalar_one()
    rows = db.session.execute(select(Message).where(Message.source == "core.notify")).scalars().all()
    assert len(rows) == 1
    m = rows[0]
    assert (m.channel, m.purpose, m.user_id, m.to_addr, m.idempotency_key) == (
        "email", "service", store1.id, store1.email, f"notify:{nid}")
    assert m.customer_id is None
    text = (m.subject or "") + m.body + (m.html or "")
    assert f"/inbox/{nid}" in text and customer.name not in text and customer.phone not in text


def test_digest_queues_one_message_per_user_and_day(app):
    store1 = db.session.execute(select(User).where(User.email == "store1@example.com")).scalar_one()
    svc.set_preferences(store1.id, {KIND: "digest"})
    notify([store1], KIND, text="a")
    notify([store1], KIND, text="b")
    db.session.commit()
    pin_created(datetime(2026, 12, 7, 12, 0))  # the digest below runs at a fixed time, whenever the suite runs
    now = datetime(2026, 12, 7, 23, 0)
    assert send_daily_digest(now)["users"] == 1 and send_daily_digest(now)["users"] == 0
    keys = db.session.execute(select(Message.idempotency_key).where(Message.source == "core.notify")).scalars().all()
    assert keys == [f"notify.digest:{store1.id}:2026-12-08"]
