"""Analytics overview page (``analytics.overview``): thin handler over :mod:`.score_stats`.

Aggregates only — no personal data on the page — so no access-log entry per view (the
customer page's Scores tab is part of the already logged customer view).
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from ..security import has_global_permission, has_permission, permission_required
from . import bp
from .score_stats import PERMISSION, overview, purchase_model

#: Line colours of the holdout chart, per model (the actual purchases are the grey bars).
MODEL_COLOURS = {"pareto_nbd": "#1f5fbf", "mbgnbd": "#0f8a6a", "bgnbd": "#b7791f"}


@bp.get("/", endpoint="overview")
@permission_required(PERMISSION)
def overview_page():
    data = overview(current_user)
    charts = None
    if data.run is not None and data.customers:
        charts = {
            "segments": {"labels": [str(s["label"]) for s in data.segments], "counts": [s["count"] for s in data.segments]},
            "value": {"labels": [b["label"] for b in data.value_hist], "counts": [b["count"] for b in data.value_hist]},
            "alive": {"labels": [b["label"] for b in data.alive_hist], "counts": [b["count"] for b in data.alive_hist]},
        }
    model = purchase_model(data.run)
    if charts is not None and model and model["check"]:
        charts["check"] = _check_chart(model["check"])
    # Fitted parameters are for those who run refreshes (administrators, HQ's analysts), in a
    # collapsed section: to everyone else they read as false precision.
    return render_template("analytics/overview.html", o=data, charts=charts, model=model,
                           can_refresh=has_permission(current_user, "analytics.refresh"),
                           show_params=has_global_permission(current_user, "analytics.refresh"))



def _check_chart(check: dict[str, Any]) -> dict[str, Any]:
    """Chart.js data of the holdout check: actual mean purchases as bars, each model's as a line
    (the model in use drawn solid and thicker, the others dashed)."""
    rows = check["rows"]
    datasets: list[dict[str, Any]] = [{"type": "bar", "label": _("Actual"), "data": [r["actual"] for r in rows],
                                       "backgroundColor": "rgba(90,90,90,.35)", "order": 2}]
    for m in check["models"]:
        if m["rmse"] is None:
            continue
        colour = MODEL_COLOURS.get(m["key"], "#555555")
        datasets.append({"type": "line", "label": m["label"] + (" ✓" if m["chosen"] else ""),
                         "data": [r.get(m["key"]) for r in rows], "borderColor": colour, "backgroundColor": colour,
                         "borderWidth": 3 if m["chosen"] else 1.5, "borderDash": [] if m["chosen"] else [6, 4],
                         "tension": 0.2, "order": 1})
    return {"labels": [r["label"] for r in rows], "datasets": datasets}
