"""The events service's own hook implementations, registered as ``core.events`` — always active."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    """``events.retry``: every minute, re-run the add-on reactions that failed and are due."""
    from .retry import retry_due

    return [{"name": "events.retry", "func": retry_due, "retries": 0, "retry_delay": 60, "time_limit": 600,
             "schedule": {"minute": "*"}}]
