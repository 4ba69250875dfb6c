"""Messaging: queue → dispatch → a real SMTP server (aiosmtpd), with the send-time rules.

E-mail reaches the sink as proper MIME with a stable Message-ID; 550 is a permanent failure that
flags the customer's address, 451 is retried with back-off; opt-outs, expiry, pause and the
idempotency key all hold; marketing carries the Korean advertising wrapper.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.messaging import MessagingError, dispatch, pause, progress, queue_message, resume
from portal.messaging.models import Message
from portal.models.base import utcnow
from tests.smtp_sink import SmtpSink, smtp_sink  # noqa: F401  (fixture)


@pytest.fixture
def mail(app, smtp_sink):  # noqa: F811
    """The app sending through the sink; dispatch is run by the test (not after each commit)."""
    app.config.update(PORTAL_SMTP_URL=smtp_sink.url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False,
                      PORTAL_SENDER_CONTACT="02-1234-5678", PORTAL_OPTOUT_080="080-123-4567")
    return smtp_sink


def customers(n: int) -> list[int]:
    rows = db.session.execute(text(
        "SELECT id FROM customer WHERE email IS NOT NULL AND pseudonymized_at IS NULL ORDER BY id LIMIT :n"), {"n": n})
    return [r[0] for r in rows]


def email_of(customer_id: int) -> str:
    return db.session.execute(text("SELECT email FROM customer WHERE id = :i"), {"i": customer_id}).scalar_one()


def consent(customer_id: int, granted: bool = True, channel: str = "email") -> None:
    from portal.contact import record_consent

    record_consent(customer_id, channel, "marketing", granted, method="web", source="test")
    db.session.commit()


def service_mail(key: str, customer_id: int | None = None, **kw) -> Message:
    kw.setdefault("subject", "주문 안내")
    kw.setdefault("source", "core")
    return queue_message(channel="email", purpose="service", body="본문입니다.", idempotency_key=key,
                         customer_id=customer_id, **kw)


def status(key: str) -> Message:
    db.session.expire_all()
    return db.session.execute(select(Message).where(Message.idempotency_key == key)).scalar_one()


def test_service_email_arrives_as_mime_with_a_stable_message_id(mail):
    user_id = db.session.execute(text("SELECT id FROM user_account WHERE email = 'hq@example.com'")).scalar_one()
    m = queue_message(channel="email", purpose="service", user_id=user_id, subject="안녕하세요", body="첫 줄\n.점으로 시작",
                      html="<p>첫 줄</p>", idempotency_key="t:1", source="core")
    db.session.commit()
    assert m.to_addr == "hq@example.com" and m.status == "queued"
    stats = dispatch()
    assert stats["sent"] == 1
    [got] = mail.received
    assert got.rcpt_tos == ["hq@example.com"] and got.header("Subject") == "안녕하세요"
    assert got.text().splitlines() == ["첫 줄", ".점으로 시작"]  # a leading dot survives DATA
    assert "<p>첫 줄</p>" in got.html()
    row = status("t:1")
    assert row.status == "sent" and row.provider_id == got.message_id and row.attempts == 1 and row.sent_at
    # A second dispatch finds nothing: a sent message is terminal.
    assert dispatch().get("claimed", 0) == 0 and len(mail.received) == 1


def test_the_idempotency_key_gives_one_row(mail):
    [cid] = customers(1)
    first = service_mail("dup:1", cid)
    again = service_mail("dup:1", cid, subject="다른 제목")
    db.session.commit()
    assert first.id == again.id
    assert db.session.execute(text("SELECT count(*) FROM message WHERE idempotency_key = 'dup:1'")).scalar_one() == 1
    dispatch()
    assert len(mail.received) == 1


@pytest.mark.parametrize("spec, field", [
    ({"channel": "fax"}, "channel"),
    ({"purpose": "promo"}, "purpose"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"source": "Has Spaces"}, "source"),
    ({"body": "  "}, "body"),
    ({"not_before": datetime(2030, 1, 2, tzinfo=UTC), "expires_at": datetime(2030, 1, 1, tzinfo=UTC)}, "expires_at"),
])
def test_bad_input_is_refused_and_nothing_is_written(mail, spec, field):
    [cid] = customers(1)
    args = {"channel": "email", "purpose": "service", "body": "x", "idempotency_key": "bad:1", "source": "core",
            "customer_id": cid, "subject": "s", **spec}
    with pytest.raises(MessagingError) as exc:
        queue_message(**args)
    assert exc.value.field == field
    db.session.rollback()
    assert db.session.execute(text("SELECT count(*) FROM message")).scalar_one() == 0


def test_marketing_email_is_wrapped_by_the_law_and_recorded_as_a_contact(mail):
    [cid] = customers(1)
    consent(cid)
    queue_message(channel="email", purpose="marketing", customer_id=cid, subject="봄 세일", body="20% 할인 안내",
                  idempotency_key="mk:1", source="core", source_object="campaign:1")
    db.session.commit()
    assert dispatch()["sent"] == 1
    [got] = mail.received
    assert got.header("Subject").startswith("(광고)")
    assert got.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    link = got.header("List-Unsubscribe").split(",")[0].strip("<> ")
    assert link.startswith("http") and link in got.text() and "unsubscribe.invalid" not in got.text()
    from portal.adlaw.links import read_token

    mid = status("mk:1").id
    assert read_token(link.rsplit("/", 1)[1]) == (cid, "email", mid)  # this customer's link, this message
    assert "02-1234-5678" in got.text()
    ref = f"message:{mid}"
    assert db.session.execute(text("SELECT count(*) FROM contact WHERE customer_id = :c AND ref = :r"),
                              {"c": cid, "r": ref}).scalar_one() == 1


def test_marketing_that_cannot_comply_raises_and_writes_nothing(mail):
    from portal.adlaw.law import LawViolation

    [cid] = customers(1)
    with pytest.raises(LawViolation):
        queue_message(channel="email", purpose="marketing", customer_id=cid, subject="[광고] 세일", body="x",
                      idempotency_key="law:1", source="core")
    db.session.rollback()
    assert db.session.execute(text("SELECT count(*) FROM message")).scalar_one() == 0


def test_550_is_permanent_and_flags_the_address_451_is_retried_with_back_off(mail):
    bad, later, good = customers(3)
    mail.reply_for[email_of(bad).lower()] = "550 5.1.1 No such user"
    mail.reply_for[email_of(later).lower()] = "451 4.3.0 Try again later"
    for cid in (bad, later, good):
        service_mail(f"b:{cid}", cid)
    db.session.commit()
    before = utcnow()
    stats = dispatch()
    assert stats["sent"] == 1 and stats["failed_permanent"] == 1 and stats["failed_temporary"] == 1
    assert [r.rcpt_tos for r in mail.received] == [[email_of(good)]]  # the others did not disturb it

    hard = status(f"b:{bad}")
    assert hard.status == "failed_permanent" and hard.status_reason == "bounced" and hard.last_error.startswith("550")
    issue = db.session.execute(text(
        "SELECT reason, created_by_id FROM quality_issue WHERE customer_id = :c AND field = 'email' AND resolved_at IS NULL"),
        {"c": bad}).one()
    assert "bounced" in issue.reason and issue.created_by_id is None

    soft = status(f"b:{later}")
    assert soft.status == "failed_temporary" and soft.attempts == 1 and soft.last_error.startswith("451")
    assert timedelta(seconds=59) <= soft.not_before - before <= timedelta(seconds=70)
    assert dispatch().get("claimed", 0) == 0  # not due yet

    waits = []
    for _ in range(3):  # back-off 1 min, 5 min, 30 min, then it gives up
        due = status(f"b:{later}")
        waits.append(round((due.not_before - due.updated_at).total_seconds() / 60))
        db.session.execute(text("UPDATE message SET not_before = :t WHERE id = :i"), {"t": utcnow(), "i": due.id})
        db.session.commit()
        dispatch()
    assert waits == [1, 5, 30]
    gave_up = status(f"b:{later}")
    assert gave_up.status == "failed_permanent" and gave_up.status_reason == "retries_exhausted" and gave_up.attempts == 4
    assert len(mail.to(email_of(later))) == 0


def test_a_temporary_failure_then_success(mail):
    [cid] = customers(1)
    mail.reply_for[email_of(cid).lower()] = "451 4.3.0 Greylisted"
    service_mail("g:1", cid)
    db.session.commit()
    dispatch()
    del mail.reply_for[email_of(cid).lower()]
    db.session.execute(text("UPDATE message SET not_before = :t"), {"t": utcnow()})
    db.session.commit()
    assert dispatch()["sent"] == 1
    row = status("g:1")
    assert row.status == "sent" and row.attempts == 2 and len(mail.received) == 1


def test_an_unreachable_server_is_a_temporary_failure(mail, app):
    app.config["PORTAL_SMTP_URL"] = "smtp://127.0.0.1:1?timeout=2"
    [cid] = customers(1)
    service_mail("down:1", cid)
    db.session.commit()
    assert dispatch()["failed_temporary"] == 1
    assert status("down:1").status == "failed_temporary"


def test_opt_out_after_queueing_cancels_and_a_lapsed_consent_is_suppressed_at_send(mail):
    a, b = customers(2)
    consent(a)
    consent(b)
    for cid in (a, b):
        queue_message(channel="email", purpose="marketing", customer_id=cid, subject="세일", body="안내",
                      idempotency_key=f"oo:{cid}", source="core")
    service_mail("oo:service", a)
    db.session.commit()
    # a opts out through the consent service: the same transaction cancels the queued marketing
    consent(a, granted=False)
    assert status(f"oo:{a}").status == "cancelled" and status(f"oo:{a}").status_reason == "opted_out"
    # b's opt-out arrives behind the service's back (a raw import): the send-time check catches it
    db.session.execute(text(
        "INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at, source) "
        "SELECT customer_id, channel, purpose, :f, method, :now, source FROM consent "
        "WHERE customer_id = :c AND channel = 'email' AND purpose = 'marketing'"), {"f": False, "c": b, "now": utcnow()})
    db.session.commit()
    stats = dispatch()
    row = status(f"oo:{b}")
    assert row.status == "suppressed_at_send" and row.status_reason == "opted_out"
    assert stats["sent"] == 1 and mail.received[0].header("Subject") == "주문 안내"  # service mail still goes


def test_expired_messages_are_not_sent_late(mail):
    [cid] = customers(1)
    service_mail("exp:1", cid, not_before=datetime.now(UTC) - timedelta(hours=3),
                 expires_at=datetime.now(UTC) - timedelta(hours=1))
    db.session.commit()
    assert dispatch()["expired"] == 1
    assert status("exp:1").status == "expired" and mail.received == []


def test_not_before_in_the_future_waits(mail):
    [cid] = customers(1)
    service_mail("nb:1", cid, not_before=datetime.now(UTC) + timedelta(hours=1))
    db.session.commit()
    assert dispatch().get("claimed", 0) == 0 and status("nb:1").status == "queued"


def test_pause_and_resume(mail):
    ids = customers(4)
    for cid in ids:
        service_mail(f"p:{cid}", cid, source="sample", source_object="campaign:7")
    service_mail("p:other", ids[0], source="sample", source_object="campaign:8")
    assert pause("sample", "campaign:7") is True and pause("sample", "campaign:7") is False
    db.session.commit()
    assert dispatch()["sent"] == 1  # only campaign 8
    report = progress("sample", "campaign:7")
    assert report["paused"] and not report["done"] and report["counts"]["queued"] == 4
    assert resume("sample", "campaign:7") is True
    db.session.commit()
    assert dispatch()["sent"] == 4
    report = progress("sample", "campaign:7")
    assert report["done"] and report["counts"]["sent"] == 4 and not report["paused"]
    assert len(mail.message_ids()) == 5 and max(mail.message_ids().values()) == 1


def test_pausing_stops_a_batch_before_its_next_message(mail, monkeypatch):
    """A pause committed while a batch is being sent stops it before the next message; resume
    sends the rest, nothing twice."""
    from portal.messaging import adapters as adapters_mod
    from portal.messaging import registry

    ids = customers(6)
    for cid in ids:
        service_mail(f"pm:{cid}", cid, source="sample", source_object="c1")
    db.session.commit()
    real = registry.adapters

    class PausingAfterTwo(adapters_mod.SmtpAdapter):
        sent = 0

        def send(self, message, commit_point=None):
            result = super().send(message, commit_point=commit_point)
            PausingAfterTwo.sent += 1
            if PausingAfterTwo.sent == 2:
                pause("sample", "c1")  # written in the dispatcher's session, committed with the next mark
            return result

    monkeypatch.setattr(registry, "adapters", lambda: {**real(), "email": PausingAfterTwo(mail.url, "a@example.com")})
    stats = dispatch()
    assert stats["sent"] == 2 and stats["released"] == 4
    assert progress("sample", "c1")["counts"]["queued"] == 4
    monkeypatch.setattr(registry, "adapters", real)
    resume("sample", "c1")
    db.session.commit()
    assert dispatch()["sent"] == 4
    assert len(mail.message_ids()) == 6 and set(mail.message_ids().values()) == {1}


def test_starttls(app):
    sink = SmtpSink(starttls=True).start()
    try:
        app.config.update(PORTAL_SMTP_URL=sink.url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
        [cid] = customers(1)
        service_mail("tls:1", cid)
        db.session.commit()
        assert dispatch()["sent"] == 1
        assert sink.tls_used == [True]
    finally:
        sink.stop()


def test_without_an_smtp_server_mail_goes_to_the_local_outbox(app):
    app.config.update(PORTAL_SMTP_URL="", PORTAL_MESSAGES_DISPATCH_ON_QUEUE=False)
    [cid] = customers(1)
    service_mail("local:1", cid)
    db.session.commit()
    assert dispatch()["sent"] == 1
    row = status("local:1")
    assert row.status == "sent" and row.provider_id == "local-outbox"


def test_password_reset_mail_arrives_at_the_smtp_server(app, client, smtp_sink):  # noqa: F811
    """The reset e-mail is queued with the token and sent by the dispatch job enqueued after the
    commit (the job queue runs it at once under TESTING)."""
    from tests.conftest import post_form

    app.config.update(PORTAL_SMTP_URL=smtp_sink.url)
    resp = post_form(client, "/password-reset", {"email": "store1@example.com"}, form_page="/password-reset")
    assert resp.status_code == 302
    [got] = smtp_sink.to("store1@example.com")
    assert "/password-reset/" in got.text() and got.header("Subject")
    row = status_of_reset()
    assert row.status == "sent" and row.purpose == "service" and row.provider_id == got.message_id


def status_of_reset() -> Message:
    db.session.expire_all()
    return db.session.execute(select(Message).where(Message.step == "password_reset")).scalar_one()


def test_a_line_break_in_a_subject_or_header_never_adds_a_header(mail):
    [cid] = customers(1)
    service_mail("inj:1", cid, subject="안내\r\nBcc: victim@example.com")
    db.session.commit()
    dispatch()
    [got] = mail.received
    assert got.header("Bcc") is None and got.rcpt_tos == [email_of(cid)]
    assert "Bcc: victim@example.com" in got.header("Subject")  # kept as text on the subject's one line


def test_the_provider_rate_is_respected(mail, app):
    """PORTAL_SMTP_RATE_PER_SECOND=10: no one-second window holds more than 10 sends."""
    app.config["PORTAL_SMTP_RATE_PER_SECOND"] = 10
    ids = customers(15)
    for cid in ids:
        service_mail(f"rate:{cid}", cid)
    db.session.commit()
    assert dispatch()["sent"] == 15
    times = sorted(r.at for r in mail.received)
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 10
    assert times[-1] - times[0] >= 1.3  # 15 sends at 10/s take at least 1.4 s


def test_a_policy_can_defer_and_a_deferral_past_the_deadline_expires(mail, monkeypatch):
    from portal.contact import Verdict
    from portal.messaging import registry

    a, b = customers(2)
    later = utcnow() + timedelta(hours=10)

    def night(messages, now):
        return {m.id: Verdict(False, "night_window", later.replace(tzinfo=UTC)) for m in messages}

    monkeypatch.setattr(registry, "policies", lambda: [{"name": "night", "order": 1, "check": night}])
    service_mail("night:a", a)
    service_mail("night:b", b, expires_at=datetime.now(UTC) + timedelta(hours=2))
    db.session.commit()
    stats = dispatch()
    assert stats["deferred"] == 1 and stats["expired"] == 1 and mail.received == []
    deferred = status("night:a")
    assert deferred.status == "queued" and deferred.status_reason == "deferred:night_window"
    assert abs((deferred.not_before - later).total_seconds()) < 1
    assert status("night:b").status == "expired" and status("night:b").status_reason == "night_window"


def test_a_failing_policy_holds_the_batch_instead_of_sending_unchecked(mail, monkeypatch):
    from portal.messaging import registry

    [cid] = customers(1)

    def broken(messages, now):
        raise RuntimeError("policy bug")

    monkeypatch.setattr(registry, "policies", lambda: [{"name": "broken", "order": 1, "check": broken}])
    service_mail("held:1", cid)
    db.session.commit()
    assert dispatch()["held_policy_error"] == 1 and mail.received == []
    row = status("held:1")
    assert row.status == "queued" and row.not_before > utcnow()


def test_experiment_holdout_members_get_no_marketing(mail):
    """The experiments service's send-time policy runs in the dispatcher: holdout members of the
    campaign's experiment are suppressed at send, the treatment receives its e-mails."""
    from portal.experiments.assignment import create_experiment, draw

    ids = customers(20)
    for cid in ids:
        consent(cid)
    exp = create_experiment("sample", "campaign:hx", seed=7, holdout_share=0.5)
    db.session.flush()
    counts = draw(exp, ids)
    for cid in ids:
        queue_message(channel="email", purpose="marketing", customer_id=cid, subject="세일", body="안내",
                      idempotency_key=f"hx:{cid}", source="sample", source_object="campaign:hx")
    db.session.commit()
    stats = dispatch()
    assert stats["sent"] == counts["treatment"] and stats["suppressed_at_send"] == counts["holdout"] > 0
    reasons = {r[0] for r in db.session.execute(text(
        "SELECT status_reason FROM message WHERE status = 'suppressed_at_send'"))}
    assert reasons == {"holdout"}
    assert len(mail.received) == counts["treatment"]


def test_a_customer_deleted_mid_batch_does_not_stop_the_history(mail):
    from portal.messaging.dispatch import _record_contacts

    a, b = customers(2)
    ghost = 2**31 - 2  # no such customer (merged away after the claim)
    rows = [{"customer_id": cid, "channel": "email", "purpose": "service", "source": "core", "at": utcnow(),
             "ref": f"message:{cid}", "outcome": "sent"} for cid in (a, ghost, b)]
    _record_contacts(rows)
    db.session.commit()
    got = {r[0] for r in db.session.execute(text("SELECT customer_id FROM contact WHERE ref LIKE 'message:%'"))}
    assert got == {a, b}
