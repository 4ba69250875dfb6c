"""Outcomes from sale lines, lift against the holdout, difference-in-differences, frozen snapshots.

**Outcome** of a customer over a window ``[start, end]`` (both days included, optionally one
category): a *converter* has at least one sale line in it; *revenue* is the sum of those lines'
amounts (0 for everyone else). Treatment and comparison arms are measured identically, from the
same aggregate. Sale lines of a merged-away duplicate were moved to the survivor, who keeps their
own arm; the duplicate's assignment is marked ``merged`` and left out (the result counts them).

**One aggregate** answers every arm: the window's sale lines grouped by customer, left-joined to the
experiment's assignments, summed per arm with ``FILTER`` — one statement. A large experiment on
PostgreSQL streams it through the covering index ``ix_sale_line_customer_cover`` (see
:func:`_streaming`): a few seconds at 1,000,000 customers and 10,000,000 sale lines
(``bench/experiments_lift.py``); a small one restricts the lines to its customers first.

**Frozen** results are stored as JSON (``experiment_result``) and read back as they were: a merge,
an erasure or a corrected import later never changes them.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Float, Select, and_, cast, func, select, text
from sqlalchemy.exc import IntegrityError

from ..bounds import MIN_DATE
from ..db_utils import chunked, is_postgres
from ..extensions import db
from ..models import Category, SaleLine, utcnow
from .assignment import ExperimentError
from .models import ARMS, Experiment, ExperimentAssignment, ExperimentResult
from .stats import ArmStats, DidResult, compare, did_from_arrays, finite

MAX_WINDOW_DAYS = 3660
AGAINST = ("holdout", "control")
METRICS = {"holdout": "purchase", "control": "purchase_vs_control"}


@dataclass
class Outcomes:
    """Per-arm outcomes of one experiment over one window."""

    experiment_id: int
    start: date
    end: date
    category: str | None
    arms: dict[str, ArmStats]
    merged_excluded: int

    def as_dict(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "window": {"start": self.start.isoformat(),
                                                                "end": self.end.isoformat()},
                "category": self.category, "arms": {k: v.as_dict() for k, v in self.arms.items()},
                "merged_excluded": self.merged_excluded}


@dataclass
class LiftResult:
    """A result as the panel shows it and as it is frozen (every number finite or None)."""

    experiment_id: int
    metric: str
    window: dict[str, str]
    category: str | None
    against: str
    arms: dict[str, dict[str, Any]]
    merged_excluded: int
    comparison: dict[str, Any]
    verdict: str
    computed_at: str
    frozen: bool = False
    versions: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any], frozen: bool = True) -> LiftResult:
        data = {k: snapshot[k] for k in cls.__dataclass_fields__ if k in snapshot}
        data["frozen"] = frozen
        return cls(**data)


def _versions() -> dict[str, str]:
    out = {}
    for name in ("statsmodels", "scipy", "numpy"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "?"
    return out


def _window(start: Any, end: Any) -> tuple[date, date]:
    errors = {}
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date) or isinstance(value, datetime):
            errors[f"window.{name}"] = _("must be a date.")
        elif value < MIN_DATE or value > date(2999, 12, 31):
            errors[f"window.{name}"] = _("is out of range.")
    if not errors and end < start:
        errors["window.end"] = _("must not be before the start.")
    if not errors and (end - start).days >= MAX_WINDOW_DAYS:
        errors["window.end"] = _("The window may span at most %(n)s days.", n=MAX_WINDOW_DAYS)
    if errors:
        raise ExperimentError(errors)
    return start, end


def _category_code(category_id: Any) -> str | None:
    if category_id is None:
        return None
    if isinstance(category_id, bool) or not isinstance(category_id, int):
        raise ExperimentError({"category_id": _("must be a category id.")})
    code = db.session.scalar(select(Category.code).where(Category.id == category_id))
    if code is None:
        raise ExperimentError({"category_id": _("No such category.")})
    return code


def _lines_by_customer(start: date, end: date, category_id: int | None) -> Select:
    stmt = (select(SaleLine.customer_id.label("cid"), func.sum(SaleLine.amount).label("rev"))
            .where(SaleLine.sold_at >= start, SaleLine.sold_at <= end))
    if category_id is not None:
        stmt = stmt.where(SaleLine.category_id == category_id)
    return stmt.group_by(SaleLine.customer_id)


#: From this many assignments on, PostgreSQL walks the covering index in customer order (below).
STREAMING_FROM = 50_000
_STREAMING = {"enable_hashagg": "off", "enable_hashjoin": "off", "jit": "off", "max_parallel_workers_per_gather": "0"}


def outcome_statement(experiment_id: int, start: date, end: date, category_id: int | None = None,
                      restrict: bool = True) -> Select:
    """The one aggregate behind :func:`outcomes` (``bench/experiments_lift.py`` runs its text bare).

    One row: per arm ``n``, converters, revenue and the sum of squared per-customer revenue, and the
    number of merged rows. The window's lines are grouped by customer and left-joined to the
    assignments; ``restrict`` limits the lines to the experiment's customers first (a semi-join:
    index look-ups for a small experiment)."""
    a = ExperimentAssignment
    lines = _lines_by_customer(start, end, category_id)
    if restrict:
        lines = lines.where(SaleLine.customer_id.in_(select(a.customer_id).where(a.experiment_id == experiment_id)))
    sub = lines.subquery()
    rev_f = cast(sub.c.rev, Float)
    live = a.merged.is_(False)
    cols = []
    for arm in ARMS:
        mine = and_(live, a.arm == arm)
        cols += [func.count().filter(mine), func.count(sub.c.cid).filter(mine),
                 func.coalesce(func.sum(sub.c.rev).filter(mine), 0),
                 func.coalesce(func.sum(rev_f * rev_f).filter(mine), 0.0)]
    cols.append(func.count().filter(a.merged.is_(True)))
    return (select(*cols).select_from(a).outerjoin(sub, sub.c.cid == a.customer_id)
            .where(a.experiment_id == experiment_id))


def _streaming(experiment: Experiment) -> bool:
    """PostgreSQL and a large experiment: stream instead of hashing a million customers.

    The window's lines are read in customer order by an index-only scan of
    ``ix_sale_line_customer_cover`` (customer, day, category, amount), summed per customer as they
    come (GroupAggregate) and merge-joined to the assignments read in the same order from their
    primary key: no hash table of a million customers, no sort, no parallel workers fighting over
    two cores. The planner cannot see that on its own (it underestimates the customers per window),
    so hash aggregation and hash joins are switched off for this one statement (``SET LOCAL``, reset
    right after)."""
    if not is_postgres():
        return False
    n = sum(int(v) for v in (experiment.drawn_counts or {}).values())
    return n >= STREAMING_FROM


def outcomes(experiment: Experiment, *, start: date, end: date, category_id: int | None = None) -> Outcomes:
    """Per arm: ``n``, ``converters``, ``revenue`` (and its sum of squares) over ``[start, end]``,
    optionally in one category — one set-based statement (see :func:`outcome_statement`)."""
    start, end = _window(start, end)
    code = _category_code(category_id)
    streaming = _streaming(experiment)
    stmt = outcome_statement(experiment.id, start, end, category_id, restrict=not streaming)
    if streaming:
        for name, value in _STREAMING.items():
            db.session.execute(text(f"SET LOCAL {name} = {value}"))  # constants above, not input
    try:
        row = db.session.execute(stmt).one()
    finally:
        if streaming:
            for name in _STREAMING:
                db.session.execute(text(f"RESET {name}"))
    arms = {}
    for i, arm in enumerate(ARMS):
        n, conv, rev, rev_sq = row[4 * i:4 * i + 4]
        arms[arm] = ArmStats(int(n or 0), int(conv or 0), float(rev or 0), float(rev_sq or 0))
    return Outcomes(experiment.id, start, end, code, arms, int(row[-1] or 0))


def _key(start: date, end: date) -> str:
    return f"{start.isoformat()}..{end.isoformat()}"


def frozen_result(experiment: Experiment, *, start: date, end: date, category_id: int | None = None,
                  against: str = "holdout") -> LiftResult | None:
    """The frozen snapshot for this window, category and comparison, or None."""
    start, end = _window(start, end)
    code = _category_code(category_id) or ""
    row = db.session.scalar(select(ExperimentResult).where(
        ExperimentResult.experiment_id == experiment.id, ExperimentResult.metric == METRICS.get(against, ""),
        ExperimentResult.window == _key(start, end), ExperimentResult.category == code))
    return LiftResult.from_snapshot(row.snapshot) if row is not None else None


def frozen_results(experiment: Experiment) -> list[LiftResult]:
    """Every frozen snapshot of the experiment, oldest first."""
    rows = db.session.scalars(select(ExperimentResult).where(ExperimentResult.experiment_id == experiment.id)
                              .order_by(ExperimentResult.computed_at, ExperimentResult.id))
    return [LiftResult.from_snapshot(r.snapshot) for r in rows]


def _check_against(against: str) -> str:
    if against not in AGAINST:
        raise ExperimentError({"against": _("must be one of: %(names)s.", names=", ".join(AGAINST))})
    return against


def _check_alpha(alpha: Any) -> float:
    value = finite(alpha)
    if isinstance(alpha, bool) or value is None or not 0 < value < 0.5:
        raise ExperimentError({"alpha": _("must be between 0 and 0.5.")})
    return value


def lift(experiment: Experiment, *, start: date, end: date, category_id: int | None = None,
         against: str = "holdout", alpha: float = 0.05) -> LiftResult:
    """Treatment against the holdout (or the global ``control`` arm) over the window: purchase-rate
    difference with the Newcombe interval and score-test p, relative lift, revenue per customer
    with Welch's interval and p, and the verdict. A frozen snapshot for the same window, category
    and comparison is returned as stored (``frozen=True``), never recomputed; else it is interim."""
    against, alpha = _check_against(against), _check_alpha(alpha)
    stored = frozen_result(experiment, start=start, end=end, category_id=category_id, against=against)
    if stored is not None:
        return stored
    if experiment.drawn_at is None:
        raise ExperimentError({"experiment": _("The experiment has not been drawn yet.")}, status=409)
    out = outcomes(experiment, start=start, end=end, category_id=category_id)
    cmp = compare(out.arms["treatment"], out.arms[against], alpha=alpha)
    return LiftResult(experiment_id=experiment.id, metric=METRICS[against],
                      window={"start": out.start.isoformat(), "end": out.end.isoformat()}, category=out.category,
                      against=against, arms={k: v.as_dict() for k, v in out.arms.items()},
                      merged_excluded=out.merged_excluded, comparison=cmp.as_dict(), verdict=cmp.verdict,
                      computed_at=utcnow().isoformat(timespec="seconds") + "Z", frozen=False, versions=_versions())


def freeze(experiment: Experiment, *, start: date, end: date, category_id: int | None = None,
           against: str = "holdout", alpha: float = 0.05) -> LiftResult:
    """Compute and store the result as a read-only snapshot (idempotent: an existing snapshot for
    the same window, category and comparison is returned unchanged). The first freeze marks the
    experiment ``frozen``. Writes in the caller's transaction; the caller commits."""
    result = lift(experiment, start=start, end=end, category_id=category_id, against=against, alpha=alpha)
    if result.frozen:
        return result
    result.frozen = True
    snap = result.as_dict()
    try:
        with db.session.begin_nested():
            db.session.add(ExperimentResult(experiment_id=experiment.id, metric=result.metric,
                                            window=_key(start, end), category=result.category or "",
                                            computed_at=utcnow(), snapshot=snap, frozen=True))
    except IntegrityError:  # a concurrent freeze of the same key won: return its snapshot
        stored = frozen_result(experiment, start=start, end=end, category_id=category_id, against=against)
        if stored is not None:
            return stored
        raise
    if experiment.frozen_at is None:
        experiment.frozen_at, experiment.status = utcnow(), "frozen"
    db.session.flush()
    return result


