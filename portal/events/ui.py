"""UI extension points: tabs on the org-unit, partner-group and partner pages, and action buttons on
an object's page (``portal_object_actions``: customer, org_unit, partner_group, partner).

Contributions are validated as they are collected, with the same checks as the customer tabs
(``portal.plugins.CONTRIBUTION_CHECKS``; ``_check_tab`` is reused, not copied): a malformed one —
or a hook, a ``context_factory`` or a template that raises — is skipped and logged once with the
add-on's name, never a 500. An action's ``permission`` is checked against the object itself
(``has_permission(user, permission, obj)``), so scope and local roles apply.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from ..extensions import db
from ..plugins import (
    CONTRIBUTION_CHECKS,
    CORE,
    UNIQUE_KEYS,
    _check_tab,
    _first,
    _is_text,
    _optional,
    collect,
    report_skipped,
)

TAB_HOOKS = {"org_unit": "portal_org_unit_tabs", "partner_group": "portal_partner_group_tabs",
             "partner": "portal_partner_tabs"}
ACTION_KINDS = ("customer", "org_unit", "partner_group", "partner")
METHODS = ("get", "post")


def _check_action(item: dict[str, Any]) -> str | None:
    url = item.get("url")
    method = item.get("method", "get")
    return _first(
        None if _is_text(item.get("label")) else "'label' is missing or empty",
        None if isinstance(url, str) and url.startswith("/") and not url.startswith("//") and "\\" not in url
        and not any(c.isspace() for c in url) else f"'url' {url!r} must be a path on this site, starting with '/'",
        None if method in METHODS else f"'method' must be 'get' or 'post', not {method!r}",
        _optional(item, "permission", str, "a permission name"),
        _optional(item, "order", int | float, "a number"),
    )


for _hook in TAB_HOOKS.values():
    CONTRIBUTION_CHECKS.setdefault(_hook, _check_tab)
    UNIQUE_KEYS.setdefault(_hook, "id")
CONTRIBUTION_CHECKS.setdefault("portal_object_actions", _check_action)


def overview_tab() -> dict[str, Any]:
    """The core's first tab on an org page: the page's own content."""
    return {"id": "overview", "label": _l("Overview"), "order": 0, "plugin": CORE}


def page_tabs(kind: str, obj: Any, user: Any) -> list[dict[str, Any]]:
    """The org page's tabs: the core's overview first, then the add-ons' (checked, sorted by
    ``order``; one reusing ``overview`` or another's id is skipped and logged)."""
    hook_name = TAB_HOOKS[kind]
    arg = {"org_unit": "unit", "partner_group": "group", "partner": "partner"}[kind]
    tabs = [overview_tab()]
    for tab in collect(hook_name, **{arg: obj, "user": user}):
        if tab["id"] == "overview":
            report_skipped(tab["plugin"], hook_name, "id 'overview' is used by another contribution")
            continue
        tabs.append(tab)
    return tabs


def active_tab(tabs: list[dict[str, Any]], wanted: str | None) -> dict[str, Any]:
    return next((t for t in tabs if t["id"] == wanted), tabs[0])


def tab_html(hook_name: str, tab: dict[str, Any], page: dict[str, Any]) -> Markup | None:
    """An add-on tab's HTML (its ``ctx`` from ``context`` or ``context_factory``), rendered before
    the page so that a failure costs only the tab: ``None``, logged once with the add-on's name."""
    stage = "context_factory"
    try:
        context = tab["context_factory"]() if "context_factory" in tab else (tab.get("context") or {})
        stage = "template"
        return Markup(render_template(tab["template"], tab=tab, ctx=context, **page))
    except Exception as exc:  # noqa: BLE001  (one add-on's bug must not break the page)
        db.session.rollback()  # a failed query aborts a PostgreSQL transaction; this GET wrote nothing
        report_skipped(tab.get("plugin", "?"), hook_name,
                       f"{stage} of tab {tab['id']!r} raised {type(exc).__name__}: {exc}", exc=exc)
        return None


def render_tabs(kind: str, obj: Any, user: Any, wanted: str | None, page: dict[str, Any]
                ) -> tuple[list[dict[str, Any]], dict[str, Any], Markup | None]:
    """``(tabs, active tab, its HTML)`` for an org page; the HTML is ``None`` for the overview
    (the page renders its own content) and when the add-on's tab failed (then the overview shows)."""
    tabs = page_tabs(kind, obj, user)
    tab = active_tab(tabs, wanted)
    if tab.get("plugin") == CORE:
        return tabs, tab, None
    body = tab_html(TAB_HOOKS[kind], tab, page)
    if body is None:
        return tabs, tabs[0], None
    return tabs, tab, body


def object_actions(kind: str, obj: Any, user: Any) -> list[dict[str, Any]]:
    """The add-ons' buttons for ``obj`` that ``user`` may use: checked, sorted, with ``method``
    defaulted to ``get`` and each ``permission`` checked on the object."""
    from ..security import has_permission

    if kind not in ACTION_KINDS:
        raise ValueError(f"unknown object kind {kind!r}")
    actions = []
    for item in collect("portal_object_actions", kind=kind, obj=obj, user=user):
        permission = item.get("permission")
        if permission and not has_permission(user, permission, obj):
            continue
        actions.append({**item, "method": item.get("method", "get")})
    return actions
