"""The monitor pages (``/monitor``): HQ's monitor with region drill-down, funnel plot and the
branch list; a branch's scorecard; Branch Staff's own scorecard with anonymous percentile bands
(``/monitor/my``); the logged export.

Thin handlers over :mod:`.scorecard`: the scope rule is ``access`` (a branch or region outside it
is a 404, never a 403), bad parameters show their message with a 422 and fall back to the
defaults. A viewer who may not name other branches (``access.names_visible`` False) never gets a
page that names one — the scorecard then shows percentile bands instead of peers.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.toolkit import (
    Category,
    ExportTooLarge,
    OrgUnit,
    db,
    has_permission,
    logged_export,
    parse_page_args,
    permission_required,
)

from ..access import branch_or_404, branches_in_scope, names_visible, regions_in_scope
from ..errors import MonitorError
from ..models import ALARM, ALERT, INSUFFICIENT, OK
from ..months import kst_today, month_label, month_start, parse_month, prev_month, to_kst
from ..permissions import ACK, EXPORT, MONITOR, SCORECARD
from . import charts
from . import scorecard as sc

bp = Blueprint("bm_monitor", __name__, url_prefix="/monitor", template_folder="../templates",
               static_folder="../static", static_url_path="/static")

DEFAULT_METRIC = "at_risk_contact_rate"
EXPORT_MAX = 5000

STATE_LABELS = {ALARM: _l("Alarm"), ALERT: _l("Alert"), OK: _l("OK"), INSUFFICIENT: _l("Insufficient data"),
                sc.NONE: _l("Not evaluated yet")}
SORT_LABELS = {"state": _l("State (worst first)"), "code": _l("Branch code"), "-code": _l("Branch code, descending"),
               "name": _l("Branch name"), "-name": _l("Branch name, descending"), "region": _l("Region"),
               "alerts": _l("Open alerts")}
COMPLIANCE_LABELS = {"expected": _l("Expected report days"), "on_time": _l("On time"), "late": _l("Late"),
                     "missing": _l("Missing"), "corrected": _l("Corrected"), "pending": _l("Not due yet")}


def fmt_value(value: Any, kind: str | None) -> str:
    """A KPI value for people: rates in per cent, amounts and counts with thousands separators."""
    if value is None:
        return "–"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(v):  # never "inf" on a page (BM-6), as the API's null
        return "–"
    if kind == "rate":
        return f"{v * 100:.1f} %"
    if kind in ("amount", "count", "mix"):
        return f"{v:,.0f}"
    if kind == "days":
        return _("%(n)s days", n=f"{v:.1f}")
    return f"{v:,.1f}"


def fmt_change(change: float | None) -> str:
    """A month-over-month change as ``kpis.service.format_change`` writes it ("+12.5%"), or "N/A"
    when there is nothing to compare with (BM-6)."""
    from ..kpis.service import format_change

    return format_change(change)


def fmt_rate(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value * 100:.1f} %"


def metric_label(metric: str) -> str:
    spec = sc.metrics().get(metric)
    return str(spec["label"]) if spec else metric


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"fmt_value": fmt_value, "fmt_change": fmt_change, "fmt_rate": fmt_rate, "metric_label": metric_label,
            "state_labels": STATE_LABELS, "compliance_labels": COMPLIANCE_LABELS, "month_label": month_label,
            "sparkline": charts.sparkline, "to_kst": to_kst}


def _month(errors: dict[str, str]) -> date:
    try:
        return parse_month(request.args.get("month"))
    except MonitorError as exc:
        errors.update(exc.errors)
        return month_start(kst_today())


def _metric(errors: dict[str, str]) -> str:
    choices = sc.funnel_metrics()
    metric = request.args.get("metric") or DEFAULT_METRIC
    if metric not in choices:
        if request.args.get("metric"):
            errors["metric"] = _("Choose a metric from the list.")
        metric = DEFAULT_METRIC if DEFAULT_METRIC in choices else (choices[0] if choices else DEFAULT_METRIC)
    return metric


def _list_args(errors: dict[str, str]) -> dict[str, Any]:
    sort = request.args.get("sort") or "state"
    q = (request.args.get("q") or "").strip()
    state = request.args.get("state") or None
    bad = sc.check_args(sort, q, state)
    if "sort" in bad:
        errors["sort"] = _("Choose a sort order from the list.")
        sort = "state"
    if "q" in bad:
        errors["q"] = _("Search with at most %(n)d characters.", n=sc.Q_MAX)
        q = ""
    if "state" in bad:
        errors["state"] = _("Choose a state from the list.")
        state = None
    page, per_page = parse_page_args(request.args, default_size=sc.PER_PAGE)
    return {"sort": sort, "q": q, "state": state, "page": page, "per_page": min(per_page, sc.PER_PAGE_MAX)}


@bp.get("/")
@permission_required(MONITOR)
def index():
    """The monitor: ``?month=&region=&metric=&q=&state=&sort=&page=`` — the regions (or the
    chosen region's header), the funnel plot of ``metric`` over the branches in view, and the
    branch list (worst state first), 50 a page."""
    return _monitor(request.args.get("region") or None)


@bp.get("/region/<code>")
@permission_required(MONITOR)
def region(code: str):
    """The drill-down of one region (404 outside the viewer's scope)."""
    return _monitor(code)


def _monitor(region_code: str | None):
    errors: dict[str, str] = {}
    month = _month(errors)
    metric = _metric(errors)
    args = _list_args(errors)
    try:
        region = sc.region_of(current_user, region_code)
    except MonitorError:
        abort(404, description=_("No such region."))
    page = sc.monitor_rows(current_user, month, region=region, sort=args["sort"], q=args["q"] or None,
                           state=args["state"], page=args["page"], per_page=args["per_page"], clamp=True)
    regions = sc.region_rows(current_user, month)
    scope = branches_in_scope(current_user, MONITOR)
    if region is not None:
        scope = select(OrgUnit.id).where(OrgUnit.id.in_(scope), OrgUnit.parent_id == region.id)
    data = sc.funnel_data(metric, month, scope)
    chart = charts.funnel_chart(data, labels=_funnel_labels(data, scope))
    query = {k: v for k, v in {"month": month_label(month) if "month" not in errors and request.args.get("month") else None,
                               "metric": metric if request.args.get("metric") and "metric" not in errors else None,
                               "q": args["q"] or None, "state": args["state"],
                               "sort": args["sort"] if args["sort"] != "state" else None}.items() if v}
    endpoint_args = dict(query, **({"code": region.code} if region is not None and region_code and
                                   request.endpoint == "bm_monitor.region" else {}))
    if region is not None and request.endpoint != "bm_monitor.region":
        endpoint_args["region"] = region.code
    return render_template(
        "branch_monitor/monitor/index.html", month=month, prev=prev_month(month), errors=errors, metric=metric,
        metrics=sc.funnel_metrics(), region=region, regions=regions, page=page, args=args, query=query,
        endpoint_args=endpoint_args, endpoint=request.endpoint, data=data, chart=chart,
        sorts=SORT_LABELS, state_filters=sc.STATE_FILTERS, may_export=has_permission(current_user, EXPORT),
        month_value=month_label(month)), (422 if errors else 200)


def _funnel_labels(data: dict[str, Any] | None, scope: Any) -> dict[int, tuple[str, str]]:
    """Codes and names of the funnel's dots (this page needs ``bm.monitor``, whose holders may see
    names), one query."""
    if not data or not data.get("points"):
        return {}
    rows = db.session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name).where(OrgUnit.id.in_(scope))).all()
    return {i: (c, n) for i, c, n in rows}


