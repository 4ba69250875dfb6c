"""Campaign results (issue 15): counts per step and variant, opt-outs after the send, delivery
reports, conversions and lift against a holdout measured identically, frozen at close, the
hookspec and the export. The campaign is built by hand (recipients, messages, sale lines)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.plugins.cem_channels import results_fixtures as rf

DAY = rf.LAUNCH_DAY


def _withdraw(cid: int, channel: str = "email", at=None) -> None:
    from portal.extensions import db
    from portal.models import Consent

    if at is None:
        from portal.toolkit import record_consent

        record_consent(cid, channel, "marketing", False, method="web", source="test")
    else:
        db.session.add(Consent(customer_id=cid, channel=channel, purpose="marketing", granted=False, method="web",
                               recorded_at=at, kind="consent", source="test"))


@pytest.fixture
def launched(app):
    """200 customers, 50 % holdout (the real draw), step 1 e-mail to the 100 treated, step 2 SMS to
    20 of them; statuses, events, opt-outs and sales set by hand."""
    from plugins.cem_channels.campaigns.tracking import record_event, record_reports
    from portal.extensions import db

    ids = rf.customers(200, phone=True)
    campaign = rf.make_campaign(name="겨울 건강식품", steps=1, holdout_share=0.5, attribution_days=14)
    from plugins.cem_channels.campaign_models import CemCampaignStep

    campaign.steps.append(CemCampaignStep(position=2, channel="sms", delay_hours=48))
    treatment, holdout = rf.launch(campaign, ids, holdout_share=0.5)
    assert len(treatment) == len(holdout) == 100
    m1 = rf.queue(campaign, treatment, channel="email", step=1)
    m2 = rf.queue(campaign, treatment[:20], channel="sms", step=2, body="겨울 건강식품 안내")
    rf.settle(m1[:80], "sent")
    rf.settle(m1[80:83], "failed_permanent", reason="bounced")
    rf.settle(m1[83:85], "failed_temporary", reason="retry")
    rf.settle(m1[85:88], "suppressed_at_send", reason="opted_out")
    rf.settle(m1[88:89], "suppressed_at_send", reason="no_address")
    rf.settle(m1[89:91], "suppressed_at_send", reason="cem.dedupe")
    rf.settle(m1[91:92], "expired", reason="too_late")
    rf.settle(m1[92:94], "cancelled", reason="opted_out")
    # m1[94:] stay queued
    rf.settle(m2[:15], "sent")
    rf.settle(m2[15:], "failed_permanent", reason="refused")
    # the sending pipeline's counts: 4 more left out for a shared address, never queued (CE-22)
    campaign.counts = {"steps": {"1": {"recipients": 104, "queued": 100, "deduped": 4}}}
    for i in range(3):  # opted out of e-mail after the send: counted on step 1
        _withdraw(treatment[i])
    _withdraw(treatment[3], channel="sms")  # another channel: counted on step 2, not step 1
    _withdraw(treatment[4], at=rf.LAUNCH - timedelta(days=1))  # before the send: not counted
    for day_offset, group, count in ((0, treatment, 30), (13, holdout, 10)):
        for cid in group[10:10 + count]:
            rf.sale(cid, DAY + timedelta(days=day_offset))
    for cid in treatment[60:65] + holdout[60:65]:  # outside the window, on both sides
        rf.sale(cid, DAY + timedelta(days=14))
        rf.sale(cid, DAY - timedelta(days=1))
    db.session.commit()
    for cid in treatment[:12]:
        record_event(f"cem:{campaign.id}:1:{cid}", ["open"], at=rf.plus(rf.LAUNCH, hours=2))
    for cid in treatment[:5]:
        record_event(f"cem:{campaign.id}:1:{cid}", ["open", "click"], url="https://shop.example.com")
    record_reports([{"idempotency_key": f"cem:{campaign.id}:2:{cid}", "status": "delivered"} for cid in treatment[:12]]
                   + [{"idempotency_key": f"cem:{campaign.id}:2:{treatment[12]}", "status": "undelivered"}])
    return campaign, treatment, holdout


def test_counts_per_step(launched):
    from plugins.cem_channels.campaigns.results import campaign_results

    campaign, treatment, _holdout = launched
    doc = campaign_results(campaign)
    one, two = doc["steps"]
    assert {k: one[k] for k in ("step", "channel", "variant", "queued", "sent", "delivered", "expired", "cancelled",
                                "pending", "opened", "clicked", "opted_out", "deduped")} == {
        "step": 1, "channel": "email", "variant": None, "queued": 100, "sent": 80, "delivered": 80, "expired": 1,
        "cancelled": 2, "pending": 6, "opened": 12, "clicked": 5, "opted_out": 3, "deduped": 6}
    assert one["failed"] == {"permanent": 3, "temporary": 2}
    assert one["suppressed"] == {"opted_out": 3, "no_address": 1}
    assert (two["step"], two["channel"], two["queued"], two["sent"], two["delivered"], two["opted_out"]) == (
        2, "sms", 20, 15, 12, 1)
    assert two["failed"] == {"permanent": 5, "temporary": 0}
    assert doc["recipients"] == {"treatment": 100, "holdout": 100}
    assert doc["frozen"] is False and doc["computed_at"].endswith("Z")
    json.dumps(doc, allow_nan=False)


def test_lift_measures_the_holdout_identically(launched):
    from plugins.cem_channels.campaigns.results import campaign_results
    from portal.toolkit import ArmStats, compare_arms

    campaign, _treatment, _holdout = launched
    doc = campaign_results(campaign)
    assert doc["window"] == {"start": "2026-11-02", "end": "2026-11-15"}
    assert doc["arms"]["treatment"]["n"] == 100 and doc["arms"]["treatment"]["conversions"] == 30
    assert doc["arms"]["holdout"]["n"] == 100 and doc["arms"]["holdout"]["conversions"] == 10
    assert doc["arms"]["treatment"]["revenue"] == 30 * 30000
    expected = compare_arms(ArmStats(100, 30, 0.0), ArmStats(100, 10, 0.0))
    assert doc["lift"] == pytest.approx(0.2)
    assert [doc["ci_low"], doc["ci_high"]] == pytest.approx(expected.rate_ci)
    assert doc["p_value"] == pytest.approx(expected.rate_p)
    assert doc["verdict"] == "significant" and doc["relative_lift"] == pytest.approx(2.0)


def test_frozen_at_close(launched):
    from plugins.cem_channels.campaign_models import CemCampaignResult
    from plugins.cem_channels.campaigns.results import campaign_results, freeze_results
    from portal.extensions import db
    from portal.toolkit import frozen_results, get_experiment

    campaign, treatment, holdout = launched
    frozen = freeze_results(campaign)
    db.session.commit()
    assert frozen["frozen"] is True and frozen["arms"]["holdout"]["conversions"] == 10
    assert db.session.get(CemCampaignResult, campaign.id) is not None
    exp = get_experiment("cem_channels", campaign.source_object)
    assert exp.status == "frozen" and len(frozen_results(exp)) == 1
    # later imports, events and state changes never move a closed campaign's figures
    for cid in holdout[40:60]:
        rf.sale(cid, DAY + timedelta(days=3))
    rf.settle(rf.queue(campaign, holdout[:5], step=3), "sent")
    db.session.commit()
    again = campaign_results(campaign, now=rf.plus(rf.LAUNCH, days=30))
    assert again == json.loads(json.dumps(frozen))
    assert freeze_results(campaign) == again  # idempotent


def test_before_launch_everything_is_zero(app):
    from plugins.cem_channels.campaigns.results import campaign_results

    campaign = rf.make_campaign(steps=2, channel="sms", started_at=None, state="draft", variants=("A", "B"))
    doc = campaign_results(campaign)
    assert doc["verdict"] == "not_started" and doc["window"] is None and doc["lift"] is None
    assert doc["arms"] == {"treatment": {"n": 0, "conversions": 0, "rate": None, "revenue": 0},
                           "holdout": {"n": 0, "conversions": 0, "rate": None, "revenue": 0}}
    assert [(s["step"], s["variant"], s["queued"], s["sent"]) for s in doc["steps"]] == [
        (1, "A", 0, 0), (1, "B", 0, 0), (2, None, 0, 0)]
    assert set(doc["variants"]["items"]) == {"A", "B"} and doc["variants"]["winner"] is None
    json.dumps(doc, allow_nan=False)


def test_variants_in_the_results(app):
    from plugins.cem_channels.campaigns.ab import decide_winner
    from plugins.cem_channels.campaigns.results import campaign_results
    from plugins.cem_channels.campaigns.tracking import record_event
    from portal.extensions import db

    ids = rf.customers(240)
    campaign = rf.make_campaign(variants=("A", "B"), ab_winner_metric="conversion", ab_wait_hours=48)
    rf.add_recipients(campaign, ids[:120], variant="A")
    rf.add_recipients(campaign, ids[120:], variant="B")
    rf.settle(rf.queue(campaign, ids[:120], variant="A"), "sent")
    rf.settle(rf.queue(campaign, ids[120:], variant="B"), "sent")
    campaign.counts = {"steps": {"1": {"deduped": 3, "variants": {"A": {"deduped": 1}, "B": {"deduped": 2}}}}}
    for cid in ids[120:150]:
        rf.sale(cid, DAY + timedelta(days=1))
    for cid in ids[:2]:
        rf.sale(cid, DAY)
    db.session.commit()
    record_event(f"cem:{campaign.id}:1:{ids[0]}", ["open", "click"])
    decide_winner(campaign, rf.plus(rf.LAUNCH, hours=48))
    db.session.commit()
    doc = campaign_results(campaign)
    assert [(s["variant"], s["sent"], s["opened"], s["clicked"], s["deduped"]) for s in doc["steps"]] == [
        ("A", 120, 1, 1, 1), ("B", 120, 0, 0, 2)]
    v = doc["variants"]
    assert v["items"]["A"] == {"n": 120, "conversions": 2, "opens": 1, "clicks": 1, "is_default": True,
                               "rate": pytest.approx(2 / 120)}
    assert v["items"]["B"]["conversions"] == 30 and v["winner"] == "B" and v["decision"]["reason"] == "significant"
    assert doc["verdict"] == "no_experiment"  # no holdout experiment on this one


def test_result_for_ref_and_the_hookspec(app):
    from plugins.cem_channels.campaigns.results import result_for_ref
    from portal.extensions import db
    from portal.plugins import hook

    campaign = rf.make_campaign(origin="prm_groups:programme:12", started_at=None, state="draft")
    db.session.commit()
    assert result_for_ref(campaign.id)["campaign_id"] == campaign.id
    assert result_for_ref(str(campaign.id))["campaign_id"] == campaign.id
    assert result_for_ref("prm_groups:programme:12")["campaign_id"] == campaign.id
    for unknown in ("prm_groups:programme:13", 0, -1, 10**12, "", "9" * 40, True, None, 1.5):
        assert result_for_ref(unknown) is None, unknown
    assert hook("cem_campaign_result")(ref="prm_groups:programme:12")["verdict"] == "not_started"


def test_export_rows(launched):
    from plugins.cem_channels.campaigns.results import EXPORT_HEADER, export_rows

    campaign, _t, _h = launched
    header, rows = export_rows(campaign)
    assert header == EXPORT_HEADER
    assert rows[0] == [1, "email", "", 100, 80, 80, 3, 2, 4, 1, 2, 6, 12, 5, 3, 6]
    assert rows[1][:6] == [2, "sms", "", 20, 15, 12]
