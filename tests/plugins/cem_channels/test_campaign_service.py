"""The campaign service: validation (every bad field named), placement and scope, the audience
preview (CE-26, CE-28), four-eyes approval and edits after approval (CE-27), scheduling refusals
(CE-2, CE-29), the state machine's 409s, and pause / resume / cancel on queued messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale

from plugins.cem_channels.campaigns import CampaignError
from portal.toolkit import db, utcnow
from tests.plugins.cem_channels.campaign_fixtures import (
    branch_customer_ids,
    branch_rules,
    campaign_data,
    grant_marketing,
    make_campaign,
    make_message_set,
    noon_kst,
    users,
)


def _clean(actor, data):
    from plugins.cem_channels.campaigns.validation import clean

    return clean(data, actor=actor)


def _errors(actor, data) -> dict[str, str]:
    with pytest.raises(CampaignError) as exc:
        _clean(actor, data)
    assert exc.value.status == 422
    return exc.value.errors


def _sending(campaign, approver):
    """Take a draft through submit, approve, schedule and the system's start."""
    from plugins.cem_channels.campaigns import service
    from portal.toolkit import current_revision, system_transition

    author = db.session.get(type(approver), campaign.created_by_id)
    service.submit(author, campaign)
    service.approve(approver, campaign, current_revision(campaign))
    service.schedule(author, campaign, noon_kst(1).isoformat() + "Z")
    system_transition(campaign, "start")
    db.session.commit()
    return campaign


# -- validation --------------------------------------------------------------------------------------


def test_a_valid_draft_cleans_to_columns_steps_and_variants(app):
    u = users()
    ms, ms_b = make_message_set(), make_message_set("B안")
    values = _clean(u.hq, campaign_data(ms, start_at="2030-06-12T10:00:00", variants=[
        {"code": "A", "message_set_id": ms.id, "is_default": True}, {"code": "B", "message_set_id": ms_b.id}],
        ab_test_share=0.2, steps=[{"channel": "email", "message_set_id": ms.id},
                                  {"channel": "sms", "message_set_id": ms.id, "delay_hours": 48,
                                   "condition": "not_opened", "fallback_channel": "kakao"}]))
    assert values["start_at"].isoformat() == "2030-06-12T01:00:00"  # naive input = KST, stored UTC
    assert values["max_lateness_minutes"] == 120 and values["attribution_days"] == 14
    assert [s["position"] for s in values["steps"]] == [1, 2] and values["steps"][1]["condition"] == "not_opened"
    assert [v["code"] for v in values["variants"]] == ["A", "B"] and values["ab_winner_metric"] == "conversion"


def test_every_bad_field_is_named_at_once(app):
    u = users()
    ms = make_message_set(channels=("email",))
    errors = _errors(u.hq, {
        "name": "", "purpose": "spam", "rules": {"all": [{"field": "nope", "op": "eq", "value": 1}]},
        "start_at": "tomorrow", "max_lateness_minutes": 2, "holdout_share": 0.7, "attribution_days": 0,
        "cap_per_day": 0, "cap_per_7_days": -1, "dedupe_by_address": "yes", "colour": "red",
        "steps": [{"channel": "fax", "message_set_id": ms.id},
                  {"channel": "sms", "message_set_id": ms.id, "delay_hours": 900, "condition": "sometimes"},
                  {"channel": "push", "message_set_id": 999999}]})
    assert {"name", "purpose", "start_at", "max_lateness_minutes", "holdout_share", "attribution_days", "cap_per_day",
            "cap_per_7_days", "dedupe_by_address", "colour", "steps[0].channel", "steps[1].message_set_id",
            "steps[1].delay_hours", "steps[1].condition", "steps[2].message_set_id"} <= set(errors)
    assert any(k.startswith("rules.") for k in errors), errors
    assert "sms" in errors["steps[1].message_set_id"]  # the set has no SMS rendition


def test_unknown_channel_fax_is_422_ce29(app):
    u = users()
    errors = _errors(u.hq, campaign_data(make_message_set(), steps=[{"channel": "fax", "message_set_id": 1}]))
    assert "steps[0].channel" in errors and "email" in errors["steps[0].channel"]


