"""What the monitor pages and the branches API show (no Flask here): a page of branches in the
viewer's scope with their KPIs, care index, filing and state (:func:`monitor_rows`), the
regions' summary (:func:`region_rows`), one branch's scorecard (:func:`scorecard`) and the
anonymous distribution a branch is placed in (:func:`percentile_bands`).

Everything is set-based so that 1,000 branches stay fast (BM-12): one query pages the branches
(ordered by their worst current state, then code — never by a raw value: no league table), then
one query per kind of data for *that page's* branches (KPIs of the month and the month before,
trends, open alerts), plus the compliance summary and the states of the areas that own them.
KPIs are read from ``mon_kpi`` exactly as ``kpis.service.kpis_for`` documents, but for two or
twelve months in one query.

Who sees what comes from :mod:`..access` only: ``branches_in_scope`` cuts every query, and a
viewer who may not name other branches (``names_visible`` False: Branch Staff) gets
:func:`percentile_bands` instead of peers — values, never another branch's code, name or id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from portal.toolkit import OrgUnit, Page, User, db

from ..access import branches_in_scope, names_visible, regions_in_scope
from ..errors import MonitorError
from ..models import ALARM, ALERT, INSUFFICIENT, OK, MonAlert, MonKpi, MonState
from ..months import kst_now, kst_today, month_end, prev_month
from ..permissions import MONITOR, SCORECARD

#: Sort orders of the branch list. ``state`` (worst first, then code) is the default; no sort by
#: a KPI's raw value is offered — ranking branches of different size is what funnel plots avoid.
SORTS = ("state", "code", "-code", "name", "-name", "region", "alerts")
#: Filters of the list by overall state.
STATE_FILTERS = (ALARM, ALERT, OK, "none")
#: Overall state of a branch that has no evaluation yet.
NONE = "none"
PER_PAGE = 50
PER_PAGE_MAX = 200
TREND_MONTHS = 12
#: Metrics whose 12-month trend the list draws as a sparkline.
LIST_TRENDS = ("care_index", "sales")
#: A distribution is shown only over at least this many branches: fewer would let a branch guess
#: its few peers' values from the bands.
MIN_BAND_BRANCHES = 5
BANDS = (10, 25, 50, 75, 90)
Q_MAX = 60
#: acknowledged alerts shown on a scorecard under the open ones
RECENT_ACKS = 5

#: An open alert: a change *to* alert or alarm not acknowledged yet (as ``alerts.service``'s list;
#: a recovery needs no acknowledgement).
_OPEN = and_(MonAlert.ack_at.is_(None), MonAlert.to_state.in_((ALERT, ALARM)))
_SEVERITY = case((MonState.state == ALARM, 2), (MonState.state == ALERT, 1), else_=0)
_BY_SEVERITY = {2: ALARM, 1: ALERT, 0: OK}


@dataclass
class Kpi:
    """One metric of one branch in one month, with the month before and the change between them."""

    metric: str
    value: float | None = None
    numerator: float | None = None
    denominator: int | None = None
    detail: dict[str, Any] | None = None
    previous: float | None = None
    #: relative change (0.12 = +12 %); None = "N/A" (no previous value or a previous 0 — BM-6)
    change: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"value": _finite(self.value), "numerator": _finite(self.numerator), "denominator": self.denominator,
                "previous": _finite(self.previous), "change": _finite(self.change), "detail": self.detail}


@dataclass
class BranchRow:
    """One branch on the monitor: identity, overall state, KPIs, filing, open alerts, trends."""

    branch_id: int
    code: str
    name: str
    region_code: str | None
    region_name: str | None
    state: str  # ok | alert | alarm | none (not evaluated yet)
    states: dict[str, str] = field(default_factory=dict)  # metric → state
    kpis: dict[str, Kpi] = field(default_factory=dict)
    compliance: dict[str, Any] | None = None
    open_alerts: int = 0
    trends: dict[str, list[tuple[date, float | None]]] = field(default_factory=dict)

    @property
    def care_index(self) -> Kpi:
        return self.kpis.get("care_index") or Kpi("care_index")


#: One page of branch rows: the core's page (``pages``, ``has_prev``, ``has_next`` for its pager macro).
RowsPage = Page


def _finite(x: Any) -> Any:
    """A float the JSON API and templates can show: NaN and ∞ become None (never "Infinity")."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def metrics() -> dict[str, dict[str, Any]]:
    """The KPI catalogue (``kpis.service.METRICS``), read at call time: area C extends it."""
    from ..kpis.service import METRICS

    return METRICS


