"""queue_many: set-based queueing of a campaign's audience — the same rules as queue_message, the
lawful wrapper with each customer's own unsubscribe link, idempotent, and the PostgreSQL COPY
path giving exactly the rows the portable INSERT path gives."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.messaging import MessagingError, cancel_queued, queue_many, queue_message, service
from portal.messaging.models import Message


@pytest.fixture(autouse=True)
def _quiet(app):
    app.config.update(PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False, PORTAL_SENDER_CONTACT="02-1234-5678",
                      PORTAL_OPTOUT_080="080-123-4567")


def _customers(n: int) -> list[int]:
    return [r[0] for r in db.session.execute(text(
        "SELECT id FROM customer WHERE email IS NOT NULL AND phone IS NOT NULL ORDER BY id LIMIT :n"), {"n": n})]


def _rows(ids, prefix="q", channel="email", **extra):
    return [{"channel": channel, "purpose": "marketing", "customer_id": cid, "subject": "여름 세일",
             "body": f"고객님께 드리는 혜택 {cid}", "idempotency_key": f"{prefix}:{cid}", "source": "sample",
             "source_object": "campaign:1", "step": "1", "variant": "A", **extra} for cid in ids]


def test_queue_many_wraps_each_message_lawfully(app):
    from portal.messaging.service import UNSUBSCRIBE_MARK

    ids = _customers(250)
    assert len(ids) > 200
    assert queue_many(_rows(ids), chunk=100) == len(ids)
    db.session.commit()
    msgs = db.session.execute(select(Message).where(Message.source == "sample")).scalars().all()
    assert len(msgs) == len(ids)
    emails = dict(db.session.execute(text("SELECT id, email FROM customer WHERE id IN :ids").bindparams(
        db.bindparam("ids", expanding=True)), {"ids": ids}).all())
    for m in msgs:
        assert m.subject.startswith("(광고)") and m.to_addr == emails[m.customer_id]
        assert m.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # the customer's own link is minted at send time (test_messaging_send); stored: the marker
        assert UNSUBSCRIBE_MARK in m.headers["List-Unsubscribe"] and UNSUBSCRIBE_MARK in m.body
        assert f"혜택 {m.customer_id}" in m.body and "02-1234-5678" in m.body


def test_queue_many_is_idempotent(app):
    ids = _customers(30)
    assert queue_many(_rows(ids)) == 30
    assert queue_many(_rows(ids) + _rows(ids[:5])) == 0  # repeated keys, also within one call
    db.session.commit()
    assert db.session.execute(text("SELECT count(*) FROM message")).scalar_one() == 30


def test_sms_rows_get_the_080_opt_out(app):
    ids = _customers(3)
    queue_many(_rows(ids, channel="sms", subject=None))
    db.session.commit()
    for m in db.session.execute(select(Message)).scalars():
        assert m.body.startswith("(광고)") and m.body.rstrip().endswith("080-123-4567")


def test_a_bad_row_names_itself_and_the_caller_rolls_back(app):
    from portal.adlaw.law import LawViolation

    ids = _customers(5)
    rows = _rows(ids)
    rows[3] = {**rows[3], "channel": "fax"}
    with pytest.raises(MessagingError) as exc:
        queue_many(rows)
    assert exc.value.row == 3 and exc.value.field == "channel"
    db.session.rollback()
    rows = _rows(ids)
    rows[2] = {**rows[2], "subject": "[광고] 세일"}
    with pytest.raises(LawViolation):
        queue_many(rows)
    db.session.rollback()
    assert db.session.execute(text("SELECT count(*) FROM message")).scalar_one() == 0


def test_cancel_queued(app):
    ids = _customers(2)
    queue_many(_rows(ids))
    queue_message(channel="email", purpose="service", customer_id=ids[0], subject="s", body="b",
                  idempotency_key="svc:1", source="core")
    db.session.commit()
    assert cancel_queued(ids[0], channel="sms", reason="test") == 0
    assert cancel_queued(ids[0], reason="test") == 1  # marketing only, by default
    db.session.commit()
    rows = dict(db.session.execute(text("SELECT idempotency_key, status FROM message")).all())
    assert rows == {f"q:{ids[0]}": "cancelled", f"q:{ids[1]}": "queued", "svc:1": "queued"}


def test_copy_path_and_insert_path_give_the_same_rows(app, monkeypatch):
    """PostgreSQL: COPY (bulk.py) for big chunks, INSERT … ON CONFLICT for small ones — same rows."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("COPY is the PostgreSQL fast path")
    ids = _customers(2 * service.COPY_FROM)
    first, second = ids[:service.COPY_FROM], ids[service.COPY_FROM:]
    assert queue_many(_rows(first, prefix="copy")) == len(first)
    monkeypatch.setattr(service, "COPY_FROM", 10**9)
    assert queue_many(_rows(second, prefix="copy") + _rows(first[:3], prefix="copy")) == len(second)
    db.session.commit()
    cols = ("channel", "purpose", "to_addr", "subject", "html", "source", "source_object", "step", "variant",
            "status", "attempts", "expires_at")
    by_path = []
    for group in (first, second):
        rows = db.session.execute(select(Message).where(Message.customer_id.in_(group[:5])).order_by(Message.customer_id)).scalars().all()
        by_path.append({(tuple(getattr(m, c) for c in cols if c != "to_addr"), tuple(sorted(m.headers))) for m in rows})
        for m in rows:
            assert m.body.endswith("\n") and f"혜택 {m.customer_id}" in m.body and m.not_before == m.created_at
    assert by_path[0] == by_path[1]


