"""The measurement wired into the programme's workflow: the leader's approval freezes the plan with
its power check; closing makes the final, frozen result (through the programmes service)."""

from __future__ import annotations

from sqlalchemy import select

from tests.plugins.prm_groups import content_fixtures as cf
from tests.plugins.prm_groups import measurement_fixtures as fx


def test_approval_freezes_the_plan_and_close_freezes_the_final_result(app):
    from plugins.prm_groups.models import PrmResult
    from plugins.prm_groups.programmes import service
    from portal.toolkit import db

    p = cf.make_programme("G01")
    u = cf.users()
    cf.fire(p, "submit", u.hq)
    assert p.plan is None or not p.plan.get("frozen_at")
    with app.test_request_context():
        cf.approve(p, u.leader1)
    plan = p.plan
    assert plan["frozen_at"] and plan["metric"] == "category_purchase_rate" and plan["group"] == "G01"
    assert plan["category"] == "health" and plan["design"] == ["holdout", "did_vs_groups"]
    assert plan["power_check"]["n_holdout"] + plan["power_check"]["n_treatment"] == plan["eligible"]["n"]
    assert plan["power_check"]["powered"] is False and plan["power_check"]["warning"]  # a demo group is small
    # run and measure (the launch is the launch area's; here the holdout is drawn by hand), then close
    cat = fx.category()
    p.category_id = cat.id
    p.measure_start, p.measure_end = fx.MEASURE
    p.state = "measuring"
    arms = fx.draw_holdout(p, fx.new_customers(200), share=0.5)
    fx.buy(arms["treatment"][:40], fx.IN_MEASURE, cat)
    fx.buy(arms["holdout"][:10], fx.IN_MEASURE, cat)
    db.session.commit()
    service.fire(p, "close", u.hq)
    db.session.commit()
    assert p.state == "closed"
    rows = list(db.session.scalars(select(PrmResult).where(PrmResult.programme_id == p.id)))
    assert [r.kind for r in rows] == ["final"]
    final = rows[0].snapshot
    assert final["frozen"] and final["holdout"]["arms"]["treatment"]["conversions"] == 40
    assert final["verdict"] == "significant_increase"
    # the plan was not re-frozen by anything after the approval
    assert p.plan == plan
