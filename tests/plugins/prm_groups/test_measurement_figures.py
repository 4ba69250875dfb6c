"""The acceptance figures of a programme's measurement on hand-made outcomes: PG-11 (holdout lift,
Newcombe interval, score test, ratio), PG-12 (not significant, no success), PG-13 (no conversions,
no NaN), PG-14 (group-level DiD clustered by customer), PG-15 (the power check) and the plan."""

from __future__ import annotations

import json

import pytest

from tests.plugins.prm_groups import measurement_fixtures as fx


def _holdout_case(app, n: int, t_buyers: int, h_buyers: int):
    from flask_babel import force_locale

    from plugins.prm_groups.measurement.results import compute
    from portal.toolkit import db

    cat = fx.category()
    p = fx.programme(cat, design=("holdout",))
    arms = fx.draw_holdout(p, fx.new_customers(2 * n))
    assert len(arms["treatment"]) == n and len(arms["holdout"]) == n
    fx.buy(arms["treatment"][:t_buyers], fx.IN_MEASURE, cat)
    fx.buy(arms["holdout"][:h_buyers], fx.IN_MEASURE, cat)
    db.session.commit()
    with app.test_request_context(), force_locale("en"):
        return p, compute(p)


def test_pg11_lift_newcombe_interval_score_test_and_ratio(app):
    p, res = _holdout_case(app, 1000, 181, 100)
    h = res["holdout"]
    assert h["arms"]["treatment"]["n"] == 1000 and h["arms"]["treatment"]["conversions"] == 181
    assert h["arms"]["holdout"]["conversions"] == 100
    assert h["lift"] == pytest.approx(8.1)
    assert round(h["ci_low"], 2) == 5.07 and round(h["ci_high"], 2) == 11.13
    assert h["p_value"] == pytest.approx(1.9e-7, rel=0.02)
    assert round(h["ratio"], 2) == 1.81 and [round(x, 2) for x in h["ratio_ci"]] == [1.44, 2.27]
    assert h["spend_diff"] == pytest.approx((181 - 100) * 30000 / 1000) and h["spend_ci"][0] > 0
    assert res["verdict"] == "significant_increase" and res["success"] is True and res["basis"] == "holdout"
    assert "+8.1 pp" in res["verdict_text"]


def test_pg12_small_sample_is_not_significant_and_no_success(app):
    p, res = _holdout_case(app, 50, 9, 5)
    h = res["holdout"]
    assert h["lift"] == pytest.approx(8.0)
    assert round(h["ci_low"], 2) == -6.03 and round(h["ci_high"], 2) == 21.99
    assert round(h["p_value"], 2) == 0.25
    assert res["verdict"] == "not_significant" and res["success"] is False
    assert res["verdict_text"].startswith("Not significant")


def test_pg13_no_conversions_and_nothing_not_finite(app):
    p, res = _holdout_case(app, 200, 0, 0)
    assert res["verdict"] == "no_conversions_yet"
    assert res["holdout"]["ratio"] is None and res["holdout"]["ratio_ci"] is None
    json.dumps(res, allow_nan=False)  # no NaN or ∞ anywhere


def test_pg14_did_group_vs_other_groups_clustered_by_customer(app):
    from plugins.prm_groups.measurement.results import did_block
    from portal.toolkit import db

    cat = fx.category()
    p = fx.programme(cat, design=("did_vs_groups",))
    treated, control = fx.new_customers(1000, "G01"), fx.new_customers(1000, "G02")
    assert len(treated) == len(control) == 1000
    fx.buy(treated[:100], fx.IN_BASELINE, cat)
    fx.buy(treated[:181], fx.IN_MEASURE, cat)      # 10.0 % → 18.1 %
    fx.buy(control[:100], fx.IN_BASELINE, cat)
    fx.buy(control[:100], fx.IN_MEASURE, cat)      # 10.0 % → 10.0 %
    db.session.commit()
    d = did_block(p, fx.MEASURE, treated=treated, control=control)
    assert d["estimate"] == pytest.approx(8.1)
    assert round(d["ci_low"], 1) == 6.4 and round(d["ci_high"], 1) == 9.8
    assert d["means"]["treated_post"] == pytest.approx(18.1) and d["clustered_by"] == "customer"
    assert d["verdict"] == "significant" and d["n_treated"] == 1000


