"""The legal notices: 2-year re-confirmation and 14-day opt-out / opt-in result — correctly timed in Korean
dates, queued once (re-runs queue nothing), recorded as consent events only once sent, never for
erased customers or customers without an address; the dry-run CLI and the job registration."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from portal.adlaw import notices
from portal.adlaw.notices import OPTIN, OPTOUT, RECONFIRMATION, notice_channel, run_notices
from portal.extensions import db
from portal.models import Consent, Customer, utcnow

# 00:00 KST on 2024-06-01 (naive UTC, as stored): the 2-year mark is 2026-06-01, notice due from 2026-05-02.
GRANTED_0601 = datetime(2024, 5, 31, 15, 0)


def kst_noon(day: date) -> datetime:
    """12:00 KST on ``day`` as stored (naive UTC)."""
    return datetime(day.year, day.month, day.day, 3, 0)


# Recording a notice checks the consent is still valid *now* (the real clock), so the tests that send
# run on today's date: a consent given 700 days ago reaches its 2-year mark in 30 days — due today.
TODAY = notices.kst_today()
GRANTED = kst_noon(TODAY - timedelta(days=700))


@pytest.fixture
def paused(app):
    """The dispatcher leaves adlaw's notices alone, so a test decides what was sent."""
    from portal.messaging import pause

    pause("adlaw")
    db.session.commit()


@pytest.fixture
def people(app):
    """Four customers with e-mail and phone, their consent history cleared; legal settings set."""
    app.config.update(PORTAL_SENDER_NAME="파트너포털", PORTAL_SENDER_CONTACT="02-123-4567",
                      PORTAL_OPTOUT_080="080-123-4567", PORTAL_BASE_URL="https://portal.example.com")
    rows = db.session.execute(select(Customer).where(
        Customer.email.is_not(None), Customer.email != "", Customer.phone.is_not(None), Customer.phone != "",
        Customer.pseudonymized_at.is_(None)).order_by(Customer.id).limit(4)).scalars().all()
    assert len(rows) == 4
    # Only these four have consents, so "due" counts are exact.
    db.session.execute(delete(Consent))
    db.session.commit()
    return rows


def consent(customer: Customer, channel: str, granted: bool, at: datetime, kind: str = "consent") -> Consent:
    row = Consent(customer_id=customer.id, channel=channel, purpose="marketing", granted=granted, method="store",
                  recorded_at=at, kind=kind, source="test")
    db.session.add(row)
    db.session.commit()
    return row


def notice_messages(step: str | None = None):
    from portal.messaging.models import Message

    db.session.expire_all()
    q = select(Message).where(Message.source == "adlaw").order_by(Message.id)
    if step:
        q = q.where(Message.step == step)
    return db.session.execute(q).scalars().all()


def mark_sent(messages) -> None:
    from portal.messaging.models import Message

    db.session.execute(update(Message).where(Message.id.in_([m.id for m in messages]))
                       .values(status="sent", sent_at=utcnow()))
    db.session.commit()


def newest(customer: Customer, channel: str) -> Consent:
    db.session.expire_all()
    return db.session.execute(select(Consent).where(
        Consent.customer_id == customer.id, Consent.channel == channel, Consent.purpose == "marketing")
        .order_by(Consent.recorded_at.desc(), Consent.id.desc()).limit(1)).scalar_one()


# --- re-confirmation ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("today", "due"), [
    (date(2026, 5, 1), 0), (date(2026, 5, 2), 1), (date(2026, 5, 31), 1), (date(2026, 6, 1), 0),
])
def test_reconfirmation_window_in_korean_dates(people, today, due):
    consent(people[0], "sms", True, GRANTED_0601)
    assert run_notices(RECONFIRMATION, today=today, dry_run=True)["due"] == due


def test_reconfirmation_window_follows_the_kst_day_of_the_grant(people):
    consent(people[0], "sms", True, datetime(2024, 5, 31, 14, 59))  # 23:59 KST on 05-31 → mark 2026-05-31
    assert run_notices(RECONFIRMATION, today=date(2026, 5, 1), dry_run=True)["due"] == 1
    assert run_notices(RECONFIRMATION, today=date(2026, 5, 31), dry_run=True)["due"] == 0


