"""The core's own hook implementations: it contributes through the same hooks as plugins."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from .hookspecs import hookimpl
from .security import has_global_permission
from .security.permissions import roles_granting
from .security.roles import CORE_PERMISSIONS, ROLES


@hookimpl
def portal_permissions() -> list[dict[str, Any]]:
    return CORE_PERMISSIONS


@hookimpl
def portal_roles() -> list[dict[str, Any]]:
    return ROLES


def sees_sales_reports(user: Any) -> bool:
    """A sales report is a branch's daily file: only a global ``sales.view`` or one granted on an
    org unit can ever show one. Distributors and leaders (partner grants) file none and see none,
    so the menu does not lead them to an empty board."""
    if has_global_permission(user, "sales.view"):
        return True
    granting = roles_granting("sales.view")
    return any(lr.org_unit_id for lr in user.local_roles if lr.role in granting)


@hookimpl
def portal_menu_items(user: Any) -> list[dict[str, Any]]:
    items = _menu_items()
    if not sees_sales_reports(user):
        items = [i for i in items if i["endpoint"] != "sales.reports"]
    return items


def _menu_items() -> list[dict[str, Any]]:
    return [
        {"label": _l("Dashboard"), "endpoint": "dashboard.index", "permission": "portal.view", "order": 0, "icon": "home"},
        {"label": _l("Customers"), "endpoint": "customers.index", "permission": "customer.view", "order": 10, "icon": "users"},
        {"label": _l("Data to fix"), "endpoint": "quality.fix_queue", "permission": "customer.edit", "order": 11, "icon": "alert",
         "match": ("quality.fix",)},
        {"label": _l("Duplicates"), "endpoint": "quality.duplicates", "permission": "customer.merge", "order": 12, "icon": "copy",
         "match": ("quality.merge",)},
        {"label": _l("Sales reports"), "endpoint": "sales.reports", "permission": "sales.view", "order": 14, "icon": "upload",
         "match": ("sales.report", "sales.upload", "sales.board", "sales.rejections", "sales.index")},
        {"label": _l("Sale lines"), "endpoint": "sales.lines", "permission": "sales.view", "order": 15, "icon": "list",
         "match": ("sales.lines", "sales.export")},
        {"label": _l("Analytics"), "endpoint": "analytics.overview", "permission": "analytics.view", "order": 16, "icon": "chart"},
        {"label": _l("Segments"), "endpoint": "analytics.segments", "permission": "segment.manage", "order": 17, "icon": "filter",
         "match": ("analytics.segment", "analytics.extraction")},
        {"label": _l("Organisation"), "endpoint": "org.index", "permission": "org.view", "order": 20, "icon": "tree"},
        {"label": _l("Users & roles"), "endpoint": "manage.users", "permission": "users.manage", "order": 90, "icon": "key", "section": "manage",
         "match": ("manage.user",)},
        {"label": _l("Add-ons"), "endpoint": "manage.addons", "permission": "addons.manage", "order": 91, "icon": "puzzle", "section": "manage",
         "match": ("manage.addon",)},
        {"label": _l("Audit log"), "endpoint": "manage.audit_log", "permission": "audit.view", "order": 92, "icon": "log", "section": "manage",
         "match": ("manage.audit", "manage.access")},
    ]


@hookimpl
def portal_portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    if manager != "dashboard":
        return []
    from .dashboard.portlets import core_portlets

    return core_portlets(user)


@hookimpl
def portal_customer_tabs(customer: Any, user: Any) -> list[dict[str, Any]]:
    from .customers.tabs import core_tabs

    return core_tabs(customer, user)