@bp.get("/branches/<code>")
@permission_required(SCORECARD)
def branch(code: str):
    """A branch's scorecard for ``?month=`` (404 outside the viewer's scope — BM-10)."""
    unit = branch_or_404(current_user, code, SCORECARD)
    return _scorecard(unit)


@bp.get("/my")
@permission_required(SCORECARD)
def mine():
    """Branch Staff's own scorecard (``?branch=`` chooses among several own branches); HQ, who
    may see the monitor, goes there instead."""
    if names_visible(current_user) and not request.args.get("branch"):
        return redirect(url_for("bm_monitor.index"))
    own = sc.own_branches(current_user)
    wanted = request.args.get("branch")
    unit = next((b for b in own if b.code == wanted), None) if wanted else (own[0] if own else None)
    if unit is None:
        abort(404, description=_("No such branch."))
    return _scorecard(unit, own=own)


def _scorecard(unit: Any, own: list[Any] | None = None):
    errors: dict[str, str] = {}
    month = _month(errors)
    card = sc.scorecard(current_user, unit, month)
    items = []
    for item in card.kpis:
        spec = item["spec"]
        items.append({**item, "chart": charts.trend_chart(item["trend"], rate=spec.get("kind") == "rate"),
                      "strip": charts.limit_strip(item["funnel"]), "band_bar": charts.band_bar(item["bands"]),
                      "shares": _shares(item["kpi"].detail) if spec.get("kind") == "mix" else [],
                      "components": _components(item["kpi"].detail) if item["metric"] == "care_index" else []})
    return render_template(
        "branch_monitor/monitor/scorecard.html", card=card, items=items, month=month, errors=errors,
        month_value=month_label(month), own=own or [], may_ack=has_permission(current_user, ACK),
        may_monitor=card.names_visible and has_permission(current_user, MONITOR),
        regions=regions_in_scope(current_user) if card.names_visible else []), (422 if errors else 200)


