"""Funnel plots: exact binomial limits around the company rate (95 % "alert", 99.8 % "alarm").

A league table of rates ranks small branches at both ends by chance alone; a funnel plot
(Spiegelhalter 2005) draws each branch at x = its denominator, y = its rate, with control limits
that narrow as n grows, and flags only the branches outside them. Limits are the exact binomial
quantiles ``binom.ppf(q, n, p0) / n`` (q = 0.025/0.975 for 95 %, 0.001/0.999 for 99.8 %), compared
as *counts* (``x < ppf``) so a rate exactly on a limit is inside it (metabase#10899 "fires at equal"
must not happen). Only the bad side of a metric flags (``better`` = "high": too low a rate).

Over-dispersion: when far more than 5 % of branches fall outside the 95 % limits, the branches
really differ more than binomial chance allows (different catchments), and limits could be widened
by a quasi-binomial φ (statsmodels GLM ``scale="X2"``). :func:`funnel` reports φ (Pearson χ² / df)
in ``dispersion`` for the page to mention; limits stay exact-binomial so the alarms keep a fixed
meaning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from scipy.stats import binom
from sqlalchemy import Select, select

from portal.toolkit import OrgUnit, db

from ..models import ALARM, ALERT, INSUFFICIENT, OK, MonKpi

Q95 = (0.025, 0.975)
Q998 = (0.001, 0.999)
#: Points at which the limit curves are sampled for drawing (log-spaced n, plus every branch's n).
CURVE_POINTS = 60


@dataclass(frozen=True)
class Limits:
    n: int
    lo95: float
    hi95: float
    lo998: float
    hi998: float


def _counts(p0: float, n: Any) -> tuple[Any, Any, Any, Any]:
    """The four quantile counts (lo95, hi95, lo998, hi998) for scalar or array ``n``."""
    return (binom.ppf(Q95[0], n, p0), binom.ppf(Q95[1], n, p0), binom.ppf(Q998[0], n, p0), binom.ppf(Q998[1], n, p0))


def _valid(p0: float | None) -> bool:
    return p0 is not None and not math.isnan(p0) and 0.0 <= p0 <= 1.0


def limits(p0: float, n: int) -> Limits:
    """Exact binomial limits for ``n`` trials around ``p0`` (``binom.ppf(q, n, p0) / n``) as rates.
    ``n`` ≤ 0 has no limits: every field is NaN-free 0..1 (lo 0, hi 1)."""
    if n <= 0 or not _valid(p0):
        return Limits(n=max(n, 0), lo95=0.0, hi95=1.0, lo998=0.0, hi998=1.0)
    lo95, hi95, lo998, hi998 = _counts(p0, n)
    return Limits(n=n, lo95=float(lo95) / n, hi95=float(hi95) / n, lo998=float(lo998) / n, hi998=float(hi998) / n)


def classify(x: float, n: int, p0: float | None, better: str | None = "high") -> str:
    """``ok`` / ``alert`` (outside 95 %) / ``alarm`` (outside 99.8 %) on the bad side only, strictly
    outside the limit (on it is ``ok``). ``better`` "high": a low rate is bad; "low": a high one;
    None: both sides. No denominator (``n`` ≤ 0) or no company rate → ``insufficient``."""
    if n is None or n <= 0 or not _valid(p0):
        return INSUFFICIENT
    lo95, hi95, lo998, hi998 = (float(c) for c in _counts(p0, n))
    low_bad, high_bad = better in ("high", None), better in ("low", None)
    if (low_bad and x < lo998) or (high_bad and x > hi998):
        return ALARM
    if (low_bad and x < lo95) or (high_bad and x > hi95):
        return ALERT
    return OK


def classify_many(xs: list[float], ns: list[int], p0: float | None,
                  better: str | None = "high") -> tuple[list[str], list[Limits | None]]:
    """:func:`classify` and :func:`limits` for many branches of one metric: one ``ppf`` call per
    limit for all of them (the nightly evaluation of 1,000 branches)."""
    if not xs:
        return [], []
    if not _valid(p0):
        return [INSUFFICIENT] * len(xs), [None] * len(xs)
    n_arr = np.asarray(ns, dtype=float)
    safe = np.where(n_arr > 0, n_arr, 1.0)
    lo95, hi95, lo998, hi998 = (np.asarray(c, dtype=float) for c in _counts(p0, safe))
    low_bad, high_bad = better in ("high", None), better in ("low", None)
    states: list[str] = []
    lims: list[Limits | None] = []
    for i, (x, n) in enumerate(zip(xs, ns, strict=True)):
        if n is None or n <= 0:
            states.append(INSUFFICIENT)
            lims.append(None)
            continue
        if (low_bad and x < lo998[i]) or (high_bad and x > hi998[i]):
            states.append(ALARM)
        elif (low_bad and x < lo95[i]) or (high_bad and x > hi95[i]):
            states.append(ALERT)
        else:
            states.append(OK)
        lims.append(Limits(n=n, lo95=lo95[i] / n, hi95=hi95[i] / n, lo998=lo998[i] / n, hi998=hi998[i] / n))
    return states, lims


def curves(p0: float, n_max: int, extra_n: list[int] | None = None) -> list[dict[str, float]]:
    """The limit lines sampled for drawing: ``[{"n", "lo95", "hi95", "lo998", "hi998"}]`` by n,
    from 1 to ``n_max`` (log-spaced, plus ``extra_n``), vectorised (one ``ppf`` call per limit)."""
    if n_max <= 0 or not _valid(p0):
        return []
    grid = set(np.unique(np.round(np.geomspace(1, n_max, CURVE_POINTS))).astype(int).tolist())
    grid.update(n for n in (extra_n or []) if 0 < n <= n_max)
    ns = np.array(sorted(grid), dtype=float)
    lo95, hi95, lo998, hi998 = _counts(p0, ns)
    return [{"n": int(n), "lo95": float(a / n), "hi95": float(b / n), "lo998": float(c / n), "hi998": float(d / n)}
            for n, a, b, c, d in zip(ns, lo95, hi95, lo998, hi998, strict=True)]


def funnel_metrics() -> dict[str, dict[str, Any]]:
    """The catalogue's rate metrics judged on a funnel plot (``funnel: True``)."""
    from ..kpis.service import METRICS

    return {k: v for k, v in METRICS.items() if v.get("funnel")}


