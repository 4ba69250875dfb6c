"""Korean advertising law as pure functions: table-driven (no app, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from portal.adlaw.law import (
    AD_PREFIX,
    KST,
    LawViolation,
    check_ad_prefix,
    compose_marketing,
    contains_ad_label,
    cp949_len,
    format_080,
    in_night_window,
    night_deferral,
    night_rule_applies,
    non_cp949_chars,
    optout_notice_deadline,
    optout_notice_due,
    reconfirmation_deadline,
    reconfirmation_due,
    reconfirmation_notice_date,
    sms_class,
)

SENDER = {"sender_name": "파트너포털", "sender_contact": "02-123-4567"}
URL = "https://portal.example.com/u/tok"


# --- "(광고)" -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("(광고)봄 세일", None),
    ("(광고) 봄 세일", None),
    ("(광고)", None),
    ("(광고)[광고] 무엇이든", None),
    ("[광고]봄 세일", "malformed"),
    ("(광 고)봄 세일", "malformed"),
    ("(광.고)봄 세일", "malformed"),
    ("( 광고)봄 세일", "malformed"),
    ("(광고 )봄 세일", "malformed"),
    ("광고 봄 세일", "malformed"),
    ("광고봄 세일", "malformed"),
    ("（광고）봄 세일", "malformed"),
    ("{광고}봄 세일", "malformed"),
    ("<광고>봄 세일", "malformed"),
    ("【광고】봄 세일", "malformed"),
    ("(대출광고)봄 세일", "malformed"),
    (" (광고)봄 세일", "not_at_start"),
    ("\n(광고)봄 세일", "not_at_start"),
    ("\u3000(광고)봄 세일", "not_at_start"),
    ("봄 세일 (광고)", "not_at_start"),
    ("봄 세일", "missing"),
    ("", "missing"),
    ("(주)파트너 안내", "missing"),
])
def test_check_ad_prefix(text, expected):
    assert check_ad_prefix(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("비밀번호 재설정 안내", False), ("(광고)세일", True), ("안내 [광고] 세일", False), ("[광고] 세일", True), ("", False),
])
def test_contains_ad_label(text, expected):
    assert contains_ad_label(text) is expected


# --- composing: text channels -------------------------------------------------------------------

def test_compose_sms_matches_the_legal_layout_exactly():
    body = "김민수님, 건강식품 세미나(6/12 19시 강남점)에 초대합니다."
    assert cp949_len(body) == 57
    out = compose_marketing("sms", subject=None, body=body, optout_number="080-123-4567", **SENDER)
    assert out.body == f"(광고)파트너포털 {body}\n무료수신거부 080-123-4567"
    assert out.size == 100 and out.sms_class == "lms" and out.headers == {}


@pytest.mark.parametrize(("body", "expected_start"), [
    ("봄 세일", "(광고)파트너포털 봄 세일"),
    ("(광고)봄 세일", "(광고)파트너포털 봄 세일"),  # exact label kept, not doubled
    ("(광고)파트너포털 봄 세일", "(광고)파트너포털 봄 세일"),  # sender not doubled either
    (" (광고) 봄 세일", "(광고)파트너포털 봄 세일"),
])
def test_compose_adds_the_label_once(body, expected_start):
    out = compose_marketing("sms", subject=None, body=body, optout_number="0801234567", **SENDER)
    assert out.body.startswith(expected_start + "\n")
    assert out.body.count(AD_PREFIX) == 1
    assert check_ad_prefix(out.body) is None


@pytest.mark.parametrize("body", ["[광고]봄 세일", "(광 고)봄 세일", "(광.고)봄 세일", "（광고）봄 세일", "광고 봄 세일"])
@pytest.mark.parametrize("channel", ["sms", "kakao", "push"])
def test_compose_refuses_malformed_labels(channel, body):
    with pytest.raises(LawViolation) as err:
        compose_marketing(channel, subject=None, body=body, optout_number="080-123-4567", **SENDER)
    assert err.value.reasons == ["malformed"]


@pytest.mark.parametrize(("number", "reason"), [
    (None, "optout_missing"), ("", "optout_missing"), ("02-123-4567", "optout_not_080"),
    ("010-1234-5678", "optout_not_080"), ("080-12-3456", "optout_not_080"), ("080-123-45678", "optout_not_080"),
    ("080-123-4567; DROP", "optout_not_080"),
])
@pytest.mark.parametrize("channel", ["sms", "kakao", "push"])
def test_free_optout_must_be_an_080_number(channel, number, reason):
    with pytest.raises(LawViolation) as err:
        compose_marketing(channel, subject=None, body="봄 세일", optout_number=number, **SENDER)
    assert err.value.reasons == [reason]


@pytest.mark.parametrize(("number", "shown"), [
    ("080-123-4567", "080-123-4567"), ("0801234567", "080-123-4567"), ("080 1234 5678", "080-1234-5678"),
    ("080.123.4567", "080-123-4567"), ("1588-1234", None), ("", None), (None, None),
])
def test_format_080(number, shown):
    assert format_080(number) == shown


@pytest.mark.parametrize("channel", ["kakao", "push"])
def test_kakao_and_push_carry_sender_contact_and_optout(channel):
    out = compose_marketing(channel, subject=None, body="봄 세일 🌸", optout_number="080-123-4567", **SENDER)
    assert out.body == "(광고)파트너포털 봄 세일 🌸\n문의 02-123-4567\n무료수신거부 080-123-4567"
    assert out.sms_class is None and out.size is None  # no CP949 budget: emoji allowed here


def test_sms_contact_line_can_be_forced():
    out = compose_marketing("sms", subject=None, body="세일", optout_number="080-123-4567", contact_in_text=True, **SENDER)
    assert "문의 02-123-4567" in out.body


def test_dm_may_use_the_unsubscribe_link_and_shows_the_address():
    out = compose_marketing("dm", subject=None, body="카탈로그", unsubscribe_url=URL, sender_address="서울시 중구 1", **SENDER)
    assert out.body.splitlines() == ["(광고)파트너포털 카탈로그", "문의 02-123-4567", "서울시 중구 1", f"수신거부 {URL}"]


@pytest.mark.parametrize(("kwargs", "reasons"), [
    ({"sender_name": "", "sender_contact": "02-1"}, ["sender_missing"]),
    ({"sender_name": "파트너포털", "sender_contact": "  "}, ["contact_missing"]),
    ({"sender_name": "", "sender_contact": ""}, ["sender_missing", "contact_missing"]),
])
def test_sender_name_and_contact_are_required(kwargs, reasons):
    with pytest.raises(LawViolation) as err:
        compose_marketing("sms", subject=None, body="세일", optout_number="080-123-4567", **kwargs)
    assert err.value.reasons == reasons


@pytest.mark.parametrize("body", ["", "   ", "(광고)", "(광고)  "])
def test_empty_body_refused(body):
    with pytest.raises(LawViolation) as err:
        compose_marketing("sms", subject=None, body=body, optout_number="080-123-4567", **SENDER)
    assert "empty_body" in err.value.reasons


# SMS budget: the wrapper "(광고)파트너포털 " (17 bytes) + "\n무료수신거부 080-123-4567" (26 bytes) = 43 bytes.
WRAPPER = 43


@pytest.mark.parametrize(("body_bytes", "klass"), [
    (90 - WRAPPER, "sms"), (91 - WRAPPER, "lms"), (2000 - WRAPPER, "lms"), (2001 - WRAPPER, None),
])
def test_sms_budget_includes_the_legal_wrapper(body_bytes, klass):
    body = "가" * (body_bytes // 2) + "a" * (body_bytes % 2)
    assert cp949_len(body) == body_bytes
    if klass is None:
        with pytest.raises(LawViolation) as err:
            compose_marketing("sms", subject=None, body=body, optout_number="080-123-4567", **SENDER)
        assert err.value.reasons == ["too_long"]
    else:
        out = compose_marketing("sms", subject=None, body=body, optout_number="080-123-4567", **SENDER)
        assert out.size == body_bytes + WRAPPER and out.sms_class == klass


def test_sms_with_emoji_refused():
    with pytest.raises(LawViolation) as err:
        compose_marketing("sms", subject=None, body="봄 세일 🌸", optout_number="080-123-4567", **SENDER)
    assert err.value.reasons == ["not_cp949"] and "🌸" in str(err.value)


# --- composing: e-mail --------------------------------------------------------------------------

def test_compose_email_subject_footer_and_rfc8058_headers():
    out = compose_marketing("email", subject="봄 세일", body="안녕하세요", unsubscribe_url=URL,
                            unsubscribe_mailto="mailto:unsubscribe@example.com", sender_address="서울시 중구 1", **SENDER)
    assert out.subject == "(광고)봄 세일"
    assert out.body.startswith("안녕하세요\n")
    for part in ("파트너포털", "02-123-4567", "서울시 중구 1", URL, "수신거부"):
        assert part in out.body
    assert out.headers == {"List-Unsubscribe": f"<{URL}>, <mailto:unsubscribe@example.com>",
                           "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert out.html is None


def test_email_post_url_goes_into_the_header_and_html_gets_the_footer():
    out = compose_marketing("email", subject="(광고)봄 세일", body="x", unsubscribe_url=URL,
                            unsubscribe_post_url=URL + "/one-click", html="<html><body><p>x</p></body></html>", **SENDER)
    assert out.subject == "(광고)봄 세일"
    assert out.headers["List-Unsubscribe"] == f"<{URL}/one-click>"
    assert out.html.endswith("</p></body></html>") and f'href="{URL}"' in out.html and "파트너포털" in out.html


def test_email_html_footer_escapes_the_sender():
    out = compose_marketing("email", subject="s", body="x", unsubscribe_url=URL, html="<p>x</p>",
                            sender_name="<script>x</script>", sender_contact="02")
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html


@pytest.mark.parametrize(("kwargs", "reasons"), [
    ({"subject": "[광고] 세일", "unsubscribe_url": URL}, ["malformed"]),
    ({"subject": "", "unsubscribe_url": URL}, ["subject_missing"]),
    ({"subject": None, "unsubscribe_url": URL}, ["subject_missing"]),
    ({"subject": "(광고)  ", "unsubscribe_url": URL}, ["subject_missing"]),
    ({"subject": "세일", "unsubscribe_url": None}, ["unsubscribe_missing"]),
    ({"subject": "세일", "unsubscribe_url": "/u/relative"}, ["unsubscribe_invalid"]),
    ({"subject": "세일", "unsubscribe_url": "javascript:alert(1)"}, ["unsubscribe_invalid"]),
    ({"subject": "세일", "unsubscribe_url": URL + ">\r\nBcc: x@y"}, ["unsubscribe_invalid"]),
    ({"subject": "세일", "unsubscribe_url": URL, "unsubscribe_mailto": "u@example.com"}, ["unsubscribe_invalid"]),
    ({"subject": "세일", "unsubscribe_url": URL, "optout_number": None}, None),  # no 080 needed for e-mail
])
def test_email_refusals(kwargs, reasons):
    if reasons is None:
        assert compose_marketing("email", body="x", **kwargs, **SENDER).subject == "(광고)세일"
        return
    with pytest.raises(LawViolation) as err:
        compose_marketing("email", body="x", **kwargs, **SENDER)
    assert err.value.reasons == reasons


def test_law_violation_is_a_value_error_with_all_reasons():
    with pytest.raises(ValueError) as err:
        compose_marketing("sms", subject=None, body="[광고]x", sender_name="", sender_contact="", optout_number=None)
    assert err.value.reasons == ["sender_missing", "contact_missing", "optout_missing", "malformed"]


# --- night rule ---------------------------------------------------------------------------------

def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


NEXT_MORNING = utc(2026, 6, 1, 23, 0, 0)  # 2026-06-02 08:00 KST
SAME_MORNING = utc(2026, 6, 1, 23, 0, 0)


@pytest.mark.parametrize(("at", "expected"), [
    (utc(2026, 6, 1, 11, 59, 59), None),                # 20:59:59 KST — day
    (utc(2026, 6, 1, 12, 0, 0), NEXT_MORNING),          # 21:00:00 KST — night, to 08:00 next morning
    (utc(2026, 6, 1, 14, 59, 59), NEXT_MORNING),        # 23:59:59 KST
    (utc(2026, 6, 1, 15, 0, 0), SAME_MORNING),          # 00:00:00 KST on 06-02 — same morning
    (utc(2026, 6, 1, 22, 59, 59), SAME_MORNING),        # 07:59:59 KST — still night
    (utc(2026, 6, 1, 23, 0, 0), None),                  # 08:00:00 KST — day
    (datetime(2026, 6, 1, 21, 0, 0, tzinfo=KST), NEXT_MORNING),  # an aware KST input
    (datetime(2026, 6, 1, 12, 0, 0), NEXT_MORNING),     # naive = UTC
    (datetime(2026, 6, 1, 7, 0, 0, tzinfo=timezone(timedelta(hours=-5))), NEXT_MORNING),  # 12:00 UTC
])
def test_night_deferral_at_the_boundaries(at, expected):
    got = night_deferral(at, "sms", night_consent=False)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
        assert got.astimezone(KST).time() == time(8, 0) and got > at.replace(tzinfo=at.tzinfo or UTC)


@pytest.mark.parametrize(("channel", "consent", "email_included", "deferred"), [
    ("sms", False, False, True), ("kakao", False, False, True), ("push", False, False, True),
    ("phone", False, False, True), ("kakao_friendtalk", False, False, True),
    ("sms", True, False, False), ("kakao", True, False, False), ("push", True, False, False),
    ("email", False, False, False), ("email", False, True, True), ("email", True, True, False),
    ("dm", False, False, False),
])
def test_night_rule_by_channel_and_consent(channel, consent, email_included, deferred):
    got = night_deferral(utc(2026, 6, 1, 13, 0), channel, night_consent=consent, email_included=email_included)
    assert (got is not None) is deferred
    assert night_rule_applies(channel, email_included=email_included) is (channel not in ("dm",) and (channel != "email" or email_included))


@pytest.mark.parametrize(("kst", "expected"), [
    (datetime(2026, 6, 1, 19, 59, 59), None),
    (datetime(2026, 6, 1, 20, 0, 0), datetime(2026, 6, 2, 8, 0)),
    (datetime(2026, 6, 2, 7, 59, 59), datetime(2026, 6, 2, 8, 0)),
    (datetime(2026, 6, 2, 8, 0, 0), None),
])
def test_provider_window_is_a_parameter(kst, expected):
    at = kst.replace(tzinfo=KST)
    got = night_deferral(at, "kakao", night_consent=False, night_window=(time(20), time(8)))
    assert got == (expected.replace(tzinfo=KST) if expected else None)


def test_non_wrapping_window():
    window = (time(1), time(6))
    assert in_night_window(datetime(2026, 6, 1, 3, tzinfo=KST), window)
    assert not in_night_window(datetime(2026, 6, 1, 6, tzinfo=KST), window)
    got = night_deferral(datetime(2026, 6, 1, 3, tzinfo=KST), "sms", night_consent=False, night_window=window)
    assert got == datetime(2026, 6, 1, 6, tzinfo=KST)


# --- CP949 --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "size"), [
    ("", 0), ("abc", 3), ("가", 2), ("한글", 4), ("똠방각하", 8), ("A가1", 4), ("\n", 1), ("ㄱ", 2), ("漢", 2),
    ("①", 2), ("흙뷁", 4),
])
def test_cp949_len(text, size):
    assert cp949_len(text) == size


@pytest.mark.parametrize("text", ["🌸", "가😀", "\u00e9\u0301"])
def test_cp949_len_refuses_what_cp949_cannot_encode(text):
    with pytest.raises(LawViolation) as err:
        cp949_len(text)
    assert err.value.reasons == ["not_cp949"]
    assert non_cp949_chars(text)


@pytest.mark.parametrize(("size", "klass"), [(0, "sms"), (90, "sms"), (91, "lms"), (2000, "lms"), (2001, None)])
def test_sms_class_boundaries(size, klass):
    assert sms_class("a" * size) == klass


def test_sms_class_limits_are_parameters():
    assert sms_class("a" * 140, sms_limit=140) == "sms"
    assert sms_class("가" * 71, sms_limit=140) == "lms"
    assert sms_class("a" * 101, sms_limit=10, lms_limit=100) is None


# --- notices ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("granted", "deadline", "notice"), [
    (date(2024, 6, 1), date(2026, 6, 1), date(2026, 5, 2)),
    (datetime(2024, 6, 1, 3, 0), date(2026, 6, 1), date(2026, 5, 2)),
    (datetime(2024, 5, 31, 15, 0), date(2026, 6, 1), date(2026, 5, 2)),  # 00:00 KST on 06-01
    (datetime(2024, 5, 31, 14, 59), date(2026, 5, 31), date(2026, 5, 1)),
    (date(2023, 6, 1), date(2025, 5, 31), date(2025, 5, 1)),  # across 2024-02-29: 730 days comes first
    (date(2024, 2, 29), date(2026, 2, 28), date(2026, 1, 29)),
])
def test_reconfirmation_dates(granted, deadline, notice):
    assert reconfirmation_deadline(granted) == deadline
    assert reconfirmation_notice_date(granted) == notice
    assert deadline <= kst_date_plus(granted, 730)


def kst_date_plus(granted, days):
    from portal.adlaw.law import kst_date

    return kst_date(granted) + timedelta(days=days)


@pytest.mark.parametrize(("today", "due"), [
    (date(2026, 5, 1), False), (date(2026, 5, 2), True), (date(2026, 5, 31), True), (date(2026, 6, 1), False),
    (date(2025, 5, 2), False),
])
def test_reconfirmation_due(today, due):
    assert reconfirmation_due(date(2024, 6, 1), today) is due


def test_reconfirmation_lead_is_a_parameter():
    assert reconfirmation_due(date(2024, 6, 1), date(2026, 4, 20), lead_days=60)
    assert not reconfirmation_due(date(2024, 6, 1), date(2026, 4, 20))


@pytest.mark.parametrize(("opted_out", "deadline"), [
    (date(2026, 6, 1), date(2026, 6, 15)),
    (datetime(2026, 6, 1, 16, 0), date(2026, 6, 16)),  # 01:00 KST on 06-02
])
def test_optout_notice_deadline(opted_out, deadline):
    assert optout_notice_deadline(opted_out) == deadline


@pytest.mark.parametrize(("today", "due"), [
    (date(2026, 5, 31), False), (date(2026, 6, 1), True), (date(2026, 6, 15), True), (date(2026, 6, 16), False),
])
def test_optout_notice_due(today, due):
    assert optout_notice_due(date(2026, 6, 1), today) is due
