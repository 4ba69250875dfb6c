"""Three buy-till-you-die models behind one interface, a check for degenerate fits, and the holdout check.

Why three: BG/NBD (:mod:`.clv`) lets a customer drop out only right after a *repeat* purchase,
so everyone who bought once is "certainly alive" (P(alive) = 1) however long ago that was. Two
models without that flaw sit beside it:

* **MBG/NBD** (Batislam, Denizel & Filiztekin 2007): the BG/NBD with a chance to drop out at
  the first purchase too. Its likelihood is the BG/NBD's with Beta(a, b+x+1) in place of
  Beta(a, b+x) and the extra term open to x = 0 customers.
* **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987; the expressions of Fader & Hardie,
  "A note on deriving the Pareto/NBD model and related expressions", 2005): dropout at any time,
  lifetimes exponential with rate μ ~ Gamma(s, rate β).

Which one a refresh uses is decided by data, not taste: :func:`holdout_check` fits every model on
a calibration period, predicts each customer's purchases in the following holdout weeks and
picks the model whose predictions are closest to what happened (root mean squared error per
customer). A fit is *degenerate* (:func:`diagnose`) when the optimiser failed, a parameter ran to
the edge of its range, or the likelihood is flat in some direction (the parameters are not
identified — e.g. a → 0, b → ∞ on data without churn, where BG/NBD says "nobody ever leaves");
such a model is never chosen, and its certainty is never shown.

The MBG/NBD and Pareto/NBD are fitted with scipy's L-BFGS-B on log-parameters and numerical
gradients; the Pareto/NBD's Gauss hypergeometric terms are evaluated in their Euler-transformed
form 2F1(1, ·; ·; z), a series of positive terms that stays finite where the direct form
overflows. Large bases are fitted on a random sample (``max_customers``), which costs accuracy
only in the third significant digit and keeps a million-customer refresh within seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1

from . import clv

__all__ = [
    "MODELS",
    "MODEL_LABELS",
    "HoldoutCheck",
    "ModelFit",
    "diagnose",
    "fit_model",
    "holdout_check",
    "mbgnbd_loglik",
    "pareto_nbd_loglik",
    "sample_rows",
]

FloatArray = NDArray[np.float64]

#: Model keys, in the order they are listed (and preferred on an exact tie).
MODELS = ("pareto_nbd", "mbgnbd", "bgnbd")
MODEL_LABELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}
PARAM_NAMES = {"bgnbd": ("r", "alpha", "a", "b"), "mbgnbd": ("r", "alpha", "a", "b"),
               "pareto_nbd": ("r", "alpha", "s", "beta")}

#: Likelihood evaluations one search may spend: a fit that needs more is on a ridge (not converged).
MAX_EVALUATIONS = 300
#: A log-parameter beyond this is "at its bound" (a parameter below 3e-7 or above 3e6).
EDGE_LOG = 15.0
#: A log-parameter whose standard error exceeds this (a factor of 10 either way) is not identified.
FLAT_SE = math.log(10.0)


# --------------------------------------------------------------------------------------------
# Likelihoods (sum over rows, weighted)
# --------------------------------------------------------------------------------------------


def _mbg_ll_rows(theta: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
    """Per-row MBG/NBD log-likelihood:
    ln[B(a, b+x+1)/B(a, b)] + ln[Γ(r+x) α^r / Γ(r)] + ln[(α+T)^−(r+x) + a/(b+x) (α+t_x)^−(r+x)]."""
    r, alpha, a, b = np.exp(theta)
    rx = r + x
    a1 = gammaln(rx) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x + 1.0) - betaln(a, b)
    a3 = -rx * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) - rx * np.log(alpha + tx)
    return a1 + a2 + np.logaddexp(a3, a4)


def _pareto_log_f(r: float, alpha: float, s: float, beta: float, x: FloatArray, t: FloatArray) -> FloatArray:
    """ln[F(z(t)) / (m + t)^(r+s+x)], the two terms of A0 (see :func:`_pareto_log_a0`)."""
    rsx = r + s + x
    if alpha >= beta:
        m, k = alpha, np.full_like(x, s + 1.0)
    else:
        m, k = beta, r + x
    c = rsx + 1.0
    z = abs(alpha - beta) / (m + t)
    return (1.0 - k) * np.log1p(-z) + np.log(hyp2f1(1.0, c - k, c, z)) - rsx * np.log(m + t)


def _pareto_log_a0(r: float, alpha: float, s: float, beta: float, x: FloatArray, tx: FloatArray,
                   T: FloatArray, pairs: tuple[FloatArray, FloatArray, NDArray[np.intp]] | None = None) -> FloatArray:
    """ln A0 of Fader & Hardie's note (eq. 19–20): the integral over dropout times in (t_x, T].

    With m = max(α, β), z(t) = |α − β| / (m + t) and k = s + 1 (α ≥ β) or r + x (α < β):
    A0 = F(z(t_x)) / (m + t_x)^(r+s+x) − F(z(T)) / (m + T)^(r+s+x), F = 2F1(r+s+x, k; r+s+x+1; ·)
    = (1 − z)^(1−k) 2F1(1, r+s+x+1−k; r+s+x+1; z) by Euler's transformation. −inf where t_x = T.
    ``pairs``: the distinct (x, t) of [(x, t_x); (x, T)] and the map back, so that the costly
    2F1 is evaluated once per distinct pair (far fewer than customers in a large base).
    """
    if pairs is None:
        first, second = _pareto_log_f(r, alpha, s, beta, x, tx), _pareto_log_f(r, alpha, s, beta, x, T)
    else:
        px, pt, inverse = pairs
        both = _pareto_log_f(r, alpha, s, beta, px, pt)[inverse]
        first, second = both[:x.size], both[x.size:]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = first + np.log(-np.expm1(np.minimum(second - first, 0.0)))
    return np.where(second - first >= 0.0, -np.inf, out)


def _distinct_pairs(x: FloatArray, tx: FloatArray, T: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    both = np.stack([np.concatenate([x, x]), np.concatenate([tx, T])], axis=1)
    unique, inverse = np.unique(both, axis=0, return_inverse=True)
    return unique[:, 0].copy(), unique[:, 1].copy(), inverse.ravel()


def _pareto_ll_rows(theta: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray,
                    pairs: tuple[FloatArray, FloatArray, NDArray[np.intp]] | None = None) -> FloatArray:
    """Per-row Pareto/NBD log-likelihood (Fader & Hardie's note, eq. 22):
    ln[Γ(r+x) α^r β^s / Γ(r)] + ln[(α+T)^−(r+x) (β+T)^−s + s/(r+s+x) A0]."""
    r, alpha, s, beta = np.exp(theta)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_a0 = _pareto_log_a0(r, alpha, s, beta, x, tx, T, pairs)
    a2 = np.logaddexp(-(r + x) * np.log(alpha + T) - s * np.log(beta + T), np.log(s) - np.log(r + s + x) + log_a0)
    return a1 + a2


def mbgnbd_loglik(params: dict[str, float], frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float:
    """Log-likelihood (sum over customers) of MBG/NBD parameters ``{r, alpha, a, b}``."""
    x, tx, TT = clv._check_rft(frequency, recency, T)
    theta = np.log([params[k] for k in PARAM_NAMES["mbgnbd"]])
    return float(_mbg_ll_rows(theta, x.ravel(), tx.ravel(), TT.ravel()).sum())


def pareto_nbd_loglik(params: dict[str, float], frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float:
    """Log-likelihood (sum over customers) of Pareto/NBD parameters ``{r, alpha, s, beta}``."""
    x, tx, TT = clv._check_rft(frequency, recency, T)
    theta = np.log([params[k] for k in PARAM_NAMES["pareto_nbd"]])
    return float(_pareto_ll_rows(theta, x.ravel(), tx.ravel(), TT.ravel()).sum())


# --------------------------------------------------------------------------------------------
# A fitted model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFit:
    """One fitted model: its parameters, log-likelihood, and what :func:`diagnose` found wrong.

    ``issues`` holds short codes — ``not_converged``, ``at_bound``, ``flat`` — and ``se`` the
    standard errors of the log-parameters (from the observed information); a fit with any issue
    is ``degenerate`` and must not be presented as knowledge.
    """

    model: str
    params: dict[str, float]
    loglik: float
    n_customers: int
    converged: bool
    issues: tuple[str, ...] = ()
    se: dict[str, float] = field(default_factory=dict)

    @property
    def degenerate(self) -> bool:
        return bool(self.issues)

    @property
    def label(self) -> str:
        return MODEL_LABELS[self.model]

    def _bg(self, b_shift: float = 0.0) -> clv.BGNBDParams:
        p = self.params
        return clv.BGNBDParams(r=p["r"], alpha=p["alpha"], a=p["a"], b=p["b"] + b_shift)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(still active at T | x, t_x, T)."""
        x, tx, TT = clv._check_rft(frequency, recency, T)
        p = self.params
        if self.model == "bgnbd":
            return clv.bgnbd_p_alive(self._bg(), x, tx, TT)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.model == "mbgnbd":
                log_odds = (np.log(p["a"]) - np.log(p["b"] + x)
                            + (p["r"] + x) * (np.log(p["alpha"] + TT) - np.log(p["alpha"] + tx)))
            else:
                r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
                pairs = _distinct_pairs(x.ravel(), tx.ravel(), TT.ravel())  # one 2F1 per distinct (x, t)
                log_a0 = _pareto_log_a0(r, alpha, s, beta, x.ravel(), tx.ravel(), TT.ravel(), pairs).reshape(x.shape)
                log_odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + TT) + s * np.log(beta + TT)
                            + log_a0)
        return expit(-log_odds)

    def expected(self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
                 p_alive: FloatArray | None = None) -> FloatArray:
        """Expected purchases in the next ``t`` time units given the history (x, t_x, T).

        ``p_alive``: this model's :meth:`p_alive` of the same rows, when already computed.
        """
        x, tx, TT = clv._check_rft(frequency, recency, T)
        tt = np.float64(t)
        alive = self.p_alive(x, tx, TT) if p_alive is None else p_alive
        if self.model == "bgnbd":
            return alive * clv._alive_expected(self._bg(), tt, x, TT)
        if self.model == "mbgnbd":
            # Given alive, p ~ Beta(a, b+x+1): the BG/NBD's conditional expectation with b + 1.
            return alive * clv._alive_expected(self._bg(1.0), tt, x, TT)
        r, alpha, s, beta = (self.params[k] for k in PARAM_NAMES["pareto_nbd"])
        rate = (r + x) / (alpha + TT)  # E[λ | alive]
        bt = beta + TT
        if abs(s - 1.0) < 1e-8:
            horizon = bt * np.log1p(tt / bt)
        else:
            horizon = bt / (s - 1.0) * -np.expm1((s - 1.0) * -np.log1p(tt / bt))  # E[min(τ, t) | alive]
        return alive * rate * horizon

    def public(self) -> dict[str, Any]:
        """JSON-able form for ``analytics_run.params``."""
        return {**self.params, "loglik": self.loglik, "customers": self.n_customers, "issues": list(self.issues),
                "se": self.se}


