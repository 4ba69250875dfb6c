"""What knowledge_share reads and copies through cem_channels' hooks: a campaign's configuration
(``cem_campaign_summary``) and a copy of a message set in another person's place
(``cem_copy_message_set``).

A success story cites a campaign and lets another unit run it again. The story's reader usually
cannot see the original campaign (a B001 campaign is outside B002's scope), yet may reuse what the
published story shows: so the summary is read either through the actor's scope (linking a story
to one's own campaign) or — with ``actor=None`` — by an add-on that has already decided the reader
may see it (a published story visible to them). The copy of a message set is a new set in the
copier's place with a new revision: whatever uses it needs a fresh approval.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.toolkit import Segment, db

from ..campaign_models import CemCampaign, CemCampaignResult
from . import CampaignError


def _campaign(ref: Any, actor: Any) -> CemCampaign | None:
    from .service import campaign_or_404

    if isinstance(ref, bool) or not isinstance(ref, int | str):
        return None
    text = str(ref)
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 0 < int(text) < 2**31:
        return None
    if actor is None:
        return db.session.get(CemCampaign, int(text))
    try:
        return campaign_or_404(actor, int(text))
    except CampaignError:
        return None


def campaign_summary(ref: Any, actor: Any) -> dict[str, Any] | None:
    """``cem_campaign_summary``: name, state, place, audience rules (a saved segment's rules when it
    used one), measurement, steps and variants with their message sets, the frozen time; None for
    an unknown campaign or one outside ``actor``'s scope (``actor`` None: no scope check)."""
    from ..voice_models import CemMessageSet
    from .workflow import _url

    campaign = _campaign(ref, actor)
    if campaign is None:
        return None
    rules = campaign.rules
    if rules is None and campaign.segment_id is not None:
        rules = db.session.scalar(select(Segment.rules).where(Segment.id == campaign.segment_id))
    ids = sorted({s.message_set_id for s in campaign.steps} | {v.message_set_id for v in campaign.variants}
                 - {None})
    sets = {row.id: {"id": row.id, "name": row.name, "revision": row.revision} for row in db.session.execute(
        select(CemMessageSet.id, CemMessageSet.name, CemMessageSet.revision).where(CemMessageSet.id.in_(ids)))
    } if ids else {}
    frozen_at = db.session.scalar(select(CemCampaignResult.frozen_at)
                                  .where(CemCampaignResult.campaign_id == campaign.id))
    return {
        "id": campaign.id, "name": campaign.name, "purpose": campaign.purpose, "state": campaign.state,
        "branch_id": campaign.branch_id, "partner_id": campaign.partner_id, "rules": rules,
        "holdout_share": campaign.holdout_share, "use_global_control": campaign.use_global_control,
        "attribution_days": campaign.attribution_days,
        "steps": [{"position": s.position, "channel": s.channel, "message_set_id": s.message_set_id,
                   "delay_hours": s.delay_hours, "condition": s.condition, "fallback_channel": s.fallback_channel,
                   "kakao_template": s.kakao_template} for s in campaign.steps],
        "variants": [{"code": v.code, "message_set_id": v.message_set_id, "is_default": v.is_default}
                     for v in campaign.variants],
        "ab_test": ({"share": campaign.ab_test_share, "winner_metric": campaign.ab_winner_metric,
                     "wait_hours": campaign.ab_wait_hours, "fallback": campaign.ab_fallback}
                    if campaign.variants else None),
        "message_sets": [sets[i] for i in ids if i in sets],
        "started_at": campaign.started_at.isoformat(timespec="seconds") + "Z" if campaign.started_at else None,
        "frozen": frozen_at is not None,
        "frozen_at": frozen_at.isoformat(timespec="seconds") + "Z" if frozen_at else None,
        "url": _url(campaign),
    }


def copy_message_set(set_id: Any, actor: Any) -> dict[str, Any] | None:
    """``cem_copy_message_set``: a new message set in ``actor``'s place (their branch, group, or HQ)
    with the master and renditions of set ``set_id`` — validated and linted like any new set
    (``voice.store.save``), a new revision that no approval names yet. None for an unknown set;
    raises ``SetError``. The caller decided ``actor`` may reuse the text (it need not see the set)."""
    from ..voice.store import renditions_dict, save
    from ..voice_models import CemMessageSet

    if isinstance(set_id, bool) or not isinstance(set_id, int) or not 0 < set_id < 2**31:
        return None
    original = db.session.get(CemMessageSet, set_id)
    if original is None:
        return None
    data = {"name": original.name, "category": original.category, "master": dict(original.master or {}),
            "renditions": {c: {k: v for k, v in r.items() if v is not None}
                           for c, r in renditions_dict(original).items()}}
    ms, _problems = save(actor, data)
    return {"id": ms.id, "revision": ms.revision}
