"""CE-11, last clause: every opt-out processed from an 080 file gets its result notice within 14
days, by SMS, from the core's daily notice job (10:00 KST, a daytime window) — the add-on needs no
job of its own. The core job function runs with a fixed ``today``; the notice is really sent
through the fake provider and then recorded as an ``optout_notice`` consent event."""

from __future__ import annotations

from datetime import timedelta

NUMBERS = ("01077771001", "01077771002")


def _importing_customers() -> list[int]:
    """Two customers with the numbers of the file; one consented to SMS marketing, one never did."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Customer
    from portal.toolkit import record_consent

    people = db.session.execute(select(Customer).where(Customer.pseudonymized_at.is_(None))
                                .order_by(Customer.id.desc()).limit(2)).scalars().all()
    for person, number in zip(people, NUMBERS, strict=True):
        person.phone, person.email = number, None  # the notice has only SMS to go by
    record_consent(people[0].id, "sms", "marketing", True, method="store", source="test")
    db.session.commit()
    return [p.id for p in people]


def _withdrawals(ids: list[int]) -> dict[int, tuple[int, object]]:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Consent

    rows = db.session.execute(select(Consent.customer_id, Consent.id, Consent.recorded_at).where(
        Consent.customer_id.in_(ids), Consent.channel == "sms", Consent.granted.is_(False),
        Consent.kind == "consent")).all()
    return {r.customer_id: (r.id, r.recorded_at) for r in rows}


def test_080_withdrawals_get_their_result_notice_by_sms(app, provider):
    from sqlalchemy import select

    from plugins.cem_channels.optout import import_optout_file
    from portal.adlaw import law
    from portal.adlaw.notices import idempotency_key, optout_band, optout_result_notices
    from portal.extensions import db
    from portal.models import Consent
    from portal.toolkit import Message, dispatch

    ids = _importing_customers()
    data = b"phone,requested_at\n010-7777-1001,2026-12-01\n+82 10 7777 1002\n010-7777-1999\nabc\n"
    result = import_optout_file(data, filename="080.csv")
    db.session.commit()
    assert result.withdrawn == 2 and [b[0] for b in result.bad] == [4]
    withdrawals = _withdrawals(ids)
    assert set(withdrawals) == set(ids)
    day = law.kst_date(max(at for _id, at in withdrawals.values()))

    keys = [idempotency_key("optout_notice", cid) for cid, _at in withdrawals.values()]

    def queued() -> int:
        return len(db.session.execute(select(Message.id).where(Message.idempotency_key.in_(keys))).all())

    # not due the day before (nothing to tell yet) nor after the 14th day; due from the day itself
    optout_result_notices(today=(day - timedelta(days=1)).isoformat())
    optout_result_notices(today=(day + timedelta(days=15)).isoformat())
    assert queued() == 0
    for _cid, at in withdrawals.values():
        low, high = optout_band(day + timedelta(days=14))
        assert low <= at < high
    run = optout_result_notices(today=day.isoformat())
    assert run["queued"] >= 2 and queued() == 2
    optout_result_notices(today=(day + timedelta(days=1)).isoformat())
    assert queued() == 2  # once per opt-out
    notices = db.session.execute(select(Message).where(Message.idempotency_key.in_(keys))).scalars().all()
    assert sorted(m.customer_id for m in notices) == sorted(ids)
    for m in notices:
        assert (m.channel, m.purpose, m.to_addr) == ("sms", "service", NUMBERS[ids.index(m.customer_id)])
        assert "파트너포털" in m.body and day.isoformat() in m.body and "(광고)" not in m.body

    # service SMS: no night rule, sent by the provider at once; then recorded as consent events
    dispatch(limit=2000)
    db.session.expire_all()
    assert {m.status for m in db.session.execute(select(Message).where(Message.idempotency_key.in_(keys))).scalars()} \
        == {"sent"}
    sent_to = {r.body.get("to") for r in provider.to("/v1/sms")}
    assert set(NUMBERS) <= sent_to, sent_to
    events = db.session.execute(select(Consent.customer_id).where(
        Consent.customer_id.in_(ids), Consent.kind == "optout_notice")).scalars().all()
    assert sorted(events) == sorted(ids)
    # the notice did not undo the opt-out: SMS marketing stays withdrawn
    assert set(_withdrawals(ids)) == set(ids)


def test_the_notice_job_runs_in_the_daytime_every_day(app):
    from portal.adlaw.hooks import NOTICE_SCHEDULE
    from portal.plugins import hook

    jobs = {j["name"]: j for group in hook("portal_jobs")() for j in (group or [])}
    job = jobs["adlaw.optout_result_notices"]
    assert job["schedule"] == NOTICE_SCHEDULE == {"minute": "0", "hour": "10", "tz": "Asia/Seoul"}
    assert 8 <= int(job["schedule"]["hour"]) < 21  # outside 21:00–08:00 KST
