"""Lifetime-value models (portal.analytics.clv): published CDNOW results, recovery on simulated data,
model identities, and the transaction summary. Pure numerics: no app, no database.

Oracles: Fader, Hardie & Lee (2005) BG/NBD on the CDNOW sample (r = 0.243, α = 4.414, a = 0.793,
b = 2.426, LL = −9582.4) and Fader & Hardie (2013) Gamma-Gamma on its 946 repeat buyers (p = 6.25,
q = 3.74, γ = 15.44). The data ship in tests/data (see its README).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from portal.analytics import clv
from portal.analytics.clv import BGNBDParams, GammaGammaParams

DATA = Path(__file__).parent / "data"
REL = 0.01  # the brief's tolerance against published figures


def close(value: float, expected: float, rel: float = REL) -> bool:
    return abs(value - expected) <= rel * abs(expected)


# --------------------------------------------------------------------------------------------
# CDNOW: the published figures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample, calibration to 1997-09-30, holdout to 1998-06-30."""
    frame = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["customer", "sample_id", "date", "cds", "value"],
        dtype={"date": str},
    )
    return clv.summarize_transactions(
        frame, "sample_id", "date", "value", "1997-09-30", "1998-06-30", date_format="%Y%m%d"
    )


@pytest.fixture(scope="module")
def cdnow_bg(cdnow: pd.DataFrame) -> BGNBDParams:
    return clv.fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def cdnow_gg(cdnow: pd.DataFrame) -> GammaGammaParams:
    return clv.fit_gamma_gamma(cdnow["frequency"], cdnow["monetary_value"])