def _components(detail: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The care index's components (``detail["components"]``: metric → value, company, weight,
    score 0–100) with their labels, heaviest first."""
    comps = (detail or {}).get("components") or {}
    if not isinstance(comps, dict):
        return []
    out = [{"metric": m, "label": metric_label(m), "score": c.get("score"), "weight": c.get("weight")}
           for m, c in comps.items() if isinstance(c, dict)]
    return sorted(out, key=lambda c: (-(c["weight"] or 0), c["metric"]))


def _shares(detail: dict[str, Any] | None) -> list[tuple[str, float]]:
    """The category mix's shares (``detail["shares"]``: code → share) as (category name in the
    reader's language, share), largest first."""
    shares = (detail or {}).get("shares") or {}
    if not isinstance(shares, dict) or not shares:
        return []
    ko = str(get_locale() or "ko").startswith("ko")
    names = {c: (ko_name if ko else en_name) for c, ko_name, en_name in db.session.execute(
        select(Category.code, Category.name_ko, Category.name_en).where(Category.code.in_(list(shares))))}
    return sorted(((names.get(c, c), float(v)) for c, v in shares.items() if isinstance(v, (int, float))),
                  key=lambda t: -t[1])


@bp.get("/export")
@permission_required(EXPORT)
def export():
    """The branch list of ``?month=&region=&q=&state=`` as ``?format=csv|xlsx``: every branch in
    the viewer's scope (``bm.export``), each KPI of the catalogue, filing and state; logged."""
    errors: dict[str, str] = {}
    month = _month(errors)
    args = _list_args(errors)
    fmt = request.args.get("format") or "csv"
    if errors or fmt not in ("csv", "xlsx"):
        abort(400)
    try:
        region = sc.region_of(current_user, request.args.get("region") or None, EXPORT)
    except MonitorError:
        abort(404, description=_("No such region."))
    page = sc.monitor_rows(current_user, month, region=region, sort=args["sort"], q=args["q"] or None,
                           state=args["state"], page=1, per_page=EXPORT_MAX, trends=(), permission=EXPORT)
    if page.total > EXPORT_MAX:  # more than one export page: narrow by region (never a cut file)
        abort(400, description=_("Too many branches for one file; choose a region."))
    catalogue = sc.metrics()
    header = [_("Month"), _("Region"), _("Region name"), _("Branch"), _("Branch name"), _("State"), _("Open alerts"),
              *[str(spec["label"]) for spec in catalogue.values()],
              *[_("%(metric)s: change from the month before", metric=str(spec["label"])) for spec in catalogue.values()],
              _("Expected report days"), _("On time"), _("Late"), _("Missing"), _("Corrected"),
              _("On-time filing (per cent)"), _("Filing (per cent)")]

    def rows():
        for r in page.items:
            comp = r.compliance or {}
            yield [month_label(month), r.region_code or "", r.region_name or "", r.code, r.name,
                   str(STATE_LABELS.get(r.state, r.state)), r.open_alerts,
                   *[_cell(r.kpis.get(m), spec.get("kind")) for m, spec in catalogue.items()],
                   *[_change_cell(r.kpis.get(m)) for m in catalogue],
                   comp.get("expected", ""), comp.get("on_time", ""), comp.get("late", ""), comp.get("missing", ""),
                   comp.get("corrected", ""), _pct(comp.get("on_time_rate")), _pct(comp.get("filed_rate"))]

    name = f"branch-monitor-{month_label(month)}{'-' + region.code if region is not None else ''}.{fmt}"
    try:
        return logged_export(fmt, name, header, rows, _("Branch monitor"), page.total, object_type="branch_monitor",
                             detail=f"monitor {month_label(month)} region={region.code if region else '*'}")
    except ExportTooLarge:
        abort(400, description=_("Too many branches for one file; choose a region."))


def _cell(k: sc.Kpi | None, kind: str | None) -> Any:
    if k is None or k.value is None or not math.isfinite(k.value):
        return ""
    return round(k.value * 100, 2) if kind == "rate" else round(k.value, 2)


def _change_cell(k: sc.Kpi | None) -> str:
    return fmt_change(k.change if k is not None else None)


def _pct(v: Any) -> Any:
    return "" if v is None else round(float(v) * 100, 1)
