"""The compliance area's periodic job: reminders and escalations of missing daily reports, every
day at 10:30 KST (safe to run again: one notification per branch, day and level)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def reminders_job(at: str | None = None) -> dict[str, int]:
    """One reminder pass at ``at`` (ISO time, KST when naive; default: now)."""
    from .reminders import run_reminders

    return run_reminders(datetime.fromisoformat(at) if at else None)


JOBS: list[dict[str, Any]] = [
    {"name": "bm.compliance.reminders", "func": reminders_job,
     "schedule": {"minute": "30", "hour": "10", "tz": "Asia/Seoul"}, "retries": 1, "time_limit": 600},
]
