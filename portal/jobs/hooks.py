"""The jobs service's own hook implementations (permission, menu item, its housekeeping job),
registered as ``core.jobs`` — always active, like ``core``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl
from ..security.roles import SITE_ADMIN


@hookimpl
def portal_permissions() -> list[dict[str, Any]]:
    return [{"name": "jobs.manage", "title": _l("See and retry background jobs"), "roles": [SITE_ADMIN]}]


@hookimpl
def portal_notification_kinds() -> list[dict[str, Any]]:
    from .alerts import KINDS

    return KINDS


@hookimpl
def portal_menu_items(user: Any) -> list[dict[str, Any]]:  # noqa: ARG001
    return [{"label": _l("Background jobs"), "endpoint": "jobs.index", "permission": "jobs.manage", "order": 93,
             "icon": "clock", "section": "manage", "match": ("jobs.",)}]


def prune() -> dict[str, int]:
    from .service import prune_runs

    return prune_runs()


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    """``jobs.prune``: daily at 03:10 KST, old finished runs and expired locks go."""
    return [{"name": "jobs.prune", "func": prune, "retries": 2, "retry_delay": 300, "time_limit": 600,
             "schedule": {"minute": "10", "hour": "3", "tz": "Asia/Seoul"}}]
