"""cancel_source: a cancelled campaign's pending messages are cancelled in the caller's
transaction — only that source object's, only those not yet handed to a provider."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from portal.extensions import db
from portal.messaging import MessagingError, cancel_source, queue_many
from portal.messaging.models import Message


@pytest.fixture(autouse=True)
def _quiet(app):
    app.config.update(PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False, PORTAL_SENDER_CONTACT="02-1234-5678",
                      PORTAL_OPTOUT_080="080-123-4567")


def _queue(obj: str, ids: list[int]) -> None:
    queue_many([{"channel": "email", "purpose": "marketing", "customer_id": cid, "subject": "세일", "body": "혜택",
                 "idempotency_key": f"{obj}:{cid}", "source": "sample", "source_object": obj} for cid in ids])


def _statuses(obj: str) -> dict[str, int]:
    return dict(db.session.execute(text("SELECT status, count(*) FROM message WHERE source_object = :o "
                                        "GROUP BY status"), {"o": obj}).all())


def test_cancel_source_cancels_only_pending_rows_of_that_object(app):
    ids = [r[0] for r in db.session.execute(text("SELECT id FROM customer WHERE email IS NOT NULL ORDER BY id LIMIT 8"))]
    _queue("campaign:1", ids)
    _queue("campaign:2", ids[:3])
    db.session.flush()
    # two already went out, one is waiting for a retry
    sent = db.session.execute(text("SELECT id FROM message WHERE source_object = 'campaign:1' ORDER BY id")).scalars().all()
    db.session.execute(update(Message).where(Message.id.in_(sent[:2])).values(status="sent"))
    db.session.execute(update(Message).where(Message.id == sent[2]).values(status="failed_temporary"))
    db.session.commit()

    n = cancel_source("sample", "campaign:1", reason="campaign_cancelled")
    assert n == len(ids) - 2
    db.session.rollback()  # the caller's transaction: nothing happened
    assert _statuses("campaign:1") == {"queued": len(ids) - 3, "sent": 2, "failed_temporary": 1}

    assert cancel_source("sample", "campaign:1", reason="campaign_cancelled") == len(ids) - 2
    db.session.commit()
    assert _statuses("campaign:1") == {"cancelled": len(ids) - 2, "sent": 2}
    assert _statuses("campaign:2") == {"queued": 3}  # another campaign of the same source: untouched
    reasons = db.session.execute(text("SELECT DISTINCT status_reason FROM message WHERE status = 'cancelled'")).scalars()
    assert list(reasons) == ["campaign_cancelled"]


def test_cancel_source_needs_a_reason(app):
    with pytest.raises(MessagingError):
        cancel_source("sample", "campaign:1", reason="")
    with pytest.raises(MessagingError):
        cancel_source("sample", "campaign:1", reason="x" * 61)