# -- difference in differences ------------------------------------------------------------------------


def _per_customer(ids: Sequence[int] | Select, start: date, end: date, category_id: int | None,
                  metric: str) -> dict[int, float]:
    """``customer id → 1.0`` (bought) or their revenue in the window, for the buyers among ``ids``:
    a list is looked up in chunks; a SELECT of ids is one semi-join (no parameter list of a hundred
    thousand ids to send and for the driver to parse)."""
    lines = _lines_by_customer(start, end, category_id)
    if isinstance(ids, Select):
        parts: Iterable[Select] = [lines.where(SaleLine.customer_id.in_(ids))]
    else:
        parts = (lines.where(SaleLine.customer_id.in_(part)) for part in chunked(ids, 5_000))
    out: dict[int, float] = {}
    for stmt in parts:
        for c, rev in db.session.execute(stmt):
            out[int(c)] = 1.0 if metric == "purchase" else float(rev or 0)
    return out


def _ids(value: Iterable[int] | Select, name: str) -> list[int] | Select:
    if isinstance(value, Select):
        return value
    try:
        out = sorted({int(v) for v in value if not isinstance(v, bool)})
    except (TypeError, ValueError) as exc:
        raise ExperimentError({name: _("must be customer ids (whole numbers).")}) from exc
    return out


