"""Read side of the stored scores: the overview's aggregates and one customer's panel.

No model code is imported here (scipy stays out of the web workers). The overview runs ONE grouped query over the viewer's scored customers — groups of (R, F,
segment, value bucket, P(alive) bucket), a few thousand at most whatever the customer count —
and folds them into the grid, the segment table and the two histograms in Python. So a page
for HQ over a million customers is one scan, never a million rows in the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from ..extensions import db
from ..models import AnalyticsRun, Customer, CustomerScore
from ..security import has_global_permission, scope_filter
from .rfm import SEGMENT_HINTS, SEGMENT_LABELS, SEGMENTS

PERMISSION = "analytics.view"
#: Upper edges (KRW) of the expected-value histogram's buckets; the last bucket is open.
VALUE_EDGES = (10_000, 30_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000)
#: Upper edges of the P(alive) histogram's buckets (tenths).
ALIVE_EDGES = tuple(round(0.1 * i, 1) for i in range(1, 10))
#: The purchase models' names (as in :mod:`.clv_models`, which this module must not import: scipy).
MODEL_LABELS = {"pareto_nbd": "Pareto/NBD", "mbgnbd": "MBG/NBD", "bgnbd": "BG/NBD"}


def _bucket(column: Any, edges: tuple[float, ...]) -> ColumnElement[int]:
    """0 for values below edges[0], … len(edges) for the rest; -1 for NULL (model not fitted)."""
    whens = [(column.is_(None), -1)] + [(column < edge, i) for i, edge in enumerate(edges)]
    return case(*whens, else_=len(edges))


@dataclass
class Overview:
    run: AnalyticsRun | None  # the scores' run (last successful refresh)
    latest: AnalyticsRun | None  # the newest run of any status (running / failed ones are shown too)
    customers: int = 0
    monetary: int = 0
    expected_value: float = 0.0
    valued: int = 0  # customers with an expected value (the models fitted)
    expected_active: float = 0.0  # Σ P(alive)
    alive_known: int = 0  # customers with a P(alive) (BG/NBD fitted)
    grid: list[list[dict[str, Any]]] = field(default_factory=list)  # rows R 5..1, columns F 1..5
    grid_max: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)
    value_hist: list[dict[str, Any]] = field(default_factory=list)
    alive_hist: list[dict[str, Any]] = field(default_factory=list)


def last_done_run() -> AnalyticsRun | None:
    """The run whose scores are in ``customer_score`` (the newest successful one)."""
    return db.session.execute(
        select(AnalyticsRun).where(AnalyticsRun.status == "done")
        .order_by(AnalyticsRun.started_at.desc(), AnalyticsRun.id.desc()).limit(1)
    ).scalar_one_or_none()


def latest_run() -> AnalyticsRun | None:
    return db.session.execute(
        select(AnalyticsRun).order_by(AnalyticsRun.started_at.desc(), AnalyticsRun.id.desc()).limit(1)
    ).scalar_one_or_none()


def overview(user: Any) -> Overview:
    """Aggregates over the scored customers ``user`` may see with ``analytics.view``."""
    out = Overview(run=last_done_run(), latest=latest_run())
    if out.run is None:
        return out
    value_b = _bucket(CustomerScore.expected_value, VALUE_EDGES)
    alive_b = _bucket(CustomerScore.p_alive, ALIVE_EDGES)
    stmt = select(
        CustomerScore.r_score, CustomerScore.f_score, CustomerScore.rfm_segment, value_b, alive_b, func.count(),
        func.sum(CustomerScore.monetary), func.sum(CustomerScore.expected_value), func.count(CustomerScore.expected_value),
        func.sum(CustomerScore.p_alive),
    ).group_by(CustomerScore.r_score, CustomerScore.f_score, CustomerScore.rfm_segment, value_b, alive_b)
    if not has_global_permission(user, PERMISSION):  # HQ: no join at all
        stmt = stmt.join(Customer, Customer.id == CustomerScore.customer_id).where(
            scope_filter(user, PERMISSION, Customer))
    _fold(out, db.session.execute(stmt).all())
    return out


def _fold(out: Overview, rows: list[Any]) -> None:
    cells = {(r, f): [0, 0] for r in range(1, 6) for f in range(1, 6)}
    segs = {s: [0, 0, 0.0, 0] for s in SEGMENTS}
    value_counts = [0] * (len(VALUE_EDGES) + 2)  # index 0: not computed
    alive_counts = [0] * (len(ALIVE_EDGES) + 2)
    for r, f, seg, vb, ab, n, money, value, valued, alive in rows:
        money, value, alive = int(money or 0), float(value or 0), float(alive or 0)
        out.customers += n
        out.monetary += money
        out.expected_value += value
        out.valued += valued
        out.expected_active += alive
        if (r, f) in cells:
            cells[r, f][0] += n
            cells[r, f][1] += money
        s = segs.setdefault(seg, [0, 0, 0.0, 0])
        s[0] += n
        s[1] += money
        s[2] += value
        s[3] += valued
        value_counts[int(vb) + 1] += n
        alive_counts[int(ab) + 1] += n
    out.grid = [[{"r": r, "f": f, "count": cells[r, f][0],
                  "avg_monetary": cells[r, f][1] / cells[r, f][0] if cells[r, f][0] else None}
                 for f in range(1, 6)] for r in range(5, 0, -1)]
    out.grid_max = max((c[0] for c in cells.values()), default=0)
    out.segments = [{"name": name, "label": SEGMENT_LABELS.get(name, name), "hint": SEGMENT_HINTS.get(name, ""),
                     "count": n, "share": n / out.customers if out.customers else 0.0,
                     "avg_monetary": money / n if n else None, "avg_value": value / valued if valued else None}
                    for name, (n, money, value, valued) in segs.items()]
    out.value_hist = _hist(VALUE_EDGES, value_counts[1:], krw=True)
    out.alive_hist = _hist(ALIVE_EDGES, alive_counts[1:], krw=False)
    out.alive_known = sum(alive_counts[1:])


def _hist(edges: tuple[float, ...], counts: list[int], krw: bool) -> list[dict[str, Any]]:
    """Buckets with a short label each: ``< ₩10k``, ``₩10k–30k`` … ``≥ ₩2M``; ``0.0–0.1`` … for P(alive)."""
    def short(v: float) -> str:
        if not krw:
            return f"{v:.1f}"
        return f"₩{v / 1_000_000:g}M" if v >= 1_000_000 else f"₩{v / 1000:g}k"

    lows = (0.0, *edges)
    highs = (*edges, None)
    out = []
    for lo, hi, n in zip(lows, highs, counts, strict=True):
        if hi is None:
            label = f"≥ {short(lo)}" if krw else f"{short(lo)}–1.0"
        elif lo == 0 and krw:
            label = f"< {short(hi)}"
        else:
            label = f"{short(lo)}–{short(hi)}"
        out.append({"label": label, "low": lo, "high": hi, "count": n})
    return out


def purchase_model(run: AnalyticsRun | None) -> dict[str, Any] | None:
    """How the run chose its purchase model, for the overview: no fitted parameters, only outcomes.

    ``status``: ``ok`` (a model was used), ``degenerate`` (every fit was degenerate: no P(alive)),
    or ``legacy`` (a run from before the model check, BG/NBD only). ``check`` holds the holdout
    comparison — per model the error and the predicted total, and per calibration repeat count the
    actual and predicted mean purchases (the chart). ``None`` when the run fitted no model at all.
    """
    params = (run.params or {}) if run is not None else {}
    account = params.get("purchase_model")
    if account is None:
        return {"status": "legacy", "label": MODEL_LABELS["bgnbd"], "check": None} if "bgnbd" in params else None
    out: dict[str, Any] = {"status": account.get("status"), "model": account.get("model"),
                           "label": MODEL_LABELS.get(account.get("model") or "", None),
                           "chosen_by": account.get("chosen_by"), "check": None,
                           "problems": [{"label": MODEL_LABELS.get(m, m), "issues": issues}
                                        for m, issues in (account.get("issues") or {}).items() if issues]}
    check = account.get("check")
    if check:
        models = [{"key": m, "label": MODEL_LABELS.get(m, m), "chosen": m == account.get("model"),
                   "rmse": r.get("rmse"), "predicted_total": r.get("predicted_total"), "issues": r.get("issues") or []}
                  for m, r in check.get("models", {}).items()]
        out["check"] = {"holdout_weeks": check.get("holdout_weeks"), "calibration_end": check.get("calibration_end"),
                        "customers": check.get("customers"), "actual_total": check.get("actual_total"),
                        "models": models, "rows": check.get("by_frequency") or []}
    return out


def customer_panel(customer_id: int) -> dict[str, Any]:
    """One customer's stored scores and the run they come from (the customer page's Scores tab)."""
    score = db.session.get(CustomerScore, customer_id)
    run = last_done_run()
    about = None
    if score is not None and score.expected_value is not None:
        about = _round_2(score.expected_value)
    model = purchase_model(run)
    return {"score": score, "run": run, "latest": latest_run(), "about_value": about,
            "model_label": model["label"] if model and model.get("label") else MODEL_LABELS["bgnbd"],
            "segment_label": SEGMENT_LABELS.get(score.rfm_segment, score.rfm_segment) if score else None,
            "segment_hint": SEGMENT_HINTS.get(score.rfm_segment, "") if score else None}


def _round_2(value: float) -> int:
    """Two significant digits: "about ₩120,000" reads as an estimate, ₩123,456.78 would not."""
    if value <= 0:
        return 0
    digits = len(str(int(value))) - 2
    return int(round(value, -digits)) if digits > 0 else int(round(value))