def test_cdnow_summary(cdnow: pd.DataFrame) -> None:
    assert len(cdnow) == 2357
    assert (cdnow["frequency"] > 0).sum() == 946  # Fader-Hardie's repeat buyers
    # Customer 1 (FHL 2005's worked example): 4 purchase days, 3 in calibration.
    first = cdnow.loc[1]
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(30.43, abs=0.005)
    assert first["T"] == pytest.approx(38.86, abs=0.005)
    assert first["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)  # repeats only
    assert first["frequency_holdout"] == 1 and first["monetary_value_holdout"] == pytest.approx(26.48)
    assert (cdnow["duration_holdout"] == 39).all()
    # The cohort's first purchases run from 1997-01-01 (T = 38.86 weeks) to 1997-03-25 (T = 27).
    assert cdnow["T"].max() == pytest.approx(272 / 7) and cdnow["T"].min() == pytest.approx(27.0)


def test_cdnow_bgnbd_matches_fader_hardie_lee(cdnow_bg: BGNBDParams) -> None:
    bg = cdnow_bg
    assert bg.converged and bg.n_customers == 2357
    assert close(bg.r, 0.243) and close(bg.alpha, 4.414) and close(bg.a, 0.793) and close(bg.b, 2.426)
    assert close(bg.loglik, -9582.4)  # a SUM over customers, weeks as the time unit
    assert bg.loglik == pytest.approx(-9582.4, abs=0.1)


def test_cdnow_bgnbd_loglik_at_published_parameters(cdnow: pd.DataFrame, cdnow_bg: BGNBDParams) -> None:
    published = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    ll = clv.bgnbd_loglik(published, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert ll == pytest.approx(-9582.4, abs=0.1)
    assert ll <= cdnow_bg.loglik + 1e-9  # the fit is the maximum


def test_cdnow_gamma_gamma_matches_fader_hardie(cdnow_gg: GammaGammaParams) -> None:
    gg = cdnow_gg
    assert gg.converged and gg.n_customers == 946
    assert close(gg.p, 6.25) and close(gg.q, 3.74) and close(gg.v, 15.44)
    # The 2-decimal published figures, not lifetimes' 15.45 (fitted on its rounded zbar column).
    assert (round(gg.p, 2), round(gg.q, 2), round(gg.v, 2)) == (6.25, 3.74, 15.44)


def test_cdnow_gamma_gamma_loglik(cdnow: pd.DataFrame, cdnow_gg: GammaGammaParams) -> None:
    ll = clv.gamma_gamma_loglik(cdnow_gg, cdnow["frequency"], cdnow["monetary_value"])
    assert ll == pytest.approx(cdnow_gg.loglik, rel=1e-12)
    published = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    assert clv.gamma_gamma_loglik(published, cdnow["frequency"], cdnow["monetary_value"]) <= ll + 1e-9


def test_cdnow_conditional_expectation(cdnow_bg: BGNBDParams) -> None:
    # FHL 2005: customer with x = 2, t_x = 30.43, T = 38.86 buys 1.226 times in the next 39 weeks.
    expected = clv.bgnbd_expected_purchases(cdnow_bg, 39, 2, 30.43, 38.86)
    assert close(float(expected), 1.226)


def test_cdnow_predict(cdnow: pd.DataFrame, cdnow_bg: BGNBDParams, cdnow_gg: GammaGammaParams) -> None:
    out = clv.predict(cdnow_bg, cdnow_gg, cdnow, 39)
    assert list(out.columns) == [
        "frequency",
        "recency",
        "T",
        "p_alive",
        "expected_purchases",
        "expected_value",
    ]
    assert out.index.equals(cdnow.index)
    spend = clv.gamma_gamma_expected_spend(cdnow_gg, cdnow["frequency"], cdnow["monetary_value"])
    np.testing.assert_allclose(out["expected_value"], out["expected_purchases"] * spend)
    # The aggregate holdout forecast is in the right range of the 1,882 actual repeat purchases
    # (FHL 2005 Figure 3: the model tracks, slightly under-forecasting, the holdout).
    actual = cdnow["frequency_holdout"].sum()
    assert actual == 1882
    assert 0.8 * actual < out["expected_purchases"].sum() < 1.05 * actual
    # Population mean spend for customers without repeats: p v / (q − 1).
    zero = out[cdnow["frequency"] == 0].iloc[0]
    assert zero["expected_value"] == pytest.approx(
        zero["expected_purchases"] * cdnow_gg.p * cdnow_gg.v / (cdnow_gg.q - 1)
    )


# --------------------------------------------------------------------------------------------
# Recovery on data simulated from the models
# --------------------------------------------------------------------------------------------


def test_bgnbd_parameter_recovery() -> None:
    # Tolerances are ~4 standard deviations of the estimates over 30 seeds at this size
    # (relative SD: r 1.2%, α 1.9%, a 4.8%, b 6.4%).
    sim = clv.simulate_bgnbd(20_000, r=0.5, alpha=6.0, a=0.7, b=2.5, T=52.0, rng=np.random.default_rng(2024))
    fit = clv.fit_bgnbd(*sim)
    assert fit.converged and fit.n_customers == 20_000
    assert close(fit.r, 0.5, 0.05)
    assert close(fit.alpha, 6.0, 0.08)
    assert close(fit.a, 0.7, 0.20)
    assert close(fit.b, 2.5, 0.25)
    truth = BGNBDParams(r=0.5, alpha=6.0, a=0.7, b=2.5)
    assert fit.loglik >= clv.bgnbd_loglik(truth, *sim)


def test_bgnbd_recovery_with_varying_T() -> None:
    rng = np.random.default_rng(7)
    T = rng.uniform(10, 80, 20_000)
    sim = clv.simulate_bgnbd(20_000, r=1.2, alpha=10.0, a=1.5, b=4.0, T=T, rng=rng)
    fit = clv.fit_bgnbd(*sim)
    assert fit.converged
    assert close(fit.r / fit.alpha, 0.12, 0.05)  # mean purchase rate: the best-determined quantity
    assert close(fit.a / (fit.a + fit.b), 1.5 / 5.5, 0.10)  # mean dropout probability


def test_simulation_matches_unconditional_expectation() -> None:
    # E[X(t)] (FHL eq. 9) against the mean of 200,000 simulated customers: checks both.
    params = BGNBDParams(r=0.5, alpha=6.0, a=0.7, b=2.5)
    sim = clv.simulate_bgnbd(200_000, 0.5, 6.0, 0.7, 2.5, 52.0, np.random.default_rng(11))
    expected = float(clv.bgnbd_unconditional_expected(params, 52.0))
    se = sim.frequency.std() / np.sqrt(sim.frequency.size)
    assert abs(sim.frequency.mean() - expected) < 4 * se
    assert ((sim.recency <= sim.T) & (sim.recency >= 0)).all()
    assert (sim.recency[sim.frequency == 0] == 0).all()


def test_gamma_gamma_recovery() -> None:
    # Over 30 seeds at this size the relative SDs are p 4.9%, q 2.0%, v 6.7% and 0.5% for the
    # population mean p v / (q − 1), which is what the CLV uses; bounds are ~4 SD.
    rng = np.random.default_rng(99)
    sim = clv.simulate_bgnbd(20_000, 0.5, 6.0, 0.7, 2.5, 52.0, rng)
    spend = clv.simulate_gamma_gamma(sim.frequency, p=6.0, q=4.0, v=15.0, rng=rng)
    assert (spend[sim.frequency == 0] == 0).all() and (spend[sim.frequency > 0] > 0).all()
    fit = clv.fit_gamma_gamma(sim.frequency, spend)
    assert fit.converged and fit.n_customers == int((sim.frequency > 0).sum())
    assert close(fit.p, 6.0, 0.20)
    assert close(fit.q, 4.0, 0.08)
    assert close(fit.v, 15.0, 0.27)
    assert close(fit.p * fit.v / (fit.q - 1), 30.0, 0.025)


def test_simulated_transactions_round_trip() -> None:
    rng = np.random.default_rng(5)
    log = clv.simulate_transactions(
        20_000, r=2.0, alpha=8.0, a=1.5, b=10.0, p=6.0, q=4.0, v=15.0,
        start="2023-01-01", end="2024-12-31", rng=rng,
    )  # fmt: skip
    assert log["customer_id"].nunique() == 20_000
    assert log["date"].min() >= pd.Timestamp("2023-01-01") and log["date"].max() <= pd.Timestamp("2024-12-31")
    summary = clv.summarize_transactions(log, "customer_id", "date", "amount", "2024-12-31")
    fit = clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    # Same-day purchases merge and times snap to days, so only the rate and dropout are checked.
    assert close(fit.r / fit.alpha, 0.25, 0.05)
    assert close(fit.a / (fit.a + fit.b), 1.5 / 11.5, 0.15)


# --------------------------------------------------------------------------------------------
# Model identities and numerics
# --------------------------------------------------------------------------------------------


def test_fit_gradients_are_analytic_derivatives() -> None:
    sim = clv.simulate_bgnbd(3000, 0.5, 6.0, 0.7, 2.5, 52.0, np.random.default_rng(3))
    data = clv._BGData(sim.frequency.astype(float), sim.recency, sim.T, np.ones(3000))
    theta = np.log([0.4, 5.0, 0.9, 2.0])
    numeric = approx_fprime(theta, lambda t: clv._bgnbd_objective(t, data)[0], 1e-7)
    np.testing.assert_allclose(clv._bgnbd_objective(theta, data)[1], numeric, rtol=1e-4, atol=1e-7)

    spend = clv.simulate_gamma_gamma(sim.frequency, 6.0, 4.0, 15.0, np.random.default_rng(4))
    pos = sim.frequency > 0
    gg = clv._gg_data(sim.frequency[pos].astype(float), spend[pos], np.ones(int(pos.sum())))
    theta = np.log([5.0, 3.0, 12.0])
    numeric = approx_fprime(theta, lambda t: clv._gg_objective(t, gg)[0], 1e-7)
    np.testing.assert_allclose(clv._gg_objective(theta, gg)[1], numeric, rtol=1e-4, atol=1e-7)


def test_weights_equal_repeated_rows(cdnow: pd.DataFrame) -> None:
    x, tx, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    counts = np.arange(len(x)) % 3 + 1
    weighted = clv.fit_bgnbd(x, tx, T, weights=counts)
    repeated = clv.fit_bgnbd(np.repeat(x, counts), np.repeat(tx, counts), np.repeat(T, counts))
    assert weighted.n_customers == repeated.n_customers == counts.sum()
    for name in ("r", "alpha", "a", "b", "loglik"):
        assert getattr(weighted, name) == pytest.approx(getattr(repeated, name), rel=1e-6)


def test_p_alive(cdnow_bg: BGNBDParams) -> None:
    x = np.array([0, 0, 1, 2, 5, 20, 200])
    tx = np.array([0, 0, 1.0, 10.0, 30.0, 38.0, 38.5])
    T = np.array([0, 39, 39, 39, 39, 39, 39.0])
    alive = clv.bgnbd_p_alive(cdnow_bg, x, tx, T)
    assert ((alive >= 0) & (alive <= 1)).all()
    assert (alive[x == 0] == 1).all()
    # Longer silence since the last purchase: less likely alive.
    later = clv.bgnbd_p_alive(cdnow_bg, 2, 10.0, np.array([10.0, 20.0, 40.0, 80.0]))
    assert later[0] == pytest.approx(1 / (1 + cdnow_bg.a / (cdnow_bg.b + 1)))
    assert (np.diff(later) < 0).all()
    # A very active customer gone silent for years: P(alive) underflows to 0, not NaN.
    assert clv.bgnbd_p_alive(cdnow_bg, 500, 10.0, 500.0) == 0.0


def test_expected_purchases_monotone_in_t(cdnow_bg: BGNBDParams) -> None:
    t = np.linspace(0, 520, 200)
    for x, tx, T in [(0, 0.0, 38.86), (2, 30.43, 38.86), (7, 35.0, 38.86), (40, 38.0, 38.86)]:
        values = clv.bgnbd_expected_purchases(cdnow_bg, t, x, tx, T)
        assert values[0] == 0 and np.isfinite(values).all()
        assert (np.diff(values) > 0).all()
    uncond = clv.bgnbd_unconditional_expected(cdnow_bg, t)
    assert uncond[0] == 0 and (np.diff(uncond) > 0).all()


def test_closed_form_agrees_with_quadrature() -> None:
    # The hypergeometric closed form against the quadrature fallback, including large x and a
    # parameter set where 2F1 needs the Euler transformation.
    for params in [BGNBDParams(0.243, 4.414, 0.793, 2.426), BGNBDParams(3.0, 0.5, 30.0, 0.3)]:
        x, T, t = (g.ravel() for g in np.meshgrid([0.0, 1, 3, 20, 300], [0.0, 5, 52, 300], [0.5, 39, 520]))
        closed = clv._alive_expected(params, t, x, T)
        np.testing.assert_allclose(closed, clv._alive_quad(params, t, x, T), rtol=1e-6)


def test_expected_purchases_continuous_at_a_equal_one() -> None:
    # (a+b+x−1)/(a−1) · [...] is 0/0 at a = 1: the quadrature takes over and stays continuous.
    values = [
        float(clv.bgnbd_expected_purchases(BGNBDParams(0.5, 6.0, a, 2.5), 39, 3, 20.0, 52.0))
        for a in (1 - 1e-4, 1.0, 1 + 1e-4)
    ]
    assert np.isfinite(values).all()
    assert values[1] == pytest.approx(values[0], rel=1e-3) and values[1] == pytest.approx(values[2], rel=1e-3)


def test_predictions_stay_in_bounds() -> None:
    # Random parameters and histories over wide ranges, log-uniform (a seeded grid rather than
    # hypothesis, which would leave a .hypothesis/ folder in the work tree).
    rng = np.random.default_rng(123)
    n = 3000

    def log_uniform(low: float, high: float) -> np.ndarray:
        return np.exp(rng.uniform(np.log(low), np.log(high), n))

    r, alpha, a, b = (
        log_uniform(0.01, 50),
        log_uniform(0.01, 500),
        log_uniform(0.01, 50),
        log_uniform(0.01, 50),
    )
    x = np.floor(log_uniform(1, 5001)) - 1
    T = log_uniform(0.01, 1000)
    tx = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    t = log_uniform(0.01, 5000)
    for i in range(n):
        params = BGNBDParams(r[i], alpha[i], a[i], b[i])
        alive = float(clv.bgnbd_p_alive(params, x[i], tx[i], T[i]))
        assert 0 <= alive <= 1
        expected = float(clv.bgnbd_expected_purchases(params, t[i], x[i], tx[i], T[i]))
        # 0 <= E <= P(alive) · E[λ | alive] · t: a customer cannot beat its own purchase rate.
        bound = alive * (r[i] + x[i]) / (alpha[i] + T[i]) * t[i]
        assert 0 <= expected <= bound * (1 + 1e-6) + 1e-12, (params, x[i], tx[i], T[i], t[i])


def test_gamma_gamma_can_drop_free_repeat_buyers(cdnow: pd.DataFrame, cdnow_gg: GammaGammaParams) -> None:
    x = np.r_[cdnow["frequency"].to_numpy(), 3, 1]
    m = np.r_[cdnow["monetary_value"].to_numpy(), 0.0, 0.0]
    fit = clv.fit_gamma_gamma(x, m, drop_nonpositive=True)
    assert fit.n_customers == 946
    assert fit.p == pytest.approx(cdnow_gg.p, rel=1e-5) and fit.v == pytest.approx(cdnow_gg.v, rel=1e-5)


def test_gamma_gamma_expected_spend() -> None:
    gg = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    population = 6.25 * 15.44 / 2.74
    spend = clv.gamma_gamma_expected_spend(gg, [0, 0, 1, 10, 10_000], [0.0, 99.0, 50.0, 50.0, 50.0])
    assert spend[0] == pytest.approx(population) and spend[1] == pytest.approx(population)
    assert spend[2] == pytest.approx(6.25 * (15.44 + 50) / (6.25 + 2.74))
    assert population < spend[2] < spend[3] < spend[4] < 50  # shrinks to m̄ as x grows
    assert spend[4] == pytest.approx(50, rel=1e-3)


def test_discounted_value(cdnow: pd.DataFrame, cdnow_bg: BGNBDParams, cdnow_gg: GammaGammaParams) -> None:
    plain = clv.predict(cdnow_bg, cdnow_gg, cdnow.head(50), 39)
    discounted = clv.predict(cdnow_bg, cdnow_gg, cdnow.head(50), 39, discount_rate=0.002)
    np.testing.assert_allclose(discounted["expected_purchases"], plain["expected_purchases"])
    assert (discounted["expected_value"] < plain["expected_value"]).all()
    assert (discounted["expected_value"] > plain["expected_value"] / 1.002**39).all()
    tiny = clv.predict(cdnow_bg, cdnow_gg, cdnow.head(50), 39, discount_rate=1e-12)
    np.testing.assert_allclose(tiny["expected_value"], plain["expected_value"], rtol=1e-9)


# --------------------------------------------------------------------------------------------
# summarize_transactions
# --------------------------------------------------------------------------------------------


def test_summarize_hand_checked() -> None:
    frame = pd.DataFrame(
        [
            ("ann", "2024-01-01", 10.0),
            ("ann", "2024-01-01", 5.0),  # same day: one transaction of 15
            ("ann", "2024-01-08", 20.0),
            ("ann", "2024-01-15 18:30", 30.0),
            ("ann", "2024-01-15 09:00", 10.0),  # same day, other time: merged, 40
            ("ann", "2024-02-01", 1000.0),  # after calibration: holdout
            ("bob", "2024-01-29", 7.0),  # one purchase: frequency 0
            ("cid", "2024-02-02", 9.0),  # first purchase after calibration: not a customer yet
        ],
        columns=["who", "when", "amount"],
    )
    out = clv.summarize_transactions(
        frame, "who", "when", "amount", "2024-01-29", "2024-02-05", date_format="ISO8601"
    )
    assert list(out.index) == ["ann", "bob"] and out.index.name == "who"
    ann, bob = out.loc["ann"], out.loc["bob"]
    assert ann["frequency"] == 2  # 3 distinct days
    assert ann["recency"] == pytest.approx(2.0)  # Jan 1 → Jan 15
    assert ann["T"] == pytest.approx(4.0)  # Jan 1 → Jan 29
    assert ann["monetary_value"] == pytest.approx((20 + 40) / 2)  # repeat days only
    assert ann["frequency_holdout"] == 1 and ann["monetary_value_holdout"] == 1000
    assert (bob["frequency"], bob["recency"], bob["T"], bob["monetary_value"]) == (0, 0, 0, 0)
    assert bob["frequency_holdout"] == 0 and bob["monetary_value_holdout"] == 0
    assert (out["duration_holdout"] == 1.0).all()

    days = clv.summarize_transactions(
        frame, "who", "when", None, "2024-01-29", freq="D", date_format="ISO8601"
    )
    assert list(days.columns) == ["frequency", "recency", "T"]
    assert days.loc["ann", "recency"] == 14 and days.loc["ann", "T"] == 28


def test_summarize_matches_naive_reference() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame(
        {
            "customer": rng.integers(10_000, 10_400, n),  # integer ids
            "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "amount": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    cal = pd.Timestamp("2023-10-31")
    out = clv.summarize_transactions(frame, "customer", "date", "amount", cal)
    cal_rows = frame[frame["date"] <= cal]
    assert set(out.index) == set(cal_rows["customer"])
    for customer, rows in cal_rows.groupby("customer"):
        per_day = rows.groupby("date")["amount"].sum().sort_index()
        got = out.loc[customer]
        assert got["frequency"] == len(per_day) - 1
        assert got["recency"] == pytest.approx((per_day.index[-1] - per_day.index[0]).days / 7)
        assert got["T"] == pytest.approx((cal - per_day.index[0]).days / 7)
        assert got["monetary_value"] == pytest.approx(per_day.iloc[1:].mean() if len(per_day) > 1 else 0.0)


def test_summarize_timezone_aware_dates_use_wall_clock_days() -> None:
    frame = pd.DataFrame(
        {
            "c": [1, 1],
            "d": pd.to_datetime(["2024-03-01 23:30", "2024-03-08 00:15"]).tz_localize("Asia/Seoul"),
        }
    )
    out = clv.summarize_transactions(frame, "c", "d", None, "2024-03-15")
    assert out.loc[1, "frequency"] == 1 and out.loc[1, "recency"] == 1.0


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (pd.DataFrame({"c": [], "d": [], "m": []}), {}, "empty"),
        (pd.DataFrame({"c": [1], "d": ["2024-01-01"], "m": [-5.0]}), {}, "negative amounts"),
        (pd.DataFrame({"c": [1], "d": ["2024-01-01"], "m": [np.nan]}), {}, "missing or infinite"),
        (pd.DataFrame({"c": [1], "d": ["2024-01-01"]}), {}, "no column"),
        (pd.DataFrame({"c": [1], "d": [20240101], "m": [1.0]}), {}, "holds numbers"),
        (pd.DataFrame({"c": [1], "d": ["not a date"], "m": [1.0]}), {}, "not dates"),
        (pd.DataFrame({"c": [None], "d": ["2024-01-01"], "m": [1.0]}), {}, "missing customer ids"),
        (pd.DataFrame({"c": [1], "d": ["2024-06-01"], "m": [1.0]}), {}, "no transactions on or before"),
        (pd.DataFrame({"c": [1], "d": ["2024-01-01"], "m": [1.0]}), {"freq": "M"}, "freq"),
        (
            pd.DataFrame({"c": [1], "d": ["2024-01-01"], "m": [1.0]}),
            {"observation_end": "2023-01-01"},
            "before",
        ),
    ],
)
def test_summarize_rejects_bad_input(frame: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clv.summarize_transactions(frame, "c", "d", "m", "2024-03-31", **kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([], [], []), "no customers"),
        (([-1, 2], [0, 1], [5, 5]), "negative"),
        (([1.5], [1], [5]), "whole numbers"),
        (([1], [6], [5]), "recency exceeds T"),
        (([0], [2], [5]), "recency must be 0"),
        (([1, 2], [1, np.nan], [5, 5]), "missing or infinite"),
        (([0, 0], [0, 0], [0, 0]), "T = 0"),
    ],
)
def test_fit_bgnbd_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clv.fit_bgnbd(*args)


def test_fit_gamma_gamma_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="frequency > 0"):
        clv.fit_gamma_gamma([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"positive .*\(1 are not\)"):
        clv.fit_gamma_gamma([1, 2, 0], [10.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="negative"):
        clv.fit_gamma_gamma([1, 2], [10.0, -3.0])
    with pytest.raises(ValueError, match="monetary_value"):
        clv.predict(BGNBDParams(1, 1, 1, 1), GammaGammaParams(1, 2, 1), pd.DataFrame({"frequency": [0]}), 4)


# --------------------------------------------------------------------------------------------
# MBG/NBD and Pareto/NBD, degenerate fits, the holdout check (portal.analytics.clv_models)
# --------------------------------------------------------------------------------------------
# Oracles: Pareto/NBD on the CDNOW sample, Fader & Hardie's note (r = 0.553, α = 10.58, s = 0.606,
# β = 11.67, LL = −9595.0); MBG/NBD and Pareto/NBD from lifetimes 0.11.3 (ModifiedBetaGeoFitter,
# ParetoNBDFitter) fitted on the summary it ships, tests/data/cdnow_customers_summary.csv.

from portal.analytics import clv_models  # noqa: E402

LIFETIMES_MBG = {"r": 0.524838, "alpha": 6.182988, "a": 0.891356, "b": 1.614000}
LIFETIMES_PARETO = {"r": 0.553275, "alpha": 10.577768, "s": 0.606216, "beta": 11.668156}
# lifetimes' P(alive) and expected purchases in 39 weeks for customers 1, 2, 3 and 1516 (x = 26).
LIFETIMES_PREDICTIONS = {
    "mbgnbd": ([0.70613, 0.17082, 0.38972, 0.96555], [1.26267, 0.18879, 0.15395, 19.44804]),
    "pareto_nbd": ([0.86913, 0.16787, 0.29509, 0.99792], [1.45515, 0.17098, 0.10706, 20.11608]),
}


@pytest.fixture(scope="module")
def cdnow_summary_csv() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary.csv", index_col="ID")


def test_pareto_nbd_reproduces_the_published_cdnow_fit(cdnow: pd.DataFrame) -> None:
    fit = clv_models.fit_model("pareto_nbd", cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for name, published in {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}.items():
        assert close(fit.params[name], published), (name, fit.params[name])
    assert abs(fit.loglik - -9595.0) < 0.5
    assert fit.converged and not fit.degenerate


@pytest.mark.parametrize(("model", "expected"), [("mbgnbd", LIFETIMES_MBG), ("pareto_nbd", LIFETIMES_PARETO)])
def test_mbgnbd_and_pareto_nbd_match_lifetimes_on_its_cdnow_summary(cdnow_summary_csv: pd.DataFrame, model: str,
                                                                    expected: dict) -> None:
    s = cdnow_summary_csv
    fit = clv_models.fit_model(model, s["frequency"], s["recency"], s["T"])
    for name, value in expected.items():
        assert close(fit.params[name], value, rel=1e-3), (name, fit.params[name], value)
    rows = s.iloc[[0, 1, 2, 1515]]
    alive, purchases = LIFETIMES_PREDICTIONS[model]
    np.testing.assert_allclose(fit.p_alive(rows["frequency"], rows["recency"], rows["T"]), alive, rtol=2e-3)
    np.testing.assert_allclose(fit.expected(39, rows["frequency"], rows["recency"], rows["T"]), purchases, rtol=2e-3)


def test_loglik_functions_agree_with_the_fits(cdnow: pd.DataFrame) -> None:
    x, tx, big_t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    mbg = clv_models.fit_model("mbgnbd", x, tx, big_t)
    pareto = clv_models.fit_model("pareto_nbd", x, tx, big_t)
    assert clv_models.mbgnbd_loglik(mbg.params, x, tx, big_t) == pytest.approx(mbg.loglik, rel=1e-9)
    assert clv_models.pareto_nbd_loglik(pareto.params, x, tx, big_t) == pytest.approx(pareto.loglik, rel=1e-9)
    # The maximum: any nudge of a parameter lowers the likelihood.
    for key in mbg.params:
        assert clv_models.mbgnbd_loglik({**mbg.params, key: mbg.params[key] * 1.05}, x, tx, big_t) < mbg.loglik


def test_one_time_buyers_long_ago_are_not_certainly_alive_outside_bgnbd(cdnow: pd.DataFrame) -> None:
    """BG/NBD's known flaw: x = 0 means P(alive) = 1 whatever T; MBG/NBD and Pareto/NBD let them go."""
    x, tx, big_t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    fits = {m: clv_models.fit_model(m, x, tx, big_t) for m in clv_models.MODELS}
    recent, old = fits["bgnbd"].p_alive([0, 0], [0, 0], [1, 100])
    assert recent == old == 1.0
    for model in ("mbgnbd", "pareto_nbd"):
        recent, old = fits[model].p_alive([0, 0], [0, 0], [1, 100])
        assert old < 0.3 and recent > old


def _no_churn(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers who buy at their own Poisson rate and never leave (the old demo's data)."""
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(20, 104, n)
    x = rng.poisson(rng.gamma(2.0, 1 / 8.0, n) * big_t)
    tx = np.where(x > 0, big_t * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    return x, tx, big_t


def test_a_fit_without_churn_in_the_data_is_flagged_degenerate() -> None:
    """a → 0, b → ∞ (the demo's a = 4e-08, b = 1.7e+04): the dropout parameters are not identified."""
    x, tx, big_t = _no_churn(4000)
    fit = clv_models.fit_model("bgnbd", x, tx, big_t)
    assert fit.degenerate and set(fit.issues) & {"at_bound", "flat"}
    assert fit.p_alive(x, tx, big_t).min() > 0.99  # the certainty that must not reach the page


def test_cdnow_fits_are_not_degenerate(cdnow: pd.DataFrame) -> None:
    for model in clv_models.MODELS:
        fit = clv_models.fit_model(model, cdnow["frequency"], cdnow["recency"], cdnow["T"])
        assert fit.issues == () and all(0 < se < 1 for se in fit.se.values()), (model, fit.issues, fit.se)


def test_holdout_check_on_cdnow_compares_predictions_with_what_happened() -> None:
    frame = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                        names=["customer", "sample_id", "date", "cds", "value"], dtype={"date": str})
    frame["day"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    check = clv_models.holdout_check(frame, "1997-09-30", "1998-06-30", customer_col="sample_id")
    assert check.customers == 2357 and check.holdout_weeks == pytest.approx(39, abs=0.2)
    assert check.actual_total == 1882  # FHL 2005: 1,882 repeat purchases in the holdout weeks
    first = check.by_frequency[0]
    assert first["customers"] == 1411 and first["actual"] == pytest.approx(334 / 1411)
    rmse = {m: check.models[m]["rmse"] for m in clv_models.MODELS}
    assert check.chosen == min(rmse, key=rmse.get) == "pareto_nbd"
    assert check.models["bgnbd"]["predicted_total"] == pytest.approx(1653, abs=2)  # FHL 2005, Figure 4
    assert sum(r["customers"] for r in check.by_frequency) == 2357

