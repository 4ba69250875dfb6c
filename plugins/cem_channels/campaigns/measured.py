"""The measured campaigns an actor may see (hookspec ``cem_campaigns_for``): what knowledge_share
offers as "write a story from my measured campaign".

A measured campaign has been launched (``started_at`` set: its audience was drawn into treatment
and holdout) and is still sending, paused or done. Its figures come from the frozen results
snapshot (``cem_campaign_result``) when there is one; a campaign still running or waiting for its
freeze has no final figures yet (``frozen`` False, the lift None) — computing live figures per row
would run the experiment's outcome query once per campaign, too much for a list.

One query: the campaigns under ``scope_filter(actor, VIEW)`` left-joined to their snapshot,
newest launch first, at most ``MAX_LIMIT`` rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from portal.toolkit import db, scope_filter

from ..campaign_models import DONE, PAUSED, SENDING, STATES, CemCampaign, CemCampaignResult
from ..permissions import VIEW

#: A launched campaign in one of these states has (or will have) a measured result.
MEASURED_STATES = (SENDING, PAUSED, DONE)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _states(states: Iterable[str] | str | None) -> tuple[str, ...]:
    if states is None:
        return MEASURED_STATES
    if isinstance(states, str):
        states = (states,)
    try:
        return tuple(s for s in dict.fromkeys(states) if isinstance(s, str) and s in STATES)
    except TypeError:
        return ()


def _limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        return DEFAULT_LIMIT
    return min(max(limit, 1), MAX_LIMIT)


def _iso(at: Any) -> str | None:
    return at.isoformat(timespec="seconds") + "Z" if at is not None else None


def _url(campaign_id: int) -> str:
    from flask import has_request_context, url_for

    if has_request_context():
        try:
            return url_for("cem_campaigns.detail", campaign_id=campaign_id)
        except Exception:  # noqa: BLE001 - the pages may not be registered (tests of the service alone)
            pass
    return f"/campaigns/{campaign_id}"


def campaigns_for(actor: Any, states: Iterable[str] | str | None = None, limit: int | None = None
                  ) -> list[dict[str, Any]]:
    """``cem_campaigns_for``: the launched campaigns in ``states`` (default sending, paused, done)
    that ``actor`` may see, newest launch first, at most ``limit`` (1…100, default 20); each with
    its place, launch time and, once frozen, the snapshot's ``lift`` / ``ci_low`` / ``ci_high`` /
    ``p_value`` / ``verdict`` (fractions, as the results document). ``actor`` None or without
    ``cem.view`` → []; unknown states are ignored (none left → [])."""
    wanted = _states(states)
    if actor is None or not wanted:
        return []
    rows = (select(CemCampaign.id, CemCampaign.name, CemCampaign.state, CemCampaign.branch_id,
                   CemCampaign.partner_id, CemCampaign.started_at, CemCampaignResult.frozen_at,
                   CemCampaignResult.snapshot)
            .outerjoin(CemCampaignResult, CemCampaignResult.campaign_id == CemCampaign.id)
            .where(scope_filter(actor, VIEW, CemCampaign), CemCampaign.state.in_(wanted),
                   CemCampaign.started_at.is_not(None))
            .order_by(CemCampaign.started_at.desc(), CemCampaign.id.desc())
            .limit(_limit(limit)))
    out = []
    for row in db.session.execute(rows):
        snapshot = row.snapshot if row.frozen_at is not None and isinstance(row.snapshot, dict) else {}
        out.append({
            "id": row.id, "name": row.name, "state": row.state, "branch_id": row.branch_id,
            "partner_id": row.partner_id, "started_at": _iso(row.started_at),
            "frozen": row.frozen_at is not None, "frozen_at": _iso(row.frozen_at),
            "lift": snapshot.get("lift"), "ci_low": snapshot.get("ci_low"), "ci_high": snapshot.get("ci_high"),
            "p_value": snapshot.get("p_value"), "verdict": snapshot.get("verdict"),
            "url": _url(row.id),
        })
    return out