def funnel_metrics() -> list[str]:
    return [m for m, spec in metrics().items() if spec.get("funnel")]


def change(current: float | None, previous: float | None) -> float | None:
    """``kpis.service.change`` (None for a previous 0 or missing: "N/A", BM-6), never ∞ or NaN."""
    from ..kpis.service import change as kpi_change

    try:
        result = kpi_change(current, previous)
    except (ArithmeticError, TypeError, ValueError):
        return None
    return _finite(result)


# --- reading mon_kpi -------------------------------------------------------------------------------


def kpi_values(branch_ids: list[int] | Select, months: list[date],
               metric_names: tuple[str, ...] | list[str] | None = None) -> dict[int, dict[date, dict[str, MonKpi]]]:
    """``{branch_id: {month: {metric: row}}}`` of ``mon_kpi`` for the branches and months, one query."""
    stmt = select(MonKpi).where(MonKpi.branch_id.in_(branch_ids), MonKpi.month.in_(months))
    if metric_names is not None:
        stmt = stmt.where(MonKpi.metric.in_(list(metric_names)))
    out: dict[int, dict[date, dict[str, MonKpi]]] = {}
    for row in db.session.execute(stmt).scalars():
        out.setdefault(row.branch_id, {}).setdefault(row.month, {})[row.metric] = row
    return out


def _kpis_of(rows: dict[date, dict[str, MonKpi]], month: date) -> dict[str, Kpi]:
    cur, prev = rows.get(month, {}), rows.get(prev_month(month), {})
    out: dict[str, Kpi] = {}
    for metric in {*cur, *prev}:
        c, p = cur.get(metric), prev.get(metric)
        value = c.value if c is not None else None
        previous = p.value if p is not None else None
        out[metric] = Kpi(metric, value=value, numerator=c.numerator if c is not None else None,
                          denominator=c.denominator if c is not None else None,
                          detail=c.detail if c is not None else None, previous=previous,
                          change=change(value, previous))
    return out


def trend_months(month: date, n: int = TREND_MONTHS) -> list[date]:
    """The ``n`` months ending with ``month``, oldest first."""
    out = [month]
    for _ in range(n - 1):
        out.append(prev_month(out[-1]))
    return out[::-1]


def _trends(branch_ids: list[int], month: date, metric_names: tuple[str, ...] | list[str]
            ) -> dict[int, dict[str, list[tuple[date, float | None]]]]:
    """``{branch_id: {metric: [(month, value or None)] * 12}}``, oldest first, one query."""
    months = trend_months(month)
    values = kpi_values(branch_ids, months, metric_names)
    out: dict[int, dict[str, list[tuple[date, float | None]]]] = {}
    for bid in branch_ids:
        by_month = values.get(bid, {})
        out[bid] = {m: [(mo, _value(by_month.get(mo, {}).get(m))) for mo in months] for m in metric_names}
    return out


def _value(row: MonKpi | None) -> float | None:
    return None if row is None or row.value is None else _finite(float(row.value))


# --- the list -------------------------------------------------------------------------------------


def _severity_subquery() -> Any:
    return (select(MonState.branch_id, func.max(_SEVERITY).label("severity"))
            .group_by(MonState.branch_id).subquery())


def region_of(user: Any, code: str | None, permission: str = MONITOR) -> OrgUnit | None:
    """The region ``code`` among the viewer's regions; None for no code; 404 for one out of scope."""
    if not code:
        return None
    for region in regions_in_scope(user, permission):
        if region.code == code:
            return region
    raise MonitorError({"region": "No such region."}, status=404)