def test_reconfirmation_queued_once_recorded_once_sent(people, paused):
    a, b, c, d = people
    consent(a, "email", True, GRANTED)
    consent(b, "sms", True, GRANTED)
    consent(c, "email", True, GRANTED + timedelta(days=1))   # not due yet
    consent(d, "email", True, GRANTED - timedelta(days=3))
    consent(d, "email", False, GRANTED)                      # withdrew since: nothing to re-confirm

    assert run_notices(RECONFIRMATION, today=TODAY, dry_run=True) == {"due": 2, "queued": 0, "recorded": 0}
    assert notice_messages() == []  # the dry run wrote nothing

    assert run_notices(RECONFIRMATION, today=TODAY) == {"due": 2, "queued": 2, "recorded": 0}
    msgs = notice_messages(RECONFIRMATION)
    by_customer = {m.customer_id: m for m in msgs}
    assert set(by_customer) == {a.id, b.id}
    mail, sms = by_customer[a.id], by_customer[b.id]
    assert (mail.channel, mail.purpose, mail.to_addr) == ("email", "service", a.email)
    assert (sms.channel, sms.purpose) == ("sms", "service")
    for m in (mail, sms):
        assert "파트너포털" in m.body and GRANTED.date().isoformat() in m.body and "수신동의" in m.body
        assert "https://portal.example.com/u/" in m.body and "080-123-4567" in m.body
        assert not m.body.startswith("(광고)")
    assert mail.subject and "수신동의" in mail.subject
    # Re-running (a retry, a second consumer) queues nothing twice; nothing recorded before sending.
    assert run_notices(RECONFIRMATION, today=TODAY) == {"due": 2, "queued": 0, "recorded": 0}
    assert newest(a, "email").kind == "consent"

    mark_sent([mail])
    assert run_notices(RECONFIRMATION, today=TODAY) == {"due": 1, "queued": 0, "recorded": 1}
    row = newest(a, "email")
    assert (row.kind, row.granted, row.method, row.source) == ("reconfirmation_notice", True, "message", "adlaw")
    assert row.note == f"message {mail.id}"
    # Recorded once; the validity restarted from today, so a's next notice is due 700 days on.
    assert run_notices(RECONFIRMATION, today=TODAY)["recorded"] == 0
    assert run_notices(RECONFIRMATION, today=TODAY, dry_run=True)["due"] == 1  # b only
    assert run_notices(RECONFIRMATION, today=TODAY + timedelta(days=699), dry_run=True)["due"] == 0
    assert run_notices(RECONFIRMATION, today=TODAY + timedelta(days=700), dry_run=True)["due"] == 1


def test_sent_notice_recorded_at_once_through_the_settled_hook(people, paused):
    consent(people[0], "email", True, GRANTED)
    run_notices(RECONFIRMATION, today=TODAY)
    (msg,) = notice_messages()
    mark_sent([msg])
    db.session.expire_all()
    from portal.plugins import hook

    summary = {"id": msg.id, "source": "adlaw", "status": "sent", "step": msg.step}  # as the dispatcher hands it
    hook("portal_messages_settled")(messages=[summary])
    db.session.commit()
    assert newest(people[0], "email").kind == "reconfirmation_notice"
    hook("portal_messages_settled")(messages=[summary])  # a repeated event records nothing more
    db.session.commit()
    assert db.session.query(Consent).filter_by(customer_id=people[0].id, kind="reconfirmation_notice").count() == 1


def test_end_to_end_email_notice_sent_and_recorded_by_the_dispatcher(people):
    """No pause: under TESTING the queue runs the dispatch at once; the e-mail adapter sends and the
    settled event records the notice in the same run."""
    consent(people[0], "email", True, GRANTED)
    assert run_notices(RECONFIRMATION, today=TODAY)["queued"] == 1
    (msg,) = notice_messages()
    assert msg.status == "sent"
    assert newest(people[0], "email").kind == "reconfirmation_notice"
    assert run_notices(RECONFIRMATION, today=TODAY) == {"due": 0, "queued": 0, "recorded": 0}


def test_failed_notice_records_nothing(people, paused):
    from portal.messaging.models import Message

    consent(people[0], "email", True, GRANTED)
    run_notices(RECONFIRMATION, today=TODAY)
    db.session.execute(update(Message).where(Message.source == "adlaw").values(status="failed_permanent"))
    db.session.commit()
    assert run_notices(RECONFIRMATION, today=TODAY) == {"due": 1, "queued": 0, "recorded": 0}
    assert newest(people[0], "email").kind == "consent"


