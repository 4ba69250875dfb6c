"""Each branch against its own baseline: the same weekday over the last 8 weeks, robust z by
median and MAD, at least 6 weeks of history.

PLACEHOLDER (area D): signatures are fixed; the owner replaces the bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Baseline:
    status: str  # "ok" | "alert" | "alarm" | "insufficient"
    weeks: int  # weeks of history found (same weekday)
    value: float | None = None
    median: float | None = None
    mad: float | None = None
    z: float | None = None


def own_baseline(branch_id: int, day: date) -> Baseline:
    """Sales of ``day`` against the same weekday of the 8 weeks before it."""
    return Baseline(status="insufficient", weeks=0)