# --------------------------------------------------------------------------------------------
# Fitting and diagnosing
# --------------------------------------------------------------------------------------------


def _objective(model: str, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> Callable[[FloatArray], float]:
    """Mean negative log-likelihood over log-parameters; +inf where it is not finite."""
    total = float(w.sum())
    if model == "bgnbd":
        d = clv._BGData(x, tx, T, w)
        return lambda theta: clv._bgnbd_objective(theta, d)[0]
    if model == "pareto_nbd":
        pairs = _distinct_pairs(x, tx, T)

        def rows(theta: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
            return _pareto_ll_rows(theta, x, tx, T, pairs)
    else:
        rows = _mbg_ll_rows

    def f(theta: FloatArray) -> float:
        with np.errstate(all="ignore"):
            value = -clv._dot(w, rows(theta, x, tx, T)) / total
        return value if np.isfinite(value) else math.inf

    return f


def _hessian(f: Callable[[FloatArray], float], theta: FloatArray, h: float = 1e-3) -> FloatArray:
    """Central-difference Hessian of ``f`` at ``theta`` (1 + 2n² evaluations; n = 4 here)."""
    n = theta.size
    f0 = f(theta)
    hess = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            if i == j:
                value = (f(theta + ei) - 2.0 * f0 + f(theta - ei)) / (h * h)
            else:
                value = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)) / (4 * h * h)
            hess[i, j] = hess[j, i] = value
    return hess


