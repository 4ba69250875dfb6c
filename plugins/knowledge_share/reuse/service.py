"""Reuse this campaign: a draft campaign in the reuser's own unit, made from a published story's
campaign, through cem_channels' hookspecs only.

What the draft gets (spec §3.3 "Reuse", KS-10):

- the original's audience rules, with every branch / partner-group condition rewritten to the
  reuser's unit (branch staff of B002 → ``branch in [B002]``; a group leader → ``partner_group in
  [G01]``; a regional manager → the region's branches); exclusions naming another unit and
  conditions on one distributor are dropped (they name someone else's customers), and a top-level
  condition on the reuser's unit is added when none is left — the draft never reaches further than
  the reuser's own customers, whatever cem's scope would allow;
- the channels, delays and conditions of the steps, the A/B variants;
- each message set copied into the reuser's place (``cem_copy_message_set``): a new revision, so
  the draft needs its own approval before anything is sent;
- the measurement as the original had it (holdout share, global control, attribution window) so
  the reuse is measured the same way — a 10 % holdout when the original had none;
- no schedule (``start_at`` blank), state ``draft``.

Everything happens in one transaction with the ``ks_reuse`` row and ``reuse_count`` + 1: a
refusal from cem (``CampaignError``/``SetError``, ``ValueError``s with ``errors`` and ``status``)
rolls back the copied sets too. The caller commits.
"""

from __future__ import annotations

import copy
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from portal.toolkit import (
    OrgUnit,
    PartnerGroup,
    active_plugin_names,
    audit,
    db,
    has_global_permission,
    has_permission,
    owner_place,
    plugin_hook,
)

from ..errors import StoryError
from ..models import PUBLISHED, KsReuse, KsStory
from ..permissions import REUSE
from ..results.service import hook_call
from ..stories.visibility import user_units, visible_filter

CEM = "cem_channels"
#: Holdout share of a reuse whose original campaign had none (it must be measurable).
FALLBACK_HOLDOUT = 0.1
POSITIVE_OPS = ("eq", "in")


def reuse_available() -> bool:
    """True when cem_channels is active (the button shows, the endpoint answers)."""
    if CEM not in active_plugin_names():
        return False
    try:
        return bool(plugin_hook("cem_create_campaign").get_hookimpls())
    except AttributeError:  # cem_channels not loaded in this process at all
        return False


def story_for_reuse(story_id: Any, user: Any) -> KsStory:
    """The published base story ``user`` may see; 404 (StoryError) otherwise, like a missing id."""
    text = str(story_id)
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 0 < int(text) < 2**31:
        raise StoryError({"id": _("No success story with this number.")}, 404)
    story = db.session.execute(select(KsStory).where(
        KsStory.id == int(text), KsStory.base_id.is_(None), KsStory.state == PUBLISHED,
        visible_filter(user))).scalar_one_or_none()
    if story is None:
        raise StoryError({"id": _("No success story with this number.")}, 404)
    return story


def may_reuse(story: KsStory, user: Any) -> bool:
    """Whether the page shows the button: cem active, ``ks.reuse``, a published story with a campaign."""
    return (reuse_available() and story.campaign_id is not None and story.state == PUBLISHED
            and story.base_id is None and getattr(user, "is_authenticated", False) and has_permission(user, REUSE))


# -- the reuser's unit -------------------------------------------------------------------------------


class Place:
    """Where the reuser works: ``unit`` (branch or region) or ``group``; neither for HQ."""

    def __init__(self, unit: OrgUnit | None, group: PartnerGroup | None, branch_codes: list[str]):
        self.unit, self.group, self.branch_codes = unit, group, branch_codes

    @property
    def condition(self) -> dict[str, Any] | None:
        if self.branch_codes:
            return {"field": "branch", "op": "in", "value": list(self.branch_codes)}
        if self.group is not None:
            return {"field": "partner_group", "op": "in", "value": [self.group.code]}
        return None

    @property
    def label(self) -> str:
        if self.unit is not None:
            return self.unit.code
        if self.group is not None:
            return self.group.code
        return "HQ"


