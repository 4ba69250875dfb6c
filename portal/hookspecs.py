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
def portal_household_changed(customer: Any, old_household_id: int | None, new_household_id: int | None,
                             actor: Any, source: str) -> None:
    """``customer`` joined, left or changed household (same transaction, before the commit): drop
    what the old household gave them (a family card's pool ...). ``actor`` (a user or None) and
    ``source`` (``web``, ``api``, ``erasure`` ...) say who and how; an implementation may omit them."""


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


# --- Platform (issue 14): jobs, channels and messaging, consent, workflow, notifications, events, UI.
# Each service's page in docs/platform/ says how the core calls these; docs/hooks.md has one section each.


@hookspec
def portal_jobs() -> list[dict[str, Any]]:
    """Background tasks and periodic tasks for the core task queue (Huey):
    ``{"name", "func", "retries", "retry_delay", "time_limit", "schedule"}``; ``schedule`` (a crontab
    spec) makes it periodic, run once across all consumers."""


@hookspec
def portal_channels() -> list[dict[str, Any]]:
    """Contact channels for the channel registry (consent, extraction, contact history):
    ``{"code", "label", "consent", "extraction", "order", "fields"}`` (``fields`` optional)."""


@hookspec
def portal_channel_adapters() -> list[dict[str, Any]]:
    """Sending adapters for the outbox: ``{"channel", "adapter"}``; the core ships e-mail (SMTP) and DM."""


@hookspec
def portal_message_policies() -> list[dict[str, Any]]:
    """Send-time checks the dispatcher re-runs at claim time on every message (consent, opt-out,
    night window, frequency cap, holdout): ``{"name", "check", "order"}``."""


@hookspec
def portal_message_personalize(message: Any) -> None:
    """Change a message right before it is handed to its channel (the dispatcher's detached copy;
    nothing is stored): e.g. an add-on's open pixel and click links, minted per message at send
    time like the core's unsubscribe link. Called for every message sent, so return at once for
    messages that are not yours (``message.source``)."""


@hookspec
def portal_messages_settled(messages: list[Any]) -> None:
    """Messages reached a terminal state (sent, failed_permanent, suppressed_at_send, expired,
    cancelled); after the dispatcher's commit, isolated per add-on."""


@hookspec
def portal_consent_changed(customer: Any, channel: str, purpose: str, granted: bool, actor: Any, source: str) -> None:
    """A consent event was recorded (staff, import, API or an unsubscribe link without login);
    same transaction, so queued marketing can be cancelled with it."""


@hookspec
def portal_workflows() -> list[dict[str, Any]]:
    """Workflow definitions for reviewable things: ``{"name", "states", "initial", "transitions"}``."""


@hookspec
def portal_workflow_transitioned(obj: Any, transition: str, actor: Any, comment: str) -> None:
    """An object moved through its workflow (after the history row is written, same transaction)."""


@hookspec
def portal_my_tasks(user: Any) -> list[dict[str, Any]]:
    """Items waiting for ``user`` on the "my tasks" page: ``{"title", "url", "kind", "since", "order"}``."""


@hookspec
def portal_notification_kinds() -> list[dict[str, Any]]:
    """Kinds of notification users can set preferences for: ``{"kind", "label", "email_default"}``."""


@hookspec
def portal_customers_created(customer_ids: list[int], actor: Any, source: str) -> None:
    """Customers were created (``source``: ``web``, ``api`` or ``import``); in the creating
    transaction (an import's: right after its commit), each add-on in its own savepoint."""


@hookspec
def portal_quality_changed(customer_ids: list[int], field: str, opened: bool, actor: Any, source: str) -> None:
    """Data-quality issues on ``field`` were opened (``opened``) or resolved; in the change's
    transaction, each add-on in its own savepoint."""


@hookspec
def portal_org_changed(kind: str, object_id: int, change: str, actor: Any, source: str) -> None:
    """An org unit, partner group or partner (``kind``: org_unit, partner_group, partner) was
    created, updated or moved (``change``); in the change's transaction, each add-on in its own savepoint."""


@hookspec
def portal_scores_refreshed(run_id: int, actor: Any, source: str) -> None:
    """Analytics scores (RFM, CLV) were refreshed; after the commit, isolated per add-on."""


@hookspec
def portal_extraction_created(extraction: Any, actor: Any, source: str) -> None:
    """A target list was created; in the creating transaction, each add-on in its own savepoint."""


@hookspec
def portal_report_refused(branch_id: int, report_date: Any, reason: str, actor: Any, source: str) -> None:
    """A daily report upload was refused as a whole; after the rollback, isolated per add-on."""


@hookspec
def portal_personal_data_erased(customer: Any, actor: Any) -> None:
    """A customer was erased (pseudonymized) on a data-subject request: erase your copies of their
    personal data (same transaction, each add-on in its own savepoint, retried when it fails). With
    ``portal_personal_data`` the personal-data hook pair."""


@hookspec
def portal_org_unit_tabs(unit: Any, user: Any) -> list[dict[str, Any]]:
    """Extra panels on the org-unit page: ``{"id", "label", "template", "context", "order"}``."""


@hookspec
def portal_partner_group_tabs(group: Any, user: Any) -> list[dict[str, Any]]:
    """Extra panels on the partner-group page: ``{"id", "label", "template", "context", "order"}``."""


@hookspec
def portal_partner_tabs(partner: Any, user: Any) -> list[dict[str, Any]]:
    """Extra panels on the partner page: ``{"id", "label", "template", "context", "order"}``."""


@hookspec
def portal_object_actions(kind: str, obj: Any, user: Any) -> list[dict[str, Any]]:
    """Buttons on an object's page (``kind``: customer, org_unit, partner_group, partner):
    ``{"label", "url", "permission", "order", "method"}``."""
