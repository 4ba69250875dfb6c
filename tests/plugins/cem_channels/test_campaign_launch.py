"""Launching campaigns (``campaigns/launch.py``) and the tick (``campaigns/jobs.py``): the audience frozen
in the creator's scope (CE-26), arms drawn exactly (CE-15), A/B split, one message per (step,
customer), dedupe by address (CE-22), too late → expired (CE-18), nobody → expired, tick idempotent,
a disabled add-on's messages held. SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select, text

from plugins.cem_channels.campaign_models import CemCampaign
from plugins.cem_channels.campaigns import steps as campaign_steps
from plugins.cem_channels.campaigns.jobs import tick
from plugins.cem_channels.campaigns.launch import launch
from portal.toolkit import Customer, Extraction, db, dispatch, get_experiment, is_postgres, utcnow
from tests.plugins.cem_channels.sending_fixtures import (
    branch_ids,
    consent,
    message_set,
    messages,
    recipients,
    scheduled,
    user,
)


def _reload(campaign: CemCampaign) -> CemCampaign:
    db.session.expire_all()
    return db.session.get(CemCampaign, campaign.id)


def test_launch_freezes_the_creators_scope_draws_and_queues_step_one(app):
    """Branch staff B001 names B001 and B002: only B001's consenting customers are frozen (CE-26);
    holdout exactly 20 %; one e-mail per treatment customer, none to the holdout."""
    b001, b002 = branch_ids("B001", with_email=True), branch_ids("B002", with_email=True)
    consent(b001 + b002)
    ms = message_set()
    start = utcnow() - timedelta(minutes=5)
    campaign = scheduled(user("store1@example.com"), ms, start_at=start, holdout_share=0.2,
                         rules={"all": [{"field": "branch", "op": "in", "value": ["B001", "B002"]}]})
    result = launch(campaign, now=start + timedelta(minutes=1))
    db.session.commit()
    campaign = _reload(campaign)
    assert result["state"] == campaign.state == "sending"
    assert campaign.started_at is not None and campaign.frozen_at is not None
    assert db.session.get(Extraction, campaign.extraction_id).status == "draft"
    arms = recipients(campaign)
    assert set(arms) == set(b001)  # B002 matches nobody for B001 staff
    held = [c for c, (arm, _v) in arms.items() if arm == "holdout"]
    assert len(held) == math.floor(0.2 * len(b001) + 0.5)
    counts = campaign.counts
    assert (counts["eligible"], counts["holdout"], counts["treatment"]) == (len(b001), len(held), len(b001) - len(held))
    rows = messages(campaign)
    assert {m.customer_id for m in rows} == {c for c, (arm, _v) in arms.items() if arm == "treatment"}
    m = rows[0]
    assert m.idempotency_key == f"cem:{campaign.id}:1:{m.customer_id}"
    assert (m.source, m.step, m.variant, m.channel, m.purpose) == ("cem_channels", "1", None, "email", "marketing")
    assert m.not_before == start and m.expires_at == start + timedelta(minutes=120)
    assert m.subject.startswith("(광고)")
    assert counts["steps"]["1"]["queued"] == len(rows)
    assert get_experiment("cem_channels", campaign.source_object).drawn_counts["holdout"] == len(held)


def test_too_late_expires_and_queues_nothing(app):
    """CE-18: scheduled 09:00, the tick first runs at 15:00, lateness 2 h → expired, not sent."""
    consent(branch_ids("B001", with_email=True))
    start = utcnow() - timedelta(hours=6)
    campaign = scheduled(user("hq@example.com"), message_set(), start_at=start)
    assert tick(now=start + timedelta(hours=6))["expired"] == 1
    campaign = _reload(campaign)
    assert campaign.state == "expired" and campaign.counts["expired_reason"] == "late"
    assert messages(campaign) == [] and campaign.extraction_id is None
    # one minute within the lateness it would still have started
    late_ok = scheduled(user("hq@example.com"), message_set("b"), start_at=start)
    assert launch(late_ok, now=start + timedelta(minutes=119))["state"] == "sending"


def test_nobody_eligible_expires_with_the_reason(app):
    ids = branch_ids("B003")
    consent(ids, granted=False)
    campaign = scheduled(user("hq@example.com"), message_set(),
                         rules={"all": [{"field": "branch", "op": "in", "value": ["B003"]}]})
    result = launch(campaign)
    db.session.commit()
    campaign = _reload(campaign)
    assert result == {"state": "expired", "reason": "no_recipients"}
    assert campaign.state == "expired" and campaign.counts["expired_reason"] == "no_recipients"
    assert campaign.extraction_id is None and get_experiment("cem_channels", campaign.source_object) is None
    assert db.session.execute(text("SELECT comment FROM workflow_history WHERE object_id = :i "
                                   "AND transition = 'expire'"), {"i": campaign.id}).scalar_one()


def test_holdout_exactly_ten_percent_of_the_non_control(app):
    """CE-15: 10,000 eligible, global control 5 %, holdout 10 %: control members get no row and no
    message, the holdout is exactly 10 % of the rest and gets nothing either."""
    from portal.toolkit import ensure_global_control, in_global_control

    app.config["PORTAL_GLOBAL_CONTROL_SHARE"] = 0.05
    branch = db.session.execute(text("SELECT id FROM org_unit WHERE code = 'B012'")).scalar_one()
    now = utcnow()
    db.session.execute(Customer.__table__.insert(), [
        {"code": f"CE15-{i:05d}", "name": f"고객{i}", "email": f"ce15.{i}@example.com", "branch_id": branch,
         "complaint": False, "created_at": now, "updated_at": now, "total_spend": 0} for i in range(10_000)])
    ids = list(db.session.scalars(select(Customer.id).where(Customer.code.like("CE15-%"))))
    consent(ids)
    ensure_global_control(ids)
    db.session.commit()
    if is_postgres():  # fresh statistics after a bulk load, as the nightly autovacuum would have them
        db.session.execute(text("ANALYZE customer; ANALYZE consent; ANALYZE global_control"))
        db.session.commit()
    gc = in_global_control(ids)
    assert 300 < len(gc) < 700
    campaign = scheduled(user("hq@example.com"), message_set(), holdout_share=0.1, dedupe_by_address=False,
                         rules={"all": [{"field": "branch", "op": "in", "value": ["B012"]}]})
    launch(campaign)
    db.session.commit()
    campaign = _reload(campaign)
    arms = recipients(campaign)
    assert set(arms) <= set(branch_ids("B012")) and not set(arms) & gc  # members never enter the list
    by_arm: dict[str, set[int]] = {"treatment": set(), "holdout": set(), "control": set()}
    for cid, (arm, _v) in arms.items():
        by_arm[arm].add(cid)  # control: customers the draw itself newly placed in the global group
    drawn_from = len(arms) - len(by_arm["control"])
    assert len(by_arm["holdout"]) == math.floor(0.1 * drawn_from + 0.5)
    sent_to = {m.customer_id for m in messages(campaign)}
    assert sent_to == by_arm["treatment"] and len(sent_to) == campaign.counts["treatment"]
    assert campaign.counts["excluded"].get("experiment.holdout", 0) >= len(gc)


def test_ab_split_is_even_seeded_and_the_rest_waits_for_the_winner(app):
    ids = branch_ids("B004", with_email=True) + branch_ids("B007", with_email=True)
    consent(ids)
    a, b = message_set("A안", offer="A 혜택"), message_set("B안", offer="B 혜택")
    rules = {"all": [{"field": "branch", "op": "in", "value": ["B004", "B007"]}]}

    def make():
        return scheduled(user("hq@example.com"), a, rules=rules, ab_test_share=0.5, ab_wait_hours=48,
                         variants=[{"code": "A", "message_set_id": a.id, "is_default": True},
                                   {"code": "B", "message_set_id": b.id}])

    first = make()
    launch(first)
    db.session.commit()
    first = _reload(first)
    arms = recipients(first)
    treatment = [c for c, (arm, _v) in arms.items() if arm == "treatment"]
    test = {c: v for c, (arm, v) in arms.items() if arm == "treatment" and v}
    n_test = int(0.5 * len(treatment) + 0.5)
    assert len(test) == n_test
    per = [sum(1 for v in test.values() if v == code) for code in "AB"]
    assert abs(per[0] - per[1]) <= 1
    rows = messages(first)
    assert {m.customer_id: m.variant for m in rows} == test
    assert {m.subject for m in rows if m.variant == "B"} == {"(광고)B 혜택"}
    assert first.counts["rest"] == len(treatment) - n_test and first.counts["variants"] == {"A": per[0], "B": per[1]}
    # the same seed over the same audience splits the same way
    second = make()
    launch(second)
    db.session.commit()
    assert {c: v for c, (arm, v) in recipients(second).items() if v} == test
    # nothing for the rest until the winner is known; a person's choice (or ab.decide_winner) releases it
    first = _reload(first)
    assert campaign_steps.advance(first, utcnow()) == {}
    assert not campaign_steps.finish_if_done(first, utcnow())
    erased = next(c for c, (arm, v) in arms.items() if arm == "treatment" and v is None)
    db.session.execute(text("UPDATE customer SET pseudonymized_at = :t WHERE id = :i"), {"t": utcnow(), "i": erased})
    db.session.commit()
    first = _reload(first)
    first.ab_winner = "B"
    done = campaign_steps.advance(first, utcnow())
    db.session.commit()
    first = _reload(first)
    rest = [m for m in messages(first) if m.variant is None]
    assert done["ab_rest"]["queued"] == len(rest) == len(treatment) - n_test - 1  # not the erased customer (CE-28)
    assert erased not in {m.customer_id for m in rest}
    assert {m.subject for m in rest} == {"(광고)B 혜택"}
    assert campaign_steps.advance(first, utcnow()) == {}  # once


def test_dedupe_by_address_one_email_per_address_per_step(app):
    """CE-22: two customers share an e-mail: one message (the lower id), the other counted deduped."""
    ids = branch_ids("B001", with_email=True)[:4]
    consent(ids)
    db.session.execute(text("UPDATE customer SET email = :e WHERE id IN (:a, :b)"),
                       {"e": "Family@Example.com ", "a": ids[0], "b": ids[1]})
    db.session.execute(text("UPDATE customer SET email = 'family@example.com' WHERE id = :c"), {"c": ids[2]})
    db.session.commit()
    rules = {"all": [{"field": "branch", "op": "in", "value": ["B001"]}]}
    campaign = scheduled(user("hq@example.com"), message_set(), rules=rules)
    launch(campaign)
    db.session.commit()
    campaign = _reload(campaign)
    got = {m.customer_id for m in messages(campaign)}
    assert ids[0] in got and ids[1] not in got and ids[2] not in got and ids[3] in got
    assert campaign.counts["steps"]["1"]["deduped"] >= 2
    off = scheduled(user("hq@example.com"), message_set("x"), rules=rules, dedupe_by_address=False)
    launch(off)
    db.session.commit()
    assert {ids[0], ids[1], ids[2]} <= {m.customer_id for m in messages(off)}


def test_per_customer_text_is_rendered_from_plain_dicts(app):
    ids = branch_ids("B001", with_email=True)[:3]
    consent(ids)
    ms = message_set(email={"subject": "{{ customer.name }}님 {{ offer }}", "body": "{{ customer.name }}님",
                            "html": "<p>{{ customer.name }}</p>"})
    campaign = scheduled(user("hq@example.com"), ms)
    launch(campaign)
    db.session.commit()
    names = dict(db.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all())
    for m in messages(campaign):
        if m.customer_id in names:
            assert m.subject == f"(광고){names[m.customer_id]}님 비타민C 1+1"


def test_tick_is_idempotent_and_isolates_failures(app):
    consent(branch_ids("B001", with_email=True))
    good = scheduled(user("hq@example.com"), message_set())
    broken = scheduled(user("hq@example.com"), message_set("broken", email={
        "subject": "{{ offer }}", "body": "{{ 1 / 0 }}", "html": None}))
    first = tick()
    assert first["launched"] == 1 and first["failed"] == 1
    n = len(messages(good))
    assert n > 0 and _reload(broken).state == "scheduled" and messages(broken) == []
    second = tick()
    assert second.get("launched", 0) == 0 and len(messages(good)) == n
    assert _reload(good).state == "sending"


def test_disabled_add_on_holds_the_campaigns_messages(app):
    from portal.plugins_lifecycle import set_enabled

    consent(branch_ids("B001", with_email=True))
    campaign = scheduled(user("hq@example.com"), message_set())
    tick()
    set_enabled("cem_channels", False)
    assert dispatch()["claimed"] == 0
    assert {m.status for m in messages(campaign)} == {"queued"}
    set_enabled("cem_channels", True)
    dispatch()
    assert {m.status for m in messages(campaign)} == {"sent"}
    tick()
    assert _reload(campaign).state == "done"



def test_service_campaign_needs_no_marketing_consent(app):
    """A service campaign (an order notice) reaches the scoped segment whatever the marketing consent,
    without the ad wrapper; a service KakaoTalk step carries its 알림톡 template and the sender."""
    ids = branch_ids("B002")
    consent(ids, "sms", granted=False)
    ms = message_set("배송 안내", offer="주문하신 상품이 발송되었습니다")
    campaign = scheduled(user("hq@example.com"), ms, purpose="service", use_global_control=True,
                         rules={"all": [{"field": "branch", "op": "in", "value": ["B002"]}]},
                         steps=[{"channel": "kakao", "kakao_template": "ORDER_SHIPPED"}])
    launch(campaign)
    db.session.commit()
    campaign = _reload(campaign)
    rows = messages(campaign)
    assert {m.customer_id for m in rows} == set(ids) and campaign.extraction_id is None
    assert {(m.purpose, m.channel) for m in rows} == {("service", "kakao")}
    assert not any(m.body.startswith("(광고)") for m in rows)
    assert rows[0].headers == {"sender": "0215881234", "kakao_template": "ORDER_SHIPPED"}


def test_tick_asks_for_the_winner_after_the_wait(app):
    """After ``ab_wait_hours`` the tick asks ``ab.decide_winner``: too few per variant for a winner, so
    the ``default`` fallback sends the rest the default variant; with ``manual`` the rest waits."""
    ids = branch_ids("B004", with_email=True) + branch_ids("B007", with_email=True)
    consent(ids)
    a, b = message_set("A안", offer="A 혜택"), message_set("B안", offer="B 혜택")
    rules = {"all": [{"field": "branch", "op": "in", "value": ["B004", "B007"]}]}
    start = utcnow() - timedelta(hours=30)
    made = {}
    for fallback in ("default", "manual"):
        made[fallback] = scheduled(user("hq@example.com"), a, rules=rules, ab_test_share=0.5, ab_wait_hours=24,
                                   ab_fallback=fallback, start_at=start, max_lateness_minutes=60,
                                   variants=[{"code": "A", "message_set_id": a.id},
                                             {"code": "B", "message_set_id": b.id, "is_default": True}])
        launch(made[fallback], now=start)
    db.session.commit()
    assert tick(now=start + timedelta(hours=23)).get("advanced", 0) == 0  # still waiting
    tick(now=start + timedelta(hours=24, minutes=1))
    chosen, waiting = _reload(made["default"]), _reload(made["manual"])
    assert chosen.ab_winner == "B" and chosen.ab_decision["fallback"] == "default"
    rest = [m for m in messages(chosen) if m.variant is None]
    assert rest and {m.subject for m in rest} == {"(광고)B 혜택"}
    assert waiting.ab_winner is None and [m for m in messages(waiting) if m.variant is None] == []
    assert not campaign_steps.all_queued(waiting)
