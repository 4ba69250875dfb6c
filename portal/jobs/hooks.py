"""The jobs service's own hook implementations (permission, menu item), registered as
``core.jobs`` — always active, like ``core``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl
from ..security.roles import SITE_ADMIN


@hookimpl
def portal_permissions() -> list[dict[str, Any]]:
    return [{"name": "jobs.manage", "title": _l("See and retry background jobs"), "roles": [SITE_ADMIN]}]


@hookimpl
def portal_menu_items(user: Any) -> list[dict[str, Any]]:  # noqa: ARG001
    return [{"label": _l("Background jobs"), "endpoint": "jobs.index", "permission": "jobs.manage", "order": 93,
             "icon": "clock", "section": "manage", "match": ("jobs.",)}]
