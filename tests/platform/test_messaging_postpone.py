"""postpone_expiry: a resumed campaign's unsent messages get their lateness back — only that source
object's, only rows not handed to a provider, the same instant on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from portal.extensions import db
from portal.messaging import MessagingError, postpone_expiry, queue_many
from portal.messaging.models import Message

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, 678000)


@pytest.fixture(autouse=True)
def _quiet(app):
    app.config.update(PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)


def test_postpone_moves_pending_rows_of_that_object_only(app):
    ids = [r[0] for r in db.session.execute(text("SELECT id FROM customer WHERE email IS NOT NULL ORDER BY id LIMIT 4"))]
    for obj in ("campaign:1", "campaign:2"):
        queue_many([{"channel": "email", "purpose": "service", "customer_id": cid, "subject": "안내", "body": "안내",
                     "idempotency_key": f"{obj}:{cid}", "source": "sample", "source_object": obj,
                     "not_before": datetime(2030, 1, 1), "expires_at": EXPIRES} for cid in ids])
    db.session.flush()
    first = db.session.execute(select(Message.id).where(Message.source_object == "campaign:1")
                               .order_by(Message.id)).scalars().all()
    db.session.execute(update(Message).where(Message.id == first[0]).values(status="sent"))
    db.session.commit()

    assert postpone_expiry("sample", "campaign:1", seconds=90) == 3
    db.session.commit()
    rows = dict(db.session.execute(select(Message.id, Message.expires_at).where(Message.source_object == "campaign:1")).all())
    assert rows[first[0]] == EXPIRES  # sent: untouched
    assert {rows[i] for i in first[1:]} == {EXPIRES + timedelta(seconds=90)}  # microseconds kept
    others = set(db.session.execute(select(Message.expires_at).where(Message.source_object == "campaign:2")).scalars())
    assert others == {EXPIRES}


@pytest.mark.parametrize("seconds", [0, -5, 400 * 86400, 1.5, True])
def test_postpone_refuses_bad_durations(app, seconds):
    with pytest.raises(MessagingError):
        postpone_expiry("sample", "campaign:1", seconds=seconds)