def test_caps_zero_or_negative_are_refused_ce14(app):
    u = users()
    ms = make_message_set()
    assert set(_errors(u.hq, campaign_data(ms, cap_per_day=0, cap_per_7_days=-2))) == {"cap_per_day", "cap_per_7_days"}
    values = _clean(u.hq, campaign_data(ms, cap_per_day=1, cap_per_7_days=2))
    assert (values["cap_per_day"], values["cap_per_7_days"]) == (1, 2)


def test_step_rules(app):
    u = users()
    ms = make_message_set()
    errors = _errors(u.hq, campaign_data(ms, steps=[
        {"channel": "sms", "message_set_id": ms.id, "delay_hours": 3, "condition": "not_delivered"},
        {"channel": "sms", "message_set_id": ms.id, "condition": "not_opened", "fallback_channel": "sms"}]))
    assert set(errors) == {"steps[0].delay_hours", "steps[0].condition", "steps[1].condition",
                           "steps[1].fallback_channel"}
    assert "steps" in _errors(u.hq, campaign_data(ms, steps=[]))
    assert "steps" in _errors(u.hq, campaign_data(ms, steps=[{"channel": "sms", "message_set_id": ms.id}] * 6))
    # a phone step needs no message set
    assert _clean(u.hq, campaign_data(ms, steps=[{"channel": "phone"}]))["steps"][0]["message_set_id"] is None


def test_kakao_templates_service_only_ce24(app):
    from plugins.cem_channels.models import KakaoTemplate

    u = users()
    ms = make_message_set()
    db.session.add_all([KakaoTemplate(code="ORDER_OK", name="주문", body="주문 완료", approved_at=utcnow()),
                        KakaoTemplate(code="DRAFT_T", name="미승인", body="…")])
    db.session.commit()
    kakao = {"channel": "kakao", "message_set_id": ms.id}
    # marketing on KakaoTalk is 친구톡: no 알림톡 template
    assert "steps[0].kakao_template" in _errors(u.hq, campaign_data(ms, steps=[{**kakao, "kakao_template": "ORDER_OK"}]))
    assert _clean(u.hq, campaign_data(ms, steps=[kakao]))["steps"][0]["kakao_template"] is None
    # service on KakaoTalk is 알림톡: an approved template only
    for bad in (None, "DRAFT_T", "NOPE"):
        step = {**kakao, **({"kakao_template": bad} if bad else {})}
        assert "steps[0].kakao_template" in _errors(u.hq, campaign_data(ms, purpose="service", steps=[step]))
    ok = _clean(u.hq, campaign_data(ms, purpose="service", steps=[{**kakao, "kakao_template": "ORDER_OK"}]))
    assert ok["steps"][0]["kakao_template"] == "ORDER_OK"
    assert "steps[0].kakao_template" in _errors(
        u.hq, campaign_data(ms, steps=[{"channel": "sms", "message_set_id": ms.id, "kakao_template": "ORDER_OK"}]))


def test_variant_rules(app):
    u = users()
    ms, email_only = make_message_set(), make_message_set("메일만", channels=("email",))
    base = campaign_data(ms)
    assert "variants" in _errors(u.hq, {**base, "variants": [{"code": "A", "message_set_id": ms.id, "is_default": True}]})
    errors = _errors(u.hq, {**base, "ab_test_share": 0.9, "ab_winner_metric": "likes", "ab_wait_hours": 0,
                            "variants": [{"code": "A", "message_set_id": ms.id},
                                         {"code": "A", "message_set_id": email_only.id}]})
    assert {"variants", "variants[1].code", "variants[1].message_set_id", "ab_test_share", "ab_winner_metric",
            "ab_wait_hours"} <= set(errors)
    assert "ab_test_share" in _errors(u.hq, {**base, "ab_test_share": 0.2})  # no variants, no test