def _search_issues(theta: FloatArray, converged: bool) -> tuple[str, ...]:
    """The issues seen without the Hessian: ``not_converged`` and ``at_bound``."""
    return tuple(issue for bad, issue in ((not converged, "not_converged"),
                                          ((np.abs(theta) > EDGE_LOG).any(), "at_bound")) if bad)


def diagnose(model: str, theta: FloatArray, converged: bool, f: Callable[[FloatArray], float],
             total: float) -> tuple[tuple[str, ...], dict[str, float]]:
    """Issues of a fit (``not_converged``, ``at_bound``, ``flat``) and the log-parameters' standard errors.

    ``flat``: the observed information (Hessian of the summed negative log-likelihood in
    log-parameters) is not positive definite, or some log-parameter's standard error exceeds
    ``FLAT_SE`` — the data cannot tell that parameter's value within a factor of ten.
    """
    issues = list(_search_issues(theta, converged))
    se: dict[str, float] = {}
    try:
        info = _hessian(f, theta) * total
        eig = np.linalg.eigvalsh(info) if np.isfinite(info).all() else np.array([-1.0])
        if eig.min() <= 0:
            issues.append("flat")
        else:
            errors = np.sqrt(np.diag(np.linalg.inv(info)))
            se = {k: float(v) for k, v in zip(PARAM_NAMES[model], errors, strict=True)}
            if (errors > FLAT_SE).any():
                issues.append("flat")
    except np.linalg.LinAlgError:
        issues.append("flat")
    return tuple(dict.fromkeys(issues)), se