def did(*, treated: Iterable[int] | Select, control: Iterable[int] | Select, pre: tuple[date, date],
        post: tuple[date, date], category_id: int | None = None, metric: str = "purchase",
        alpha: float = 0.05) -> DidResult:
    """Group-level difference-in-differences: the ``treated`` customers (e.g. a partner group) against
    the ``control`` customers (the other groups), ``pre`` window against ``post`` window, of the
    purchase rate (``metric="purchase"``) or revenue per customer (``"revenue"``); OLS with SE
    clustered by customer. ``treated``/``control`` are customer ids or a SELECT of customer ids."""
    if metric not in ("purchase", "revenue"):
        raise ExperimentError({"metric": _("must be purchase or revenue.")})
    alpha = _check_alpha(alpha)
    pre = _window(*pre)
    post = _window(*post)
    _category_code(category_id)
    t_ids, c_ids = _ids(treated, "treated"), _ids(control, "control")
    t_source, c_source = t_ids, c_ids  # a SELECT stays the buyers' semi-join; a list is chunked
    if isinstance(t_ids, Select):
        t_ids = sorted(int(i) for i in db.session.scalars(t_ids))
    if isinstance(c_ids, Select):
        c_ids = sorted(int(i) for i in db.session.scalars(c_ids))
    if set(t_ids) & set(c_ids):
        raise ExperimentError({"control": _("The treated and control groups overlap.")})
    values = {}
    for label, ids, source in (("t", t_ids, t_source), ("c", c_ids, c_source)):
        for wname, (ws, we) in (("pre", pre), ("post", post)):
            got = _per_customer(source, ws, we, category_id, metric)
            values[label + wname] = [got.get(i, 0.0) for i in ids]
    return did_from_arrays(values["tpre"], values["tpost"], values["cpre"], values["cpost"], alpha=alpha)


def power_warning(n_treatment: int, n_control: int, baseline_rate: float, target_mde: float,
                  alpha: float = 0.05, power: float = 0.8) -> str | None:
    """A sentence for the approval page when the audience is too small to detect ``target_mde``
    (absolute, 0.03 = +3 pp) over ``baseline_rate`` — None when it is large enough."""
    from .stats import power_check

    try:
        mde = power_check(n_treatment, n_control, baseline_rate, alpha, power)
    except ValueError as exc:
        raise ExperimentError({"baseline_rate": _("must be between 0 and 1 (exclusive).")}) from exc
    target = finite(target_mde)
    if target is None or target <= 0:
        raise ExperimentError({"target_mde": _("must be a positive difference of rates.")})
    if mde is not None and mde <= target:
        return None
    if mde is None:
        return _("Under-powered: %(n)s treated and %(m)s held-out customers cannot show any effect reliably.",
                 n=f"{int(n_treatment):,}", m=f"{int(n_control):,}")
    return _("Under-powered: the detectable effect is about %(mde)s pp, the target %(target)s pp.",
             mde=f"{mde * 100:+.1f}", target=f"{target * 100:+.1f}")