def test_copy_path_survives_a_concurrent_writer_of_the_same_keys(app, monkeypatch):
    """A key written by someone else between the lookup and the COPY: the chunk's savepoint is
    rolled back and it goes through ON CONFLICT DO NOTHING — the transaction stays usable."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("COPY is the PostgreSQL fast path")
    from portal.messaging import bulk

    ids = _customers(service.COPY_FROM + 10)
    assert queue_many(_rows(ids[:10], prefix="race")) == 10
    monkeypatch.setattr(bulk, "_lookup_stored", lambda cur, keys: set())
    assert queue_many(_rows(ids, prefix="race")) == service.COPY_FROM
    db.session.commit()
    assert db.session.execute(text("SELECT count(*) FROM message WHERE idempotency_key LIKE 'race:%'")).scalar_one() == len(ids)


def test_erasure_cancels_pending_messages_and_blanks_the_texts(app):
    from portal.customers.privacy import pseudonymize
    from portal.models import Customer, User

    ids = _customers(1)
    queue_many(_rows(ids))
    db.session.commit()
    admin = db.session.execute(select(User).where(User.email == "admin@example.com")).scalar_one()
    pseudonymize(admin, db.session.get(Customer, ids[0]), "data-subject request")
    db.session.commit()
    row = db.session.execute(select(Message).where(Message.customer_id == ids[0])).scalar_one()
    assert row.status == "cancelled" and row.status_reason == "erased"
    assert row.to_addr is None and row.body == "" and row.subject is None and row.headers is None


def test_cli_list_and_send(app):
    app.config["PORTAL_SMTP_URL"] = ""
    queue_many(_rows(_customers(3)))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "messages", "list", "--status", "queued"])
    assert result.exit_code == 0 and "queued: 3" in result.output and result.output.count("email/marketing sample") == 3
    assert runner.invoke(args=["portal", "messages", "list", "--status", "nonsense"]).exit_code != 0
    bad = runner.invoke(args=["portal", "messages", "send", "--channel", "fax"])
    assert bad.exit_code != 0 and "fax" in bad.output
    result = runner.invoke(args=["portal", "messages", "send"])
    assert result.exit_code == 0 and "claimed: 3" in result.output  # no consent: suppressed at send
    assert "suppressed_at_send: 3" in result.output
