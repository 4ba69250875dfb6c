"""End to end with the outbox: a holdout member's marketing message is suppressed at send time with
reason ``holdout`` and leaves no contact record (not "recently contacted"); the treatment member's
message goes out to a real SMTP server."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)


@pytest.fixture
def mail(app, smtp_sink):  # noqa: F811
    app.config.update(PORTAL_SMTP_URL=smtp_sink.url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False,
                      PORTAL_SENDER_CONTACT="02-1234-5678", PORTAL_OPTOUT_080="080-123-4567")
    return smtp_sink


def test_holdout_member_gets_no_message_and_no_contact(mail):
    from portal.contact import record_consent
    from portal.experiments import create_experiment, draw
    from portal.experiments.models import ExperimentAssignment
    from portal.messaging import dispatch, queue_message
    from portal.messaging.models import Message

    ids = [r[0] for r in db.session.execute(text(
        "SELECT id FROM customer WHERE email IS NOT NULL AND pseudonymized_at IS NULL ORDER BY id LIMIT 60"))]
    exp = create_experiment("cem_channels", "campaign:77", seed=3, holdout_share=0.5)
    draw(exp, ids)
    db.session.commit()
    arms = dict(db.session.execute(select(ExperimentAssignment.customer_id, ExperimentAssignment.arm)
                                   .where(ExperimentAssignment.experiment_id == exp.id)).all())
    hold = next(c for c, a in arms.items() if a == "holdout")
    treat = next(c for c, a in arms.items() if a == "treatment")
    for cid in (hold, treat):
        record_consent(cid, "email", "marketing", True, method="web", source="test")
    db.session.commit()
    for cid in (hold, treat):
        queue_message(channel="email", purpose="marketing", customer_id=cid, subject="봄 세일", body="20% 할인 안내",
                      idempotency_key=f"exp:{cid}", source="cem_channels", source_object="campaign:77")
    db.session.commit()
    dispatch()
    db.session.expire_all()
    rows = {m.customer_id: m for m in db.session.scalars(select(Message).where(Message.source == "cem_channels"))}
    assert rows[hold].status == "suppressed_at_send" and rows[hold].status_reason == "holdout"
    assert rows[treat].status == "sent"
    assert len(mail.received) == 1
    contacts = dict(db.session.execute(text("SELECT customer_id, count(*) FROM contact WHERE customer_id IN (:a, :b) "
                                            "GROUP BY customer_id"), {"a": hold, "b": treat}).all())
    assert hold not in contacts and contacts.get(treat) == 1
