"""The hookspec ``cem_campaigns_for``: the launched campaigns an actor may see (scope in SQL), in the
asked states, newest launch first, with the frozen snapshot's lift once closed — what
knowledge_share offers as "write a story from my measured campaign"."""

from __future__ import annotations

from datetime import timedelta

from portal.toolkit import OrgUnit, db, plugin_hook
from tests.plugins.cem_channels import results_fixtures as rf
from tests.plugins.cem_channels.campaign_fixtures import users


def _branch(code: str) -> int:
    return db.session.scalar(db.select(OrgUnit.id).where(OrgUnit.code == code))


def _campaigns() -> dict[str, int]:
    """B001: a closed, frozen campaign (30 of 100 treated buy against 10 of 100 held out), a
    running one launched later, a draft never launched; B002: a closed one."""
    from plugins.cem_channels.campaigns.results import freeze_results

    u = users()
    b001, b002 = _branch("B001"), _branch("B002")
    closed = rf.make_campaign(name="B001 종료", state="done", branch_id=b001, created_by_id=u.store1.id,
                              holdout_share=0.5, attribution_days=14)
    ids = rf.customers(200, branch_code="B001", email=False)
    treatment, holdout = rf.launch(closed, ids, holdout_share=0.5)
    for cid in treatment[:30] + holdout[:10]:
        rf.sale(cid, rf.LAUNCH_DAY)
    db.session.flush()
    freeze_results(closed, now=rf.LAUNCH + timedelta(days=20))
    running = rf.make_campaign(name="B001 진행 중", state="sending", branch_id=b001, created_by_id=u.store1.id,
                               started_at=rf.LAUNCH + timedelta(days=3))
    draft = rf.make_campaign(name="B001 초안", state="draft", branch_id=b001, started_at=None)
    other = rf.make_campaign(name="B002 종료", state="done", branch_id=b002, created_by_id=u.store2.id,
                             started_at=rf.LAUNCH - timedelta(days=1))
    db.session.commit()
    return {"closed": closed.id, "running": running.id, "draft": draft.id, "other": other.id}


def _call(actor, states=None, limit=20):
    return plugin_hook("cem_campaigns_for")(actor=actor, states=states, limit=limit)


def test_scope_states_order_and_the_frozen_lift(app):
    ids = _campaigns()
    u = users()
    mine = _call(u.store1)
    assert [c["id"] for c in mine] == [ids["running"], ids["closed"]]  # newest launch first, no draft, no B002
    running, closed = mine
    assert closed["state"] == "done" and closed["frozen"] is True and closed["frozen_at"]
    assert round(closed["lift"], 9) == 0.2 and closed["ci_low"] < 0.2 < closed["ci_high"] and closed["p_value"] < 0.001
    assert closed["url"].endswith(f"/campaigns/{ids['closed']}") and closed["started_at"].endswith("Z")
    assert running["frozen"] is False and running["lift"] is None and running["ci_low"] is None
    assert [c["id"] for c in _call(u.store2)] == [ids["other"]]
    assert {c["id"] for c in _call(u.hq)} >= {ids["closed"], ids["running"], ids["other"]}
    assert [c["id"] for c in _call(u.store1, states=["done"])] == [ids["closed"]]
    assert [c["id"] for c in _call(u.store1, states="done")] == [ids["closed"]]
    assert [c["id"] for c in _call(u.store1, states=["draft"])] == []  # never launched: nothing measured
    assert [c["id"] for c in _call(u.store1, limit=1)] == [ids["running"]]


def test_junk_arguments_never_fail(app):
    _campaigns()
    u = users()
    assert _call(None) == []
    assert _call(u.store1, states=["nonsense"]) == [] and _call(u.store1, states=42) == []
    for limit, n in ((0, 1), (-5, 1), (10**9, 2), ("3", 2), (None, 2), (True, 2)):  # clamped to 1…100, else 20
        assert len(_call(u.store1, limit=limit)) == n, limit
    ibo = db.session.scalar(db.select(type(u.store1)).where(type(u.store1).email == "ibo1@example.com"))
    assert _call(ibo) == []  # a distributor has no campaign scope
