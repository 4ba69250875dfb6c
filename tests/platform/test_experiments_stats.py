"""Experiments statistics: the figures equal statsmodels' and scipy's on the same inputs, and nothing
returned is ever NaN or ∞ (pure functions, no database)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats import proportion as smp
from statsmodels.stats.power import NormalIndPower

from portal.experiments.stats import ArmStats, compare, did_from_arrays, power_check, required_sizes


def _all_finite(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return all(_all_finite(v) for v in obj)
    return True


@pytest.mark.parametrize("t,c", [((181, 1000), (100, 1000)), ((9, 50), (5, 50)), ((40, 900), (3, 100)),
                                 ((12, 3000), (9, 300))])
def test_rate_lift_equals_statsmodels(t, c):
    res = compare(ArmStats(t[1], t[0], 0.0), ArmStats(c[1], c[0], 0.0))
    lo, hi = smp.confint_proportions_2indep(t[0], t[1], c[0], c[1], method="newcomb")
    assert res.rate_ci == pytest.approx([lo, hi], rel=1e-12)
    assert res.rate_p == pytest.approx(smp.test_proportions_2indep(t[0], t[1], c[0], c[1], method="score").pvalue,
                                       rel=1e-12)
    assert res.rate_diff == pytest.approx(t[0] / t[1] - c[0] / c[1])
    rlo, rhi = smp.confint_proportions_2indep(t[0], t[1], c[0], c[1], compare="ratio", method="log-adjusted")
    assert res.relative_ci == pytest.approx([rlo - 1, rhi - 1], rel=1e-12)


def test_spec_examples_pg11_pg12():
    big = compare(ArmStats(1000, 181, 0.0), ArmStats(1000, 100, 0.0))
    assert big.verdict == "significant" and big.direction == "up"
    assert [round(x * 100, 2) for x in big.rate_ci] == [5.07, 11.13]
    assert big.rate_p == pytest.approx(1.88e-7, rel=0.01)
    assert big.relative_lift == pytest.approx(0.81)
    small = compare(ArmStats(50, 9, 0.0), ArmStats(50, 5, 0.0))
    assert small.verdict == "not_significant"
    assert [round(x * 100, 2) for x in small.rate_ci] == [-6.03, 21.99]
    assert small.rate_p == pytest.approx(0.25, abs=0.005)


def test_revenue_welch_equals_scipy_on_raw_values():
    rng = np.random.default_rng(7)
    treat = np.where(rng.random(400) < 0.3, rng.gamma(2.0, 30000, 400).round(), 0)
    hold = np.where(rng.random(120) < 0.2, rng.gamma(2.0, 25000, 120).round(), 0)

    def arm(v):
        return ArmStats(len(v), int((v > 0).sum()), float(v.sum()), float((v * v).sum()))

    res = compare(arm(treat), arm(hold))
    ref = st.ttest_ind(treat, hold, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert res.revenue_diff == pytest.approx(treat.mean() - hold.mean(), rel=1e-9)
    assert res.revenue_ci == pytest.approx([ci.low, ci.high], rel=1e-9)
    assert res.revenue_p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("t,c,verdict", [
    ((0, 200), (0, 200), "no_conversions_yet"),
    ((5, 200), (0, 200), "not_significant"),      # p ≈ 0.025 but a 0-conversion arm: no ratio
    ((200, 200), (200, 200), "not_significant"),  # everyone bought: p = 1
    ((0, 0), (0, 0), "too_small"),
    ((3, 10), (1, 0), "too_small"),
    ((10, 100), (0, 0), "too_small"),
    ((1, 29), (0, 100), "too_small"),
])
def test_edge_cases_never_nan_or_inf(t, c, verdict):
    res = compare(ArmStats(t[1], min(t[0], t[1]), float(t[0] * 1000), float(t[0] * 1e6)),
                  ArmStats(c[1], min(c[0], c[1]), float(c[0] * 1000), float(c[0] * 1e6)))
    data = res.as_dict()
    assert _all_finite(data), data
    json.dumps(data, allow_nan=False)  # would raise on NaN/∞
    if verdict != "not_significant" or t != (5, 200):
        assert res.verdict == verdict
    assert res.relative_lift is None or c[0] > 0


def test_significant_needs_p_and_interval():
    res = compare(ArmStats(200, 5, 0.0), ArmStats(200, 0, 0.0))
    # The score test says p < 0.05 and the Newcombe interval excludes 0 here: significant, no ratio.
    assert res.rate_p < 0.05 and res.rate_ci[0] > 0
    assert res.verdict == "significant" and res.relative_lift is None


def test_power_check_matches_statsmodels_and_spec_pg15():
    mde = power_check(4500, 500, 0.10)
    assert mde == pytest.approx(0.043, abs=0.0005)  # "detectable effect ≈ +4.3 pp"
    h = NormalIndPower().solve_power(effect_size=None, nobs1=4500, ratio=500 / 4500, alpha=0.05, power=0.8)
    assert mde == pytest.approx(math.sin(math.asin(math.sqrt(0.1)) + h / 2) ** 2 - 0.1, rel=1e-9)
    assert required_sizes(0.10, 0.03, 0.5) == (1769, 1769)
    assert required_sizes(0.10, 0.03, 0.1) == (8841, 983)
    assert power_check(1, 1, 0.1) is None
    with pytest.raises(ValueError):
        power_check(100, 100, 0.0)
    with pytest.raises(ValueError):
        power_check(100, 100, float("nan"))


def test_did_matches_hand_computed_example_pg14():
    def arr(n, k):
        a = np.zeros(n)
        a[:k] = 1
        return a

    # G01 10.0 % → 18.1 % (the 100 earlier buyers buy again), other groups 10.0 % → 10.0 %.
    res = did_from_arrays(arr(1000, 100), arr(1000, 181), arr(1000, 100), arr(1000, 100))
    assert res.estimate == pytest.approx((0.181 - 0.100) - (0.100 - 0.100), abs=1e-12)
    assert [round(x * 100, 1) for x in res.ci] == [6.4, 9.8]
    assert res.verdict == "significant"
    assert _all_finite(res.as_dict())


def test_did_guards():
    z = np.zeros(50)
    assert did_from_arrays(z, z, z, z).verdict == "no_conversions_yet"
    assert did_from_arrays(z[:5], z[:5], z, z).verdict == "too_small"
    with pytest.raises(ValueError):
        did_from_arrays(z, z[:3], z, z)
