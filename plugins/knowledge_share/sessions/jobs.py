"""Periodic job of the sessions: offer the action items that became overdue today (due
yesterday, still open) to other add-ons and tell their owner branch's staff — daily, 00:20 KST."""

from __future__ import annotations

from datetime import date
from typing import Any


def overdue_actions_job(on: str | None = None) -> dict[str, int]:
    """One pass for the Korean day ``on`` (``YYYY-MM-DD``; default: today); commits."""
    from .actions import offer_overdue

    return offer_overdue(date.fromisoformat(on) if on else None)


JOBS: list[dict[str, Any]] = [
    {"name": "ks.sessions.overdue_actions", "func": overdue_actions_job,
     "schedule": {"minute": "20", "hour": "0", "tz": "Asia/Seoul"}, "retries": 1, "time_limit": 600},
]