def test_consent_changed_before_recording_is_skipped_and_the_others_recorded(people, paused):
    a, b, c, _d = people
    for person in (a, b, c):
        consent(person, "email", True, GRANTED)
    run_notices(RECONFIRMATION, today=TODAY)
    msgs = notice_messages()
    assert len(msgs) == 3
    consent(b, "email", False, utcnow())                          # b withdrew after the notice went out
    db.session.execute(update(Consent).where(Consent.customer_id == c.id, Consent.kind == "consent")
                       .values(recorded_at=utcnow() - timedelta(days=800)))  # c's consent lapsed meanwhile
    db.session.commit()
    mark_sent(msgs)
    assert notices.record_sent_notices([m.id for m in msgs]) == 1
    db.session.commit()
    assert newest(a, "email").kind == "reconfirmation_notice"
    assert (newest(b, "email").kind, newest(b, "email").granted) == ("consent", False)
    assert newest(c, "email").kind == "consent"


def test_no_notice_for_erased_or_unreachable_customers(people):
    a, b, *_ = people
    consent(a, "email", True, GRANTED)
    consent(b, "email", True, GRANTED)
    a.pseudonymized_at = utcnow()
    b.email, b.phone = None, " "
    db.session.commit()
    assert run_notices(RECONFIRMATION, today=TODAY) == {"due": 0, "queued": 0, "recorded": 0}


def test_kakao_consent_is_noticed_by_email_then_sms(people):
    a, b, *_ = people
    consent(a, "kakao", True, GRANTED)
    consent(b, "kakao", True, GRANTED)
    b.email = None
    db.session.commit()
    run_notices(RECONFIRMATION, today=TODAY)
    assert {m.customer_id: m.channel for m in notice_messages()} == {a.id: "email", b.id: "sms"}


@pytest.mark.parametrize(("consented", "email", "phone", "expected"), [
    ("email", "a@x", "010", "email"), ("sms", "a@x", "010", "sms"), ("sms", "a@x", None, "email"),
    ("kakao", "a@x", "010", "email"), ("push", None, "010", "sms"), ("dm", " ", "", None), ("email", None, "010", "sms"),
])
def test_notice_channel(consented, email, phone, expected):
    assert notice_channel(consented, email, phone) == expected


# --- opt-out result -----------------------------------------------------------------------------------

def test_optout_result_within_14_days_once(people, paused):
    a, b, c, d = people
    now = utcnow()
    consent(a, "sms", True, now - timedelta(days=100))
    consent(a, "sms", False, now - timedelta(days=3))          # due
    consent(b, "email", False, now - timedelta(days=20))       # too old
    consent(c, "email", False, now - timedelta(days=2))
    consent(c, "email", True, now - timedelta(days=1))         # granted again since: no opt-out notice
    consent(d, "email", True, now - timedelta(days=5))         # no opt-out at all
    assert run_notices(OPTOUT, dry_run=True)["due"] == 1
    assert run_notices(OPTOUT) == {"due": 1, "queued": 1, "recorded": 0}
    (msg,) = notice_messages(OPTOUT)
    assert (msg.customer_id, msg.channel, msg.purpose) == (a.id, "sms", "service")
    assert "수신거부" in msg.body and "처리" in msg.body and "파트너포털" in msg.body
    assert run_notices(OPTOUT)["queued"] == 0
    mark_sent([msg])
    assert run_notices(OPTOUT) == {"due": 0, "queued": 0, "recorded": 1}
    row = newest(a, "sms")
    assert (row.kind, row.granted, row.source) == ("optout_notice", False, "adlaw")


@pytest.mark.parametrize(("days_ago", "due"), [(0, 1), (14, 1), (15, 0)])
def test_optout_window_boundaries(people, days_ago, due):
    today = notices.kst_today()
    # 12:00 KST on the day of the opt-out (03:00 UTC)
    day = today - timedelta(days=days_ago)
    consent(people[0], "email", False, datetime(day.year, day.month, day.day, 3, 0))
    assert run_notices(OPTOUT, dry_run=True)["due"] == due


def test_unsubscribe_link_leads_to_a_result_notice(people, client):
    from portal.adlaw import unsubscribe_url

    a = people[0]
    consent(a, "email", True, utcnow() - timedelta(days=10))
    assert client.post("/u/" + unsubscribe_url(a.id, "email").rsplit("/", 1)[1]).status_code == 200
    assert run_notices(OPTOUT)["queued"] == 1


# --- opt-in result ------------------------------------------------------------------------------------

