"""Opening calendars: each branch's weekly pattern, its public-holiday policy (Korean public
holidays from ``holidays`` are *defaults*) and HQ's per-date overrides. Expected report days are
the open days.

PLACEHOLDER (area B): signatures are fixed; the owner replaces the bodies."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select


def ensure_branches() -> int:
    """Give every branch a ``mon_branch`` row (default calendar), set-based; returns rows made."""
    return 0


def public_holidays(start: date, end: date) -> dict[date, str]:
    """Korean public holidays between ``start`` and ``end`` (inclusive), with their names."""
    return {}


def expected_days(branch_ids: list[int] | Select, start: date, end: date) -> dict[int, set[date]]:
    """Each branch's open days (= expected report days) between ``start`` and ``end`` inclusive."""
    days = {start + timedelta(days=i) for i in range((end - start).days + 1) if (start + timedelta(days=i)).weekday() < 6}
    ids = list(branch_ids) if isinstance(branch_ids, list) else []
    return {b: set(days) for b in ids}


def is_open(branch_id: int, day: date) -> bool:
    return day.weekday() < 6


def set_pattern(actor: Any, branch: Any, open_weekdays: int, holiday_policy: str) -> None:
    """HQ sets a branch's weekly pattern and holiday policy (validated; audited)."""


def set_override(actor: Any, branch: Any, day: date, is_open: bool | None, note: str = "") -> None:
    """HQ opens or closes one branch on one date (``is_open`` None removes the override)."""
