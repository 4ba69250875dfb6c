"""A/B variants: their outcomes, the winner decision and a person's choice.

The test share of the treatment arm gets the variants at launch (``cem_campaign_recipient.variant``);
after ``ab_wait_hours`` the rest get the winner. A winner is declared automatically only when it
beats **every** other variant significantly — the same statistics as the core experiments (Newcombe
interval of the rate difference and the score test, ``compare_arms``) — and every variant had at
least ``min_n`` (100) recipients. Otherwise the campaign's ``ab_fallback`` decides: ``default``
sends the default variant, ``manual`` waits for a person (:func:`choose_winner`). This is where
mautic#1752 (no sample-size rule) and odoo's "best so far" winner go wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, select

from portal.toolkit import ArmStats, SaleLine, audit, compare_arms, db, has_permission, utcnow

from ..campaign_models import (
    VARIANT_CODES,
    WINNER_METRICS,
    CemCampaign,
    CemCampaignRecipient,
    CemMessageEvent,
)
from . import CampaignError

KST = ZoneInfo("Asia/Seoul")
MIN_N = 100
ALPHA = 0.05
REASONS = ("significant", "not_significant", "too_small", "no_successes", "no_variants")


@dataclass
class Decision:
    """``winner`` (a variant code) or None, ``reason`` (one of :data:`REASONS`) and the leader's
    comparison against each other variant (JSON-safe dicts)."""

    winner: str | None
    reason: str
    comparisons: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"winner": self.winner, "reason": self.reason, "comparisons": self.comparisons}


def kst_date(at: datetime) -> date:
    """The Korean calendar day of a naive-UTC timestamp (sale lines are dated in Korea)."""
    return at.replace(tzinfo=ZoneInfo("UTC")).astimezone(KST).date()


def _rate(n: int, s: int) -> float | None:
    return s / n if n else None


def decide(outcomes: Mapping[str, tuple[int, int]], *, default: str | None, alpha: float = ALPHA,
           min_n: int = MIN_N) -> Decision:
    """The winner among ``{code: (n, successes)}``: the variant with the best rate, if it beats every
    other one significantly (p < alpha and the interval above 0) and every variant has ``min_n``
    recipients. Pure. ``default`` is only reported (the fallback is the caller's business)."""
    codes = sorted(outcomes)
    if len(codes) < 2:
        return Decision(None, "no_variants")
    leader = max(codes, key=lambda c: (_rate(*outcomes[c]) or 0.0, c == default, -codes.index(c)))
    n_l, s_l = outcomes[leader]
    comparisons: list[dict[str, Any]] = []
    verdicts: list[str] = []
    for other in codes:
        if other == leader:
            continue
        n_o, s_o = outcomes[other]
        cmp = compare_arms(ArmStats(n_l, s_l, 0.0), ArmStats(n_o, s_o, 0.0), alpha=alpha, min_arm=min_n)
        ci = cmp.rate_ci or [None, None]
        comparisons.append({"variant": leader, "against": other, "n": n_l, "successes": s_l, "rate": _rate(n_l, s_l),
                            "against_n": n_o, "against_successes": s_o, "against_rate": _rate(n_o, s_o),
                            "diff": cmp.rate_diff, "ci_low": ci[0], "ci_high": ci[1], "p_value": cmp.rate_p,
                            "verdict": cmp.verdict})
        verdicts.append("significant" if cmp.verdict == "significant" and cmp.direction == "up" else cmp.verdict)
    if any(outcomes[c][0] < min_n for c in codes):
        return Decision(None, "too_small", comparisons)
    if all(v == "significant" for v in verdicts):
        return Decision(leader, "significant", comparisons)
    if all(outcomes[c][1] == 0 for c in codes):
        return Decision(None, "no_successes", comparisons)
    return Decision(None, "not_significant", comparisons)


def variant_outcomes(campaign: CemCampaign, metric: str, *, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """``{code: (n, successes)}`` over the variant recipients of the treatment arm, in one grouped
    query: ``conversion`` = bought (a sale line dated in Korea from ``start``'s day to ``end``'s day),
    ``open`` / ``click`` = an event of that kind recorded in ``[start, end]``. Every variant of the
    campaign is listed (``(0, 0)`` when it has no recipient)."""
    if metric not in WINNER_METRICS:
        raise CampaignError({"ab_winner_metric": _("Unknown winner metric.")})
    r = CemCampaignRecipient
    if metric == "conversion":
        hit = exists().where(SaleLine.customer_id == r.customer_id, SaleLine.sold_at >= kst_date(start),
                             SaleLine.sold_at <= kst_date(end))
    else:
        e = CemMessageEvent
        hit = exists().where(e.campaign_id == campaign.id, e.customer_id == r.customer_id, e.kind == metric,
                             e.at >= start, e.at <= end)
    rows = db.session.execute(
        select(r.variant, func.count(), func.sum(case((hit, 1), else_=0)))
        .where(and_(r.campaign_id == campaign.id, r.arm == "treatment", r.variant.is_not(None)))
        .group_by(r.variant)).all()
    out = {v.code: (0, 0) for v in campaign.variants}
    for code, n, s in rows:
        out[code] = (int(n), int(s or 0))
    return out


def _default_code(campaign: CemCampaign) -> str | None:
    return next((v.code for v in campaign.variants if v.is_default), None)


def decide_winner(campaign: CemCampaign, now: datetime | None = None) -> str | None:
    """Decide the A/B test once its wait is over; the variant the rest of the audience gets, or None
    (no test, not started, still waiting, or ``manual`` fallback waiting for a person).

    Window: ``started_at`` to ``started_at + ab_wait_hours``. Stores ``ab_winner``,
    ``ab_decided_at`` and ``ab_decision`` (metric, window, outcomes, reason, comparisons, whether
    the default was a fallback). Idempotent: a decided campaign answers its stored winner, and a
    ``manual`` campaign whose test showed no winner is not recomputed. Writes in the caller's
    transaction (the caller commits)."""
    now = now or utcnow()
    if campaign.ab_winner:
        return campaign.ab_winner
    if not campaign.variants or campaign.started_at is None:
        return None
    if (campaign.ab_decision or {}).get("pending") == "manual":
        return None
    deadline = campaign.started_at + timedelta(hours=campaign.ab_wait_hours or 0)
    if now < deadline:
        return None
    metric = campaign.ab_winner_metric or "conversion"
    outcomes = variant_outcomes(campaign, metric, start=campaign.started_at, end=deadline)
    default = _default_code(campaign)
    decision = decide(outcomes, default=default)
    record: dict[str, Any] = {
        "metric": metric, "window": {"start": campaign.started_at.isoformat(), "end": deadline.isoformat()},
        "outcomes": {k: {"n": n, "successes": s} for k, (n, s) in sorted(outcomes.items())},
        **decision.as_dict(), "fallback": None, "decided_by": "system", "min_n": MIN_N, "alpha": ALPHA}
    winner = decision.winner
    if winner is None and campaign.ab_fallback == "default" and default:
        winner, record["fallback"] = default, "default"
    if winner is None:
        record["pending"] = "manual"
        campaign.ab_decision = record
        return None
    campaign.ab_decision = record
    campaign.ab_winner, campaign.ab_decided_at = winner, now
    return winner


def choose_winner(actor: Any, campaign: CemCampaign, code: str) -> str:
    """A person picks the variant the rest gets (``cem.approve`` holders or the campaign's author).

    403 without the right; 422 for a code that is not one of the campaign's variants; 409 when the
    campaign has no test, has not started or is already decided. Audited; commits."""
    if not (has_permission(actor, "cem.approve", campaign) or
            (campaign.created_by_id is not None and campaign.created_by_id == getattr(actor, "id", None))):
        raise CampaignError({"variant": _("Only an approver or the campaign's author can choose the winner.")}, 403)
    codes = [v.code for v in campaign.variants]
    if not codes:
        raise CampaignError({"variant": _("This campaign has no A/B test.")}, 409)
    if not isinstance(code, str) or code.strip().upper() not in codes or code.strip().upper() not in VARIANT_CODES:
        raise CampaignError({"variant": _("Choose one of the variants: %(codes)s.", codes=", ".join(codes))})
    if campaign.ab_winner:
        raise CampaignError({"variant": _("The winner has already been decided: %(code)s.", code=campaign.ab_winner)},
                            409)
    if campaign.started_at is None:
        raise CampaignError({"variant": _("The campaign has not started yet.")}, 409)
    code = code.strip().upper()
    now = utcnow()
    record = dict(campaign.ab_decision or {})
    record.pop("pending", None)
    record.update(winner=code, decided_by="person", decided_by_id=getattr(actor, "id", None), fallback=None,
                  chosen_at=now.isoformat())
    campaign.ab_decision, campaign.ab_winner, campaign.ab_decided_at = record, code, now
    audit.record("cem.ab_winner", campaign, summary=f"{campaign.name}: {code}")
    db.session.commit()
    return code
