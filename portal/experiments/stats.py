"""The statistics of a result, as pure functions over counts and sums (no database, no Flask).

Every estimate comes from statsmodels or scipy with the method pinned (their defaults are marked
"experimental, might change"):

- purchase rate: difference of proportions with the **Newcombe** (hybrid Wilson score) 95 %
  interval, ``confint_proportions_2indep(method="newcomb")``, and the **score test**,
  ``test_proportions_2indep(method="score")``; relative lift as the ratio of rates with the
  ``log-adjusted`` interval;
- revenue per customer: **Welch's** unequal-variance t interval and test from each arm's n, sum and
  sum of squares (``scipy.stats.ttest_ind_from_stats(equal_var=False)``; the interval with the
  Welch–Satterthwaite degrees of freedom — the same numbers as ``ttest_ind(..., equal_var=False)``
  on the raw values);
- group-level difference-in-differences: OLS ``y ~ treated + post + treated:post`` with standard
  errors clustered by customer (``cov_type="cluster"``);
- power: minimum detectable effect with ``NormalIndPower`` on **Cohen's h**, turned back into a
  difference of rates at the baseline.

Nothing returned is NaN or ∞: a figure that cannot be computed (no conversions in either arm, an arm
with fewer than two customers, a zero baseline for a ratio) is ``None`` and the verdict says why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: Below this many customers in an arm the verdict is ``too_small``.
MIN_ARM_SIZE = 30
VERDICTS = ("significant", "not_significant", "no_conversions_yet", "too_small")


def finite(value: Any, digits: int | None = None) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite (the one guard everything uses)."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(out):
        return None
    return round(out, digits) if digits is not None else out


def _interval(lo: Any, hi: Any) -> list[float] | None:
    lo, hi = finite(lo), finite(hi)
    return None if lo is None or hi is None else [lo, hi]


@dataclass
class ArmStats:
    """One arm's outcome: ``n`` customers, ``converters`` who bought, ``revenue`` (KRW, sum) and the
    sum of squared per-customer revenue (for the variance)."""

    n: int
    converters: int
    revenue: float
    revenue_sq: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.converters / self.n if self.n else None

    @property
    def revenue_per_customer(self) -> float | None:
        return self.revenue / self.n if self.n else None

    @property
    def revenue_var(self) -> float | None:
        """Sample variance (n − 1) of per-customer revenue; None with fewer than two customers."""
        if self.n < 2:
            return None
        var = (self.revenue_sq - self.revenue * self.revenue / self.n) / (self.n - 1)
        return max(var, 0.0)  # rounding can leave a tiny negative

    def as_dict(self) -> dict[str, Any]:
        return {"n": int(self.n), "converters": int(self.converters), "rate": finite(self.rate),
                "revenue": finite(self.revenue), "revenue_per_customer": finite(self.revenue_per_customer)}


@dataclass
class Comparison:
    """Treatment against one comparison arm; every float finite or None."""

    rate_diff: float | None = None
    rate_ci: list[float] | None = None
    rate_p: float | None = None
    relative_lift: float | None = None
    relative_ci: list[float] | None = None
    revenue_diff: float | None = None
    revenue_ci: list[float] | None = None
    revenue_p: float | None = None
    verdict: str = "too_small"
    direction: str | None = None  # "up" / "down" when significant
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def proportion_lift(t: ArmStats, c: ArmStats, alpha: float = 0.05) -> dict[str, Any]:
    """Rate difference (treatment − comparison), Newcombe interval, score-test p, relative lift."""
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    out: dict[str, Any] = {"rate_diff": None, "rate_ci": None, "rate_p": None, "relative_lift": None,
                           "relative_ci": None}
    if t.n <= 0 or c.n <= 0:
        return out
    out["rate_diff"] = finite(t.converters / t.n - c.converters / c.n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 inside statsmodels: guarded below
        lo, hi = confint_proportions_2indep(t.converters, t.n, c.converters, c.n, method="newcomb", alpha=alpha)
        out["rate_ci"] = _interval(lo, hi)
        if t.converters + c.converters > 0 and (t.converters < t.n or c.converters < c.n):
            out["rate_p"] = finite(test_proportions_2indep(t.converters, t.n, c.converters, c.n,
                                                           method="score").pvalue)
        elif t.converters * c.n == c.converters * t.n:
            out["rate_p"] = 1.0  # both 0 % or both 100 %: no evidence of any difference
        if c.converters > 0 and t.converters > 0:
            out["relative_lift"] = finite((t.converters / t.n) / (c.converters / c.n) - 1)
            rlo, rhi = confint_proportions_2indep(t.converters, t.n, c.converters, c.n, compare="ratio",
                                                  method="log-adjusted", alpha=alpha)
            ci = _interval(rlo, rhi)
            out["relative_ci"] = [ci[0] - 1, ci[1] - 1] if ci else None
    return out


def welch(t: ArmStats, c: ArmStats, alpha: float = 0.05) -> dict[str, Any]:
    """Revenue per customer difference with Welch's t interval and p (None when undefined)."""
    from scipy import stats as st

    out: dict[str, Any] = {"revenue_diff": None, "revenue_ci": None, "revenue_p": None}
    if t.n <= 0 or c.n <= 0:
        return out
    diff = t.revenue / t.n - c.revenue / c.n
    out["revenue_diff"] = finite(diff)
    vt, vc = t.revenue_var, c.revenue_var
    if vt is None or vc is None:
        return out
    se2 = vt / t.n + vc / c.n
    if se2 <= 0:  # no spread in either arm (e.g. nobody bought): nothing to test
        out["revenue_ci"] = [out["revenue_diff"], out["revenue_diff"]] if out["revenue_diff"] is not None else None
        out["revenue_p"] = 1.0 if diff == 0 else None
        return out
    df = se2 ** 2 / ((vt / t.n) ** 2 / (t.n - 1) + (vc / c.n) ** 2 / (c.n - 1))
    half = st.t.ppf(1 - alpha / 2, df) * math.sqrt(se2)
    out["revenue_ci"] = _interval(diff - half, diff + half)
    res = st.ttest_ind_from_stats(t.revenue / t.n, math.sqrt(vt), t.n, c.revenue / c.n, math.sqrt(vc), c.n,
                                  equal_var=False)
    out["revenue_p"] = finite(res.pvalue)
    return out