def test_audience_is_a_segment_xor_rules(app):
    from portal.toolkit import Segment

    u = users()
    ms = make_message_set()
    mine = Segment(name="강남 고객", rules=branch_rules("B001"), created_by_id=u.store1.id)
    hq_seg = Segment(name="HQ", rules=branch_rules("B002"), created_by_id=u.hq.id)
    db.session.add_all([mine, hq_seg])
    db.session.commit()
    assert "segment_id" in _errors(u.store1, campaign_data(ms, segment_id=mine.id))  # and rules: both
    data = campaign_data(ms, segment_id=mine.id)
    del data["rules"]
    assert _clean(u.store1, data)["segment_id"] == mine.id
    assert "segment_id" in _errors(u.store1, {**data, "segment_id": hq_seg.id})  # another's segment
    del data["segment_id"]
    assert "rules" in _errors(u.store1, data)


def test_message_sets_of_another_branch_cannot_be_used(app):
    u = users()
    theirs = make_message_set("분당 전용", owner=u.store2)
    shared = make_message_set("본사 공용")
    assert "steps[0].message_set_id" in _errors(u.store1, campaign_data(theirs))
    assert _clean(u.store1, campaign_data(shared))["steps"][0]["message_set_id"] == shared.id
    assert _clean(u.store2, campaign_data(theirs))["steps"][0]["message_set_id"] == theirs.id


# -- drafts, placement, scope ----------------------------------------------------------------------------


def test_drafts_are_placed_and_scoped(app):
    from plugins.cem_channels.campaigns import service
    from portal.models import AuditEvent
    from portal.toolkit import OrgUnit

    u = users()
    ms = make_message_set()
    mine = make_campaign(u.store1, ms)
    b001 = db.session.scalars(db.select(OrgUnit).where(OrgUnit.code == "B001")).one()
    assert (mine.branch_id, mine.partner_id, mine.state) == (b001.id, None, "draft")
    assert 0 < mine.seed < 2**63
    hq = make_campaign(u.hq, ms)
    assert (hq.branch_id, hq.partner_id) == (None, None)
    group = make_campaign(u.leader1, ms, rules={"all": []})
    assert group.partner_id is not None

    assert service.campaign_or_404(u.store1, mine.id) is mine
    for who, ident in ((u.store2, mine.id), (u.store1, hq.id), (u.store1, group.id), (u.leader1, mine.id),
                       (u.store1, "x"), (u.store1, 10**12)):
        with pytest.raises(CampaignError) as exc:
            service.campaign_or_404(who, ident)
        assert exc.value.status == 404
    assert service.campaign_or_404(u.leader1, group.id) is group
    visible = {c.id for c in db.session.scalars(service.visible_campaigns(u.hq))}
    assert {mine.id, hq.id, group.id} <= visible
    assert [c.id for c in db.session.scalars(service.visible_campaigns(u.store1))] == [mine.id]
    assert service.campaign_page(u.store2).total == 0
    assert [c.id for c in db.session.scalars(service.visible_campaigns(u.hq, q="비타민", state="draft"))]
    assert not list(db.session.scalars(service.visible_campaigns(u.hq, q="없는이름")))
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "cem.campaign.create")) == 3


def test_reviewer_cannot_compose(app):
    from plugins.cem_channels.campaigns import service

    u = users()
    with pytest.raises(CampaignError) as exc:
        service.create_draft(u.reviewer, campaign_data(make_message_set()))
    assert exc.value.status == 403


def test_an_invalid_edit_writes_nothing(app):
    from plugins.cem_channels.campaigns import service

    u = users()
    c = make_campaign(u.store1)
    with pytest.raises(CampaignError):
        service.update_draft(u.store1, c, {"name": "새 이름", "holdout_share": 2})
    db.session.rollback()
    assert c.name == "6월 비타민 문자"
    service.update_draft(u.store1, c, {"name": "새 이름", "steps": [{"channel": "email", "message_set_id":
                                                                    c.steps[0].message_set_id}]})
    db.session.commit()
    db.session.expire_all()
    assert c.name == "새 이름" and [s.channel for s in c.steps] == ["email"] and c.holdout_share == 0.1