def place_of(actor: Any) -> Place:
    """The reuser's unit: the branch (or region) of their grants as cem places their campaigns
    (``owner_place``), else their partner group; nothing for a global (HQ) reuser."""
    if has_global_permission(actor, REUSE):
        units, _groups = user_units(actor)
        unit = db.session.get(OrgUnit, min(units)) if units else None
        return Place(unit, None, [])
    branch_id, partner_id = owner_place(actor)
    units, groups = user_units(actor)
    unit_id = branch_id or (min(units) if units else None)
    if unit_id is not None:
        unit = db.session.get(OrgUnit, unit_id)
        if unit is not None:
            if unit.kind == "branch":
                return Place(unit, None, [unit.code])
            codes = list(db.session.scalars(select(OrgUnit.code).where(
                OrgUnit.kind == "branch", OrgUnit.path.startswith(unit.path)).order_by(OrgUnit.code)))
            return Place(unit, None, codes)
    if groups:
        return Place(None, db.session.get(PartnerGroup, min(groups)), [])
    return Place(None, None, [])


def rewrite_rules(rules: Any, place: Place) -> dict[str, Any]:
    """The original's rule set for the reuser's unit (see the module doc). HQ keeps it unchanged."""
    want = place.condition
    if want is None:
        return copy.deepcopy(rules) if isinstance(rules, dict) else {"all": []}

    def walk(node: Any, negated: bool = False) -> Any:
        if not isinstance(node, dict):
            return node
        for key in ("all", "any"):
            if key in node and isinstance(node[key], list):
                kids = [k for k in (walk(c, negated) for c in node[key]) if k is not None]
                return {key: kids} if kids else None
        if "not" in node:
            inner = walk(node["not"], not negated)
            return {"not": inner} if inner is not None else None
        field, op = node.get("field"), node.get("op")
        if field in ("branch", "partner_group"):
            # "customers of unit X" becomes the reuser's unit; an exclusion of some unit (or any
            # unit condition under a "not") names someone else's customers: dropped
            return copy.deepcopy(want) if op in POSITIVE_OPS and not negated else None
        if field == "owner":
            return None
        return copy.deepcopy(node)

    out = walk(copy.deepcopy(rules)) if isinstance(rules, dict) else None
    if out is None:
        return {"all": [want]}
    if "all" in out:
        if want not in out["all"]:
            out["all"].insert(0, want)
        return out
    return {"all": [want, out]}


# -- the reuse -------------------------------------------------------------------------------------------


def _refusal(exc: Exception) -> StoryError:
    errors = getattr(exc, "errors", None) or {"": str(exc)}
    status = getattr(exc, "status", 422)
    return StoryError({f"campaign.{k}" if k else "campaign": v for k, v in errors.items()},
                      status if status in (403, 409, 422) else 422)


