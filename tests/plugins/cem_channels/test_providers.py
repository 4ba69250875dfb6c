"""cem_channels providers: SMS/LMS, KakaoTalk and push adapters against a real HTTP fake provider,
through the core's ``dispatch()`` end to end (SQLite and PostgreSQL)."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from plugins.cem_channels.models import KakaoTemplate
from plugins.cem_channels.providers import kakao_night_check, normalise_number, provider_config
from plugins.cem_channels.providers.config import parse_window
from portal.extensions import db
from portal.messaging import dispatch, queue_message
from portal.messaging.models import Message
from portal.toolkit import utcnow
from tests.plugins.cem_channels.conftest import SENDER, _set_settings

TO = "010-2222-3333"
SHORT = "주문하신 상품이 발송되었습니다."  # 33 bytes CP949: SMS
LONG = "가" * 60  # 120 bytes CP949: LMS


def sms(key: str, body: str = SHORT, purpose: str = "service", **kw) -> Message:
    kw.setdefault("to", TO)
    return queue_message(channel="sms", purpose=purpose, body=body, idempotency_key=key, source="cem", **kw)


def row(key: str) -> Message:
    db.session.expire_all()
    return db.session.execute(select(Message).where(Message.idempotency_key == key)).scalar_one()


def retry_now(key: str) -> None:
    db.session.execute(text("UPDATE message SET not_before = :t WHERE idempotency_key = :k"),
                       {"t": utcnow() - timedelta(seconds=1), "k": key})
    db.session.commit()


def test_adapters_registered_only_with_a_provider(app):
    from portal.messaging import registry

    adapters = registry.adapters()
    assert {"sms", "kakao", "push"} <= set(adapters)
    assert adapters["sms"].rate_per_second is None


def test_without_a_provider_sms_stays_queued(unconfigured_app):
    from portal.messaging import registry

    assert "sms" not in registry.adapters()
    sms("noprov:1")
    db.session.commit()
    dispatch()
    m = row("noprov:1")
    assert m.status == "queued" and m.attempts == 0


def test_sms_vs_lms_by_cp949_bytes(app, provider):
    sms("k:sms", SHORT)
    sms("k:lms", LONG, subject="안내")
    db.session.commit()
    assert dispatch()["sent"] == 2
    by_key = {r.body["idempotency_key"]: r for r in provider.to("/v1/sms")}
    assert by_key["k:sms"].body["type"] == "sms" and "subject" not in by_key["k:sms"].body
    assert by_key["k:lms"].body["type"] == "lms" and by_key["k:lms"].body["subject"] == "안내"
    assert by_key["k:sms"].body["from"] == SENDER and by_key["k:sms"].body["to"] == "01022223333"
    assert by_key["k:sms"].headers["Authorization"] == "Bearer test-key"
    m = row("k:sms")
    assert m.status == "sent" and m.provider_id.startswith("fp-")
    assert provider.delivery_report(m.provider_id) == "delivered"


def test_90_bytes_is_sms_91_is_lms(app, provider):
    sms("b:90", "가" * 45)
    sms("b:91", "가" * 45 + "a")
    db.session.commit()
    dispatch()
    types = {r.body["idempotency_key"]: r.body["type"] for r in provider.requests}
    assert types == {"b:90": "sms", "b:91": "lms"}


def test_unregistered_or_unverified_sender_refused(app, provider):
    _set_settings(sms_sender="02-9999-0000")  # registered but never verified
    db.session.commit()
    sms("s:unverified")
    db.session.commit()
    dispatch()
    m = row("s:unverified")
    assert m.status == "failed_permanent" and "not a registered, verified caller number" in m.last_error
    _set_settings(sms_sender="031-000-0000")  # not registered at all
    db.session.commit()
    sms("s:unknown")
    db.session.commit()
    dispatch()
    assert row("s:unknown").status == "failed_permanent"
    assert provider.requests == []  # nothing reached the provider


def test_sender_equal_to_recipient_refused(app, provider):
    sms("s:self", to="02-1588-1234")
    db.session.commit()
    dispatch()
    m = row("s:self")
    assert m.status == "failed_permanent" and "same" in m.last_error and provider.requests == []


def test_5xx_is_temporary_then_retried(app, provider):
    provider.fail_next(503)
    sms("r:5xx")
    db.session.commit()
    dispatch()
    m = row("r:5xx")
    assert m.status == "failed_temporary" and "HTTP 503" in m.last_error and m.not_before > utcnow()
    retry_now("r:5xx")
    dispatch()
    m = row("r:5xx")
    assert m.status == "sent" and m.attempts == 2
    assert [r.body["idempotency_key"] for r in provider.requests] == ["r:5xx", "r:5xx"]


@pytest.mark.parametrize("code,status", [(400, "failed_permanent"), (401, "failed_permanent"),
                                         (429, "failed_temporary")])
def test_4xx_is_permanent_but_429_waits(app, provider, code, status):
    provider.fail_next(code)
    sms(f"r:{code}")
    db.session.commit()
    dispatch()
    m = row(f"r:{code}")
    assert m.status == status and f"HTTP {code}" in m.last_error and "fake failure" in m.last_error
    assert "test-key" not in (m.last_error or "")


def test_timeout_is_temporary(app, provider):
    provider.stall_next(1.5)  # the client's timeout is 0.5 s
    sms("r:timeout")
    db.session.commit()
    dispatch()
    m = row("r:timeout")
    assert m.status == "failed_temporary" and "timeout" in m.last_error


def test_unreachable_provider_is_temporary(app, provider):
    provider.stop()
    sms("r:down")
    db.session.commit()
    dispatch()
    assert row("r:down").status == "failed_temporary"


def test_non_cp949_and_too_long_refused(app, provider):
    sms("x:long", "가" * 1001)  # 2,002 bytes
    db.session.commit()
    dispatch()
    m = row("x:long")
    assert m.status == "failed_permanent" and "2,000 bytes" in m.last_error and provider.requests == []


def test_kakao_alimtalk_with_an_approved_template(app, provider):
    db.session.add(KakaoTemplate(code="ORDER_SHIPPED", name="발송 안내", body=SHORT, approved_at=utcnow()))
    m = queue_message(channel="kakao", purpose="service", body=SHORT, idempotency_key="ka:1", source="cem", to=TO)
    m.headers = {"kakao_template": "ORDER_SHIPPED"}
    db.session.commit()
    dispatch()
    [req] = provider.requests
    assert req.path == "/v1/kakao" and req.body["type"] == "alimtalk" and req.body["template_code"] == "ORDER_SHIPPED"
    assert row("ka:1").status == "sent" and not row("ka:1").provider_id.startswith("sms:")


def test_kakao_template_not_approved_falls_back_to_sms(app, provider):
    db.session.add(KakaoTemplate(code="PENDING", name="심사 중", body=SHORT, approved_at=None))
    m = queue_message(channel="kakao", purpose="service", body=SHORT, idempotency_key="ka:2", source="cem", to=TO)
    m.headers = {"kakao_template": "PENDING"}
    db.session.commit()
    dispatch()
    [req] = provider.requests
    assert req.path == "/v1/sms" and req.body["type"] == "sms"
    m = row("ka:2")
    assert m.status == "sent" and m.provider_id.startswith("sms:fp-") and m.status_reason is None
    assert m.last_error == "fallback to SMS: 알림톡 template 'PENDING' is not approved"


def test_kakao_failure_falls_back_to_sms_and_without_fallback_fails(app, provider):
    provider.fail_path("/v1/kakao", 400)
    db.session.add(KakaoTemplate(code="OK", name="ok", body=SHORT, approved_at=utcnow()))
    m = queue_message(channel="kakao", purpose="service", body=SHORT, idempotency_key="ka:3", source="cem", to=TO)
    m.headers = {"kakao_template": "OK"}
    db.session.commit()
    dispatch()
    assert [r.path for r in provider.requests] == ["/v1/kakao", "/v1/sms"]
    assert row("ka:3").provider_id.startswith("sms:")
    _set_settings(kakao_fallback_sms=False)
    m = queue_message(channel="kakao", purpose="service", body=SHORT, idempotency_key="ka:4", source="cem", to=TO)
    m.headers = {"kakao_template": "OK"}
    db.session.commit()
    dispatch()
    m = row("ka:4")
    assert m.status == "failed_permanent" and "HTTP 400" in m.last_error


def test_friendtalk_at_2030_kst_deferred_to_0800(app):
    at = datetime(2026, 12, 7, 11, 30)  # 20:30 KST, naive UTC as the dispatcher passes it
    msgs = [Message(id=1, channel="kakao", purpose="marketing"), Message(id=2, channel="kakao", purpose="service"),
            Message(id=3, channel="sms", purpose="marketing")]
    verdicts = kakao_night_check(msgs, at)
    assert set(verdicts) == {1}
    assert verdicts[1].deferred_until == datetime(2026, 12, 7, 23, 0)  # 08:00 KST next morning
    assert kakao_night_check(msgs, datetime(2026, 12, 7, 23, 0)) == {}  # 08:00:00 KST is day
    assert set(kakao_night_check(msgs, datetime(2026, 12, 7, 22, 59, 59))) == {1}


def test_night_window_setting_and_its_validation(app):
    assert parse_window("21:00-07:30")[0].hour == 21
    with pytest.raises(ValueError, match="20:00-08:00"):
        parse_window("9pm")
    _set_settings(kakao_night_window="nonsense")
    assert provider_config({"kakao_night_window": "nonsense"}).night_window == parse_window(None)


def test_push_by_customer_id(app, provider):
    cid = db.session.execute(text("SELECT id FROM customer WHERE pseudonymized_at IS NULL ORDER BY id")).first()[0]
    queue_message(channel="push", purpose="service", body="포인트가 적립되었습니다.", subject="적립",
                  idempotency_key="p:1", source="cem", customer_id=cid, to=f"customer:{cid}")
    db.session.commit()
    dispatch()
    [req] = provider.requests
    assert req.path == "/v1/push" and req.body["customer_id"] == cid and req.body["title"] == "적립"
    assert row("p:1").status == "sent"


def test_rate_limit_respected(app, provider):
    app.config["PORTAL_CEM_RATE_PER_SECOND"] = "5"
    for i in range(11):
        sms(f"rate:{i}")
    db.session.commit()
    started = clock.monotonic()
    assert dispatch()["sent"] == 11
    assert clock.monotonic() - started >= 1.9
    times = sorted(r.at for r in provider.requests)
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u - t < 1.0) <= 5 + 1  # evenly spaced: ≤ rate per second


def test_marketing_sms_end_to_end_carries_the_legal_wrapper(app, provider):
    from portal.contact import record_consent

    cid = db.session.execute(text("SELECT id FROM customer WHERE phone IS NOT NULL AND pseudonymized_at IS NULL "
                                  "ORDER BY id")).first()[0]
    record_consent(cid, "sms", "marketing", True, method="web", source="test")
    record_consent(cid, "sms", "night_ads", True, method="web", source="test")  # the test may run at night
    db.session.commit()
    m = queue_message(channel="sms", purpose="marketing", body="겨울 세일 20% 할인", idempotency_key="mk:1",
                      source="cem", customer_id=cid)
    db.session.commit()
    assert m.body.startswith("(광고)")
    dispatch()
    [req] = provider.requests
    assert req.body["text"].startswith("(광고)파트너포털") and "무료수신거부 080-123-4567" in req.body["text"]
    assert req.body["to"] == normalise_number(m.to_addr)
    assert row("mk:1").status == "sent"


def test_normalise_number():
    assert normalise_number("+82 10-1234-5678") == normalise_number("010-1234-5678") == "01012345678"
    assert normalise_number("abc") == ""
    assert datetime.now(UTC)  # keeps the import honest
