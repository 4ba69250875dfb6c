"""Daily-report compliance: for each expected report day, on time / late / missing / corrected
against the deadline (default D+1 10:00 KST, a setting).

PLACEHOLDER (area B): signatures are fixed; the owner replaces the bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select


@dataclass(frozen=True)
class DayStatus:
    branch_id: int
    day: date
    status: str  # models.ON_TIME | LATE | MISSING | CORRECTED | PENDING (deadline not reached yet)
    filed_at: datetime | None = None  # first committed filing, KST
    corrected_at: datetime | None = None  # a replacement after the deadline, KST
    report_id: int | None = None


def deadline_for(day: date) -> datetime:
    """The (aware, KST) moment the report of ``day`` is due: D + deadline_days at deadline_hour:minute."""
    raise NotImplementedError


def day_statuses(branch_ids: list[int] | Select, start: date, end: date, now: datetime | None = None) -> list[DayStatus]:
    """Every expected report day of the branches between ``start`` and ``end``, with its status."""
    return []


def summary(branch_ids: list[int] | Select, start: date, end: date, now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """Per branch: ``expected``, ``on_time``, ``late``, ``missing``, ``corrected``, ``pending``,
    ``on_time_rate`` and ``filed_rate`` (over the days whose deadline has passed; None when none)."""
    return {}