def reuse_campaign(story: KsStory, actor: Any) -> dict[str, Any]:
    """A draft campaign in ``actor``'s unit from the story's campaign; returns ``{"id", "url",
    "state", "name", "reuse_id"}``. StoryError 404 when cem_channels is off or the story is not a
    published one the actor sees, 403 without ``ks.reuse``, 409 without a campaign to reuse, and
    cem's own refusals (422/403/409 at ``campaign.<field>``). The caller commits."""
    if not reuse_available():
        raise StoryError({"id": _("No success story with this number.")}, 404)
    story = story_for_reuse(story.id, actor)
    if not has_permission(actor, REUSE):
        raise StoryError({"permission": _("Your roles do not allow reusing campaigns.")}, 403)
    if story.campaign_id is None:
        raise StoryError({"campaign_id": _("This story is not linked to a campaign: there is nothing to reuse.")}, 409)
    summary = hook_call("cem_campaign_summary", ref=story.campaign_id, actor=None)
    if not summary:
        raise StoryError({"campaign_id": _("The story's campaign no longer exists.")}, 409)
    place = place_of(actor)
    try:
        with db.session.begin_nested():
            copies: dict[int, int] = {}
            for ms in summary.get("message_sets") or []:
                made = hook_call("cem_copy_message_set", set_id=ms["id"], actor=actor)
                if made:
                    copies[ms["id"]] = made["id"]
            steps = [{**{k: s[k] for k in ("channel", "delay_hours", "condition", "fallback_channel",
                                             "kakao_template")},
                      "message_set_id": copies.get(s["message_set_id"]) if s["message_set_id"] else None}
                     for s in summary.get("steps") or []]
            holdout = summary.get("holdout_share") or 0.0
            draft: dict[str, Any] = {
                "name": f"{summary['name']} · {place.label}"[:200],
                "purpose": summary.get("purpose") or "marketing",
                "rules": rewrite_rules(summary.get("rules"), place),
                "steps": steps,
                "holdout_share": holdout if holdout > 0 else FALLBACK_HOLDOUT,
                "use_global_control": bool(summary.get("use_global_control", True)),
                "attribution_days": summary.get("attribution_days") or 14,
                "origin": f"knowledge_share:story:{story.id}",
            }
            if summary.get("variants"):
                draft["variants"] = [{"code": v["code"], "is_default": v["is_default"],
                                      "message_set_id": copies.get(v["message_set_id"]) if v["message_set_id"] else None}
                                     for v in summary["variants"]]
                ab = summary.get("ab_test") or {}
                draft.update(ab_test_share=ab.get("share"), ab_winner_metric=ab.get("winner_metric"),
                             ab_wait_hours=ab.get("wait_hours"), ab_fallback=ab.get("fallback"))
            created = hook_call("cem_create_campaign", draft=draft, actor=actor)
            if not created:
                raise StoryError({"id": _("No success story with this number.")}, 404)
            reuse = KsReuse(story_id=story.id, campaign_id=created["id"], actor_id=actor.id,
                            org_unit_id=place.unit.id if place.unit is not None else None,
                            partner_group_id=place.group.id if place.group is not None else None)
            db.session.add(reuse)
            db.session.execute(update(KsStory).where(KsStory.id == story.id)
                               .values(reuse_count=KsStory.reuse_count + 1)
                               .execution_options(synchronize_session=False))
            db.session.flush()
    except StoryError:
        raise
    except ValueError as exc:  # cem's CampaignError / SetError
        if getattr(exc, "errors", None) is None:
            raise
        raise _refusal(exc) from exc
    db.session.refresh(story)
    audit.record("ks.story.reuse", story, summary=f"campaign #{story.campaign_id} → #{created['id']} "
                 f"({place.label})", actor=actor)
    return {"id": created["id"], "url": created.get("url"), "state": created.get("state"),
            "name": draft["name"], "reuse_id": reuse.id}


def reuses_of(story: KsStory) -> list[dict[str, Any]]:
    """The units that reused the story's campaign, with their results once closed (newest first):
    ``{"id", "campaign_id", "unit": {"kind", "code", "name"} | None, "created_at", "result"}``.
    One query (reuses joined to their units); the results come from ``ks_reuse.result``, which the
    daily job fills when the reused campaign freezes."""
    rows = db.session.execute(
        select(KsReuse.id, KsReuse.campaign_id, KsReuse.created_at, KsReuse.result,
               OrgUnit.kind, OrgUnit.code, OrgUnit.name, PartnerGroup.code, PartnerGroup.name)
        .outerjoin(OrgUnit, OrgUnit.id == KsReuse.org_unit_id)
        .outerjoin(PartnerGroup, PartnerGroup.id == KsReuse.partner_group_id)
        .where(KsReuse.story_id == story.id).order_by(KsReuse.created_at.desc(), KsReuse.id.desc())
        .limit(200)).all()
    out = []
    for rid, cid, at, result, kind, ucode, uname, gcode, gname in rows:
        unit = ({"kind": kind, "code": ucode, "name": uname} if ucode else
                {"kind": "group", "code": gcode, "name": gname} if gcode else None)
        out.append({"id": rid, "campaign_id": cid, "unit": unit, "created_at": at.isoformat(timespec="seconds") + "Z",
                    "result": result})
    return out


def reused_units(story: KsStory) -> int:
    """How many distinct units reused the story ("reused by N units")."""
    return int(db.session.scalar(select(func.count(func.distinct(
        func.coalesce(KsReuse.org_unit_id, -KsReuse.partner_group_id, 0)))).where(KsReuse.story_id == story.id)) or 0)
