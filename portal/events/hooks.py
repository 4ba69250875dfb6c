"""The events service's own hook implementations, registered as ``core.events`` — always active."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl
from ..security.roles import SITE_ADMIN


@hookimpl
def portal_permissions() -> list[dict[str, Any]]:
    return [{"name": "events.manage", "title": _l("See and retry failed add-on reactions"), "roles": [SITE_ADMIN]}]


@hookimpl
def portal_notification_kinds() -> list[dict[str, Any]]:
    from .retry import KINDS

    return KINDS


@hookimpl
def portal_menu_items(user: Any) -> list[dict[str, Any]]:  # noqa: ARG001
    return [{"label": _l("Add-on reactions"), "endpoint": "events.failures", "permission": "events.manage",
             "order": 94, "section": "manage", "match": ("events.",)}]


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    """``events.retry``: every minute, re-run the add-on reactions that failed and are due."""
    from .retry import retry_due

    return [{"name": "events.retry", "func": retry_due, "retries": 0, "retry_delay": 60, "time_limit": 600,
             "schedule": {"minute": "*"}}]
