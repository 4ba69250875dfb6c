"""A/B winner (issue 15, CE-23): the exact figures, the significance guard, ≥ 100 per variant, the
fallback (default variant or a person), variant outcomes from sale lines and tracking events.

The pure tests take ``app`` too: importing the campaign models alone (without the add-on's other
models) would leave a foreign key to ``cem_message_set`` dangling in the shared metadata."""

from __future__ import annotations

import pytest

from tests.plugins.cem_channels import results_fixtures as rf


def _cmp(decision, against: str) -> dict:
    return next(c for c in decision.comparisons if c["against"] == against)


def test_ce23_not_significant_no_automatic_winner(app):
    from plugins.cem_channels.campaigns.ab import decide

    d = decide({"A": (1000, 30), "B": (1000, 45)}, default="A")
    assert d.winner is None and d.reason == "not_significant"
    c = _cmp(d, "A")
    assert c["variant"] == "B"
    assert round(c["diff"] * 100, 2) == 1.5
    assert [round(c["ci_low"] * 100, 2), round(c["ci_high"] * 100, 2)] == [-0.18, 3.22]
    assert round(c["p_value"], 3) == 0.078


def test_ce23_significant_b_wins(app):
    from plugins.cem_channels.campaigns.ab import decide

    d = decide({"A": (1000, 30), "B": (1000, 60)}, default="A")
    assert d.winner == "B" and d.reason == "significant"
    c = _cmp(d, "A")
    assert round(c["diff"] * 100, 1) == 3.0
    assert [round(c["ci_low"] * 100, 2), round(c["ci_high"] * 100, 2)] == [1.19, 4.87]
    assert round(c["p_value"], 4) == 0.0012


def test_ce23_fewer_than_100_per_variant_no_winner(app):
    from plugins.cem_channels.campaigns.ab import decide

    d = decide({"A": (99, 0), "B": (99, 60)}, default="A")
    assert d.winner is None and d.reason == "too_small"
    assert decide({"A": (100, 0), "B": (100, 60)}, default="A").winner == "B"


def test_winner_must_beat_every_other_variant(app):
    from plugins.cem_channels.campaigns.ab import decide

    # B beats A clearly, but not C: no winner
    d = decide({"A": (1000, 30), "B": (1000, 62), "C": (1000, 58)}, default="A")
    assert d.winner is None and d.reason == "not_significant"
    assert {c["against"] for c in d.comparisons} == {"A", "C"}
    assert decide({"A": (1000, 30), "B": (1000, 90), "C": (1000, 35)}, default="A").winner == "B"
    assert decide({"A": (1000, 0), "B": (1000, 0)}, default="A").reason == "no_successes"
    assert decide({"A": (1000, 5)}, default="A").reason == "no_variants"


def test_decision_is_json_safe(app):
    import json

    from plugins.cem_channels.campaigns.ab import decide

    for outcomes in ({"A": (1000, 30), "B": (1000, 45)}, {"A": (1000, 0), "B": (1000, 0)}, {"A": (0, 0), "B": (5, 5)}):
        json.dumps(decide(outcomes, default="A").as_dict(), allow_nan=False)


# --- with the database ---------------------------------------------------------------------------

def _ab_campaign(app, *, fallback: str = "default", metric: str = "conversion", per_variant: int = 120,
                 buyers: dict[str, int] | None = None):
    from portal.extensions import db

    ids = rf.customers(per_variant * 2)
    campaign = rf.make_campaign(variants=("A", "B"), default="A", ab_fallback=fallback, ab_winner_metric=metric,
                                ab_wait_hours=48, ab_test_share=0.2)
    groups = {"A": ids[:per_variant], "B": ids[per_variant:]}
    for code, members in groups.items():
        rf.add_recipients(campaign, members, variant=code)
        for cid in members[:(buyers or {}).get(code, 0)]:
            rf.sale(cid, rf.LAUNCH_DAY)
    db.session.commit()
    return campaign, groups


def test_variant_outcomes_count_buyers_in_the_window(app):
    from datetime import timedelta

    from plugins.cem_channels.campaigns.ab import variant_outcomes
    from portal.extensions import db

    campaign, groups = _ab_campaign(app, buyers={"A": 3, "B": 40})
    rf.sale(groups["A"][-1], rf.LAUNCH_DAY + timedelta(days=5))  # after the 48 h window
    rf.sale(groups["A"][-2], rf.LAUNCH_DAY - timedelta(days=1))  # before the launch
    rf.add_recipients(campaign, rf.customers(250)[240:245], arm="holdout")  # never counted
    db.session.commit()
    out = variant_outcomes(campaign, "conversion", start=rf.LAUNCH, end=rf.plus(rf.LAUNCH, hours=48))
    assert out == {"A": (120, 3), "B": (120, 40)}
    with pytest.raises(Exception) as err:
        variant_outcomes(campaign, "revenue", start=rf.LAUNCH, end=rf.LAUNCH)
    assert getattr(err.value, "status", None) == 422


