"""Periodic jobs of the seminar series: expire unanswered seat offers and offer each freed seat
to the next on the waiting list (every five minutes; idempotent and safe with two consumers: the
expiry is a conditional UPDATE under the session's row lock, see :mod:`.registration`), and send
the invitations of the series whose day has come (daily; re-inviting adds only new matches)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def expire_offers_job(now: datetime | None = None) -> dict[str, int]:
    """Run one pass; commits per session."""
    from .registration import expire_offers

    return expire_offers(now=now)


def send_invitations_job(now: datetime | None = None) -> dict[str, int]:
    """Invite the new matches of every running programme's due seminar series (10:15 Seoul)."""
    from .invitations import send_due_invitations

    return send_due_invitations(now)


JOBS: list[dict[str, Any]] = [
    {"name": "prm.seminars.send_invitations", "func": send_invitations_job,
     "schedule": {"minute": "15", "hour": "10", "tz": "Asia/Seoul"}, "retries": 1, "time_limit": 1800},
    {"name": "prm.seminars.expire_offers", "func": expire_offers_job, "schedule": {"minute": "*/5"},
     "retries": 0, "time_limit": 300},
]