def test_create_from_hook_allows_origin(app):
    from plugins.cem_channels.campaigns.service import create_draft, create_from_hook

    u = users()
    ms = make_message_set()
    out = create_from_hook({**campaign_data(ms), "origin": "prm_groups:programme:12"}, u.hq)
    assert out["state"] == "draft" and out["url"].endswith(str(out["id"]))
    with pytest.raises(CampaignError) as exc:
        create_draft(u.hq, {**campaign_data(ms), "origin": "x"})  # only other add-ons name an origin
    assert "origin" in exc.value.errors
    # what prm_groups / knowledge_share call: the add-on's own hookspec
    from portal.plugins import hook

    answer = hook("cem_create_campaign")(draft={**campaign_data(ms), "origin": "knowledge_share:story:3"},
                                         actor=u.store1)  # firstresult: the draft's id, state, url
    from plugins.cem_channels.campaign_models import CemCampaign

    made = db.session.get(CemCampaign, answer["id"])
    assert made.origin == "knowledge_share:story:3" and made.created_by_id == u.store1.id and made.branch_id


# -- audience ---------------------------------------------------------------------------------------------


def test_branch_staff_audience_stays_in_their_branch_ce26(app):
    from plugins.cem_channels.campaigns.audience import preview

    u = users()
    ms = make_message_set()
    b1, b2 = branch_customer_ids("B001"), branch_customer_ids("B002")
    grant_marketing(b1 + b2)
    naming_b2 = preview(u.store1, campaign_data(ms, rules=branch_rules("B002")))
    assert naming_b2["matched"] == 0 and naming_b2["eligible"] == 0
    both = preview(u.store1, campaign_data(ms, rules=branch_rules("B001", "B002")))
    assert both["matched"] == len(b1)
    assert preview(u.hq, campaign_data(ms, rules=branch_rules("B001", "B002")))["matched"] == len(b1) + len(b2)


def test_preview_counts_suppression_and_arms(app):
    from plugins.cem_channels.campaigns.audience import preview

    u = users()
    c = make_campaign(u.store1, holdout_share=0.2, cap_per_day=1)
    ids = branch_customer_ids("B001")
    before = preview(u.store1, c)
    grant_marketing(ids)
    after = preview(u.store1, c)
    assert after["matched"] == before["matched"] == len(ids)
    assert after["eligible"] > before["eligible"]
    assert after["eligible"] + sum(after["suppressed"].values()) == after["matched"]
    arms = after["arms"]
    assert arms["holdout"] == round((after["eligible"] - arms["global_control"]) * 0.2)
    assert sum(arms.values()) == after["eligible"]
    assert after["capped"] == 0  # nobody was contacted yet
    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.1
    with_control = preview(u.store1, c)["arms"]
    assert with_control["global_control"] == round(after["eligible"] * 0.1)
    assert with_control["holdout"] == round((after["eligible"] - with_control["global_control"]) * 0.2)
    c.use_global_control = False
    assert preview(u.store1, c)["arms"]["global_control"] == 0
    db.session.rollback()
    service = preview(u.store1, campaign_data(make_message_set(), purpose="service"))
    assert service["eligible"] >= after["eligible"] and "no_consent" not in service["suppressed"]


def test_pseudonymised_customers_never_match_ce28(app):
    from plugins.cem_channels.campaigns.audience import preview
    from portal.toolkit import Customer

    u = users()
    ms = make_message_set()
    ids = branch_customer_ids("B001")
    grant_marketing(ids)
    first = preview(u.hq, campaign_data(ms))
    from portal.customers.privacy import pseudonymize  # the core's data-subject erasure (test set-up only)

    pseudonymize(u.hq, db.session.get(Customer, ids[0]), "REQ-1")
    db.session.commit()
    second = preview(u.hq, campaign_data(ms))
    assert second["matched"] == first["matched"] - 1


# -- approval (four-eyes), edits after approval ---------------------------------------------------------------


def test_author_cannot_approve_and_edits_go_back_to_approval_ce27(app):
    from plugins.cem_channels.campaigns import service
    from portal.toolkit import current_revision

    u = users()
    c = make_campaign(u.hq)
    service.submit(u.hq, c)
    db.session.commit()
    with pytest.raises(CampaignError) as exc:
        service.approve(u.hq, c, current_revision(c))
    assert exc.value.status == 403
    with pytest.raises(CampaignError) as exc:
        service.approve(u.reviewer, c, "0" * 64)  # not the revision it is now
    assert exc.value.status == 409
    service.approve(u.reviewer, c, current_revision(c))
    db.session.commit()
    assert c.state == "approved"
    service.update_draft(u.hq, c, {"holdout_share": 0.05})
    db.session.commit()
    assert c.state == "pending_approval"
    # moving only the start time is no new content
    service.approve(u.reviewer, c, current_revision(c))
    service.update_draft(u.hq, c, {"start_at": "2030-01-02T12:00:00+09:00"})
    db.session.commit()
    assert c.state == "approved"