def _list_statement(user: Any, region: OrgUnit | None, q: str | None, state: str | None, sort: str,
                    permission: str = MONITOR) -> Select:
    parent = aliased(OrgUnit)
    sev = _severity_subquery()
    stmt = (select(OrgUnit.id, OrgUnit.code, OrgUnit.name, parent.code.label("region_code"),
                   parent.name.label("region_name"), sev.c.severity)
            .outerjoin(parent, parent.id == OrgUnit.parent_id)
            .outerjoin(sev, sev.c.branch_id == OrgUnit.id)
            .where(OrgUnit.id.in_(branches_in_scope(user, permission))))
    if region is not None:
        stmt = stmt.where(OrgUnit.parent_id == region.id)
    if q:
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(OrgUnit.code).like(like, escape="\\"),
                              func.lower(OrgUnit.name).like(like, escape="\\")))
    if state == NONE:
        stmt = stmt.where(sev.c.severity.is_(None))
    elif state in _BY_SEVERITY.values():
        wanted = {v: k for k, v in _BY_SEVERITY.items()}[state]
        stmt = stmt.where(sev.c.severity == wanted)
    if sort == "state":
        stmt = stmt.order_by(func.coalesce(sev.c.severity, -1).desc(), OrgUnit.code)
    elif sort == "alerts":
        open_alerts = (select(func.count()).where(MonAlert.branch_id == OrgUnit.id, _OPEN)
                       .correlate(OrgUnit).scalar_subquery())
        stmt = stmt.order_by(open_alerts.desc(), OrgUnit.code)
    elif sort == "region":
        stmt = stmt.order_by(parent.code, OrgUnit.code)
    elif sort.lstrip("-") == "name":
        stmt = stmt.order_by(OrgUnit.name.desc() if sort.startswith("-") else OrgUnit.name, OrgUnit.code)
    else:
        stmt = stmt.order_by(OrgUnit.code.desc() if sort == "-code" else OrgUnit.code)
    return stmt


def check_args(sort: str | None, q: str | None, state: str | None) -> dict[str, str]:
    """Field errors of the list's parameters (the API refuses them with 422; pages fall back)."""
    errors: dict[str, str] = {}
    if sort is not None and sort not in SORTS:
        errors["sort"] = "One of: " + ", ".join(SORTS) + "."
    if q is not None and (len(q) > Q_MAX or "\x00" in q):
        errors["q"] = f"At most {Q_MAX} characters, no control characters."
    if state is not None and state not in STATE_FILTERS:
        errors["state"] = "One of: " + ", ".join(STATE_FILTERS) + "."
    return errors


def monitor_rows(user: Any, month: date, region: str | OrgUnit | None = None, sort: str = "state",
                 q: str | None = None, page: int = 1, per_page: int = PER_PAGE, state: str | None = None,
                 now: datetime | None = None, trends: tuple[str, ...] | list[str] = LIST_TRENDS,
                 permission: str = MONITOR, clamp: bool = False) -> RowsPage:
    """One page of the branches ``user`` may see with ``permission``, filtered by region (a code
    or unit), ``q`` (code or name) and overall ``state``, in ``sort`` order (default: worst state
    first, then code), each with its KPIs of ``month`` and their change from the month before,
    filing compliance of the month (up to ``now``), per-metric states, open alerts and 12-month
    trends of ``trends``. A region out of scope is a 404 ``MonitorError``; bad parameters 422.
    ``clamp``: a page past the end shows the last one (pages; the API answers an empty page)."""
    errors = check_args(sort, q, state)
    if errors:
        raise MonitorError(errors)
    if isinstance(region, str) or region is None:
        region = region_of(user, region, permission)
    per_page = max(1, min(int(per_page), PER_PAGE_MAX))
    page = max(1, int(page))
    stmt = _list_statement(user, region, (q or "").strip() or None, state, sort or "state", permission)
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    if clamp:
        page = min(page, max(1, math.ceil(total / per_page)))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    items = [BranchRow(branch_id=r.id, code=r.code, name=r.name, region_code=r.region_code,
                       region_name=r.region_name, state=_BY_SEVERITY.get(r.severity, NONE)) for r in rows]
    fill(items, month, now=now, trends=trends)
    return Page(items, page, per_page, total, total_is_capped=False)


def fill(items: list[BranchRow], month: date, now: datetime | None = None,
         trends: tuple[str, ...] | list[str] = LIST_TRENDS) -> None:
    """Add KPIs, states, compliance, open alerts and trends to ``items``: a few set-based queries
    for all of them together, none per branch."""
    if not items:
        return
    ids = [r.branch_id for r in items]
    values = kpi_values(ids, [month, prev_month(month)])
    for r in items:
        r.kpis = _kpis_of(values.get(r.branch_id, {}), month)
    states = states_of(ids)
    comp = compliance_of(ids, month, now)
    counts = dict(db.session.execute(select(MonAlert.branch_id, func.count()).where(
        MonAlert.branch_id.in_(ids), _OPEN).group_by(MonAlert.branch_id)).all())
    tr = _trends(ids, month, list(trends)) if trends else {}
    for r in items:
        r.states = states.get(r.branch_id, {})
        r.compliance = comp.get(r.branch_id)
        r.open_alerts = int(counts.get(r.branch_id, 0))
        r.trends = tr.get(r.branch_id, {})


