"""Day and month sales aggregates per branch (``mon_branch_day``, ``mon_branch_month``).

PLACEHOLDER (area A): signatures are fixed; the owner replaces the bodies."""

from __future__ import annotations

from datetime import date
from typing import Any


def apply_report(report: Any) -> dict[str, int]:
    """``portal_sales_imported``: recompute, set-based, the (branch, day) rows of the days the
    report's lines fall on and of the days of the report it replaced (``mon_report_span``), then
    those days' months. Idempotent: running it twice for one report changes nothing (BM-7)."""
    return {"days": 0, "months": 0}


def rebuild(start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """The nightly rebuild: both tables from ``sale_line`` (all days, or ``start``..``end``), in one
    transaction, recorded as a ``mon_run`` of kind ``rebuild``."""
    return {"days": 0, "months": 0}


def refresh_if_stale() -> dict[str, Any] | None:
    """Rebuild when a report was committed after the last finished rebuild; None when fresh."""
    return None


def daily_sales(branch_id: int, start: date, end: date) -> dict[date, int]:
    """Sales per day of one branch from ``mon_branch_day`` (days without sales are absent)."""
    return {}