def test_variant_outcomes_for_opens_and_clicks(app):
    from plugins.cem_channels.campaigns.ab import variant_outcomes
    from plugins.cem_channels.campaigns.tracking import record_event
    from portal.extensions import db

    campaign, groups = _ab_campaign(app, metric="open")
    rf.queue(campaign, groups["A"][:5], variant="A")
    rf.queue(campaign, groups["B"][:5], variant="B")
    db.session.commit()
    for cid in groups["B"][:4]:
        record_event(f"cem:{campaign.id}:1:{cid}", ["open"], at=rf.plus(rf.LAUNCH, hours=1))
    record_event(f"cem:{campaign.id}:1:{groups['A'][0]}", ["open", "click"], at=rf.plus(rf.LAUNCH, hours=2))
    record_event(f"cem:{campaign.id}:1:{groups['A'][1]}", ["open"], at=rf.plus(rf.LAUNCH, hours=49))  # too late
    end = rf.plus(rf.LAUNCH, hours=48)
    assert variant_outcomes(campaign, "open", start=rf.LAUNCH, end=end) == {"A": (120, 1), "B": (120, 4)}
    assert variant_outcomes(campaign, "click", start=rf.LAUNCH, end=end) == {"A": (120, 1), "B": (120, 0)}


def test_decide_winner_waits_then_stores_the_winner(app):
    from plugins.cem_channels.campaigns.ab import decide_winner
    from portal.extensions import db

    campaign, _groups = _ab_campaign(app, buyers={"A": 2, "B": 30})
    assert decide_winner(campaign, rf.plus(rf.LAUNCH, hours=47)) is None  # still waiting
    assert campaign.ab_decision is None
    at = rf.plus(rf.LAUNCH, hours=48)
    assert decide_winner(campaign, at) == "B"
    db.session.commit()
    assert (campaign.ab_winner, campaign.ab_decided_at) == ("B", at)
    d = campaign.ab_decision
    assert d["reason"] == "significant" and d["fallback"] is None and d["outcomes"]["B"] == {"n": 120, "successes": 30}
    assert decide_winner(campaign, rf.plus(at, hours=5)) == "B"  # idempotent


def test_no_winner_falls_back_to_the_default_variant(app):
    from plugins.cem_channels.campaigns.ab import decide_winner

    campaign, _groups = _ab_campaign(app, buyers={"A": 5, "B": 7})
    assert decide_winner(campaign, rf.plus(rf.LAUNCH, hours=48)) == "A"
    assert campaign.ab_decision["reason"] == "not_significant" and campaign.ab_decision["fallback"] == "default"


def test_too_few_recipients_never_win(app):
    from plugins.cem_channels.campaigns.ab import decide_winner

    campaign, _groups = _ab_campaign(app, per_variant=60, buyers={"A": 0, "B": 50})
    assert decide_winner(campaign, rf.plus(rf.LAUNCH, hours=48)) == "A"
    assert campaign.ab_decision["reason"] == "too_small"


def test_manual_fallback_waits_for_a_person(app):
    from plugins.cem_channels.campaigns import CampaignError
    from plugins.cem_channels.campaigns.ab import choose_winner, decide_winner
    from portal.auth.service import find_user
    from portal.extensions import db

    campaign, _groups = _ab_campaign(app, fallback="manual", buyers={"A": 5, "B": 7})
    assert decide_winner(campaign, rf.plus(rf.LAUNCH, hours=48)) is None
    assert campaign.ab_winner is None and campaign.ab_decision["pending"] == "manual"
    assert decide_winner(campaign, rf.plus(rf.LAUNCH, hours=60)) is None  # not recomputed, still waiting
    db.session.commit()
    store = find_user("store1@example.com")
    with pytest.raises(CampaignError) as err:
        choose_winner(store, campaign, "B")  # neither approver nor author
    assert err.value.status == 403
    hq = find_user("hq@example.com")
    with pytest.raises(CampaignError) as err:
        choose_winner(hq, campaign, "Z")
    assert err.value.status == 422 and "variant" in err.value.errors
    assert choose_winner(hq, campaign, "b") == "B"
    assert campaign.ab_winner == "B" and campaign.ab_decision["decided_by"] == "person"
    with pytest.raises(CampaignError) as err:
        choose_winner(hq, campaign, "A")
    assert err.value.status == 409


def test_the_author_may_choose_and_not_before_the_start(app):
    from plugins.cem_channels.campaigns import CampaignError
    from plugins.cem_channels.campaigns.ab import choose_winner
    from portal.auth.service import find_user
    from portal.extensions import db

    store = find_user("store1@example.com")
    campaign = rf.make_campaign(variants=("A", "B"), started_at=None, state="scheduled", created_by_id=store.id,
                                ab_fallback="manual")
    db.session.commit()
    with pytest.raises(CampaignError) as err:
        choose_winner(store, campaign, "A")
    assert err.value.status == 409
    campaign.started_at = rf.LAUNCH
    assert choose_winner(store, campaign, "A") == "A"
    plain = rf.make_campaign(name="A/B 없음")
    with pytest.raises(CampaignError) as err:
        choose_winner(find_user("hq@example.com"), plain, "A")
    assert err.value.status == 409
