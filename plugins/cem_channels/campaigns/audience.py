"""The audience preview of a campaign (or of a draft's input before it is saved): how many match,
how many may be contacted on the first step's channel for the campaign's purpose, why the others
may not, and the expected sizes of the arms.

One grouped query through the core's extraction preview (``preview_audience``): the segment is
compiled inside the viewer's scope, so branch staff whose rules name another branch match only
their own customers (CE-26), and erased customers never match (CE-28). Nothing is written.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _

from portal.toolkit import Segment, User, db, global_control_share, preview_audience

from ..campaign_models import CemCampaign
from . import CampaignError
from .validation import clean

#: Suppression reasons that hold for service messages too: there is no address to send to.
ADDRESS_REASONS = ("invalid_phone", "invalid_email", "invalid_address")
#: Channels the core extraction knows by another name (none today; a step channel is a registry code).
PREVIEW_CHANNEL: dict[str, str] = {}


def _inputs(actor: Any, campaign_or_data: Any) -> dict[str, Any]:
    if isinstance(campaign_or_data, CemCampaign):
        c = campaign_or_data
        rules = c.rules
        if c.segment_id is not None:
            seg = db.session.get(Segment, c.segment_id)
            rules = seg.rules if seg is not None else None
        return {"rules": rules, "purpose": c.purpose, "channel": c.steps[0].channel if c.steps else None,
                "holdout_share": c.holdout_share, "use_global_control": c.use_global_control,
                "ab_test_share": c.ab_test_share if c.variants else None, "caps": c}
    values = clean(campaign_or_data, actor=actor)
    rules = values["rules"]
    if values["segment_id"] is not None:
        rules = db.session.get(Segment, values["segment_id"]).rules
    return {"rules": rules, "purpose": values["purpose"], "channel": values["steps"][0]["channel"],
            "holdout_share": values["holdout_share"], "use_global_control": values["use_global_control"],
            "ab_test_share": values["ab_test_share"] if values["variants"] else None,
            "caps": SimpleNamespace(cap_per_day=values["cap_per_day"], cap_per_7_days=values["cap_per_7_days"])}


def _counted_as(actor: Any, campaign_or_data: Any) -> Any:
    """A stored campaign is counted in its creator's scope — the audience its launch will freeze
    (an approver at HQ must see the 0 that store staff's B002 rules will reach, not HQ's 21).
    Safe to show: whoever may open the campaign sees its place, and the creator's scope lies
    inside it; and these are counts only."""
    if isinstance(campaign_or_data, CemCampaign) and campaign_or_data.created_by_id is not None:
        creator = db.session.get(User, campaign_or_data.created_by_id)
        if creator is not None:  # as the launch does
            return creator
    return actor


def preview(actor: Any, campaign_or_data: Any) -> dict[str, Any]:
    """``{"channel", "purpose", "matched", "eligible", "suppressed": {reason: n}, "arms":
    {"global_control", "holdout", "treatment"}, "ab_test"}``: a draft's input in ``actor``'s scope, a
    stored campaign in its creator's (what the launch will freeze).

    Marketing: eligible after every suppression reason of the channel (consent, opt-out, expiry,
    address, complaint, recent contact, the add-ons' reasons such as the 080 list), each excluded
    customer counted once under the first reason. Service: only customers without an address on
    the channel are left out. The arms are estimates (the draw at launch is exact): the global
    control share of the eligible, then the holdout share of the rest. Raises ``CampaignError``
    (422) for input that does not validate or a saved segment that is gone."""
    src = _inputs(actor, campaign_or_data)
    actor = _counted_as(actor, campaign_or_data)
    if src["rules"] is None or not src["channel"]:
        raise CampaignError({"rules": _("The campaign has no audience or no first step.")}, 422)
    from portal.toolkit import RuleError

    channel = PREVIEW_CHANNEL.get(src["channel"], src["channel"])
    try:
        result = preview_audience(actor, src["rules"], channel, with_sample=False,
                                  with_any=src["purpose"] == "service")
    except RuleError as exc:
        raise CampaignError({f"rules.{k}" if k else "rules": v for k, v in exc.fields().items()}, 422) from None
    if src["purpose"] == "service":
        suppressed = {r: n for r, n in (result.excluded_any or {}).items() if r in ADDRESS_REASONS and n}
        eligible = result.total - sum(suppressed.values())  # one address field per channel: no overlap
    else:
        suppressed = {r: n for r, n in result.excluded.items() if n}
        eligible = result.included
    control = round(eligible * global_control_share()) if src["use_global_control"] and src["purpose"] == "marketing" \
        else 0
    rest = eligible - control
    holdout = round(rest * (src["holdout_share"] or 0.0))
    treatment = rest - holdout
    body: dict[str, Any] = {
        "channel": src["channel"], "purpose": src["purpose"], "matched": result.total, "eligible": eligible,
        "suppressed": suppressed, "arms": {"global_control": control, "holdout": holdout, "treatment": treatment},
        "estimated": True,
    }
    if src["ab_test_share"]:
        body["ab_test"] = {"test": round(treatment * src["ab_test_share"]),
                           "rest": treatment - round(treatment * src["ab_test_share"])}
    capped = _capped(src, actor)
    if capped is not None:
        body["capped"] = capped  # held back by the frequency caps now (also counted at send time)
    return body


def _capped(src: dict[str, Any], actor: Any) -> int | None:
    """How many matching customers the campaign's frequency caps (its own, else the add-on's)
    hold back now — counted over the matched audience, so a customer capped and also suppressed
    for another reason is counted here too. None for service messages (never capped)."""
    from portal.toolkit import Customer, segment_query

    from .caps import campaign_caps, capped_count

    if src["purpose"] != "marketing":
        return None
    day, week = campaign_caps(src["caps"])
    if day is None and week is None:
        return 0
    return capped_count(segment_query(actor, src["rules"]).select(Customer.id), per_day=day, per_7_days=week)
