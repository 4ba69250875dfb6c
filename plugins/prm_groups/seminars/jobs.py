"""Periodic job of the seminar series: expire unanswered seat offers and offer each freed seat
to the next on the waiting list (every five minutes). Idempotent and safe with two consumers: the
expiry is a conditional UPDATE under the session's row lock (see :mod:`.registration`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def expire_offers_job(now: datetime | None = None) -> dict[str, int]:
    """Run one pass; commits per session."""
    from .registration import expire_offers

    return expire_offers(now=now)


JOBS: list[dict[str, Any]] = [
    {"name": "prm.seminars.expire_offers", "func": expire_offers_job, "schedule": {"minute": "*/5"},
     "retries": 0, "time_limit": 300},
]