def test_banned_term_blocks_submit_and_approve(app):
    from plugins.cem_channels.campaigns import service
    from plugins.cem_channels.voice_models import CemBannedTerm
    from portal.toolkit import current_revision

    u = users()
    ms = make_message_set(renditions={"sms": {"body": "{{ offer }} 관절염 치료 효과"}})
    c = make_campaign(u.store1, ms)
    service.submit(u.store1, c)  # no banned terms yet
    db.session.add(CemBannedTerm(category="건강식품", term="치료"))
    db.session.commit()
    with pytest.raises(CampaignError) as exc:
        service.approve(u.reviewer, c, current_revision(c))
    assert exc.value.status == 422 and "치료" in exc.value.errors["steps[0].message_set_id"]
    service.reject(u.reviewer, c, "치료 표현을 빼 주세요")
    with pytest.raises(CampaignError) as exc:
        service.submit(u.store1, c)
    assert "치료" in exc.value.errors["steps[0].message_set_id"]


def test_wrong_state_answers_409(app):
    from plugins.cem_channels.campaigns import service

    u = users()
    c = make_campaign(u.store1)
    for action in (service.pause, service.resume, service.unschedule):
        with pytest.raises(CampaignError) as exc:
            action(u.store1, c)
        assert exc.value.status == 409, action
    with pytest.raises(CampaignError) as exc:
        service.schedule(u.store1, c, noon_kst(1).isoformat() + "Z")
    assert exc.value.status == 409
    with pytest.raises(CampaignError) as exc:
        service.reschedule(u.store1, c, noon_kst(1).isoformat() + "Z")
    assert exc.value.status == 409
    with pytest.raises(CampaignError) as exc:
        service.approve(u.reviewer, c, "x")
    assert exc.value.status == 409
    service.cancel(u.store1, c)
    db.session.commit()
    with pytest.raises(CampaignError) as exc:
        service.update_draft(u.store1, c, {"name": "x"})
    assert exc.value.status == 409


# -- scheduling ----------------------------------------------------------------------------------------------------


def _approved(actor, approver, **overrides):
    from plugins.cem_channels.campaigns import service
    from portal.toolkit import current_revision

    c = make_campaign(actor, **overrides)
    service.submit(actor, c)
    service.approve(approver, c, current_revision(c))
    db.session.commit()
    return c


def test_marketing_sms_needs_the_080_number_ce2(app):
    from plugins.cem_channels.campaigns import service

    u = users()
    grant_marketing(branch_customer_ids("B001"))
    c = _approved(u.store1, u.reviewer)
    app.config["PORTAL_OPTOUT_080"] = None
    with pytest.raises(CampaignError) as exc, force_locale("en"):
        service.schedule(u.store1, c, noon_kst(1).isoformat() + "Z")
    assert exc.value.status == 422 and exc.value.errors == {"optout_number": "080 opt-out number not configured"}
    with pytest.raises(CampaignError) as exc:  # pages read it in the user's language
        service.schedule(u.store1, c, noon_kst(1).isoformat() + "Z")
    assert exc.value.errors == {"optout_number": "080 수신거부 번호가 설정되지 않았습니다"}
    app.config["PORTAL_OPTOUT_080"] = "080-123-4567"
    service.schedule(u.store1, c, noon_kst(1).isoformat() + "Z")
    db.session.commit()
    assert c.state == "scheduled" and c.start_at == noon_kst(1)


