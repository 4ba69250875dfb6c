"""HQ's weak-category radar page (``/prm/radar``): the groups × categories heat-map, the ranked
gaps with "create programme", a funnel chart per category and the CSV export.

The radar compares every group with all the others, so the page needs ``prm.manage`` held
company-wide (HQ Staff, Site Admin); anyone else gets 403 and has no menu entry."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from portal.toolkit import has_global_permission, logged_export, permission_required

from ..permissions import MANAGE
from .service import (
    ALARM,
    ALERT,
    HIGH,
    INSUFFICIENT,
    MIN_ACTIVE,
    MONTHS_CHOICES,
    RadarError,
    compute,
    funnel,
    parse_args,
)

bp = Blueprint("prm_radar", __name__, url_prefix="/prm/radar", template_folder="../templates",
               static_folder="../static/radar", static_url_path="/static")

GROUPS_PER_PAGE = 50


def _hq_only() -> None:
    if not has_global_permission(current_user, MANAGE):
        abort(403)


def create_programme_url(group: str, category: str) -> str:
    """The programmes helper's "new programme" form, pre-filled; a plain URL until it exists."""
    try:
        return url_for("prm_programmes.new", group=group, category=category)
    except BuildError:
        return "/prm/programmes/new?" + urlencode({"group": group, "category": category})


def flag_labels() -> dict[str | None, str]:
    return {ALARM: _("Alarm (below the %(level)s limit)", level="99.8 %"),
            ALERT: _("Alert (below the %(level)s limit)", level="95 %"),
            HIGH: _("Above the %(level)s limit", level="95 %"), INSUFFICIENT: _("Insufficient data (n < %(n)d)", n=MIN_ACTIVE),
            None: _("Within limits")}


def category_label(cat: dict[str, Any]) -> str:
    return cat["name_ko"] if str(get_locale() or "ko").startswith("ko") else cat["name_en"]


def chart(data: dict[str, Any] | None, width: int = 640, height: int = 320) -> dict[str, Any] | None:
    """SVG coordinates of the funnel chart: x = active customers (n), y = rate; the limit curves as
    polyline point strings, each group as a dot coloured by its flag."""
    if not data:
        return None
    left, right, top, bottom = 48, 12, 12, 36
    pw, ph = width - left - right, height - top - bottom
    max_n = max(data["max_n"], 1)
    rates = [p["rate"] for p in data["points"] if p["rate"] is not None]
    hi_curve = [h for _n, _lo, h in data["curves"]["p998"]]
    y_max = min(1.0, max([*rates, *hi_curve, data["centre"]]) * 1.1) or 1.0

    def x(n: float) -> float:
        return round(left + pw * n / max_n, 1)

    def y(r: float) -> float:
        return round(top + ph * (1 - r / y_max), 1)

    def line(pts: list[tuple[float, float]]) -> str:
        return " ".join(f"{x(n)},{y(r)}" for n, r in pts)

    curves = {name: {"lo": line([(n, lo) for n, lo, _h in c]), "hi": line([(n, h) for n, _l, h in c])}
              for name, c in data["curves"].items()}
    step = 10 ** math.floor(math.log10(y_max)) if y_max > 0 else 0.1
    if y_max / step < 3:
        step /= 2
    ticks = [round(i * step, 6) for i in range(int(y_max / step) + 1)]
    n_ticks = [round(max_n * i / 4) for i in range(5)]
    return {"width": width, "height": height, "left": left, "bottom": height - bottom, "right": width - right,
            "top": top, "centre_y": y(data["centre"]), "curves": curves,
            "y_ticks": [(y(t), f"{t * 100:.0f} %") for t in ticks],
            "x_ticks": [(x(n), f"{n:,}") for n in n_ticks],
            "points": [{**p, "cx": x(p["n"]), "cy": y(p["rate"] or 0)} for p in data["points"]]}


