"""Helpers of the "story from my measured campaign" tests (picker and the end-to-end browser flow).

The campaigns are cem_channels' own, built with ``results_fixtures.measured_campaign`` (the real
core draw, the real freeze at close, launched at noon KST): a closed, frozen B001 campaign (181 of
1,000 treated buyers against 100 of 1,000 held out: +8.1 pp) and, when asked, a running one.
"""

from __future__ import annotations

from typing import Any

from tests.plugins.knowledge_share.results_fixtures import measured_campaign

CLOSED_NAME = "건강식품 재구매 문자"
RUNNING_NAME = "겨울 건강식품 안내"


def b001_campaigns(*, running: bool = True) -> tuple[Any, Any | None]:
    """(closed and frozen, running or None) — both B001's, created by store1; committed. The running
    one is launched after the closed one, so it is listed first (newest launch first)."""
    from datetime import timedelta

    from portal.toolkit import db

    closed = measured_campaign(name=CLOSED_NAME)
    other = None
    if running:
        other = measured_campaign(name=RUNNING_NAME, closed=False, per_arm=50, treatment_buyers=5,
                                  holdout_buyers=2)
        other.started_at = closed.started_at + timedelta(days=1)
        db.session.commit()
    return closed, other


def expected_lift_label(campaign_id: int) -> str:
    """The lift and interval a story linked to the campaign shows, as ``result_block`` computes it."""
    from plugins.knowledge_share.results.service import lift_label, read_campaign

    block = read_campaign(campaign_id, None, scoped=False)
    assert block is not None and block["frozen"]
    label = lift_label(block)
    assert label is not None
    return label
