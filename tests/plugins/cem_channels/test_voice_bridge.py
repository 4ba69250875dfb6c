"""``cem_preview_message_set``: a message set given as data is previewed exactly as cem sends it —
"(광고)" subject, the company as sender, the e-mail footer with contact and unsubscribe — with
render, lint and banned-term problems named by field path, and nothing is stored."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.toolkit import plugin_hook

DATA = {"name": "건강식품 안내", "category": "건강식품", "master": {"price": 39000, "valid_until": "2026-12-31"},
        "renditions": {
            "email": {"subject": "{{ customer.name }}님께 드리는 편지", "body": "안녕하세요 {{ customer.name }}님,\n"
                      "{{ price }}에 만나보세요.\n\n김한빛 드림", "html": None},
            "dm": {"body": "{{ customer.name }}님, 함께 건강을 챙겨요. 김한빛 드림"},
            "fax": {"body": "ignored"}}}


def test_preview_wraps_email_as_sent_with_company_as_sender(app):
    from plugins.cem_channels.voice_models import CemMessageSet

    before = db.session.scalar(select(func.count()).select_from(CemMessageSet))
    out = plugin_hook("cem_preview_message_set")(data=DATA)
    assert [r["channel"] for r in out] == ["email", "dm"]
    email = out[0]
    assert email["subject"] == "김민수님께 드리는 편지"
    assert email["composed_subject"].startswith("(광고)")
    assert email["sender"].startswith("파트너포털") and "<" in email["sender"]
    body = email["composed_body"]
    assert "39,000원" in body and "김한빛 드림" in body
    assert "보낸 사람: 파트너포털" in body and "연락처: 02-1588-1234" in body and "수신거부" in body
    assert email["problems"] == []
    dm = out[1]
    assert dm["composed_body"].startswith("(광고)파트너포털") and "무료수신거부 080-123-4567" in dm["composed_body"]
    assert dm["sender"] == "파트너포털"
    assert db.session.scalar(select(func.count()).select_from(CemMessageSet)) == before


def test_problems_carry_field_paths(app):
    from plugins.cem_channels.voice_models import CemBannedTerm

    db.session.add(CemBannedTerm(category="건강식품", term="치료"))
    db.session.commit()
    data = {"category": "건강식품", "master": {"price": 39000},
            "renditions": {"email": {"subject": "{{ custmer.name }}님", "body": "관절 치료에 좋은 ₩35,000 제품"},
                           "sms": {"body": "{% if %}"}}}
    out = {r["channel"]: r for r in plugin_hook("cem_preview_message_set")(data=data)}
    paths = {(p["path"], p["code"]) for p in out["email"]["problems"]}
    assert ("renditions.email.subject", "render_undefined") in paths
    assert ("renditions.email.body", "banned_term") in paths
    assert ("renditions.email.body", "price_differs") in paths
    assert out["email"]["composed_subject"] is None  # not composed while it does not render
    assert [p["path"] for p in out["sms"]["problems"]] == ["renditions.sms.body"]
    assert all(p["message"] for r in out.values() for p in r["problems"])


def test_law_problem_and_bad_input_never_raise(app):
    app.config["PORTAL_SENDER_CONTACT"] = ""
    out = plugin_hook("cem_preview_message_set")(data={"renditions": {"email": {"subject": "s", "body": "b"}}})
    assert [p["code"] for p in out[0]["problems"]] == ["law"]
    assert plugin_hook("cem_preview_message_set")(data={"renditions": "x", "master": 3}) == []
    bad_master = plugin_hook("cem_preview_message_set")(data={"master": {"price": "abc"},
                                                             "renditions": {"dm": {"body": "x"}}})
    assert bad_master[0]["problems"][0]["path"] == "master.price"