def test_past_start_and_empty_audience_ce29(app):
    from plugins.cem_channels.campaigns import service

    u = users()
    grant_marketing(branch_customer_ids("B001"))
    c = _approved(u.store1, u.reviewer)
    with pytest.raises(CampaignError) as exc:
        service.schedule(u.store1, c, (utcnow() - timedelta(minutes=1)).isoformat() + "Z")
    assert exc.value.status == 422 and "start_at" in exc.value.errors
    with pytest.raises(CampaignError) as exc:
        service.schedule(u.store1, c)  # no start time set
    assert exc.value.status == 422
    nobody = _approved(u.store1, u.reviewer, rules=branch_rules("B002"))  # B002: outside store1's scope
    with pytest.raises(CampaignError) as exc, force_locale("en"):
        service.schedule(u.store1, nobody, noon_kst(1).isoformat() + "Z")
    assert exc.value.status == 409 and exc.value.errors == {"audience": "no recipients"}
    assert nobody.state == "approved"


def test_unschedule_and_reschedule_after_expiry(app):
    from plugins.cem_channels.campaigns import service
    from portal.toolkit import system_transition

    u = users()
    grant_marketing(branch_customer_ids("B001"))
    c = _approved(u.store1, u.reviewer)
    service.schedule(u.store1, c, noon_kst(1).isoformat() + "Z")
    service.unschedule(u.store1, c)
    assert c.state == "approved"
    service.schedule(u.store1, c, noon_kst(2).isoformat() + "Z")
    with pytest.raises(CampaignError) as exc:  # a scheduled campaign's start moves only to the future
        service.update_draft(u.store1, c, {"start_at": "2020-01-01T12:00:00+09:00"})
    assert exc.value.status == 422 and "start_at" in exc.value.errors
    service.update_draft(u.store1, c, {"start_at": noon_kst(4).isoformat() + "Z"})
    assert c.state == "scheduled" and c.start_at == noon_kst(4)
    system_transition(c, "expire")
    db.session.commit()
    with pytest.raises(CampaignError) as exc:
        service.reschedule(u.store1, c, None)
    assert exc.value.status == 422
    service.reschedule(u.store1, c, noon_kst(3).isoformat() + "Z")
    db.session.commit()
    assert c.state == "scheduled" and c.start_at == noon_kst(3)


# -- pause, resume, cancel --------------------------------------------------------------------------------------------


def _queue(campaign, ids):
    from portal.toolkit import queue_message

    for cid in ids:
        queue_message(channel="sms", purpose="marketing", body="비타민C 1+1", customer_id=cid, source="cem_channels",
                      source_object=campaign.source_object, idempotency_key=f"cem:{campaign.id}:1:{cid}",
                      not_before=noon_kst(1))
    db.session.commit()


def test_pause_resume_and_cancel_act_on_queued_messages(app):
    from plugins.cem_channels.campaigns import service
    from portal.toolkit import Message, progress

    u = users()
    ids = branch_customer_ids("B001")
    grant_marketing(ids)
    c = _sending(make_campaign(u.store1), u.reviewer)
    _queue(c, ids[:4])
    service.pause(u.store1, c)
    db.session.commit()
    assert c.state == "paused" and progress("cem_channels", c.source_object)["paused"] is True
    service.resume(u.store1, c)
    db.session.commit()
    assert c.state == "sending" and progress("cem_channels", c.source_object)["paused"] is False
    first = db.session.scalars(db.select(Message).where(Message.source_object == c.source_object)
                               .order_by(Message.id)).first()
    first.status = "sent"
    db.session.commit()
    service.cancel(u.store1, c, "행사 취소")
    db.session.commit()
    counts = progress("cem_channels", c.source_object)["counts"]
    assert (counts["cancelled"], counts["sent"], counts["queued"]) == (3, 1, 0)
    assert c.state == "cancelled" and c.counts["cancelled_pending"] == 3


def test_a_failed_state_change_leaves_messages_alone(app):
    from plugins.cem_channels.campaigns import service
    from portal.toolkit import progress

    u = users()
    ids = branch_customer_ids("B001")
    grant_marketing(ids)
    c = _sending(make_campaign(u.store1), u.reviewer)
    _queue(c, ids[:2])
    with pytest.raises(CampaignError):
        service.pause(u.store2, c)  # not in their scope: nothing paused
    db.session.rollback()
    assert progress("cem_channels", c.source_object)["paused"] is False
