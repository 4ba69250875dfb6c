"""Campaign results: counts per step and variant, conversions and lift against the holdout, frozen at close.

The document (``GET /api/v1/campaigns/<id>/results``, the results page, the hookspec
``cem_campaign_result``) is computed from the core tables in a handful of grouped queries — never
per customer: the campaign's ``message`` rows (``source = 'cem_channels'``, ``source_object =
'campaign:<id>'``) grouped by step, channel, variant, status and reason, with the opt-outs after
the send counted in the same pass from the consent history; the tracking events per step and
variant; the variant recipients; and the core experiment's outcome aggregate, which measures the
holdout exactly like the treatment (buyers from imported sale lines in the attribution window).

At close :func:`freeze_results` stores the document in ``cem_campaign_result`` and freezes the
experiment's result; from then on the stored snapshot is what everyone reads (later imports,
merges or erasures never change a closed campaign's figures).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select

from portal.toolkit import (
    Consent,
    ExperimentError,
    Message,
    db,
    freeze,
    get_experiment,
    lift,
    utcnow,
)

from ..campaign_models import CemCampaign, CemCampaignRecipient, CemCampaignResult, CemMessageEvent
from .ab import kst_date, variant_outcomes

SOURCE = "cem_channels"
#: Statuses that are not settled yet (``pending`` in the document).
WAITING = ("queued", "claimed", "sending")
COUNT_KEYS = ("queued", "sent", "delivered", "pending", "expired", "cancelled", "opened", "clicked", "opted_out",
              "deduped")
#: Channels whose "delivered" is "sent without a later bounce" (no provider delivery report).
SENT_IS_DELIVERED = ("email", "dm", "phone")
EXPORT_HEADER = ["step", "channel", "variant", "queued", "sent", "delivered", "failed_permanent",
                 "failed_temporary", "suppressed", "expired", "cancelled", "pending", "opened", "clicked",
                 "opted_out", "deduped"]


def _blank(step: int | str, channel: str, variant: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"step": step, "channel": channel, "variant": variant}
    out.update({k: 0 for k in COUNT_KEYS})
    out["failed"] = {"permanent": 0, "temporary": 0}
    out["suppressed"] = {}
    return out


def _step_no(step: str | None) -> int | str | None:
    return int(step) if step and step.isdigit() else step


def _is_dedupe(reason: str | None) -> bool:
    return bool(reason) and "dedup" in reason


def step_counts(campaign: CemCampaign) -> list[dict[str, Any]]:
    """Per step and variant: what happened to the campaign's messages (one grouped query over
    ``message`` with the opt-outs after the send, one over the tracking events)."""
    m = Message
    opted = exists().where(Consent.customer_id == m.customer_id, Consent.channel == m.channel,
                           Consent.purpose == "marketing", Consent.granted.is_(False),
                           Consent.recorded_at > m.sent_at)
    rows = db.session.execute(
        select(m.step, m.channel, m.variant, m.status, m.status_reason, func.count(),
               func.sum(case((and_(m.status == "sent", m.sent_at.is_not(None), opted), 1), else_=0)))
        .where(m.source == SOURCE, m.source_object == campaign.source_object)
        .group_by(m.step, m.channel, m.variant, m.status, m.status_reason)).all()
    e = CemMessageEvent
    events = db.session.execute(
        select(m.step, m.channel, m.variant, e.kind, func.count())
        .join(m, m.id == e.message_id)
        .where(e.campaign_id == campaign.id, m.source == SOURCE, m.source_object == campaign.source_object)
        .group_by(m.step, m.channel, m.variant, e.kind)).all()
    cells: dict[tuple[Any, str, str | None], dict[str, Any]] = {}

    def cell(step: str | None, channel: str, variant: str | None) -> dict[str, Any]:
        key = (_step_no(step), channel, variant)
        if key not in cells:
            cells[key] = _blank(key[0], channel, variant)
        return cells[key]

    for step in campaign.steps:  # every planned step shows, even before anything was queued
        codes = [v.code for v in campaign.variants] if step.position == 1 and campaign.variants else [None]
        for code in codes:
            cell(str(step.position), step.channel, code)
    for step, channel, variant, status, reason, n, opted_out in rows:
        c = cell(step, channel, variant)
        n = int(n)
        c["queued"] += n
        c["opted_out"] += int(opted_out or 0)
        if status == "sent":
            c["sent"] += n
        elif status == "failed_permanent":
            c["failed"]["permanent"] += n
        elif status == "failed_temporary":
            c["failed"]["temporary"] += n
        elif status == "suppressed_at_send" and _is_dedupe(reason):
            c["deduped"] += n
        elif status == "suppressed_at_send":
            key = reason or "unknown"
            c["suppressed"][key] = c["suppressed"].get(key, 0) + n
        elif status == "cancelled" and _is_dedupe(reason):
            c["deduped"] += n
        elif status in ("expired", "cancelled"):
            c[status] += n
        else:
            c["pending"] += n
    reports: dict[tuple[Any, str, str | None], dict[str, int]] = defaultdict(dict)
    for step, channel, variant, kind, n in events:
        c = cell(step, channel, variant)
        reports[(c["step"], channel, variant)][kind] = int(n)
        if kind == "open":
            c["opened"] = int(n)
        elif kind == "click":
            c["clicked"] = int(n)
    planned = {str(st.position): st.channel for st in campaign.steps}
    for position, counted in ((campaign.counts or {}).get("steps") or {}).items():
        # customers left out because another one had the same address: never queued, so only the
        # sending pipeline's counts know them (per variant on an A/B step)
        channel = planned.get(str(position))
        if channel is None or not isinstance(counted, dict):
            continue
        per_variant = counted.get("variants") or {}
        if per_variant:
            for code, vc in per_variant.items():
                cell(str(position), channel, code)["deduped"] += int((vc or {}).get("deduped") or 0)
        elif counted.get("deduped"):
            cell(str(position), channel, None)["deduped"] += int(counted["deduped"])
    for key, c in cells.items():
        got = reports.get(key, {})
        if c["channel"] in SENT_IS_DELIVERED:
            c["delivered"] = max(c["sent"] - got.get("undelivered", 0), 0)
        else:
            c["delivered"] = got.get("delivered", 0)
    return sorted(cells.values(), key=lambda c: (str(c["step"]).zfill(6), c["variant"] or ""))


def attribution_window(campaign: CemCampaign) -> tuple[date, date] | None:
    """Korean days ``[start, start + attribution_days − 1]`` from the launch; None before it."""
    if campaign.started_at is None:
        return None
    start = kst_date(campaign.started_at)
    return start, start + timedelta(days=max(int(campaign.attribution_days or 1), 1) - 1)


def _arm(arm: dict[str, Any] | None) -> dict[str, Any]:
    arm = arm or {}
    return {"n": int(arm.get("n") or 0), "conversions": int(arm.get("converters") or 0), "rate": arm.get("rate"),
            "revenue": arm.get("revenue") or 0}


def _measure(campaign: CemCampaign, *, frozen: bool) -> dict[str, Any]:
    """Arms, lift and verdict from the core experiment (frozen with it when ``frozen``)."""
    window = attribution_window(campaign)
    out: dict[str, Any] = {"arms": {"treatment": _arm(None), "holdout": _arm(None)}, "lift": None, "ci_low": None,
                           "ci_high": None, "p_value": None, "relative_lift": None, "verdict": "not_started",
                           "window": None}
    if window is None:
        return out
    out["window"] = {"start": window[0].isoformat(), "end": window[1].isoformat()}
    exp = get_experiment(SOURCE, campaign.source_object)
    if exp is None or exp.drawn_at is None:
        out["verdict"] = "no_experiment"
        return out
    try:
        result = (freeze if frozen else lift)(exp, start=window[0], end=window[1])
    except ExperimentError:
        out["verdict"] = "no_experiment"
        return out
    data = result.as_dict()
    cmp = data.get("comparison") or {}
    ci = cmp.get("rate_ci") or [None, None]
    out["arms"] = {"treatment": _arm(data["arms"].get("treatment")), "holdout": _arm(data["arms"].get("holdout"))}
    if "control" in data["arms"]:
        out["arms"]["control"] = _arm(data["arms"]["control"])
    out.update(lift=cmp.get("rate_diff"), ci_low=ci[0], ci_high=ci[1], p_value=cmp.get("rate_p"),
               relative_lift=cmp.get("relative_lift"), verdict=data.get("verdict") or "not_significant",
               experiment_id=exp.id)
    return out


def variant_summary(campaign: CemCampaign, now: datetime) -> dict[str, Any]:
    """Per variant n / conversions (attribution window) / opens / clicks, and the A/B decision."""
    if not campaign.variants:
        return {}
    window = attribution_window(campaign)
    codes = {v.code: {"n": 0, "conversions": 0, "opens": 0, "clicks": 0, "is_default": v.is_default}
             for v in campaign.variants}
    if window is not None and campaign.started_at is not None:
        end = campaign.started_at + timedelta(days=(window[1] - window[0]).days)
        for metric, key in (("conversion", "conversions"), ("open", "opens"), ("click", "clicks")):
            stop = end if metric == "conversion" else max(now, campaign.started_at)
            for code, (n, s) in variant_outcomes(campaign, metric, start=campaign.started_at, end=stop).items():
                codes.setdefault(code, {"n": 0, "conversions": 0, "opens": 0, "clicks": 0, "is_default": False})
                codes[code]["n"], codes[code][key] = n, s
    for c in codes.values():
        c["rate"] = c["conversions"] / c["n"] if c["n"] else None
    return {"items": codes, "metric": campaign.ab_winner_metric or "conversion", "winner": campaign.ab_winner,
            "decided_at": campaign.ab_decided_at.isoformat() if campaign.ab_decided_at else None,
            "decision": campaign.ab_decision}


def _document(campaign: CemCampaign, now: datetime, *, frozen: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"campaign_id": campaign.id, "state": campaign.state, "steps": step_counts(campaign)}
    doc.update(_measure(campaign, frozen=frozen))
    recipients = dict(db.session.execute(
        select(CemCampaignRecipient.arm, func.count()).where(CemCampaignRecipient.campaign_id == campaign.id)
        .group_by(CemCampaignRecipient.arm)).all())
    doc["recipients"] = {arm: int(n) for arm, n in recipients.items()}
    doc["variants"] = variant_summary(campaign, now)
    doc["attribution_days"] = campaign.attribution_days
    doc["frozen"] = frozen
    doc["computed_at"] = now.isoformat(timespec="seconds") + "Z"
    return doc


def stored_results(campaign: CemCampaign) -> dict[str, Any] | None:
    row = db.session.get(CemCampaignResult, campaign.id)
    return dict(row.snapshot) if row is not None else None


def campaign_results(campaign: CemCampaign, *, now: datetime | None = None) -> dict[str, Any]:
    """The results document; the frozen snapshot once the campaign closed (see module doc)."""
    stored = stored_results(campaign)
    if stored is not None:
        return stored
    return _document(campaign, now or utcnow(), frozen=False)


def freeze_results(campaign: CemCampaign, *, now: datetime | None = None) -> dict[str, Any]:
    """At close: compute the document, freeze the experiment's result with it and store the snapshot
    in ``cem_campaign_result``. Idempotent (a stored snapshot is returned unchanged). Writes in the
    caller's transaction (the caller commits)."""
    stored = stored_results(campaign)
    if stored is not None:
        return stored
    doc = _document(campaign, now or utcnow(), frozen=True)
    db.session.add(CemCampaignResult(campaign_id=campaign.id, snapshot=doc, frozen_at=now or utcnow()))
    db.session.flush()
    return doc


