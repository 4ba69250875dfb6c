"""KPIs and the customer-care index per branch and month (``mon_kpi``), from core data only.

PLACEHOLDER (area C): signatures are fixed; the owner replaces the bodies. ``METRICS`` is the
catalogue every page, the API, funnel plots and alerts read."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select

#: metric → {"label", "kind": "amount"|"count"|"rate"|"index"|"days", "better": "high"|"low"|None,
#: "funnel": bool (a rate with a denominator, judged on a funnel plot), "care": bool (part of the index)}
METRICS: dict[str, dict[str, Any]] = {
    "sales": {"label": _l("Sales"), "kind": "amount", "better": "high", "funnel": False, "care": False},
    "at_risk_contact_rate": {"label": _l("At-risk customers contacted (90 days)"), "kind": "rate", "better": "high",
                             "funnel": True, "care": True},
    "care_index": {"label": _l("Customer-care index"), "kind": "index", "better": "high", "funnel": False,
                   "care": False},
}


def compute_month(month: date, branch_ids: list[int] | Select | None = None) -> int:
    """Write every metric of ``month`` for the branches (all when None) into ``mon_kpi``, replacing
    the month's rows, set-based; returns rows written."""
    return 0


def kpis_for(branch_ids: list[int] | Select, month: date) -> dict[int, dict[str, dict[str, Any]]]:
    """``{branch_id: {metric: {"value", "numerator", "denominator", "detail"}}}`` from ``mon_kpi``."""
    return {}


def company_rate(metric: str, month: date) -> float | None:
    """Σ numerator / Σ denominator over all branches (the funnel plot's centre line)."""
    return None


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change; None ("N/A") when the previous value is 0 or missing — never ∞ (BM-6)."""
    if current is None or previous in (None, 0):
        return None
    return (current - previous) / previous
