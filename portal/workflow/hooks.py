"""The workflow service's own hook implementations, registered as ``core.workflow`` — always
active, like ``core``: the default workflow, the permission to submit content, the "my tasks"
menu item and dashboard portlet."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl
from ..security.roles import ALL_ROLES
from .definitions import SIMPLE_PUBLICATION


@hookimpl
def portal_workflows() -> list[dict[str, Any]]:
    return [SIMPLE_PUBLICATION]


@hookimpl
def portal_notification_kinds() -> list[dict[str, Any]]:
    from .notifications import KINDS

    return KINDS


@hookimpl
def portal_permissions() -> list[dict[str, Any]]:
    # simple_publication's submit/retract; publish and reject use the core's content.review.
    return [{"name": "content.submit", "title": _l("Submit content for review"), "roles": ALL_ROLES}]


@hookimpl
def portal_menu_items(user: Any) -> list[dict[str, Any]]:
    from .tasks import may_review_anything

    if not may_review_anything(user):
        return []
    return [{"label": _l("My tasks"), "endpoint": "workflow.tasks", "permission": "portal.view", "order": 2,
             "icon": "check", "match": ("workflow.",)}]


@hookimpl
def portal_portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    if manager != "dashboard":
        return []
    from .tasks import count, hook_tasks, may_review_anything

    others = len(hook_tasks(user))
    if not (others or may_review_anything(user)):
        return []
    return [{"title": _l("Waiting for my decision"), "template": "workflow/portlet_tasks.html", "order": 2,
             "context": {"count": count(user) + others}}]