def compare(t: ArmStats, c: ArmStats, alpha: float = 0.05, min_arm: int = MIN_ARM_SIZE) -> Comparison:
    """Treatment against one comparison arm, with the plain verdict.

    ``too_small`` when either arm has fewer than ``min_arm`` customers; ``no_conversions_yet`` when
    nobody in either arm bought; ``significant`` when the score test's p < ``alpha`` **and** the
    Newcombe interval excludes 0 (the two can disagree right at the edge; then it is not called
    significant); else ``not_significant``.
    """
    result = Comparison(alpha=alpha, **proportion_lift(t, c, alpha), **welch(t, c, alpha))
    if t.n < min_arm or c.n < min_arm:
        result.verdict = "too_small"
        result.notes.append(f"fewer than {min_arm} customers in an arm")
    elif t.converters + c.converters == 0:
        result.verdict = "no_conversions_yet"
    else:
        ci, p = result.rate_ci, result.rate_p
        excludes_zero = ci is not None and (ci[0] > 0 or ci[1] < 0)
        if p is not None and p < alpha and excludes_zero:
            result.verdict = "significant"
            result.direction = "up" if (result.rate_diff or 0) > 0 else "down"
        else:
            result.verdict = "not_significant"
    return result


# -- power ------------------------------------------------------------------------------------------


def _check_rate(name: str, value: float) -> float:
    v = finite(value)
    if v is None or not 0 < v < 1:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive)")
    return v


def power_check(n_treatment: int, n_control: int, baseline_rate: float, alpha: float = 0.05,
                power: float = 0.8) -> float | None:
    """Minimum detectable effect (absolute rate difference, 0.043 = +4.3 pp) for a two-sided test.

    Cohen's h from ``NormalIndPower().solve_power`` for ``nobs1 = n_treatment`` and ``ratio =
    n_control / n_treatment``, turned back into a rate above ``baseline_rate``:
    ``p1 = sin(asin(√p0) + h/2)²``. None when no effect below 100 % can be detected at this size.
    """
    from statsmodels.stats.power import NormalIndPower

    p0 = _check_rate("baseline_rate", baseline_rate)
    _check_rate("alpha", alpha)
    _check_rate("power", power)
    if int(n_treatment) < 2 or int(n_control) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            h = NormalIndPower().solve_power(effect_size=None, nobs1=int(n_treatment),
                                             ratio=int(n_control) / int(n_treatment), alpha=alpha, power=power)
        except Exception:  # noqa: BLE001 — the root finder fails when nothing is detectable
            return None
    h = finite(h)
    if h is None:
        return None
    phi = math.asin(math.sqrt(p0)) + h / 2
    if phi >= math.pi / 2:
        return None
    return finite(math.sin(phi) ** 2 - p0)