#: Days after the attribution window's last (KST) day before the results freeze: that day's daily
#: sales reports arrive the next morning, and a late branch gets one more day.
FREEZE_LAG_DAYS = 2


def freeze_at(campaign: CemCampaign) -> datetime | None:
    """When a done campaign's results freeze (UTC, naive): 00:00 KST ``FREEZE_LAG_DAYS`` days after
    the window's last day; None before the launch."""
    window = attribution_window(campaign)
    if window is None:
        return None
    day = window[1] + timedelta(days=FREEZE_LAG_DAYS)
    return datetime.combine(day, datetime.min.time()) - timedelta(hours=9)


def freeze_due(campaign: CemCampaign, now: datetime) -> bool:
    """Freeze a done campaign's results once :func:`freeze_at` has passed (the tick calls it every
    minute; idempotent). Returns whether it froze them now."""
    at = freeze_at(campaign)
    if campaign.state != "done" or at is None or now < at or stored_results(campaign) is not None:
        return False
    freeze_results(campaign, now=now)
    return True


def result_for_ref(ref: int | str) -> dict[str, Any] | None:
    """The hookspec ``cem_campaign_result``: by id (int or digits) or by ``origin``; None when unknown."""
    campaign: CemCampaign | None = None
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and len(ref) < 19):
        ident = int(ref)
        campaign = db.session.get(CemCampaign, ident) if 0 < ident < 2**31 else None
    elif isinstance(ref, str) and 0 < len(ref) <= 120:
        campaign = db.session.execute(select(CemCampaign).where(CemCampaign.origin == ref)
                                      .order_by(CemCampaign.id.desc()).limit(1)).scalar_one_or_none()
    return campaign_results(campaign) if campaign is not None else None


def export_rows(campaign: CemCampaign) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the results export (one row per step and variant, aggregates only; the
    view hands them to ``logged_export``)."""
    doc = campaign_results(campaign)
    rows = []
    for c in doc["steps"]:
        rows.append([c["step"], c["channel"], c["variant"] or "", c["queued"], c["sent"], c["delivered"],
                     c["failed"]["permanent"], c["failed"]["temporary"], sum(c["suppressed"].values()),
                     c["expired"], c["cancelled"], c.get("pending", 0), c["opened"], c["clicked"], c["opted_out"],
                     c["deduped"]])
    return list(EXPORT_HEADER), rows
