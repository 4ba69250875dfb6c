"""Launching a scheduled campaign at its start time: freeze the audience, draw the arms, split the
A/B variants, queue step 1 — in the caller's transaction, all or nothing.

- **Too late** (``now > start_at + max_lateness``): ``expire`` (CE-18), nothing frozen or queued;
  the campaign needs an explicit reschedule.
- **Audience**: a *marketing* campaign's audience is frozen as a core target list
  (``create_extraction``) of its creator's scope (CE-26) on step 1's channel, so every suppression
  reason of the core applies at freeze time (consent, opt-out, complaint, address, the cool-down,
  the global control group); the list stays a draft (the messages themselves write the contact
  history when they are sent, so the holdout is never "recently contacted"). A *service* campaign
  (an order notice) needs no marketing consent: its audience is the creator's scoped segment.
- **Arms**: one core experiment per campaign (``campaign:<id>``, the campaign's seed), drawn among
  the frozen audience: holdout exactly ``holdout_share`` of the non-control (CE-15); with the
  global control group on, its members never enter the list (``for_experiment``).
- **Variants**: ``ab_test_share`` of the treatment, split evenly (±1) across the variants in a
  seeded pseudo-random order computed in SQL (two affine hashes of the customer id under different
  primes, keyed by the seed: the same seed and audience give the same split); the rest waits for
  the winner (variant NULL).
- **No eligible customer**: ``expire`` with the reason ``no_recipients`` in ``counts`` and the
  workflow comment — a campaign that reached nobody is not ``done``; it can be fixed and
  rescheduled like a late one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import BigInteger, and_, case, cast, func, insert, literal, null, select

from portal.toolkit import (
    Customer,
    ExperimentAssignment,
    ExtractionMember,
    RuleError,
    Segment,
    User,
    create_experiment,
    create_extraction,
    db,
    draw,
    for_experiment,
    get_experiment,
    segment_query,
    system_transition,
    utcnow,
)

from ..campaign_models import SCHEDULED, CemCampaign, CemCampaignRecipient
from . import CampaignError
from .steps import SOURCE, _naive, is_ab, lateness, queue_step, record_step, set_counts

log = logging.getLogger(__name__)

# The variant order: ((id · A + s₁) mod P₁ · B + s₂) mod P₂ — every product stays below 2⁶³.
_A, _B = 1_103_515_245, 1_664_525
_P1, _P2 = 2_147_483_647, 2_147_483_629


class _NoRecipients(Exception):
    """Nobody to send to: the savepoint is rolled back and the campaign expires."""


def launch(campaign: CemCampaign, *, now: datetime | None = None) -> dict[str, Any]:
    """Start a ``scheduled`` campaign whose ``start_at`` has come (see the module docstring).

    Returns ``{"state": "sending", "counts": …}``, or ``{"state": "expired", "reason": "late" |
    "no_recipients" | "audience"}``. Raises ``CampaignError`` 409 when the campaign is not
    scheduled or not due, or when a step cannot be queued (nothing is written; the caller rolls
    back). Does not commit."""
    now = _naive(now or utcnow())
    if campaign.state != SCHEDULED:
        raise CampaignError({"state": _("Only a scheduled campaign can start.")}, 409)
    if campaign.start_at is None or now < campaign.start_at:
        raise CampaignError({"start_at": _("The campaign is not due yet.")}, 409)
    if now > campaign.start_at + lateness(campaign):
        return _expire(campaign, "late", _("Not sent: the start time passed more than the allowed lateness ago."))
    if not campaign.steps:
        raise CampaignError({"steps": _("The campaign has no steps.")}, 409)
    savepoint = db.session.begin_nested()
    try:
        counts = _freeze_and_queue(campaign, now)
    except _NoRecipients:
        savepoint.rollback()
        return _expire(campaign, "no_recipients", _("Not sent: no customer in the audience may be contacted."))
    except RuleError as exc:
        savepoint.rollback()
        detail = "; ".join(str(p.message) for p in exc.problems) if getattr(exc, "problems", None) else str(exc)
        return _expire(campaign, "audience", _("Not sent: the audience cannot be read (%(detail)s).", detail=detail))
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return {"state": campaign.state, "counts": counts}


def _expire(campaign: CemCampaign, reason: str, comment: str) -> dict[str, Any]:
    set_counts(campaign, expired_reason=reason)
    system_transition(campaign, "expire", comment=str(comment))
    log.info("cem campaign %s expired: %s", campaign.id, reason)
    return {"state": campaign.state, "reason": reason}


def _audience(campaign: CemCampaign, creator: User) -> tuple[dict[str, Any], Segment | None]:
    segment = db.session.get(Segment, campaign.segment_id) if campaign.segment_id else None
    rules = segment.rules if segment is not None else campaign.rules
    if not rules:
        raise RuleError([])
    return rules, segment


def _eligible(campaign: CemCampaign, creator: User, exp: Any) -> tuple[list[int], dict[str, Any]]:
    """The frozen audience's ids (sorted) and what the freeze left out, by reason."""
    rules, segment = _audience(campaign, creator)
    channel = campaign.steps[0].channel
    if campaign.purpose == "marketing":
        with for_experiment(exp):
            ext = create_extraction(creator, rules, channel, name=f"{campaign.name} · #{campaign.id}"[:120],
                                    segment=segment)
        campaign.extraction_id = ext.id
        ids = list(db.session.scalars(select(ExtractionMember.customer_id)
                                      .where(ExtractionMember.extraction_id == ext.id)
                                      .order_by(ExtractionMember.customer_id)))
        return ids, dict(ext.excluded or {})
    seg = segment_query(creator, rules)
    ids = list(db.session.scalars(seg.select(Customer.id).order_by(Customer.id)))
    return ids, {}