def fit_model(model: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
              weights: ArrayLike | None = None, *, information: bool = True,
              start: dict[str, float] | None = None) -> ModelFit:
    """Maximum-likelihood fit of ``model`` (a key of ``MODEL_LABELS``), diagnosed.

    Identical (x, t_x, T) rows are merged first. BG/NBD uses :func:`.clv.fit_bgnbd` (analytic
    gradient); the others L-BFGS-B with numerical gradients from the BG/NBD's optimum when the
    model shares its parameters, and Nelder-Mead then L-BFGS-B again if the first search stops short.
    ``information=False`` skips the Hessian (the ``flat`` check and ``se``): a quarter of the cost,
    for the holdout check's ranking fits. ``start``: parameters to start the search from (the
    check's fit of the same model on a shorter period is close). Raises ValueError on empty or invalid input.
    """
    if model not in MODEL_LABELS:
        raise ValueError(f"unknown model {model!r}; choose one of {sorted(MODEL_LABELS)}")
    x, tx, TT = clv._check_rft(frequency, recency, T)
    x, tx, TT = x.ravel(), tx.ravel(), TT.ravel()
    if x.size == 0:
        raise ValueError("no customers to fit")
    w = clv._weights(weights, x.size)
    (x, tx, TT), w = clv._compress((x, tx, TT), w)
    if w.size == 0 or not (TT > 0).any():
        raise ValueError("no observed time to fit on")
    total = float(w.sum())
    f = _objective(model, x, tx, TT, w)
    if model == "bgnbd":
        bg = clv.fit_bgnbd(x, tx, TT, w)
        theta = np.log([bg.r, bg.alpha, bg.a, bg.b])
        converged, loglik = bg.converged, bg.loglik
    else:
        rate = max(clv._dot(w, x) / max(clv._dot(w, TT), 1e-12), 1e-6)
        theta0 = np.log([1.0, 1.0 / rate, 1.0, 1.0 if model == "mbgnbd" else 10.0])
        if start is not None:
            theta0 = np.clip(np.log([start[k] for k in PARAM_NAMES[model]]), -EDGE_LOG, EDGE_LOG)
        theta, value, converged = _minimise(f, theta0)
        loglik = -value * total
    if information:
        issues, se = diagnose(model, theta, converged, f, total)
    else:
        issues, se = _search_issues(theta, converged), {}
    params = {k: float(v) for k, v in zip(PARAM_NAMES[model], np.exp(theta), strict=True)}
    return ModelFit(model=model, params=params, loglik=float(loglik), n_customers=int(round(total)),
                    converged=converged, issues=issues, se=se)


class _Budget(Exception):
    """The search spent its evaluations (on a ridge of the likelihood): stop where it is."""


def _minimise(f: Callable[[FloatArray], float], theta0: FloatArray) -> tuple[FloatArray, float, bool]:
    """(theta, value, converged): L-BFGS-B on log-parameters; Nelder-Mead and L-BFGS-B again if it fails.

    All stages share ``MAX_EVALUATIONS`` evaluations, so a likelihood with a ridge (e.g. the
    Pareto/NBD's s, β → ∞ when every customer has the same dropout rate) costs a bounded time
    and ends as "not converged" at the best point seen. Converged = the search ended by itself and
    a central-difference gradient of the mean negative log-likelihood is below 1e-3 (a ridge that
    stops the search is then judged by :func:`diagnose`, as ``flat``).
    """
    bounds = [clv._LOG_BOUNDS] * theta0.size
    options = {"maxiter": MAX_EVALUATIONS, "ftol": 1e-11, "gtol": 1e-7}
    best = [math.inf, theta0.copy()]
    count = [0]

    def counted(theta: FloatArray) -> float:
        count[0] += 1
        if count[0] > MAX_EVALUATIONS:
            raise _Budget
        value = f(theta)
        if value < best[0]:
            best[0], best[1] = value, np.array(theta, dtype=np.float64)
        return value

    finished = True
    with np.errstate(all="ignore"):  # a step into overflow is +inf, which L-BFGS-B backs away from
        try:
            res = minimize(counted, theta0, method="L-BFGS-B", bounds=bounds, options=options)
            if not res.success or not np.isfinite(res.fun):
                nm = minimize(counted, best[1], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12})
                minimize(counted, nm.x, method="L-BFGS-B", bounds=bounds, options=options)
        except _Budget:
            finished = False
    theta = best[1]
    value = f(theta)
    h = 1e-5
    grad = np.array([(f(theta + e) - f(theta - e)) / (2 * h) for e in np.eye(theta.size) * h])
    converged = bool(finished and np.isfinite(value) and np.isfinite(grad).all() and np.max(np.abs(grad)) < 1e-3)
    return theta, float(value), converged


