"""Cross-channel frequency caps (``campaigns/caps.py``): the rolling windows of CE-14, service messages
never capped (CE-9), messages in one batch counted together, and the policy inside the real dispatcher
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from plugins.cem_channels.campaigns import caps
from portal.toolkit import Contact, Customer, Message, db, dispatch, queue_message, record_consents, utcnow
from tests.plugins.cem_channels.conftest import _set_settings

MONDAY_10 = datetime(2026, 12, 7, 1, 0)  # Monday 10:00 KST as naive UTC
TUESDAY_10 = MONDAY_10 + timedelta(days=1)
WEDNESDAY_NOON = MONDAY_10 + timedelta(days=2, hours=2)


def _customers(n: int = 3, *, with_email: bool = True) -> list[int]:
    stmt = select(Customer.id).where(Customer.pseudonymized_at.is_(None))
    if with_email:
        stmt = stmt.where(Customer.email.is_not(None), Customer.email != "")
    return list(db.session.scalars(stmt.order_by(Customer.id).limit(n)))


def _contact(customer_id: int, channel: str, at: datetime, purpose: str = "marketing") -> None:
    db.session.add(Contact(customer_id=customer_id, channel=channel, purpose=purpose, at=at, source="messaging"))


def _msg(mid: int, customer_id: int, purpose: str = "marketing", **kw) -> SimpleNamespace:
    return SimpleNamespace(id=mid, customer_id=customer_id, purpose=purpose, channel=kw.get("channel", "email"),
                           source=kw.get("source", "other"), source_object=kw.get("source_object"),
                           not_before=kw.get("not_before", WEDNESDAY_NOON))


def test_ce14_rolling_windows_exact(app):
    """E-mail Monday 10:00, SMS Tuesday 10:00, ≤ 2 per 7 days and ≤ 1 per day: capped Wednesday, in
    the preview and at send; free again from the following Monday 10:00:00, not a second earlier."""
    cid, other = _customers(2)
    _contact(cid, "email", MONDAY_10)
    _contact(cid, "sms", TUESDAY_10)
    _contact(other, "sms", TUESDAY_10, purpose="service")  # service contacts never count (CE-9)
    db.session.commit()
    _set_settings(cap_per_day=1, cap_per_7_days=2)
    db.session.commit()
    audience = select(Customer.id).where(Customer.id.in_([cid, other]))
    assert caps.capped_count(audience, now=WEDNESDAY_NOON, per_day=1, per_7_days=2) == 1
    assert list(db.session.scalars(caps.capped_ids(audience, now=WEDNESDAY_NOON, per_day=1, per_7_days=2))) == [cid]
    assert caps.frequency_cap_check([_msg(1, cid), _msg(2, other)], WEDNESDAY_NOON) == {
        1: caps.Verdict(False, "cem.frequency_cap")}
    next_monday = MONDAY_10 + timedelta(days=7)
    before = next_monday - timedelta(seconds=1)
    assert 1 in caps.frequency_cap_check([_msg(1, cid, not_before=before)], before)
    assert caps.capped_count([cid], now=before, per_day=1, per_7_days=2) == 1
    assert caps.frequency_cap_check([_msg(1, cid, not_before=next_monday)], next_monday) == {}
    assert caps.capped_count([cid], now=next_monday, per_day=1, per_7_days=2) == 0
    # the day window alone: Tuesday 10:00's SMS holds until Wednesday 10:00:00 (exclusive start)
    assert caps.capped_count([cid], now=TUESDAY_10 + timedelta(hours=23, minutes=59), per_day=1) == 1
    assert caps.capped_count([cid], now=TUESDAY_10 + timedelta(days=1), per_day=1) == 0
    # a contact in the future of "now" is not in the window
    assert caps.capped_count([cid], now=MONDAY_10 - timedelta(seconds=1), per_day=1, per_7_days=1) == 0


def test_service_messages_never_capped(app):
    cid = _customers(1)[0]
    _contact(cid, "email", WEDNESDAY_NOON - timedelta(hours=1))
    db.session.commit()
    _set_settings(cap_per_day=1, cap_per_7_days=1)
    db.session.commit()
    assert caps.frequency_cap_check([_msg(1, cid, purpose="service")], WEDNESDAY_NOON) == {}
    assert 2 in caps.frequency_cap_check([_msg(2, cid)], WEDNESDAY_NOON)


def test_no_cap_configured_caps_nobody(app):
    cid = _customers(1)[0]
    for h in range(1, 6):
        _contact(cid, "email", WEDNESDAY_NOON - timedelta(hours=h))
    db.session.commit()
    assert caps.setting_caps() == (None, None)
    assert caps.frequency_cap_check([_msg(1, cid)], WEDNESDAY_NOON) == {}
    assert caps.capped_count([cid], now=WEDNESDAY_NOON) == 0


def test_messages_of_one_batch_count_together(app):
    """Nothing sent yet, cap 2 a day: of three messages in one batch the first two (in due order) go."""
    cid = _customers(1)[0]
    _set_settings(cap_per_day=2)
    db.session.commit()
    batch = [_msg(3, cid, not_before=WEDNESDAY_NOON), _msg(1, cid, not_before=WEDNESDAY_NOON - timedelta(hours=1)),
             _msg(2, cid, channel="sms", not_before=WEDNESDAY_NOON - timedelta(minutes=30))]
    assert set(caps.frequency_cap_check(batch, WEDNESDAY_NOON)) == {3}


def test_campaign_caps_override_settings(app):
    from plugins.cem_channels.campaign_models import CemCampaign

    cid = _customers(1)[0]
    _contact(cid, "sms", WEDNESDAY_NOON - timedelta(hours=2))
    strict = CemCampaign(name="strict", cap_per_day=1)
    loose = CemCampaign(name="loose", cap_per_day=3)
    db.session.add_all([strict, loose])
    db.session.commit()
    _set_settings(cap_per_day=5)
    db.session.commit()
    batch = [_msg(1, cid, source="cem_channels", source_object=f"campaign:{strict.id}"),
             _msg(2, cid, source="cem_channels", source_object=f"campaign:{loose.id}"),
             _msg(3, cid, source="loyalty")]
    assert set(caps.frequency_cap_check(batch, WEDNESDAY_NOON)) == {1}
    assert caps.campaign_caps(strict) == (1, None)


@pytest.mark.parametrize("bad", [0, -1])
def test_cap_below_one_is_refused(app, bad):
    with pytest.raises(ValueError):
        caps.capped_ids([1], now=WEDNESDAY_NOON, per_day=bad)


def test_settings_schema_validates_caps(app):
    from portal.plugin_settings import save_settings

    assert set(save_settings("cem_channels", {"cap_per_day": "0", "cap_per_7_days": "x"})) == {
        "cap_per_day", "cap_per_7_days"}
    assert save_settings("cem_channels", {"cap_per_day": "", "cap_per_7_days": "3", "sms_sender": "0215881234",
                                          "kakao_fallback_sms": "on"}) == {}
    assert caps.setting_caps() == (None, 3)


def test_policy_runs_in_the_dispatcher(app):
    """Marketing e-mails through the real dispatcher: the customer e-mailed and texted in the last
    days is suppressed ``cem.frequency_cap``; the other goes out and is then counted itself."""
    capped, free = _customers(2)
    now = utcnow()
    record_consents([{"customer_id": c, "channel": "email", "purpose": "marketing", "granted": True,
                      "method": "web", "source": "test"} for c in (capped, free)])
    _contact(capped, "email", now - timedelta(days=2))
    _contact(capped, "sms", now - timedelta(days=1))
    _set_settings(cap_per_day=1, cap_per_7_days=2)
    for cid in (capped, free):
        queue_message(channel="email", purpose="marketing", subject="6월 혜택", body="비타민C 1+1",
                      customer_id=cid, idempotency_key=f"cap:{cid}", source="cem_channels")
    db.session.commit()
    dispatch()
    db.session.expire_all()
    rows = {m.customer_id: m for m in db.session.scalars(select(Message).where(Message.idempotency_key.like("cap:%")))}
    assert (rows[capped].status, rows[capped].status_reason) == ("suppressed_at_send", "cem.frequency_cap")
    assert rows[free].status == "sent"
    # the sent e-mail is in the contact history now: a second one today is capped
    queue_message(channel="email", purpose="marketing", subject="또", body="또", customer_id=free,
                  idempotency_key=f"cap2:{free}", source="cem_channels")
    db.session.commit()
    dispatch()
    db.session.expire_all()
    again = db.session.scalars(select(Message).where(Message.idempotency_key == f"cap2:{free}")).one()
    assert (again.status, again.status_reason) == ("suppressed_at_send", "cem.frequency_cap")
