"""``flask --app wsgi portal analytics …``: commands for analysts and operators.

* ``fit-clv``: BG/NBD (or MBG/NBD, Pareto/NBD) + Gamma-Gamma on any transaction file (no database), for analysts who
  want the parameters or per-customer predictions of an export or a published data set.
* ``refresh``: recompute the stored customer scores; ``--if-stale`` makes it a cheap cron job.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import click
import numpy as np
import pandas as pd
from flask.cli import AppGroup

analytics_group = AppGroup("analytics", help="Customer analytics: lifetime-value fits and score refresh.")

SEPARATORS = {",": ",", "comma": ",", ";": ";", "semicolon": ";", "tab": "\t", "\\t": "\t", "|": "|",
              "whitespace": r"\s+"}
PREDICTION_COLUMNS = ["customer_id", "frequency", "recency", "T", "p_alive", "expected_purchases", "expected_value"]


# -- fit-clv -------------------------------------------------------------------------------------------


def _read_transactions(path: Path, sep: str, header: bool) -> pd.DataFrame:
    """The file as text columns (ids keep their zero padding, dates are parsed later on purpose)."""
    try:
        frame = pd.read_csv(path, sep=SEPARATORS[sep], header=0 if header else None, dtype=str,
                            keep_default_na=False, skipinitialspace=True, engine="python" if sep == "whitespace" else "c")
    except pd.errors.EmptyDataError:
        raise click.ClickException(f"{path} is empty: no transactions to fit.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{path} could not be read as a {sep!r}-separated file: {exc}") from None
    if not header:
        frame.columns = [f"col{i}" for i in range(frame.shape[1])]
    if frame.empty:
        raise click.ClickException(f"{path} has no data rows: no transactions to fit.")
    return frame


def _column(frame: pd.DataFrame, spec: str, option: str) -> str:
    """A column by name, or by 0-based position (``2``) when no column has that name."""
    if spec in frame.columns:
        return spec
    if spec.isdigit() and int(spec) < frame.shape[1]:
        return str(frame.columns[int(spec)])
    raise click.ClickException(
        f"{option}: no column {spec!r}; the file has {', '.join(map(str, frame.columns))} "
        "(or give a 0-based position)")


def _typed(frame: pd.DataFrame, customer: str, day: str, amount: str, date_format: str | None) -> pd.DataFrame:
    ids = frame[customer].str.strip()
    if (ids == "").any():
        row = int(np.flatnonzero((ids == "").to_numpy())[0]) + 1
        raise click.ClickException(f"column {customer!r} has empty customer ids (first at data row {row}).")
    amounts = pd.to_numeric(frame[amount].str.strip().str.replace(",", "", regex=False), errors="coerce")
    bad = amounts.isna() | ~np.isfinite(amounts)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise click.ClickException(f"column {amount!r} has {int(bad.sum())} value(s) that are not numbers "
                                   f"(first at data row {row + 1}: {frame[amount].iloc[row]!r}).")
    dates = pd.to_datetime(frame[day].str.strip(), format=date_format, errors="coerce")
    bad = dates.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        hint = f" with --date-format {date_format!r}" if date_format else "; pass --date-format, e.g. %Y%m%d"
        raise click.ClickException(f"column {day!r} has {int(bad.sum())} value(s) that are not dates{hint} "
                                   f"(first at data row {row + 1}: {frame[day].iloc[row]!r}).")
    return pd.DataFrame({"customer_id": ids, "date": dates, "amount": amounts})


@analytics_group.command("fit-clv")
@click.option("--transactions", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Transaction log: one row per purchase (customer, date, amount).")
@click.option("--customer-col", required=True, help="Customer id column: a name, or a 0-based position.")
@click.option("--date-col", required=True, help="Purchase date column: a name, or a 0-based position.")
@click.option("--amount-col", required=True, help="Amount column: a name, or a 0-based position.")
@click.option("--date-format", help="strptime format of the dates, e.g. %Y%m%d (default: inferred).")
@click.option("--calibration-end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Last day (YYYY-MM-DD) of the period the models are fitted on.")
@click.option("--predict-weeks", type=click.FloatRange(min=0, min_open=True),
              help="Predict purchases and value over this many weeks after --calibration-end.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write per-customer predictions to this CSV (needs --predict-weeks).")
@click.option("--sep", default=",", show_default=True, type=click.Choice(sorted(SEPARATORS)),
              help="Field separator; 'whitespace' = runs of spaces/tabs (the CDNOW files).")
@click.option("--no-header", is_flag=True, help="The file has no header line: columns are col0, col1, …")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the fitted parameters.")
@click.option("--model", "model", type=click.Choice(["bgnbd", "mbgnbd", "pareto_nbd"]), default="bgnbd",
              show_default=True, help="Purchase model for the predictions (BG/NBD is always fitted too).")
def fit_clv_command(path: Path, customer_col: str, date_col: str, amount_col: str, date_format: str | None,
                    calibration_end: datetime, predict_weeks: float | None, output: Path | None, sep: str,
                    no_header: bool, as_json: bool, model: str) -> None:
    """Fit BG/NBD (or MBG/NBD, Pareto/NBD) and Gamma-Gamma on a transaction file; optionally predict.

    Purchases on one day are one transaction; time is in weeks. Example (the CDNOW sample):
    --transactions tests/data/CDNOW_sample.txt --sep whitespace --no-header --customer-col col1
    --date-col col2 --amount-col col4 --date-format %Y%m%d --calibration-end 1997-09-30
    """
    from . import clv, clv_models

    if output is not None and predict_weeks is None:
        raise click.UsageError("--output needs --predict-weeks (the horizon of the predictions).")
    frame = _read_transactions(path, sep, header=not no_header)
    columns = [_column(frame, spec, opt) for spec, opt in
               ((customer_col, "--customer-col"), (date_col, "--date-col"), (amount_col, "--amount-col"))]
    log = _typed(frame, *columns, date_format)
    del frame
    if (log["amount"] < 0).any():
        raise click.ClickException(f"column {columns[2]!r} has negative amounts: net refunds against their purchases first.")
    t0 = time.perf_counter()
    try:
        summary = clv.summarize_transactions(log, "customer_id", "date", "amount", calibration_end.date())
        bg = clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
        gg = clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"], drop_nonpositive=True)
        other = None if model == "bgnbd" else clv_models.fit_model(model, summary["frequency"], summary["recency"],
                                                                    summary["T"])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    fit_seconds = time.perf_counter() - t0
    for name, params in (("BG/NBD", bg), ("Gamma-Gamma", gg)):
        if not params.converged:
            click.echo(f"warning: the {name} fit did not converge; treat its parameters with care.", err=True)
    if other is not None and other.degenerate:
        click.echo(f"warning: the {other.label} fit is degenerate ({', '.join(other.issues)}); "
                   "its predictions are not to be trusted.", err=True)

    if predict_weeks is not None:
        pred = clv.predict(bg, gg, summary, predict_weeks)
        if other is not None:
            x, tx, big_t = summary["frequency"], summary["recency"], summary["T"]
            pred["p_alive"] = other.p_alive(x, tx, big_t)
            pred["expected_purchases"] = other.expected(predict_weeks, x, tx, big_t, p_alive=pred["p_alive"].to_numpy())
            pred["expected_value"] = pred["expected_purchases"] * clv.gamma_gamma_expected_spend(
                gg, x, summary["monetary_value"])
        pred.index.name = "customer_id"
        if output is not None:
            pred.reset_index()[PREDICTION_COLUMNS].to_csv(output, index=False, float_format="%.6f")
    if as_json:
        click.echo(json.dumps({
            "customers": len(summary),
            "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "loglik": bg.loglik},
            "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
            **({model: {**other.params, "loglik": other.loglik, "issues": list(other.issues)}} if other else {}),
        }))
        return
    click.echo(f"{len(summary):,} customers ({int((summary['frequency'] > 0).sum()):,} repeat buyers), "
               f"calibration to {calibration_end.date().isoformat()}; fitted in {fit_seconds:.2f} s")
    click.echo(f"BG/NBD:      r = {bg.r:.4f}, alpha = {bg.alpha:.4f}, a = {bg.a:.4f}, b = {bg.b:.4f}, "
               f"log-likelihood = {bg.loglik:.2f}")
    if other is not None:
        values = ", ".join(f"{k} = {v:.4f}" for k, v in other.params.items())
        click.echo(f"{other.label + ':':<12} {values}, log-likelihood = {other.loglik:.2f}")
    click.echo(f"Gamma-Gamma: p = {gg.p:.4f}, q = {gg.q:.4f}, v = {gg.v:.4f} ({gg.n_customers:,} repeat buyers)")
    if output is not None:
        click.echo(f"predictions over {predict_weeks:g} weeks for {len(summary):,} customers → {output}")


# -- refresh -------------------------------------------------------------------------------------------


def _progress_printer(show_bar: bool, bar) -> Callable[[str, float], None]:
    """A bar on a terminal; one "NN% stage" line per stage on stderr otherwise (logs, cron mail)."""
    done, last = [0], [None]

    def progress(label: str, fraction: float) -> None:
        target = int(fraction * 100)
        if not show_bar and label != last[0]:
            click.echo(f"{target:3d}% {label}", err=True)
            last[0] = label
        bar.label = f"{label:<22}"
        if target > done[0]:
            bar.update(target - done[0])
            done[0] = target

    return progress


@analytics_group.command("refresh")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Score as of this day (YYYY-MM-DD); default today. Later sales are ignored.")
@click.option("--horizon-weeks", type=click.IntRange(1, 520), default=26, show_default=True,
              help="Horizon of the expected purchases and value.")
@click.option("--if-stale", is_flag=True,
              help="Do nothing (exit 0) unless a sales report was committed since the last successful refresh.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def refresh_command(as_of: datetime | None, horizon_weeks: int, if_stale: bool, as_json: bool) -> None:
    """Recompute every customer's RFM scores and lifetime value (replaces customer_score)."""
    from . import clv_models
    from .scoring import refresh_scores, run_summary, running_refresh, staleness

    if if_stale:
        running = running_refresh()
        if running is not None:  # cron fired again while a long refresh is still at work
            message = f"A refresh (run #{running.id}) started {running.started_at:%Y-%m-%d %H:%M} UTC is still running."
            click.echo(json.dumps({"status": "skipped", "reason": message}) if as_json else f"{message} Nothing to do.")
            return
        reason = staleness()
        if reason is None:
            if as_json:
                click.echo(json.dumps({"status": "skipped", "reason": "scores are up to date"}))
            else:
                click.echo("Scores are up to date: no sales report committed since the last refresh. Nothing to do.")
            return
        if not as_json:
            click.echo(f"Refreshing: {reason}.", err=True)
    day: date | None = as_of.date() if as_of else None
    show_bar = not as_json and sys.stderr.isatty()
    t0 = time.perf_counter()
    with click.progressbar(length=100, label="Refreshing", file=sys.stderr, show_eta=False,
                           hidden=not show_bar) as bar:
        try:
            run = refresh_scores(as_of=day, horizon_weeks=horizon_weeks, progress=_progress_printer(show_bar, bar))
        except Exception as exc:  # recorded on the run; the operator gets one line, not a traceback
            raise click.ClickException(f"refresh failed: {type(exc).__name__}: {exc}") from None
    seconds = time.perf_counter() - t0
    summary = run_summary(run)
    if as_json:
        click.echo(json.dumps({**summary, "seconds": round(seconds, 2)}))
        return
    click.echo(f"run #{run.id}: {run.message}")
    params = summary["params"]
    account = params.get("purchase_model") or {}
    for key in clv_models.MODELS:
        if key in params:
            p = params[key]
            used = " (used)" if account.get("model") == key else ""
            issues = f"; problems: {', '.join(p['issues'])}" if p.get("issues") else ""
            values = ", ".join(f"{n} = {p[n]:.4g}" for n in clv_models.PARAM_NAMES[key])
            click.echo(f"  {clv_models.MODEL_LABELS[key] + ':':<12} {values}, "
                       f"log-likelihood = {p['loglik']:.1f}{used}{issues}")
    if "gamma_gamma" in params:
        p = params["gamma_gamma"]
        click.echo(f"  Gamma-Gamma: p = {p['p']:.4g}, q = {p['q']:.4g}, v = {p['v']:.4g}")
    check = account.get("check")
    if check:
        errors = ", ".join(f"{k} {v['rmse']:.3f}" for k, v in check["models"].items() if "rmse" in v)
        click.echo(f"  holdout check: {check['holdout_weeks']:g} weeks after {check['calibration_end']}, "
                   f"{check['customers']:,} customers; RMSE {errors}")
    click.echo(f"  {run.customers:,} customers scored in {seconds:.1f} s (horizon {run.horizon_weeks} weeks)")