def _variant_order(seed: int) -> Any:
    """SQL: a seeded pseudo-random rank key of ``experiment_assignment.customer_id``."""
    a = ExperimentAssignment
    s1, s2 = seed % _P1, (seed // _P1) % _P2
    first = (cast(a.customer_id, BigInteger) * literal(_A, BigInteger) + literal(s1, BigInteger)) % literal(_P1, BigInteger)
    return (first * literal(_B, BigInteger) + literal(s2, BigInteger)) % literal(_P2, BigInteger)


def _write_recipients(campaign: CemCampaign, exp: Any, treatment: int) -> None:
    """``cem_campaign_recipient`` from the draw in one ``INSERT … SELECT`` (no id leaves the database)."""
    a = ExperimentAssignment
    codes = sorted(v.code for v in campaign.variants)
    if codes and is_ab(campaign):
        n_test = int(float(campaign.ab_test_share) * treatment + 0.5)
        rn = func.row_number().over(partition_by=a.arm, order_by=(_variant_order(int(campaign.seed or 0)),
                                                                   a.customer_id))
        ranked = (select(a.customer_id.label("customer_id"), a.arm.label("arm"), rn.label("rn"))
                  .where(a.experiment_id == exp.id, a.merged.is_(False)).subquery())
        k = len(codes)
        pick = case(*[(((ranked.c.rn - 1) % k) == i, literal(code)) for i, code in enumerate(codes)], else_=null())
        variant = case((and_(ranked.c.arm == "treatment", ranked.c.rn <= n_test), pick), else_=null())
        source = select(literal(campaign.id), ranked.c.customer_id, ranked.c.arm, variant)
    else:
        source = select(literal(campaign.id), a.customer_id, a.arm, null()).where(
            a.experiment_id == exp.id, a.merged.is_(False))
    db.session.execute(insert(CemCampaignRecipient).from_select(
        ["campaign_id", "customer_id", "arm", "variant"], source))


def _recipient_counts(campaign: CemCampaign) -> dict[str, Any]:
    r = CemCampaignRecipient
    arms = {"treatment": 0, "holdout": 0, "control": 0}
    variants: dict[str, int] = {}
    rest = 0
    for arm, code, n in db.session.execute(select(r.arm, r.variant, func.count()).where(r.campaign_id == campaign.id)
                                           .group_by(r.arm, r.variant)):
        arms[arm] = arms.get(arm, 0) + int(n)
        if arm == "treatment" and code is not None:
            variants[code] = int(n)
        elif arm == "treatment":
            rest += int(n)
    out: dict[str, Any] = {"eligible": sum(arms.values()), **arms}
    if is_ab(campaign):
        out["variants"] = {v.code: variants.get(v.code, 0) for v in campaign.variants}
        out["rest"] = rest
    return out


def _freeze_and_queue(campaign: CemCampaign, now: datetime) -> dict[str, Any]:
    creator = db.session.get(User, campaign.created_by_id) if campaign.created_by_id else None
    if creator is None:
        raise RuleError([])
    exp = get_experiment(SOURCE, campaign.source_object) or create_experiment(
        SOURCE, campaign.source_object, seed=int(campaign.seed or 0), holdout_share=float(campaign.holdout_share or 0),
        use_global_control=bool(campaign.use_global_control) and campaign.purpose == "marketing")
    ids, excluded = _eligible(campaign, creator, exp)
    if not ids:
        raise _NoRecipients
    drawn = draw(exp, ids)
    del ids
    _write_recipients(campaign, exp, int(drawn.get("treatment", 0)))
    counts = _recipient_counts(campaign)
    counts["excluded"] = excluded
    set_counts(campaign, **counts)
    campaign.frozen_at = now
    campaign.started_at = now
    step = sorted(campaign.steps, key=lambda s: s.position)[0]
    r = CemCampaignRecipient
    treated = select(r.customer_id).where(r.campaign_id == campaign.id, r.arm == "treatment")
    if is_ab(campaign):
        from ..voice_models import CemMessageSet

        for variant in sorted(campaign.variants, key=lambda v: v.code):
            ms = db.session.get(CemMessageSet, variant.message_set_id) if variant.message_set_id else None
            stats = queue_step(campaign, step, treated.where(r.variant == variant.code), now=now,
                               due=campaign.start_at, variant=variant.code, message_set=ms)
            record_step(campaign, step, stats, now=now, variant=variant.code)
        if not counts.get("rest"):
            set_counts(campaign, ab_rest_queued_at=now.isoformat(), ab_rest_queued=0)
    else:
        stats = queue_step(campaign, step, treated, now=now, due=campaign.start_at)
        record_step(campaign, step, stats, now=now)
    system_transition(campaign, "start")
    return dict(campaign.counts or {})