def _active_branches() -> Select:
    return select(OrgUnit.id).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True))


def company_rates(metrics: list[str], month: date) -> dict[str, float | None]:
    """Σ numerator / Σ denominator over all active branches per metric, one query: the funnel's
    centre line (the company, whatever the caller's scope — a region is judged against it). The
    same definition as ``kpis.service.company_rate``, for several metrics at once."""
    from sqlalchemy import func

    rows = db.session.execute(
        select(MonKpi.metric, func.sum(MonKpi.numerator), func.sum(MonKpi.denominator))
        .where(MonKpi.month == month, MonKpi.metric.in_(metrics), MonKpi.branch_id.in_(_active_branches()))
        .group_by(MonKpi.metric)).all()
    ours = {m: (float(num or 0) / float(den) if den else None) for m, num, den in rows}
    return {metric: ours.get(metric) for metric in metrics}


def dispersion(points: list[dict[str, Any]], p0: float | None) -> float | None:
    """Pearson χ² / (k − 1) of the branches around ``p0`` — the quasi-binomial φ (≈ 1 when the
    spread is binomial chance; well above 1 means the limits are too narrow for this metric)."""
    usable = [p for p in points if p["x"] > 0]
    if not _valid(p0) or p0 in (0.0, 1.0) or len(usable) < 2:
        return None
    chi2 = sum((p["numerator"] - p["x"] * p0) ** 2 / (p["x"] * p0 * (1 - p0)) for p in usable)
    return chi2 / (len(usable) - 1)


def funnel(metric: str, month: date, branch_ids: list[int] | Select) -> dict[str, Any]:
    """One funnel plot's data for ``branch_ids`` (already cut to the viewer's scope):

    ``{"metric", "month", "better", "company_rate" (None without data), "points": [{"branch_id",
    "x" (denominator), "y" (rate), "numerator", "state", "limits": {lo95, hi95, lo998, hi998}}]
    sorted by x, "curves": [{"n", "lo95", "hi95", "lo998", "hi998"}] by n (empty without a company
    rate), "x_max", "counts": {state: n}, "dispersion": φ or None}``. Branches without a KPI row or
    with a zero denominator are left out (nothing to draw). Two queries whatever the number of
    branches. Unknown metric → ``KeyError``."""
    spec = funnel_metrics()[metric]
    p0 = company_rates([metric], month)[metric]
    rows = db.session.execute(
        select(MonKpi.branch_id, MonKpi.numerator, MonKpi.denominator)
        .where(MonKpi.month == month, MonKpi.metric == metric, MonKpi.branch_id.in_(branch_ids),
               MonKpi.denominator > 0).order_by(MonKpi.denominator, MonKpi.branch_id)).all()
    points: list[dict[str, Any]] = []
    counts = {OK: 0, ALERT: 0, ALARM: 0, INSUFFICIENT: 0}
    xs, ns = [float(num or 0) for _, num, _ in rows], [int(den) for _, _, den in rows]
    states, lims = classify_many(xs, ns, p0, spec.get("better"))
    for (branch_id, _, _), x, n, state, lim in zip(rows, xs, ns, states, lims, strict=True):
        counts[state] += 1
        shown = None if lim is None else {"lo95": lim.lo95, "hi95": lim.hi95, "lo998": lim.lo998, "hi998": lim.hi998}
        points.append({"branch_id": branch_id, "x": n, "y": x / n, "numerator": x, "state": state, "limits": shown})
    x_max = max((p["x"] for p in points), default=0)
    return {"metric": metric, "month": month, "better": spec.get("better"), "company_rate": p0, "points": points,
            "curves": curves(p0, x_max) if _valid(p0) else [], "x_max": x_max,
            "counts": counts, "dispersion": dispersion(points, p0)}
