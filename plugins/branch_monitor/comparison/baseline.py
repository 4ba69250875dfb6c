"""Each branch against its own baseline: the same weekday over the last 8 weeks, robust z by
median and MAD, at least 6 weeks of history.

A fixed threshold ("sales under 1,000,000 won") is meaningless across branches of different size;
users ask for "alert when a store changes a lot against its own history" (metabase#10293). Sales
of day D are compared with D−7, D−14 … D−56 (the same weekday: Saturdays are not Mondays):

* a history day counts only if the branch was **open** that day (``calendar.service.
  expected_days``; closed days are left out, not zeros) and not before the branch's first recorded
  sales (a new branch has no history, not eight weeks of zeros); an open day without sales is 0;
* fewer than :data:`MIN_WEEKS` (6) such days → ``insufficient`` ("insufficient history (< 6
  weeks)", BM-8), never a guess;
* robust z = (x − median) / (1.4826 · MAD) (``median_abs_deviation(scale="normal")``): one bad
  week of history does not hide an anomaly the way a mean/σ would;
* **MAD = 0** (at least half the weeks identical): the scale falls back to 1.2533 · mean absolute
  deviation from the median (Iglewicz & Hoaglin's rule); if that is 0 too (every week identical),
  z is 0 when x equals the median and ±∞ otherwise — stored as ``None`` with the state decided
  by the sign (any drop from a perfectly constant history is an alarm). No division by zero;
* only the bad side flags (sales *below* the baseline): z < −``baseline_z_alarm`` → alarm,
  z < −``baseline_z_alert`` → alert (strictly: a z equal to the threshold is ok). Thresholds are
  the add-on's settings (defaults 2.0 / 3.0);
* day D itself closed → ``closed`` (not judged: the state is left as it was).

:func:`baselines` judges every branch of one day in three queries (sales of the nine days, the
branches' first sales, the calendar); :func:`own_baseline` is the one-branch form of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from scipy.stats import median_abs_deviation
from sqlalchemy import Select, exists, func, select

from portal.toolkit import OrgUnit, db, get_settings

from ..models import ALARM, ALERT, INSUFFICIENT, OK, MonBranchDay

WEEKS = 8
MIN_WEEKS = 6
DEFAULT_Z_ALERT = 2.0
DEFAULT_Z_ALARM = 3.0
#: Mean absolute deviation → σ of a normal distribution (√(π/2)), the fallback when MAD is 0.
MEAN_AD_SCALE = 1.2533
CLOSED = "closed"
METRIC = "sales_baseline"


@dataclass(frozen=True)
class Baseline:
    status: str  # "ok" | "alert" | "alarm" | "insufficient" | "closed" (day not open: not judged)
    weeks: int  # weeks of history found (same weekday)
    value: float | None = None
    median: float | None = None
    mad: float | None = None  # the scale used: 1.4826·MAD, or the mean-AD fallback
    z: float | None = None
    history: tuple[tuple[date, float], ...] = ()  # the history days used, oldest first
    day: date | None = None  # the day judged

    def detail(self) -> dict[str, Any]:
        """JSON for ``mon_state.detail`` / ``mon_alert.detail``."""
        return {"weeks": self.weeks, "median": self.median, "mad": self.mad, "z": self.z,
                "history": [[d.isoformat(), v] for d, v in self.history]}


def thresholds() -> tuple[float, float]:
    """(alert, alarm) robust-z thresholds from the settings, defaults 2.0 / 3.0."""
    try:
        settings = get_settings("branch_monitor")
    except Exception:  # noqa: BLE001 - outside an app with the add-on's schema: the defaults
        settings = {}
    alert = settings.get("baseline_z_alert") or DEFAULT_Z_ALERT
    alarm = settings.get("baseline_z_alarm") or DEFAULT_Z_ALARM
    return float(alert), float(max(alarm, alert))


def judge_many(values: np.ndarray, history: np.ndarray, z_alert: float = DEFAULT_Z_ALERT,
               z_alarm: float = DEFAULT_Z_ALARM) -> list[tuple[str, float, float, float | None]]:
    """(status, median, scale, z) per row: ``values[i]`` against ``history[i]`` (an m × k matrix,
    k ≥ :data:`MIN_WEEKS`). One ``median_abs_deviation`` call for all rows, not one per branch."""
    median = np.median(history, axis=1)
    scale = median_abs_deviation(history, axis=1, scale="normal")
    mean_ad = MEAN_AD_SCALE * np.mean(np.abs(history - median[:, None]), axis=1)
    scale = np.where(scale == 0.0, mean_ad, scale)
    out: list[tuple[str, float, float, float | None]] = []
    for x, med, sc in zip(values.tolist(), median.tolist(), scale.tolist(), strict=True):
        diff = x - med
        if sc == 0.0:
            out.append((OK, med, 0.0, 0.0) if diff == 0 else ((ALARM if diff < 0 else OK), med, 0.0, None))
            continue
        z = diff / sc
        out.append((ALARM if z < -z_alarm else ALERT if z < -z_alert else OK, med, sc, z))
    return out


def judge(value: float, history: list[float], z_alert: float = DEFAULT_Z_ALERT,
          z_alarm: float = DEFAULT_Z_ALARM) -> tuple[str, float | None, float | None, float | None]:
    """(status, median, scale, z) of ``value`` against ``history`` (≥ :data:`MIN_WEEKS` values)."""
    return judge_many(np.asarray([value], dtype=float), np.asarray([history], dtype=float), z_alert, z_alarm)[0]


def _ids(branch_ids: list[int] | Select | None) -> Select:
    active = select(OrgUnit.id).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True))
    if branch_ids is None:
        return active
    if isinstance(branch_ids, Select):
        return active.where(OrgUnit.id.in_(branch_ids))
    return active.where(OrgUnit.id.in_(list(branch_ids)))


def baselines(day: date, branch_ids: list[int] | Select | None = None) -> dict[int, Baseline]:
    """Every branch's (all active ones when None) own baseline on ``day``, set-based."""
    from ..calendar.service import expected_days

    z_alert, z_alarm = thresholds()
    dates = [day - timedelta(weeks=w) for w in range(WEEKS, 0, -1)]
    start = dates[0]
    ids = list(db.session.scalars(_ids(branch_ids)))
    if not ids:
        return {}
    scope = _ids(branch_ids)
    sales: dict[tuple[int, date], float] = {
        (b, d): float(s or 0) for b, d, s in db.session.execute(
            select(MonBranchDay.branch_id, MonBranchDay.day, MonBranchDay.sales)
            .where(MonBranchDay.day.in_([*dates, day]), MonBranchDay.branch_id.in_(scope)))}
    # history starts at the branch's first recorded sales: before the window (EXISTS on the
    # primary key per branch) or the first day inside it
    older = select(MonBranchDay.branch_id).where(MonBranchDay.branch_id == OrgUnit.id, MonBranchDay.day < start)
    full = set(db.session.scalars(select(OrgUnit.id).where(OrgUnit.id.in_(scope), exists(older))))
    first: dict[int, date] = dict(db.session.execute(
        select(MonBranchDay.branch_id, func.min(MonBranchDay.day))
        .where(MonBranchDay.day >= start, MonBranchDay.day < day, MonBranchDay.branch_id.in_(scope))
        .group_by(MonBranchDay.branch_id)).all())
    open_days = expected_days(ids, start, day)
    out: dict[int, Baseline] = {}
    pending: dict[int, list[tuple[int, float, tuple[tuple[date, float], ...]]]] = {}  # weeks → rows
    for b in ids:
        opened = open_days.get(b, set())
        since = start if b in full else first.get(b)
        history = tuple((d, sales.get((b, d), 0.0)) for d in dates
                        if d in opened and since is not None and d >= since)
        weeks = len(history)
        if day not in opened:
            out[b] = Baseline(status=CLOSED, weeks=weeks, value=sales.get((b, day)), history=history, day=day)
        elif weeks < MIN_WEEKS:
            out[b] = Baseline(status=INSUFFICIENT, weeks=weeks, value=sales.get((b, day), 0.0), history=history,
                              day=day)
        else:
            pending.setdefault(weeks, []).append((b, sales.get((b, day), 0.0), history))
    for weeks, rows in pending.items():  # one vectorised judgement per history length (6, 7 or 8)
        judged = judge_many(np.asarray([v for _, v, _ in rows], dtype=float),
                            np.asarray([[s for _, s in h] for _, _, h in rows], dtype=float), z_alert, z_alarm)
        for (b, value, history), (status, median, scale, z) in zip(rows, judged, strict=True):
            out[b] = Baseline(status=status, weeks=weeks, value=value, median=median, mad=scale,
                              z=None if z is None or math.isinf(z) else z, history=history, day=day)
    return out


def own_baseline(branch_id: int, day: date, *, last_open: bool = False) -> Baseline:
    """Sales of ``day`` against the same weekday of the 8 weeks before it. ``last_open``: when
    ``day`` is closed (a Sunday, a holiday), judge the branch's latest open day of the week
    before it instead (its date is ``Baseline.day``) — what a page showing "yesterday" wants."""
    from ..calendar.service import expected_days

    if last_open:
        open_days = expected_days([branch_id], day - timedelta(days=6), day).get(branch_id) or set()
        day = max(open_days, default=day)
    return baselines(day, [branch_id]).get(branch_id) or Baseline(status=INSUFFICIENT, weeks=0, day=day)
