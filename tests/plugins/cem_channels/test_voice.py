"""One voice, pure functions (no database): rendering in the sandbox, preview with the ad-law
wrapper, lint of literal prices and dates, banned terms, check_approvable (CE-21, CE-31)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import Flask

from plugins.cem_channels.voice import (
    ERROR,
    SUGGESTION,
    RenderError,
    blocking,
    check_approvable,
    check_banned,
    find_terms,
    highlight,
    lint_text,
    master_context,
    normalise_master,
    preview,
    render_text,
)

MASTER = {"offer": "비타민C 1+1", "price": 39000, "valid_from": "2026-06-01", "valid_until": "2026-06-30",
          "cta": "매장에서 확인하세요", "brand_header": "파트너포털", "brand_footer": "감사합니다"}


def rendition(channel: str, body: str, subject: str | None = None, html: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(channel=channel, subject=subject, body=body, html=html)


def message_set(master=None, renditions=(), category="건강식품") -> SimpleNamespace:
    return SimpleNamespace(name="6월 비타민", category=category, master=dict(MASTER if master is None else master),
                           renditions=list(renditions))


@pytest.fixture
def legal_app():
    from flask_babel import Babel

    app = Flask(__name__)
    Babel(app)
    app.config.update(PORTAL_SENDER_NAME="파트너포털", PORTAL_SENDER_CONTACT="02-1234-5678",
                      PORTAL_SENDER_ADDRESS="서울시 강남구 테헤란로 1", PORTAL_OPTOUT_080="080-123-4567")
    with app.app_context():
        yield app


# --- rendering ----------------------------------------------------------------------------------

def test_master_variables():
    ctx = master_context(MASTER)
    assert ctx["price"] == "39,000원" and ctx["price_krw"] == "₩39,000" and ctx["price_value"] == 39000
    assert ctx["valid_until"] == "2026-06-30" and ctx["valid_until_ko"] == "6월 30일"
    assert render_text("{{ offer }} {{ price }} ~{{ valid_until_ko }}", ctx) == "비타민C 1+1 39,000원 ~6월 30일"
    assert master_context(MASTER, "sms")["price_krw"] == "￦39,000"  # "₩" is not in CP949


def test_sandbox_violation_is_a_clear_error():
    with pytest.raises(RenderError) as exc:
        render_text("안녕하세요\n{{ ''.__class__.__mro__ }}", {}, rendition="sms", field="body")
    assert exc.value.problem.code == "render_security"
    assert str(exc.value).startswith("sms.body, line 2: ")


def test_undefined_variable_names_rendition_and_line():
    with pytest.raises(RenderError) as exc:
        render_text("{{ customer.name }}님\n\n{{ custmer.name }}", {"customer": {"name": "김"}}, rendition="kakao")
    assert str(exc.value) == "kakao.body, line 3: undefined variable custmer"
    with pytest.raises(RenderError) as exc:
        render_text("{{ customer.nme }}", {"customer": {"name": "김"}}, rendition="push")
    assert exc.value.problem.params["name"] == "nme" and exc.value.problem.line == 1


def test_syntax_and_runtime_errors():
    with pytest.raises(RenderError) as exc:
        render_text("a\n{% if %}", {}, rendition="email", field="html", html=True)
    assert exc.value.problem.code == "render_syntax" and exc.value.problem.line == 2
    with pytest.raises(RenderError) as exc:
        render_text("{{ 1 / 0 }}", {}, rendition="sms")
    assert exc.value.problem.code == "render_error" and "ZeroDivisionError" in str(exc.value)


def test_html_is_escaped_plain_text_is_not():
    ctx = {"customer": {"name": "<script>x</script>"}}
    assert render_text("<p>{{ customer.name }}</p>", ctx, html=True) == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert render_text("{{ customer.name }}", ctx) == "<script>x</script>"


def test_normalise_master():
    master, problems = normalise_master({"price": "39,000원", "valid_from": "2026-06-01", "valid_until": "2026-06-30",
                                         "offer": " 세트 "})
    assert master == {"price": 39000, "valid_from": "2026-06-01", "valid_until": "2026-06-30", "offer": "세트"}
    assert problems == []
    _, problems = normalise_master({"price": "abc", "valid_from": "2026-13-01"})
    assert [(p.field, p.level) for p in problems] == [("price", ERROR), ("valid_from", ERROR)]
    _, problems = normalise_master({"valid_from": "2026-07-01", "valid_until": "2026-06-30"})
    assert [p.field for p in problems] == ["valid_until"]


# --- lint ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("literal", ["39,000원", "39000원", "₩39,000", "39,000 원"])
def test_literal_equal_to_master_price_is_a_suggestion(literal):
    problems = lint_text(f"지금 {literal}!", MASTER, rendition="sms", field="body")
    assert [(p.code, p.level, p.text) for p in problems] == [("price_literal", SUGGESTION, literal)]


def test_literal_price_differs_from_master_ce31():
    problems = lint_text("(LMS) 지금 단 ₩35,000\n{{ price }}", MASTER, rendition="sms", field="body")
    assert [(p.code, p.level, p.text, p.line) for p in problems] == [("price_differs", ERROR, "₩35,000", 1)]
    assert problems[0].message == 'sms.body, line 1: literal price "₩35,000" differs from the master (₩39,000)'


@pytest.mark.parametrize("literal,code", [
    ("6월 30일", "date_literal"), ("2026-06-30", "date_literal"), ("6/1", "date_literal"), ("2026.06.01", "date_literal"),
    ("12월 31일", "date_differs"), ("2026-12-31", "date_differs"), ("12/31", "date_differs"), ("2025-06-30", "date_differs"),
])
def test_literal_dates(literal, code):
    problems = lint_text(f"기간: {literal}까지", MASTER, rendition="kakao", field="body")
    assert [(p.code, p.text) for p in problems] == [(code, literal)]


def test_variables_and_non_dates_are_not_reported():
    text = "{{ price }} {{ valid_from_ko }}~{{ valid_until }} 1+1 행사, 13/45, 3개, 50% 할인 {# 39,000원 #}"
    assert lint_text(text, MASTER, rendition="sms", field="body") == []


# --- banned terms -------------------------------------------------------------------------------

def test_banned_terms_normalise_spaces_case_and_width():
    hits = find_terms("감기 예 방 효과, 완치!\nCURE all", ["예방", "완치", "cure", "치료"])
    assert [(t, s, e) for t, s, e in hits] == [("예방", 3, 6), ("완치", 11, 13), ("cure", 15, 19)]
    assert find_terms("ＣＵＲＥ", ["cure"]) == [("cure", 0, 4)]


def test_banned_term_blocks_and_is_highlighted():
    renditions = [rendition("sms", "{{ offer }}\n관절염 치료에 도움"), rendition("email", "본문", subject="완 치 보장")]
    problems = check_banned(renditions, MASTER, "건강식품", ["치료", "완치"])
    assert [(p.rendition, p.field, p.line, p.text, p.params["term"]) for p in problems] == [
        ("sms", "body", 2, "치료", "치료"), ("email", "subject", 1, "완 치", "완치")]
    assert all(p.level == ERROR for p in problems)
    body = renditions[0].body
    assert highlight(body, [problems[0]]) == [("{{ offer }}\n관절염 ", False), ("치료", True), ("에 도움", False)]


def test_banned_terms_are_not_matched_inside_variable_names():
    assert check_banned([rendition("sms", "{{ offer }}")], MASTER, "x", ["offer"]) == []
    problems = check_banned([rendition("sms", "{{ offer }}")], {**MASTER, "offer": "질병 예방 세트"}, "건강식품", ["예방"])
    assert [(p.rendition, p.field) for p in problems] == [("master", "offer")]


# --- check_approvable and preview ---------------------------------------------------------------

def test_check_approvable_ce31():
    sms = rendition("sms", "{{ offer }} 지금 ₩35,000, {{ valid_until_ko }}까지")
    email = rendition("email", "{{ offer }} {{ price_krw }}", subject="{{ offer }}", html="<p>{{ price_krw }}</p>")
    ms = message_set(renditions=[sms, email])
    problems = check_approvable(ms, terms=["치료"])
    assert [(p.code, p.rendition) for p in blocking(problems)] == [("price_differs", "sms")]
    sms.body = "{{ offer }} 지금 {{ price_krw }}, {{ valid_until_ko }}까지 관절 치료"
    problems = check_approvable(ms, terms=["치료"])
    assert [(p.code, p.text) for p in blocking(problems)] == [("banned_term", "치료")]
    sms.body = "{{ offer }} 지금 {{ price_krw }}, {{ valid_until_ko }}까지"
    assert blocking(check_approvable(ms, terms=["치료"])) == []


def test_check_approvable_reports_render_errors_and_empty_sets():
    ms = message_set(renditions=[rendition("push", "{{ custmer.name }}")])
    assert [p.message for p in blocking(check_approvable(ms, terms=[]))] == [
        "push.body, line 1: undefined variable custmer"]
    assert [p.code for p in check_approvable(message_set(renditions=[]), terms=[])] == ["no_renditions"]


def test_preview_side_by_side_with_the_legal_wrapper(legal_app):
    ms = message_set(renditions=[
        rendition("sms", "{{ customer.name }}님, 건강식품 세미나(6/12 19시 {{ customer.branch }})에 초대합니다."),
        rendition("email", "{{ offer }} {{ price }}", subject="{{ offer }}", html="<p>{{ customer.name }}</p>"),
        rendition("kakao", "{{ offer }} {{ price_krw }}"),
    ])
    shown = preview(ms, {"name": "김민수", "branch": "강남점"})
    assert [r.channel for r in shown] == ["email", "sms", "kakao"]
    email, sms, kakao = shown
    assert email.composed_subject.startswith("(광고)") and "비타민C 1+1" in email.composed_subject
    assert "https://example.invalid/unsubscribe/preview" in email.composed_body
    assert sms.body == "김민수님, 건강식품 세미나(6/12 19시 강남점)에 초대합니다."
    assert sms.composed_body.startswith("(광고)파트너포털") and "무료수신거부 080-123-4567" in sms.composed_body
    assert sms.sms_class == "lms" and sms.size > 90
    assert kakao.composed_body.startswith("(광고)") and "₩39,000" in kakao.composed_body
    assert all(not r.problems for r in shown)


def test_preview_reports_instead_of_raising(legal_app):
    legal_app.config["PORTAL_OPTOUT_080"] = None
    ms = message_set(renditions=[rendition("sms", "{{ price }}"), rendition("push", "{{ nope }}"),
                                 rendition("kakao", "[광고] 세일")])
    sms, kakao, push = preview(ms)
    assert [p.code for p in sms.problems] == ["law"] and "optout_missing" in sms.problems[0].message
    assert [p.code for p in kakao.problems] == ["law"]
    assert [p.code for p in push.problems] == ["render_undefined"] and push.composed_body is None
