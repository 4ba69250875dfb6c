"""The alerts' periodic jobs: the evaluation of every branch at 11:00 KST (after the report
deadline at 10:00 and the reminders at 10:30, so yesterday's reports are in), and the weekly
digest on Mondays at 08:00 KST."""

from __future__ import annotations

from typing import Any


def evaluate_job() -> dict[str, int]:
    """``bm.alerts.evaluate``: judge yesterday (KST) for every branch; alerts on changes only."""
    from .service import evaluate

    return evaluate()


def digest_job() -> dict[str, int]:
    """``bm.alerts.digest``: last ISO week's changes and open alerts, one notification per subscriber."""
    from .service import send_digest

    return send_digest()


JOBS: list[dict[str, Any]] = [
    {"name": "bm.alerts.evaluate", "func": evaluate_job, "schedule": {"minute": "0", "hour": "11", "tz": "Asia/Seoul"},
     "retries": 2, "time_limit": 600},
    {"name": "bm.alerts.digest", "func": digest_job,
     "schedule": {"minute": "0", "hour": "8", "day_of_week": "1", "tz": "Asia/Seoul"}, "retries": 2, "time_limit": 600},
]
