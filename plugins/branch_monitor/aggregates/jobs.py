"""Periodic job of the aggregates: the nightly rebuild of ``mon_branch_day`` and
``mon_branch_month`` when a report was committed since the last one — 02:30 KST, after the day's
late filings and before the KPI and evaluation jobs read the months."""

from __future__ import annotations

from typing import Any


def rebuild_job() -> dict[str, Any]:
    """``refresh_if_stale`` as a job: what it did, as JSON (``{"fresh": true}`` when nothing)."""
    from .service import refresh_if_stale

    done = refresh_if_stale()
    if done is None:
        return {"fresh": True}
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in done.items()}


JOBS: list[dict[str, Any]] = [
    {"name": "bm.aggregates.rebuild", "func": rebuild_job,
     "schedule": {"minute": "30", "hour": "2", "tz": "Asia/Seoul"}, "retries": 1, "time_limit": 1800},
]
