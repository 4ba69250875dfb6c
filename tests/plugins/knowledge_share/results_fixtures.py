"""Helpers for the verified-results and reuse tests (import them; they are not pytest fixtures).

Campaigns are built with cem_channels' own test helpers (``results_fixtures``: the real core
draw and the real freeze at close), so the figures a story copies are the ones cem computes. Times
are pinned to noon KST (``LAUNCH``), never the time of day the suite runs.
"""

from __future__ import annotations

from typing import Any

from tests.plugins.cem_channels.campaign_fixtures import branch_rules, make_message_set, users
from tests.plugins.cem_channels.results_fixtures import (
    LAUNCH,
    LAUNCH_DAY,
    customers,
    launch,
    make_campaign,
    sale,
)

__all__ = ["LAUNCH", "users", "unit_id", "measured_campaign", "story", "AUDIENCE"]

#: The original campaign's audience: B001's customers aged 30–59 (the age part survives a reuse).
AUDIENCE = {"all": [branch_rules("B001")["all"][0], {"field": "age", "op": "between", "value": [30, 59]}]}


def unit_id(code: str) -> int:
    from portal.toolkit import OrgUnit, db

    return db.session.scalar(db.select(OrgUnit.id).where(OrgUnit.code == code))


def measured_campaign(*, treatment_buyers: int = 181, holdout_buyers: int = 100, per_arm: int = 1000,
                      closed: bool = True, name: str = "건강식품 재구매 문자") -> Any:
    """A B001 campaign created by store1 with a step sending a B001 message set, launched at noon
    KST with a 50 % holdout over ``2 × per_arm`` customers (exactly ``per_arm`` per arm: the core
    draw's exact counts), ``treatment_buyers`` / ``holdout_buyers`` buying on the launch day; when
    ``closed`` it is ``done`` and its results are frozen by cem's ``freeze_results``. Committed."""
    from plugins.cem_channels.campaign_models import CemCampaignStep
    from plugins.cem_channels.campaigns.results import freeze_results
    from portal.toolkit import db

    u = users()
    ms = make_message_set("재구매 감사 문자", owner=u.store1)
    campaign = make_campaign(name=name, channel="sms", state="done" if closed else "sending",
                             branch_id=unit_id("B001"), created_by_id=u.store1.id, rules=AUDIENCE,
                             holdout_share=0.5, use_global_control=False, attribution_days=14)
    step: CemCampaignStep = campaign.steps[0]
    step.message_set_id = ms.id
    ids = customers(2 * per_arm, branch_code="B001", email=False)
    treatment, holdout = launch(campaign, ids, holdout_share=0.5)
    assert len(treatment) == len(holdout) == per_arm
    for cid in treatment[:treatment_buyers] + holdout[:holdout_buyers]:
        sale(cid, LAUNCH_DAY)
    db.session.flush()
    if closed:
        freeze_results(campaign, now=LAUNCH.replace(day=LAUNCH.day + 20))
    db.session.commit()
    return campaign


def story(author: Any, *, state: str = "published", visibility: str = "all", unit: str = "B001",
          title: str = "건강식품 세미나로 재구매율 상승", **fields: Any) -> Any:
    """A base story row (the stories service is another area's: these tests need only the row)."""
    from plugins.knowledge_share.models import KsStory
    from portal.toolkit import db, utcnow

    row = KsStory(title=title, summary="요약", author_id=author.id, author_unit_id=unit_id(unit),
                  visibility=visibility, scope_unit_id=unit_id(unit) if visibility in ("branch", "region") else None,
                  state=state, channels=["sms"], keywords=[],
                  published_at=utcnow() if state == "published" else None, **fields)
    db.session.add(row)
    db.session.commit()
    return row
