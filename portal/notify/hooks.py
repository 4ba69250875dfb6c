"""The notify service's own hook implementations, registered as ``core.notify`` — always active,
like ``core``: the core's notification kinds, the dashboard's "Notifications" portlet, the daily
digest job, and blanking notifications about an erased customer."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl


@hookimpl
def portal_notification_kinds() -> list[dict[str, Any]]:
    from .service import CORE_KINDS

    return CORE_KINDS


@hookimpl
def portal_portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    """The latest five unread notifications (one indexed query), first on the dashboard."""
    if manager != "dashboard" or not getattr(user, "is_authenticated", False):
        return []
    from .service import latest_unread

    return [{"title": _l("Notifications"), "template": "notify/portlet.html", "order": 1,
             "context": {"items": latest_unread(user.id, 5)}}]


#: 08:00 Korean time every day: the digest is waiting when the working day starts.
DIGEST_SCHEDULE = {"minute": "0", "hour": "8", "tz": "Asia/Seoul"}


def daily_digest() -> dict[str, int]:
    """The periodic job ``notify.daily_digest`` (safe to re-run: at most one digest per user and day)."""
    from .service import send_daily_digest

    return send_daily_digest()


def prune_read() -> int:
    """The periodic job ``notify.prune``: notifications read over a year ago go."""
    from .service import prune_read as prune

    return prune()


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    return [{"name": "notify.daily_digest", "func": daily_digest, "schedule": DIGEST_SCHEDULE,
             "retries": 3, "retry_delay": 300, "time_limit": 1800},
            {"name": "notify.prune", "func": prune_read, "schedule": {"minute": "30", "hour": "3", "tz": "Asia/Seoul"},
             "retries": 1, "retry_delay": 600, "time_limit": 1800}]


@hookimpl
def portal_personal_data_erased(customer: Any, actor: Any) -> None:
    from .service import erase_customer

    erase_customer(customer.id)