def test_did_block_takes_the_group_and_every_other_group(app):
    from plugins.prm_groups.measurement.results import compute
    from portal.toolkit import db

    cat = fx.category()
    p = fx.programme(cat, design=("did_vs_groups",))
    fx.new_customers(40)
    g01, others = fx.customer_ids("G01"), fx.customer_ids(exclude_group="G01")
    fx.buy(g01[:10], fx.IN_MEASURE, cat)
    db.session.commit()
    res = compute(p)
    assert res["holdout"] is None and res["basis"] == "did_vs_groups"
    d = res["did"]
    assert d["n_treated"] == len(g01) and d["n_control"] == len(others)
    assert d["means"]["treated_pre"] == 0 and d["means"]["treated_post"] == pytest.approx(1000 / len(g01))


def test_pg15_power_check_figures(app):
    from flask_babel import force_locale

    from plugins.prm_groups.measurement.plan import power_block

    half = power_block(0.10, 2 * 1769, 0.5, 0.03)
    assert half["required_1to1"] == 1769 and half["powered"] is True and half["warning"] is None
    with app.test_request_context(), force_locale("en"):
        nine = power_block(0.10, 5000, 0.1, 0.03)
    assert nine["required"] == {"treatment": 8841, "holdout": 983}
    assert (nine["n_treatment"], nine["n_holdout"]) == (4500, 500)
    assert round(nine["mde"], 3) == 0.043 and nine["powered"] is False
    assert nine["warning"] == "Under-powered: detectable effect ≈ +4.3 pp, target +3 pp."


def test_power_check_without_a_baseline_says_why(app):
    from flask_babel import force_locale

    from plugins.prm_groups.measurement.plan import power_block

    with app.test_request_context(), force_locale("en"):
        out = power_block(0.0, 5000, 0.1, 0.03)
    assert out["mde"] is None and "baseline" in out["warning"]
    json.dumps(out, allow_nan=False)


def test_plan_records_baseline_power_and_is_frozen_once_started(app):
    from plugins.prm_groups.measurement.plan import build_plan, freeze_plan, plan_kept, power_summary
    from portal.toolkit import db

    cat = fx.category()
    p = fx.programme(cat, state="approved")
    fx.new_customers(300)
    g01 = fx.customer_ids("G01")
    fx.buy(g01[: len(g01) // 10], fx.IN_BASELINE, cat)
    db.session.commit()
    plan = build_plan(p)
    assert plan["baseline"]["n"] == len(g01) and plan["baseline"]["buyers"] == len(g01) // 10
    assert plan["eligible"] == {"n": len(g01), "source": "group_customers"}
    assert plan["design"] == ["holdout", "did_vs_groups"] and plan["primary"] == "holdout"
    assert plan["alpha"] == 0.05 and plan["power"] == 0.8 and plan["seed"] == 42
    assert plan["power_check"]["powered"] is False and plan["power_check"]["warning"]  # a few hundred, 10 % holdout
    frozen = freeze_plan(p)
    db.session.commit()
    assert p.plan["frozen_at"] and power_summary(p) == frozen["power_check"] and plan_kept(p) == []
    # started: the plan never changes again, and a departure from it is shown
    fx.draw_holdout(p, g01, share=0.1)
    p.holdout_share = 0.2
    assert freeze_plan(p)["holdout_share"] == 0.1
    assert [d["field"] for d in plan_kept(p)] == ["holdout_share"]


def test_spend_metric_judges_on_spend_per_customer_and_did_in_won(app):
    from flask_babel import force_locale

    from plugins.prm_groups.measurement.results import compute
    from portal.toolkit import db

    cat = fx.category()
    p = fx.programme(cat, metric="category_spend")
    arms = fx.draw_holdout(p, fx.new_customers(400), share=0.5)
    fx.buy(arms["treatment"][:60], fx.IN_MEASURE, cat, amount=50000)   # same buyers' share, more spend
    fx.buy(arms["holdout"][:60], fx.IN_MEASURE, cat, amount=20000)
    db.session.commit()
    with app.test_request_context(), force_locale("en"):
        res = compute(p)
    h = res["holdout"]
    assert h["lift"] == 0 and h["verdict"] == "not_significant"
    assert h["spend_diff"] == 60 * 30000 / 200 and h["spend_ci"][0] > 0
    assert res["verdict"] == "significant_increase" and "₩" in res["verdict_text"]
    d = res["did"]
    assert d["unit"] == "KRW" and d["metric"] == "spend_per_customer" and d["estimate"] > 0
