"""``refresh_scores``: rewrite ``customer_score`` from the sales warehouse (RFM + lifetime value).

Why a stored table: the overview, the customer page and segment rules read a narrow indexed
table instead of aggregating ten million sale lines per request. One refresh:

1. reads per-customer-per-day totals set-based (same-day purchases are one transaction) — on
   PostgreSQL as a binary ``COPY (SELECT …) TO STDOUT`` straight into numpy, ~7× faster than
   fetching rows through a cursor (see docs/analytics.md, "## Refreshing scores");
2. computes RFM (:mod:`.rfm`), chooses a purchase model (BG/NBD, MBG/NBD or Pareto/NBD, by a
   holdout check: :mod:`.clv_models`) and fits it and Gamma-Gamma (:mod:`.clv`) with the calibration
   period ending on ``as_of`` (weeks), then predicts P(alive), expected purchases and value
   over ``horizon_weeks``;
3. replaces every row of ``customer_score`` in ONE transaction (DELETE + bulk insert), so
   readers see the old scores or the new ones, never a mix; records an ``AnalyticsRun`` and an
   audit event.

A model that cannot be fitted (too few customers or repeat buyers, no convergence) leaves its
columns NULL; RFM is stored anyway and the run's message says why.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text

from .. import audit
from ..extensions import db, sqlite_bulk_load
from ..models import AnalyticsRun, SalesReport, utcnow
from ..sales import bulk
from . import clv, clv_models
from .clv_models import ModelFit
from .rfm import rfm_table
from .score_stats import last_done_run

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage label, fraction done 0..1)

#: Below these counts the lifetime-value models are not fitted (their estimates would be noise).
MIN_CUSTOMERS = 30
MIN_REPEAT_BUYERS = 10
MAX_HORIZON_WEEKS = 520
#: The model check: holdout length (capped at a third of the history) and customers it samples.
HOLDOUT_DAYS = 182
MIN_HOLDOUT_DAYS = 28
CHECK_SAMPLE = 10_000
#: Customers the chosen model is fitted on (a fixed random sample above it); everyone is predicted.
FIT_SAMPLE = 20_000
PG_WORK_MEM = "128MB"  # for the warehouse read's GROUP BY (see _read_daily_postgres)

SCORE_COLUMNS = ["customer_id", "as_of", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                 "rfm_segment", "p_alive", "expected_purchases", "expected_value", "computed_at"]


@dataclass
class Scores:
    """What one refresh computed, before it is written: the rows, fitted parameters and notes."""

    frame: pd.DataFrame  # indexed by customer_id; the columns of ``customer_score``
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# -- reading the warehouse ---------------------------------------------------------------------------


_DAILY_SQL = ("SELECT customer_id, {day} AS day, SUM(amount) AS amount FROM sale_line "
              "WHERE sold_at <= {as_of} GROUP BY customer_id, sold_at")


def read_daily_totals(as_of: date) -> pd.DataFrame:
    """Per-customer-per-day totals up to ``as_of``: ``customer_id``, ``day`` (datetime64), ``amount``."""
    if db.session.get_bind().dialect.name == "postgresql":
        ids, days, amounts = _read_daily_postgres(as_of)
    else:
        ids, days, amounts = _read_daily_rows(as_of)
    return pd.DataFrame({
        "customer_id": ids,
        "day": days.astype("datetime64[D]").astype("datetime64[s]"),
        "amount": amounts,
    })


_PG_HEADER = b"PGCOPY\n\xff\r\n\x00"
# One tuple of the binary COPY format: field count, then (length, value) per field; all int8.
_PG_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("customer", ">i8"), ("l2", ">i4"), ("day", ">i8"),
                    ("l3", ">i4"), ("amount", ">i8")])


def _read_daily_postgres(as_of: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary COPY of the grouped query: fixed 38-byte tuples that numpy reads without parsing.

    Every column is cast to bigint and none can be NULL (``customer_id``, ``sold_at`` and
    ``amount`` are NOT NULL), so each tuple has the same layout; it is checked, not assumed.
    """
    # COPY takes no bind parameters: the day is a ``date`` rendered by isoformat, never text input.
    query = _DAILY_SQL.format(day="(sold_at - DATE '1970-01-01')::bigint", as_of=f"DATE '{as_of.isoformat()}'")
    query = query.replace("SELECT customer_id,", "SELECT customer_id::bigint,").replace(
        "SUM(amount) AS amount", "SUM(amount)::bigint AS amount")
    # Enough memory for a hash aggregate: with the default 4 MB PostgreSQL walks the
    # (customer_id, sold_at) index over a heap laid out by day — 3× slower at 10M lines.
    # SET LOCAL: this read transaction only.
    db.session.execute(text(f"SET LOCAL work_mem = '{PG_WORK_MEM}'"))
    raw = db.session.connection().connection.driver_connection
    buf = bytearray()
    with raw.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
        for chunk in copy:
            buf += chunk
    if not buf.startswith(_PG_HEADER):
        raise RuntimeError("unexpected COPY BINARY header")
    ext = int.from_bytes(buf[15:19], "big")
    start, end = 19 + ext, len(buf) - 2  # the trailer is int16 -1
    if buf[end:] != b"\xff\xff" or (end - start) % _PG_ROW.itemsize:
        raise RuntimeError("unexpected COPY BINARY layout")
    rows = np.frombuffer(buf, dtype=_PG_ROW, offset=start, count=(end - start) // _PG_ROW.itemsize)
    if rows.size and not ((rows["n"] == 3).all() and (rows["l1"] == 8).all() and (rows["l2"] == 8).all()
                          and (rows["l3"] == 8).all()):
        raise RuntimeError("unexpected COPY BINARY tuple layout")
    out = (rows["customer"].astype(np.int64), rows["day"].astype(np.int64), rows["amount"].astype(np.int64))
    del rows, buf
    return out


def _read_daily_rows(as_of: date, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SQLite (and any other database): the same query fetched in chunks into int64 arrays."""
    query = _DAILY_SQL.format(day="CAST(julianday(sold_at) - 2440587.5 AS INTEGER)", as_of=":as_of")
    result = db.session.execute(text(query), {"as_of": as_of})
    parts = []
    while rows := result.fetchmany(chunk):
        parts.append(np.array(rows, dtype=np.int64).reshape(-1, 3))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    table = np.concatenate(parts)
    return table[:, 0], table[:, 1], table[:, 2]


# -- computing ----------------------------------------------------------------------------------------


def compute_scores(daily: pd.DataFrame, as_of: date, horizon_weeks: int, progress: Progress | None = None) -> Scores:
    """RFM for everyone with purchases, plus P(alive) / expected purchases / value where the models fit.

    Pure computation (no database), so tests and benchmarks can call it on any frame.
    """
    step = progress or (lambda _label, _fraction: None)
    step("RFM scores", 0.40)
    frame = rfm_table(daily, as_of)
    for column in ("p_alive", "expected_purchases", "expected_value"):
        frame[column] = np.nan
    scores = Scores(frame)
    if frame.empty:
        scores.notes.append(f"No sales on or before {as_of.isoformat()}: nothing to score.")
        return scores

    summary = clv.summarize_transactions(daily.assign(amount=daily["amount"].clip(lower=0)), "customer_id", "day",
                                         "amount", as_of)
    repeaters = int((summary["frequency"] > 0).sum())
    if len(summary) < MIN_CUSTOMERS or repeaters < MIN_REPEAT_BUYERS:
        scores.notes.append(
            f"Lifetime value not computed: {len(summary)} customers and {repeaters} repeat buyers "
            f"(the models need at least {MIN_CUSTOMERS} and {MIN_REPEAT_BUYERS}).")
        return scores

    step("Choosing the purchase model", 0.45)
    fit, choice = choose_purchase_model(daily, summary, as_of)
    scores.params["purchase_model"] = choice
    for name, public in choice.pop("fits").items():
        scores.params[name] = public
    if fit is None:
        scores.notes.append(choice["note"])
        return scores
    scores.notes.append(choice["note"])
    step("Fitting Gamma-Gamma", 0.62)
    gg = _fit(lambda: clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"], drop_nonpositive=True),
              "Gamma-Gamma", scores)
    if gg is not None:
        scores.params["gamma_gamma"] = {"p": gg.p, "q": gg.q, "v": gg.v, "loglik": gg.loglik,
                                        "customers": gg.n_customers}

    step("Predicting", 0.70)
    x, tx, big_t = summary["frequency"], summary["recency"], summary["T"]
    p_alive = fit.p_alive(x, tx, big_t)
    purchases = fit.expected(float(horizon_weeks), x, tx, big_t, p_alive=p_alive)
    if gg is not None:
        value = purchases * clv.gamma_gamma_expected_spend(gg, x, summary["monetary_value"])
    else:
        value = np.full(len(summary), np.nan)
    predicted = pd.DataFrame({"p_alive": p_alive, "expected_purchases": purchases, "expected_value": value},
                             index=summary.index)
    predicted = predicted.where(np.isfinite(predicted))  # a non-finite prediction is stored as NULL
    frame[list(predicted.columns)] = predicted.reindex(frame.index)  # the same customers, both sorted by id
    return scores


def choose_purchase_model(daily: pd.DataFrame, summary: pd.DataFrame, as_of: date) -> tuple[ModelFit | None, dict[str, Any]]:
    """The purchase model for this refresh, fitted on (a sample of) everyone, and how it was chosen.

    With enough history (three holdout periods), every model is fitted on the purchases up to
    ``as_of`` − holdout and judged on the holdout weeks (:func:`.clv_models.holdout_check`, on a
    sample of ``CHECK_SAMPLE`` customers); otherwise by log-likelihood on the full period (all
    three have four parameters). The best model is then fitted up to ``as_of``; a degenerate fit
    (:func:`.clv_models.diagnose`) falls back to the next model, and when every fit is degenerate
    none is used: the scores get no P(alive) rather than a false certainty. Returns (fit or None,
    a JSON-able account with ``model``, ``status``, ``chosen_by``, ``check``, ``fits``, ``note``).
    """
    first = pd.Timestamp(daily["day"].min()).date()
    holdout_days = min(HOLDOUT_DAYS, (as_of - first).days // 3)
    fit_rows = clv_models.sample_rows(len(summary), FIT_SAMPLE)
    x = summary["frequency"].to_numpy(dtype=np.float64)[fit_rows]
    tx, big_t = summary["recency"].to_numpy()[fit_rows], summary["T"].to_numpy()[fit_rows]
    fits: dict[str, ModelFit] = {}
    failures: dict[str, str] = {}

    def fitted(name: str) -> ModelFit | None:
        if name not in fits and name not in failures:
            try:
                fits[name] = clv_models.fit_model(name, x, tx, big_t)
            except (ValueError, FloatingPointError, ArithmeticError) as exc:
                failures[name] = str(exc)[:200]
        return fits.get(name)

    check = None
    if holdout_days >= MIN_HOLDOUT_DAYS:
        ids = daily["customer_id"].unique()
        if len(ids) > CHECK_SAMPLE:
            sample = daily[daily["customer_id"].isin(ids[clv_models.sample_rows(len(ids), CHECK_SAMPLE)])]
        else:
            sample = daily
        check = clv_models.holdout_check(sample, as_of - timedelta(days=holdout_days), as_of)
        ranked = sorted((m for m in clv_models.MODELS if "rmse" in check.models[m]),
                        key=lambda m: (bool(check.models[m]["issues"]), check.models[m]["rmse"]))
        chosen_by = "holdout"
    else:
        for name in clv_models.MODELS:
            fitted(name)
        ranked = sorted(fits, key=lambda m: (fits[m].degenerate, -fits[m].loglik))
        chosen_by = "likelihood"
    chosen = next((m for m in ranked if (f := fitted(m)) is not None and not f.degenerate), None)
    account: dict[str, Any] = {
        "model": chosen, "label": clv_models.MODEL_LABELS.get(chosen or "", None), "chosen_by": chosen_by,
        "status": "ok" if chosen else "degenerate", "fitted_on": int(len(x)),
        "check": _finite(check.public()) if check else None,  # JSON columns take no NaN or inf
        # What went wrong per model: the final fit's verdict where there is one, else the check's.
        "issues": ({m: list(r.get("issues", [])) for m, r in check.models.items()} if check else {})
                  | {m: list(f.issues) for m, f in fits.items()} | {m: ["failed"] for m in failures},
        "fits": {m: _finite(f.public()) for m, f in fits.items()},
    }
    if chosen:
        how = (f"best of {len(ranked)} on a {check.holdout_weeks:g}-week holdout" if check
               else "highest likelihood (too little history for a holdout check)")
        account["note"] = f"Purchase model: {clv_models.MODEL_LABELS[chosen]} ({how})."
        return fits[chosen], account
    problems = "; ".join(f"{clv_models.MODEL_LABELS[m]}: {', '.join(i)}" for m, i in account["issues"].items())
    account["note"] = (f"P(alive) and expected values not computed: every purchase model's fit is degenerate "
                       f"({problems}).")
    return None, account


def _fit(fit: Callable[[], Any], name: str, scores: Scores) -> Any:
    """Run one model fit; a failure or non-convergence becomes a note instead of an error."""
    try:
        params = fit()
    except (ValueError, FloatingPointError, ArithmeticError) as exc:
        scores.notes.append(f"{name} not fitted: {exc}")
        return None
    if not params.converged:
        scores.notes.append(f"{name} not fitted: the maximum-likelihood search did not converge.")
        return None
    return params


# -- staleness ------------------------------------------------------------------------------------------


def warehouse_fingerprint() -> dict[str, int]:
    """Count and id sum of the committed sales reports: changes with every commit or replacement,
    including an import that began before a refresh and committed after it read the warehouse."""
    count, id_sum = db.session.execute(
        select(func.count(), func.coalesce(func.sum(SalesReport.id), 0)).where(SalesReport.status == "committed")
    ).one()
    return {"reports": int(count), "report_id_sum": int(id_sum)}


def running_refresh(max_age: timedelta = timedelta(hours=2)) -> AnalyticsRun | None:
    """A refresh started less than ``max_age`` ago and not finished (an older one was interrupted)."""
    return db.session.execute(
        select(AnalyticsRun).where(AnalyticsRun.status == "running", AnalyticsRun.started_at > utcnow() - max_age)
        .order_by(AnalyticsRun.started_at.desc()).limit(1)
    ).scalar_one_or_none()


def staleness() -> str | None:
    """Why scores need a refresh, or ``None`` when they are current (for ``refresh --if-stale``).

    Stale: no successful run yet, or a sales report was committed (``created_at``) after the last
    successful run started, or the set of committed reports differs from the one that run read.
    """
    last = last_done_run()
    if last is None:
        return "no successful refresh yet"
    newer = db.session.execute(
        select(func.count()).select_from(SalesReport)
        .where(SalesReport.status == "committed", SalesReport.created_at > last.started_at)
    ).scalar_one()
    if newer:
        return f"{newer} sales report(s) committed since the last refresh (run #{last.id})"
    seen = (last.params or {}).get("warehouse")
    if seen != warehouse_fingerprint():
        return f"the committed sales reports changed since the last refresh (run #{last.id})"
    return None


# -- the refresh -------------------------------------------------------------------------------------------


def refresh_scores(as_of: date | None = None, horizon_weeks: int = 26, progress: Progress | None = None,
                   user: Any = None, source: str = "cli") -> AnalyticsRun:
    """Recompute every customer's scores as of ``as_of`` (default today); returns the finished run.

    The run row is committed first (status ``running``) so an interrupted refresh stays visible;
    an error marks it ``failed`` with the reason and is raised again. ``user``: who asked
    (``None``: the command line / cron); ``source`` (``cli``, ``job``, ``demo`` ...) goes with
    ``user`` to the add-ons' ``portal_scores_refreshed``, fired after the commit.
    """
    if not 1 <= int(horizon_weeks) <= MAX_HORIZON_WEEKS:
        raise ValueError(f"horizon_weeks must be between 1 and {MAX_HORIZON_WEEKS}")
    step = progress or (lambda _label, _fraction: None)
    as_of = as_of or date.today()
    started = time.perf_counter()
    db.session.rollback()  # start from a clean transaction (the CLI may have read already)
    run = AnalyticsRun(as_of=as_of, horizon_weeks=int(horizon_weeks), status="running",
                       started_by_id=getattr(user, "id", None), started_at=utcnow())
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        step("Reading sales", 0.05)
        fingerprint = warehouse_fingerprint()  # before the read: a report committing meanwhile makes the next check stale
        daily = read_daily_totals(as_of)
        db.session.rollback()  # end the read; the write transaction begins fresh (and in bulk mode on SQLite)
        scores = compute_scores(daily, as_of, int(horizon_weeks), step)
        del daily
        step("Writing scores", 0.80)
        _write(run_id, scores, fingerprint, started, user, step)
    except Exception as exc:
        db.session.rollback()
        _mark_failed(run_id, exc, user)
        raise
    step("Done", 1.0)
    from ..events import fire

    fire("portal_scores_refreshed", run_id=run_id, actor=user, source=source)
    return db.session.get(AnalyticsRun, run_id)


def _score_rows(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    out = frame.reset_index()
    out["as_of"] = as_of
    out["computed_at"] = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
    return out[SCORE_COLUMNS]


def _write(run_id: int, scores: Scores, fingerprint: dict[str, int], started: float, user: Any,
           step: Progress) -> None:
    """DELETE + bulk insert + the run's outcome + the audit event: one transaction."""
    run = None
    with sqlite_bulk_load():
        if db.session.get_bind().dialect.name == "postgresql":
            # Two refreshes at once would both delete, then collide on the primary key: queue them.
            # SHARE ROW EXCLUSIVE conflicts with itself and with writers, not with readers.
            db.session.execute(text("LOCK TABLE customer_score IN SHARE ROW EXCLUSIVE MODE"))
        db.session.execute(text("DELETE FROM customer_score"))
        rows = _score_rows(scores.frame, db.session.get(AnalyticsRun, run_id).as_of)
        total = max(len(rows), 1)
        written = [0]

        def advance(n: int) -> None:
            written[0] += n
            step("Writing scores", 0.80 + 0.18 * written[0] / total)

        bulk.insert_frame("customer_score", rows, progress=advance)
        if db.session.get_bind().dialect.name == "postgresql":
            # The whole table changed: fresh planner statistics for segment queries right away
            # (a sample, well under a second; transactional, unlike VACUUM).
            db.session.execute(text("ANALYZE customer_score"))
        run = db.session.get(AnalyticsRun, run_id)
        run.status = "done"
        run.customers = len(rows)
        run.params = {**scores.params, "warehouse": fingerprint}
        run.finished_at = utcnow()
        seconds = time.perf_counter() - started
        summary = f"Scored {len(rows):,} customers as of {run.as_of.isoformat()} in {seconds:.1f} s."
        run.message = " ".join([summary, *scores.notes])[:500]
        audit.record("analytics.refresh", run, summary=run.message, actor=user)
        db.session.commit()


def _mark_failed(run_id: int, exc: Exception, user: Any) -> None:
    try:
        run = db.session.get(AnalyticsRun, run_id)
        run.status = "failed"
        run.finished_at = utcnow()
        run.message = f"{type(exc).__name__}: {exc}"[:500]
        audit.record("analytics.refresh_failed", run, summary=run.message, actor=user)
        db.session.commit()
    except Exception:  # the database itself may be gone; the original error matters more
        db.session.rollback()
        log.exception("could not record the failed analytics run #%s", run_id)


def run_summary(run: AnalyticsRun) -> dict[str, Any]:
    """The run as plain JSON-able values (CLI ``--json``, tests)."""
    params = {k: v for k, v in (run.params or {}).items() if k in ("purchase_model", *clv_models.MODELS, "gamma_gamma")}
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {"run_id": run.id, "status": run.status, "as_of": run.as_of.isoformat(), "horizon_weeks": run.horizon_weeks,
            "customers": run.customers, "params": _finite(params), "message": run.message,
            "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at), "seconds": seconds}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
