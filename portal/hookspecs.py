"""Hook specifications: the whole contract between the core and its plugins.

Every hook is called with keyword arguments. Hooks returning contributions (menu items,
portlets, tabs, permissions ...) return a list (or ``None``); the core flattens the lists and
sorts by each item's ``order``, so nothing depends on pluggy's registration order. Every spec
here is documented in ``docs/hooks.md``; ``tests/test_hooks_documented.py`` fails otherwise.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("portal")
hookimpl = pluggy.HookimplMarker("portal")


@hookspec(historic=True)
def portal_add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Let a plugin declare hookspecs of its own (``pm.add_hookspecs(module)``)."""


@hookspec
def portal_init_app(app: Any) -> None:
    """One-time set-up when the app is created (every available plugin, enabled or not)."""


@hookspec
def portal_blueprints() -> list[Any]:
    """Flask blueprints to register. Registered at start-up; answer 404 while the plugin is disabled."""


@hookspec
def portal_permissions() -> list[dict[str, Any]]:
    """Permissions with default roles: ``{"name", "title", "roles": [...]}`` (Plone's rolemap)."""


@hookspec
def portal_roles() -> list[dict[str, Any]]:
    """Extra roles: ``{"name", "title", "local": bool}``."""


@hookspec
def portal_menu_items(user: Any) -> list[dict[str, Any]]:
    """Navigation entries: ``{"label", "endpoint", "permission", "order", "icon"}``."""


@hookspec
def portal_portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    """Boxes for a portlet manager (``"dashboard"``, ``"sidebar"``): ``{"title", "template", "context", "order", "permission"}``."""


@hookspec
def portal_customer_tabs(customer: Any, user: Any) -> list[dict[str, Any]]:
    """Extra panels on the customer page: ``{"id", "label", "template", "context", "order"}``."""


@hookspec
def portal_sales_imported(report: Any) -> None:
    """A daily sales report was committed (points, monitoring ...); ``report.replaces_id`` names
    the report it swapped out, whose lines are gone."""


@hookspec
def portal_customers_merged(survivor: Any, merged_id: int) -> None:
    """Customer ``merged_id`` is being merged into ``survivor`` (same transaction, before its row
    is deleted): move or re-point your rows that reference ``merged_id``."""


@hookspec
def portal_customer_changed(customer: Any, changes: dict[str, Any]) -> None:
    """A customer was created or edited, or their consent changed; ``changes`` maps field → (old, new)."""


@hookspec
def portal_household_changed(customer: Any, old_household_id: int | None, new_household_id: int | None) -> None:
    """``customer`` joined, left or changed household (same transaction, before the commit): drop
    what the old household gave them (a family card's pool ...)."""


@hookspec
def portal_personal_data(customer: Any) -> dict[str, Any] | None:
    """The add-on's data on ``customer`` for the data-subject export (PIPA / GDPR):
    ``{"name": "<plugin>", "data": <JSON-serialisable>}``, or None when it holds nothing."""


@hookspec
def portal_segment_fields() -> list[dict[str, Any]]:
    """Extra fields a segment rule may filter on."""


@hookspec
def portal_suppression_reasons() -> list[dict[str, Any]]:
    """Extra reasons that keep a customer out of an extraction."""


@hookspec
def portal_settings_schema() -> list[dict[str, Any]]:
    """Typed settings rendered as a control-panel form: ``{"name", "label", "type", "default"}``."""


@hookspec
def portal_install(app: Any) -> None:
    """Called once when the plugin is installed, after its migrations ran."""


@hookspec
def portal_uninstall(app: Any, purge: bool) -> None:
    """Called when the plugin is uninstalled; with ``purge`` its data is about to be dropped."""


@hookspec
def portal_upgrade(app: Any, from_version: str) -> None:
    """Called when the installed version differs from the code's version."""


@hookspec
def portal_seed(profile: str) -> None:
    """Load data: ``"default"`` at install, ``"demo"`` for the demo database."""


@hookspec
def portal_cli(cli: Any) -> None:
    """Add click commands under ``flask portal <plugin> ...``."""