def required_sizes(baseline_rate: float, mde: float, holdout_share: float, alpha: float = 0.05,
                   power: float = 0.8) -> tuple[int, int]:
    """Customers needed (treatment, holdout) to detect ``+mde`` over ``baseline_rate`` with the
    holdout at ``holdout_share`` of the audience (Cohen's h, ``NormalIndPower``; rounded up)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    p0 = _check_rate("baseline_rate", baseline_rate)
    p1 = _check_rate("baseline_rate + mde", p0 + float(mde))
    share = finite(holdout_share)
    if share is None or not 0 < share < 1:
        raise ValueError("holdout_share must be between 0 and 1 (exclusive)")
    h = abs(proportion_effectsize(p1, p0))
    ratio = share / (1 - share)  # holdout per treated customer
    n1 = NormalIndPower().solve_power(effect_size=h, nobs1=None, ratio=ratio, alpha=alpha, power=power)
    return math.ceil(n1), math.ceil(n1 * ratio)


# -- difference in differences ------------------------------------------------------------------------


@dataclass
class DidResult:
    """Difference-in-differences of a rate (or a per-customer amount) between a treated and a comparison
    group over a pre and a post window; SE clustered by customer."""

    estimate: float | None
    ci: list[float] | None
    p: float | None
    se: float | None
    n_treated: int
    n_control: int
    means: dict[str, float | None]
    verdict: str
    alpha: float = 0.05

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def did_from_arrays(treated_pre: Sequence[float], treated_post: Sequence[float], control_pre: Sequence[float],
                    control_post: Sequence[float], alpha: float = 0.05, min_group: int = MIN_ARM_SIZE) -> DidResult:
    """OLS ``y ~ treated + post + treated:post`` on one row per customer and window, SE clustered
    by customer. ``treated_pre[i]`` and ``treated_post[i]`` are the same customer (likewise control)."""
    import numpy as np
    import statsmodels.api as sm

    tpre, tpost = np.asarray(treated_pre, dtype=float), np.asarray(treated_post, dtype=float)
    cpre, cpost = np.asarray(control_pre, dtype=float), np.asarray(control_post, dtype=float)
    if len(tpre) != len(tpost) or len(cpre) != len(cpost):
        raise ValueError("pre and post values must come in pairs (one of each per customer)")
    nt, nc = len(tpre), len(cpre)
    means = {k: finite(v.mean()) if len(v) else None
             for k, v in (("treated_pre", tpre), ("treated_post", tpost), ("control_pre", cpre),
                          ("control_post", cpost))}
    empty = DidResult(None, None, None, None, nt, nc, means, "too_small", alpha)
    if nt < min_group or nc < min_group:
        return empty
    y = np.concatenate([tpre, tpost, cpre, cpost])
    treated = np.concatenate([np.ones(2 * nt), np.zeros(2 * nc)])
    post = np.concatenate([np.zeros(nt), np.ones(nt), np.zeros(nc), np.ones(nc)])
    groups = np.concatenate([np.arange(nt), np.arange(nt), nt + np.arange(nc), nt + np.arange(nc)])
    if not y.any():
        empty.verdict = "no_conversions_yet"
        return empty
    x = np.column_stack([np.ones_like(y), treated, post, treated * post])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups})
        lo, hi = fit.conf_int(alpha=alpha)[3]
    est, p, se = finite(fit.params[3]), finite(fit.pvalues[3]), finite(fit.bse[3])
    ci = _interval(lo, hi)
    if p is None or ci is None:
        verdict = "not_significant"
    else:
        verdict = "significant" if p < alpha and (ci[0] > 0 or ci[1] < 0) else "not_significant"
    return DidResult(est, ci, p, se, nt, nc, means, verdict, alpha)