def states_of(branch_ids: list[int]) -> dict[int, dict[str, str]]:
    """``{branch_id: {metric: state}}`` of the current evaluation (``mon_state``), one query."""
    out: dict[int, dict[str, str]] = {}
    for bid, metric, state in db.session.execute(select(MonState.branch_id, MonState.metric, MonState.state)
                                                 .where(MonState.branch_id.in_(branch_ids))):
        out.setdefault(bid, {})[metric] = state
    return out


def compliance_window(month: date, now: datetime | None = None) -> tuple[date, date]:
    """The month's days up to yesterday (KST) for a running month; the whole month for a past one."""
    today = (now.date() if now is not None else kst_today())
    end = min(month_end(month), today - timedelta(days=1))
    return month, max(end, month - timedelta(days=1))


def compliance_of(branch_ids: list[int], month: date, now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """``compliance.service.summary`` of the month (up to yesterday) for the branches; {} for a
    month that has not begun."""
    from ..compliance.service import summary

    start, end = compliance_window(month, now)
    if end < start:
        return {}
    try:
        return summary(branch_ids, start, end, now=now or kst_now()) or {}
    except NotImplementedError:  # area B's placeholder
        return {}


# --- regions --------------------------------------------------------------------------------------


@dataclass
class RegionRow:
    code: str
    name: str
    branches: int
    alarm: int
    alert: int
    #: Σ numerator / Σ denominator of the region's branches, per rate metric of the catalogue
    rates: dict[str, float | None] = field(default_factory=dict)
    care_index: float | None = None  # mean of the branches' indices


def region_rows(user: Any, month: date, permission: str = MONITOR) -> list[RegionRow]:
    """The regions of the viewer's scope (only their branches in scope counted): branches, how
    many are in alarm / alert now, the region's rate of each funnel metric and mean care index
    for ``month`` — two grouped queries."""
    parent = aliased(OrgUnit)
    sev = _severity_subquery()
    scope = branches_in_scope(user, permission)
    counts = db.session.execute(
        select(parent.code, parent.name, func.count(OrgUnit.id),
               func.sum(case((sev.c.severity == 2, 1), else_=0)), func.sum(case((sev.c.severity == 1, 1), else_=0)))
        .join(parent, parent.id == OrgUnit.parent_id).outerjoin(sev, sev.c.branch_id == OrgUnit.id)
        .where(OrgUnit.id.in_(scope)).group_by(parent.code, parent.name).order_by(parent.code)).all()
    out = {c: RegionRow(c, n, int(b), int(al or 0), int(at or 0)) for c, n, b, al, at in counts}
    wanted = [*funnel_metrics(), "care_index"]
    agg = db.session.execute(
        select(parent.code, MonKpi.metric, func.sum(MonKpi.numerator), func.sum(MonKpi.denominator),
               func.avg(MonKpi.value))
        .join(OrgUnit, OrgUnit.id == MonKpi.branch_id).join(parent, parent.id == OrgUnit.parent_id)
        .where(MonKpi.month == month, MonKpi.metric.in_(wanted), MonKpi.branch_id.in_(scope))
        .group_by(parent.code, MonKpi.metric)).all()
    for code, metric, num, den, avg in agg:
        r = out.get(code)
        if r is None:
            continue
        if metric == "care_index":
            r.care_index = _finite(float(avg)) if avg is not None else None
        else:
            r.rates[metric] = (float(num) / float(den)) if num is not None and den else None
    return list(out.values())


# --- funnel plot ----------------------------------------------------------------------------------


def funnel_data(metric: str, month: date, branch_ids: list[int] | Select) -> Any:
    """``comparison.funnel.funnel(metric, month, branch_ids)`` (area D), or None while it is not
    there or the metric has no data."""
    from ..comparison import funnel as funnel_mod

    fn = getattr(funnel_mod, "funnel", None)
    if fn is None:
        return None
    try:
        return fn(metric, month, branch_ids)
    except (NotImplementedError, KeyError):
        return None


# --- percentile bands (anonymous) -----------------------------------------------------------------


def percentile_bands(metric: str, month: date, branch_id: int | None = None) -> dict[str, Any] | None:
    """The distribution of ``metric`` in ``month`` over all active branches — p10, p25, p50, p75,
    p90 and the number of branches — and, for ``branch_id``, its own value and percentile (the
    share of branches below it, ties counted half). Values only, never a branch's code, name or
    id. None when fewer than ``MIN_BAND_BRANCHES`` branches have a value."""
    return percentile_bands_many([metric], month, branch_id).get(metric)


def percentile_bands_many(metric_names: list[str], month: date,
                          branch_id: int | None = None) -> dict[str, dict[str, Any] | None]:
    """:func:`percentile_bands` of several metrics in one query (a scorecard's every KPI)."""
    by_metric: dict[str, list[float]] = {m: [] for m in metric_names}
    own: dict[str, float] = {}
    for bid, metric, value in db.session.execute(
            select(MonKpi.branch_id, MonKpi.metric, MonKpi.value).join(OrgUnit, OrgUnit.id == MonKpi.branch_id)
            .where(MonKpi.month == month, MonKpi.metric.in_(metric_names), MonKpi.value.is_not(None),
                   OrgUnit.kind == "branch", OrgUnit.active.is_(True))):
        v = float(value)
        if not math.isfinite(v):
            continue
        by_metric[metric].append(v)
        if bid == branch_id:
            own[metric] = v
    out: dict[str, dict[str, Any] | None] = {}
    for metric, values in by_metric.items():
        values.sort()
        if len(values) < MIN_BAND_BRANCHES:
            out[metric] = None
            continue
        band: dict[str, Any] = {"n": len(values), **{f"p{p}": _quantile(values, p / 100) for p in BANDS},
                                "value": own.get(metric), "percentile": None}
        if metric in own:
            below = sum(1 for v in values if v < own[metric])
            ties = sum(1 for v in values if v == own[metric])
            band["percentile"] = round(100 * (below + 0.5 * ties) / len(values), 1)
        out[metric] = band
    return out


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


# --- one branch -----------------------------------------------------------------------------------


@dataclass
class Scorecard:
    branch: OrgUnit
    region: OrgUnit | None
    month: date
    names_visible: bool
    state: str
    kpis: list[dict[str, Any]]  # every metric of the catalogue, in its order
    baseline: Any  # comparison.baseline.Baseline
    baseline_day: date
    compliance: dict[str, Any] | None
    alerts: list[MonAlert]
    #: the latest acknowledged alerts (newest first) with the acknowledging user's name
    acknowledged: list[tuple[MonAlert, str | None]] = field(default_factory=list)


def scorecard(user: Any, branch: OrgUnit, month: date, now: datetime | None = None) -> Scorecard:
    """One branch (already checked in scope by ``access.branch_or_404``) for ``month``: every KPI
    of the catalogue with the month before, change and 12-month trend; for funnel metrics the
    branch's position against the company rate and its exact limits; its state per metric; its
    own-baseline check of the last complete day; compliance of the month; open alerts. A viewer
    who may not name other branches gets each KPI's :func:`percentile_bands` too — and nothing
    about any other branch but those anonymous values."""
    from ..comparison.baseline import own_baseline

    catalogue = metrics()
    visible = names_visible(user)
    months = trend_months(month)
    values = kpi_values([branch.id], months).get(branch.id, {})
    current = _kpis_of(values, month)
    states = states_of([branch.id]).get(branch.id, {})
    today = now.date() if now is not None else kst_today()
    base_day = min(month_end(month), today - timedelta(days=1))
    kpis: list[dict[str, Any]] = []
    bands = percentile_bands_many(list(catalogue), month, branch.id) if not visible else {}
    for metric, spec in catalogue.items():
        k = current.get(metric) or Kpi(metric)
        trend = [(mo, _value(values.get(mo, {}).get(metric))) for mo in months]
        item: dict[str, Any] = {"metric": metric, "spec": spec, "kpi": k, "trend": trend,
                                "state": states.get(metric), "funnel": None, "bands": None}
        if spec.get("funnel"):
            item["funnel"] = funnel_position(metric, month, branch.id)
        if not visible:
            item["bands"] = bands.get(metric)
        kpis.append(item)
    worst = max((_sev(s) for s in states.values()), default=None)
    alerts = list(db.session.execute(select(MonAlert).where(MonAlert.branch_id == branch.id, _OPEN)
                                     .order_by(MonAlert.created_at.desc(), MonAlert.id.desc()).limit(50)).scalars())
    acked = [(a, name) for a, name in db.session.execute(
        select(MonAlert, User.name).outerjoin(User, User.id == MonAlert.ack_by_id)
        .where(MonAlert.branch_id == branch.id, MonAlert.ack_at.is_not(None))
        .order_by(MonAlert.ack_at.desc(), MonAlert.id.desc()).limit(RECENT_ACKS))]
    return Scorecard(acknowledged=acked, branch=branch, region=_region(branch),
                     month=month, names_visible=visible, state=_BY_SEVERITY.get(worst, NONE) if worst is not None else NONE,
                     kpis=kpis, baseline=own_baseline(branch.id, base_day), baseline_day=base_day,
                     compliance=compliance_of([branch.id], month, now).get(branch.id), alerts=alerts)


def _region(branch: OrgUnit) -> OrgUnit | None:
    return db.session.execute(select(OrgUnit).where(OrgUnit.id == branch.parent_id)).scalar_one_or_none()


def _sev(state: str) -> int:
    return {ALARM: 2, ALERT: 1, OK: 0, INSUFFICIENT: 0}.get(state, 0)


def funnel_position(metric: str, month: date, branch_id: int) -> dict[str, Any] | None:
    """The branch's point on the funnel plot of ``metric`` (``comparison.funnel.funnel`` for this
    branch alone): ``{"company_rate", "n", "numerator", "rate", "state", "limits"}`` — its rate
    against the company rate and the exact limits for its denominator; None without a point."""
    data = funnel_data(metric, month, [branch_id])
    point = next((p for p in (data or {}).get("points", []) if p.get("branch_id") == branch_id), None)
    if point is None:
        return None
    return {"company_rate": _finite(data.get("company_rate")), "n": int(point["x"]),
            "numerator": _finite(point.get("numerator")), "rate": _finite(point.get("y")),
            "state": point.get("state"),
            "limits": {k: _finite(v) for k, v in (point.get("limits") or {}).items()} or None}


def scorecard_dict(card: Scorecard) -> dict[str, Any]:
    """The scorecard as the API's JSON: English keys, numbers as numbers, None as null."""
    kpis: dict[str, Any] = {}
    for item in card.kpis:
        entry = {**item["kpi"].as_dict(), "state": item["state"],
                 "trend": [{"month": f"{mo:%Y-%m}", "value": v} for mo, v in item["trend"]]}
        if item["funnel"] is not None:
            entry["funnel"] = item["funnel"]
        if not card.names_visible:
            entry["percentile_bands"] = item["bands"]
        kpis[item["metric"]] = entry
    b = card.baseline
    comp = card.compliance
    return {
        "code": card.branch.code, "name": card.branch.name,
        "region": {"code": card.region.code, "name": card.region.name} if card.region is not None else None,
        "month": f"{card.month:%Y-%m}", "state": card.state,
        "care_index": _finite(next((i["kpi"].value for i in card.kpis if i["metric"] == "care_index"), None)),
        "kpis": kpis,
        "baseline": {"day": card.baseline_day.isoformat(), "status": b.status, "weeks": b.weeks,
                     "value": _finite(b.value), "median": _finite(b.median), "mad": _finite(b.mad), "z": _finite(b.z)},
        "compliance": _json_compliance(comp),
        "open_alerts": [{"id": a.id, "metric": a.metric, "day": a.day.isoformat(), "from_state": a.from_state,
                         "to_state": a.to_state, "value": _finite(a.value),
                         "created_at": a.created_at.isoformat() + "Z"} for a in card.alerts],
        "acknowledged_alerts": [{"id": a.id, "metric": a.metric, "day": a.day.isoformat(), "from_state": a.from_state,
                                 "to_state": a.to_state, "ack_at": a.ack_at.isoformat() + "Z",
                                 **({"ack_by": name, "ack_note": a.ack_note} if card.names_visible else {})}
                                for a, name in card.acknowledged],
    }


def _json_compliance(comp: dict[str, Any] | None) -> dict[str, Any] | None:
    if comp is None:
        return None
    return {k: (_finite(v) if isinstance(v, float) else v) for k, v in comp.items()
            if isinstance(v, (int, float, str, type(None)))}


def row_dict(r: BranchRow) -> dict[str, Any]:
    """A branch of the list as the API's JSON."""
    return {"code": r.code, "name": r.name,
            "region": {"code": r.region_code, "name": r.region_name} if r.region_code else None,
            "state": r.state, "states": r.states, "care_index": _finite(r.care_index.value),
            "kpis": {m: k.as_dict() for m, k in sorted(r.kpis.items())},
            "compliance": _json_compliance(r.compliance), "open_alerts": r.open_alerts}


def own_branches(user: Any) -> list[OrgUnit]:
    """The branches whose scorecard ``user`` may open (Branch Staff: their own), by code."""
    return list(db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(branches_in_scope(user, SCORECARD)))
                                   .order_by(OrgUnit.code).limit(PER_PAGE_MAX)).scalars())