def _load() -> tuple[Any, dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    try:
        params = parse_args({k: request.args.get(k) for k in ("end", "months")})
    except RadarError as exc:
        errors = exc.errors
        params = {"end": None, "months": 12, "categories": None, "groups": None}
    return compute(end=params["end"], months=params["months"]), params, errors


@bp.get("/")
@permission_required(MANAGE)
def index():
    """The heat-map (groups filtered by ``q``, 50 a page), the gaps, the chart of ``category``."""
    _hq_only()
    result, params, errors = _load()
    cats = {c["code"]: c for c in result.categories}
    chosen = request.args.get("category") or (result.gaps[0].category if result.gaps else None)
    if chosen not in cats:
        chosen = next(iter(cats), None)
    q = (request.args.get("q") or "").strip()[:60]
    flagged_only = request.args.get("flagged") == "1"
    by_cell = {(c.group, c.category): c for c in result.cells}
    groups = result.groups
    if q:
        groups = [g for g in groups if q.lower() in g["code"].lower() or q.lower() in g["name"].lower()]
    if flagged_only:
        groups = [g for g in groups if any(by_cell.get((g["code"], c)) and by_cell[(g["code"], c)].flag in (ALARM, ALERT)
                                           for c in cats)]
    try:
        page = max(1, int(request.args.get("page") or 1))
    except ValueError:
        page = 1
    pages = max(1, math.ceil(len(groups) / GROUPS_PER_PAGE))
    page = min(page, pages)
    shown = groups[(page - 1) * GROUPS_PER_PAGE: page * GROUPS_PER_PAGE]
    args = {k: v for k, v in {"end": request.args.get("end") if "end" not in errors else None,
                              "months": request.args.get("months") if "months" not in errors else None,
                              "q": q or None, "flagged": "1" if flagged_only else None}.items() if v}
    status = 422 if errors else 200
    return render_template(
        "prm/radar.html", result=result, errors=errors, months=params["months"], months_choices=MONTHS_CHOICES,
        end_value=request.args.get("end", "") if "end" not in errors else "", cats=cats, by_cell=by_cell,
        groups=shown, group_total=len(groups), page=page, pages=pages, q=q, flagged_only=flagged_only, args=args,
        chosen=chosen, chart=chart(funnel(result, chosen)) if chosen else None, flag_labels=flag_labels(),
        category_label=category_label, create_url=create_programme_url, min_active=MIN_ACTIVE), status


@bp.get("/export.csv")
@permission_required(MANAGE)
def export():
    """Every cell of the window as CSV (logged like every export)."""
    _hq_only()
    result, params, errors = _load()
    if errors:
        abort(400)
    labels = flag_labels()
    cats = {c["code"]: c for c in result.categories}

    def pct(x: float | None) -> str:
        return "" if x is None else f"{x * 100:.1f}"

    def rows():
        for c in result.cells:
            yield [result.start.isoformat(), result.end.isoformat(), c.group, c.group_name, c.category,
                   category_label(cats[c.category]), c.n, c.buyers, pct(c.rate), pct(c.benchmark),
                   pct(c.p95[0]) if c.p95 else "", pct(c.p95[1]) if c.p95 else "",
                   pct(c.p998[0]) if c.p998 else "", pct(c.p998[1]) if c.p998 else "",
                   c.flag or "", labels.get(c.flag, "")]

    header = [_("Window start"), _("Window end"), _("Group"), _("Group name"), _("Category"), _("Category name"),
              _("Active customers"), _("Buyers"), _("Rate (%)"), _("Benchmark (%)"), _("Alert lower limit (%)"),
              _("Alert upper limit (%)"), _("Alarm lower limit (%)"), _("Alarm upper limit (%)"), _("Flag"), _("Flag meaning")]
    name = f"prm-radar-{result.end.isoformat()}-{params['months']}m.csv"
    return logged_export("csv", name, header, rows, _("Weak-category radar"), len(result.cells),
                         object_type="prm_radar", detail=f"radar {result.start}..{result.end}")
