"""The periodic job ``cem.campaigns.tick`` (every minute): start due campaigns, expire late ones,
queue later steps, A/B rests and fallbacks, close finished ones, freeze results when their
attribution window's sales are in.

Each campaign runs in its own transaction: one that fails is rolled back and logged, the others go
on. Before touching a campaign the tick takes its row (``UPDATE … SET state = state WHERE id = …
AND state = …``): a second consumer waits for the first to commit and then finds the state moved
on (or nothing new to do), so two ticks at once never launch a campaign twice; the workflow's own
compare-and-set and the messages' idempotency keys back this up. Running the tick twice does
nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update

from portal.toolkit import db, utcnow

from ..campaign_models import DONE, SCHEDULED, SENDING, CemCampaign, CemCampaignResult
from .steps import _naive

log = logging.getLogger(__name__)


def _take(campaign_id: int, state: str) -> CemCampaign | None:
    """Lock the campaign's row if it is still in ``state`` (None: moved on, or gone)."""
    taken = db.session.execute(
        update(CemCampaign).where(CemCampaign.id == campaign_id, CemCampaign.state == state)
        .values(state=CemCampaign.state, updated_at=CemCampaign.updated_at)
        .execution_options(synchronize_session=False)).rowcount
    if not taken:
        return None
    return db.session.execute(select(CemCampaign).where(CemCampaign.id == campaign_id)
                              .execution_options(populate_existing=True)).scalar_one()


def _each(ids: list[int], state: str, work: Callable[[CemCampaign], Any], stats: dict[str, int]) -> None:
    for campaign_id in ids:
        try:
            campaign = _take(campaign_id, state)
            if campaign is None:
                db.session.rollback()
                continue
            outcome = work(campaign)
            db.session.commit()
            for key in outcome or ():
                stats[key] = stats.get(key, 0) + 1
        except Exception:  # noqa: BLE001 - one campaign's failure must not stop the others
            db.session.rollback()
            stats["failed"] = stats.get("failed", 0) + 1
            log.exception("cem.campaigns.tick: campaign %s failed", campaign_id)


def tick(now: datetime | None = None) -> dict[str, int]:
    """Launch or expire every scheduled campaign whose start has come, then advance and close every
    sending one, then freeze the results of done ones whose attribution window has passed. Returns
    counts (``launched``, ``expired``, ``advanced``, ``finished``, ``frozen``, ``failed``)."""
    from .launch import launch
    from .results import freeze_due
    from .steps import advance, finish_if_done

    now = _naive(now or utcnow())
    stats: dict[str, int] = {}
    db.session.commit()  # start from a clean transaction (a job's session may hold a read)

    def start(campaign: CemCampaign) -> list[str]:
        result = launch(campaign, now=now)
        return ["launched"] if result.get("state") == SENDING else ["expired"]

    def step_on(campaign: CemCampaign) -> list[str]:
        did = advance(campaign, now)
        out = ["advanced"] if did else []
        if finish_if_done(campaign, now):
            out.append("finished")
        return out

    due = list(db.session.scalars(select(CemCampaign.id).where(CemCampaign.state == SCHEDULED,
                                                               CemCampaign.start_at <= now).order_by(CemCampaign.start_at)))
    db.session.rollback()
    _each(due, SCHEDULED, start, stats)
    sending = list(db.session.scalars(select(CemCampaign.id).where(CemCampaign.state == SENDING).order_by(CemCampaign.id)))
    db.session.rollback()
    _each(sending, SENDING, step_on, stats)

    def close(campaign: CemCampaign) -> list[str]:
        return ["frozen"] if freeze_due(campaign, now) else []

    unfrozen = list(db.session.scalars(
        select(CemCampaign.id).where(CemCampaign.state == DONE,
                                     ~exists().where(CemCampaignResult.campaign_id == CemCampaign.id))
        .order_by(CemCampaign.id)))
    db.session.rollback()
    _each(unfrozen, DONE, close, stats)
    return stats


JOBS: list[dict[str, Any]] = [
    {"name": "cem.campaigns.tick", "func": tick, "schedule": {"minute": "*"}, "retries": 0, "time_limit": 600},
]