# --------------------------------------------------------------------------------------------
# Choosing a model: calibration / holdout
# --------------------------------------------------------------------------------------------


@dataclass
class HoldoutCheck:
    """The outcome of :func:`holdout_check`: per model its error and totals, and the chosen one.

    ``by_frequency`` is the classic conditional-expectation table: for calibration repeat counts
    0, 1, …, ``max_bucket``+ the customers, their mean actual holdout purchases and each model's
    mean prediction — the chart on the Analytics page.
    """

    chosen: str | None
    calibration_end: str
    holdout_weeks: float
    customers: int
    actual_total: float
    models: dict[str, dict[str, Any]]
    by_frequency: list[dict[str, Any]]

    def public(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "calibration_end": self.calibration_end, "holdout_weeks": self.holdout_weeks,
                "customers": self.customers, "actual_total": self.actual_total, "models": self.models,
                "by_frequency": self.by_frequency}


def sample_rows(n: int, limit: int, seed: int = 2005) -> NDArray[np.int64] | slice:
    """Positions of a fixed random sample of ``limit`` of ``n`` rows (all rows when n <= limit)."""
    if n <= limit:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def holdout_check(daily: pd.DataFrame, calibration_end: Any, observation_end: Any, *,
                  models: tuple[str, ...] = MODELS, max_customers: int = 10_000, max_bucket: int = 7,
                  customer_col: str = "customer_id", date_col: str = "day") -> HoldoutCheck:
    """Fit each model on purchases up to ``calibration_end``, predict (calibration_end, observation_end].

    ``daily`` is a transaction log (one row per customer and purchase day is enough). Customers
    are those with a purchase by ``calibration_end``; above ``max_customers`` a fixed random
    sample of them. The chosen model has the lowest root mean squared error of per-customer
    holdout purchases among the non-degenerate fits (None when every fit is degenerate).
    """
    summary = clv.summarize_transactions(daily, customer_col, date_col, None, calibration_end, observation_end)
    summary = summary.iloc[sample_rows(len(summary), max_customers)]
    x = summary["frequency"].to_numpy(dtype=np.float64)
    tx, TT = summary["recency"].to_numpy(), summary["T"].to_numpy()
    actual = summary["frequency_holdout"].to_numpy(dtype=np.float64)
    weeks = float(summary["duration_holdout"].iloc[0])
    bucket = np.minimum(x, max_bucket).astype(int)
    rows = [{"x": int(k), "label": f"{k}+" if k == max_bucket else str(k), "customers": int((bucket == k).sum()),
             "actual": float(actual[bucket == k].mean()) if (bucket == k).any() else None}
            for k in range(max_bucket + 1)]
    results: dict[str, dict[str, Any]] = {}
    for name in models:
        try:
            fit = fit_model(name, x, tx, TT, information=False)
            predicted = fit.expected(weeks, x, tx, TT)
        except (ValueError, FloatingPointError, ArithmeticError) as exc:
            results[name] = {"issues": ["failed"], "error": str(exc)[:200]}
            continue
        ok = np.isfinite(predicted)
        if not ok.all():
            results[name] = {"issues": [*fit.issues, "non_finite"]}
            continue
        results[name] = {"rmse": float(np.sqrt(np.mean((predicted - actual) ** 2))),
                         "mae": float(np.mean(np.abs(predicted - actual))),
                         "predicted_total": float(predicted.sum()), "loglik": fit.loglik, "params": fit.params,
                         "issues": list(fit.issues)}
        for row in rows:
            sel = bucket == row["x"]
            row[name] = float(predicted[sel].mean()) if sel.any() else None
    usable = [m for m in models if "rmse" in results[m] and not results[m]["issues"]]
    chosen = min(usable, key=lambda m: (round(results[m]["rmse"], 6), models.index(m))) if usable else None
    return HoldoutCheck(chosen=chosen, calibration_end=str(pd.Timestamp(calibration_end).date()),
                        holdout_weeks=round(weeks, 2), customers=len(summary), actual_total=float(actual.sum()),
                        models=results, by_frequency=rows)