def test_optin_result_within_14_days_once_without_moving_the_two_year_mark(people, paused):
    a, b, c, d = people
    now = utcnow()
    granted = consent(a, "email", True, now - timedelta(days=2))  # due
    consent(b, "sms", True, now - timedelta(days=20))              # too old
    consent(c, "email", True, now - timedelta(days=3))
    consent(c, "email", False, now - timedelta(days=1))            # withdrawn since: the opt-out notice instead
    consent(d, "kakao", True, now - timedelta(days=400))
    consent(d, "kakao", True, now - timedelta(days=1), kind="reconfirmation_notice")  # not a new grant
    assert run_notices(OPTIN, dry_run=True)["due"] == 1
    assert run_notices(OPTIN) == {"due": 1, "queued": 1, "recorded": 0}
    (msg,) = notice_messages(OPTIN)
    assert (msg.customer_id, msg.channel, msg.purpose) == (a.id, "email", "service")
    day = notices.law.kst_date(granted.recorded_at).isoformat()
    for part in ("파트너포털", day, "수신에 동의", "https://portal.example.com/u/", "080-123-4567", "02-123-4567"):
        assert part in msg.body, part
    assert "수신동의 처리 결과" in msg.subject and not msg.body.startswith("(광고)")
    assert run_notices(OPTIN)["queued"] == 0
    mark_sent([msg])
    assert run_notices(OPTIN) == {"due": 0, "queued": 0, "recorded": 1}
    row = newest(a, "email")
    assert (row.kind, row.granted, row.source, row.note) == ("optin_notice", True, "adlaw", f"message {msg.id}")
    # The notice keeps the grant's instant: the re-confirmation stays due 700 days after the grant.
    assert row.recorded_at == granted.recorded_at
    grant_day = notices.law.kst_date(granted.recorded_at)
    db.session.execute(delete(Consent).where(Consent.customer_id != a.id))
    db.session.commit()
    assert run_notices(RECONFIRMATION, today=grant_day + timedelta(days=699), dry_run=True)["due"] == 0
    assert run_notices(RECONFIRMATION, today=grant_day + timedelta(days=700), dry_run=True)["due"] == 1
    assert run_notices(OPTIN)["recorded"] == 0


@pytest.mark.parametrize(("days_ago", "due"), [(0, 1), (14, 1), (15, 0)])
def test_optin_window_boundaries(people, days_ago, due):
    day = notices.kst_today() - timedelta(days=days_ago)
    consent(people[0], "sms", True, kst_noon(day))
    assert run_notices(OPTIN, dry_run=True)["due"] == due


def test_many_sent_notices_recorded_in_one_set_based_pass(people, paused):
    """The catch-up records a whole chunk with a fixed number of statements, whatever its size."""
    from sqlalchemy import event

    for person in people:
        consent(person, "email", True, utcnow() - timedelta(days=1))
        consent(person, "sms", False, utcnow() - timedelta(days=1))
    run_notices(OPTIN)
    run_notices(OPTOUT)
    msgs = notice_messages()
    assert len(msgs) == 8
    mark_sent(msgs)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert notices.record_sent_notices() == 8
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) <= 2 and len(statements) <= 8, statements
    assert {newest(p, "email").kind for p in people} == {"optin_notice"}
    assert {newest(p, "sms").kind for p in people} == {"optout_notice"}


# --- wiring -------------------------------------------------------------------------------------------

def test_unknown_kind_refused(app):
    with pytest.raises(ValueError):
        run_notices("birthday")


def test_cli_dry_run_shows_counts_and_writes_nothing(people, app):
    consent(people[0], "email", True, GRANTED_0601)
    result = app.test_cli_runner().invoke(args=["portal", "adlaw", "notices", "--dry-run", "--today", "2026-05-02"])
    assert result.exit_code == 0, result.output
    assert "reconfirmation_notice: 1 due" in result.output and "optout_notice: 0 due" in result.output
    assert "optin_notice: 0 due" in result.output
    assert notice_messages() == []
    result = app.test_cli_runner().invoke(args=["portal", "adlaw", "notices", "--kind", "reconfirmation",
                                                "--today", "2026-05-02"])
    assert result.exit_code == 0 and "1 queued" in result.output
    bad = app.test_cli_runner().invoke(args=["portal", "adlaw", "notices", "--today", "02/05/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_jobs_registered_daily_at_10_kst(app):
    from portal.jobs.registry import collect_specs

    specs = collect_specs(app)
    for name in ("adlaw.reconfirmation_notices", "adlaw.optout_result_notices", "adlaw.optin_result_notices"):
        assert specs[name].schedule == {"minute": "0", "hour": "10", "tz": "Asia/Seoul"}
        assert specs[name].plugin == "core"


def test_job_function_takes_json_arguments(people):
    consent(people[0], "email", True, GRANTED_0601)  # due on 2026-05-02
    assert notices.reconfirmation_notices(today="2026-05-02", dry_run=True)["due"] == 1
    assert notices.optout_result_notices(today="2026-05-02")["queued"] == 0
    assert notices.optin_result_notices(today="2026-05-02")["queued"] == 0
