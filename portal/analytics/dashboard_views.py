"""Analytics overview page (``analytics.overview``): thin handler over :mod:`.score_stats`.

Aggregates only — no personal data on the page — so no access-log entry per view (the
customer page's Scores tab is part of the already logged customer view).
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..security import has_permission, permission_required
from . import bp
from .score_stats import PERMISSION, overview


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
    return render_template("analytics/overview.html", o=data, charts=charts,
                           can_refresh=has_permission(current_user, "analytics.refresh"))

