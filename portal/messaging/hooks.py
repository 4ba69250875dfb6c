"""The messaging service's own hook implementations, registered as ``core.messaging`` — always
active, like ``core``: its permissions and menu item, the e-mail and DM adapters, the consent
send-time policy, the dispatch job, and the opt-out and erasure reactions."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl
from ..security.roles import HQ_STAFF, SITE_ADMIN

PERMISSIONS = [
    {"name": "messages.view", "title": _l("View the outbox (messages, statuses)"), "roles": [SITE_ADMIN, HQ_STAFF]},
    {"name": "messages.read", "title": _l("Read message texts in the outbox"), "roles": [SITE_ADMIN]},
    {"name": "messages.manage", "title": _l("Pause and resume sending"), "roles": [SITE_ADMIN, HQ_STAFF]},
]


@hookimpl
def portal_permissions() -> list[dict[str, Any]]:
    return PERMISSIONS


@hookimpl
def portal_menu_items(user: Any) -> list[dict[str, Any]]:
    return [{"label": _l("Messages"), "endpoint": "messaging.outbox", "permission": "messages.view", "order": 93,
             "icon": "log", "section": "manage", "match": ("messaging.",)}]


@hookimpl
def portal_channel_adapters() -> list[dict[str, Any]]:
    from .adapters import PrintFileAdapter, email_adapter
    from .registry import CORE_ORDER

    return [{"channel": "email", "adapter": email_adapter(current_app.config), "order": CORE_ORDER},
            {"channel": "dm", "adapter": PrintFileAdapter(), "order": CORE_ORDER}]


@hookimpl
def portal_message_policies() -> list[dict[str, Any]]:
    from .policies import CORE_POLICIES

    return CORE_POLICIES


@hookimpl
def portal_jobs() -> list[dict[str, Any]]:
    from .dispatch import dispatch_job

    return [{"name": "messaging.dispatch", "func": dispatch_job, "retries": 0, "retry_delay": 30,
             "time_limit": 300, "schedule": {"minute": "*"}}]


@hookimpl
def portal_consent_changed(customer: Any, channel: str, purpose: str, granted: bool, actor: Any, source: str) -> None:
    """A withdrawal cancels the customer's queued marketing on that channel, in the same transaction."""
    if granted or purpose != "marketing":
        return
    from .service import cancel_queued

    cancel_queued(customer.id, channel=channel, purpose="marketing", reason="opted_out")


@hookimpl
def portal_personal_data_erased(customer: Any, actor: Any) -> None:
    """Erasure: nothing more is sent to the customer, and the stored texts and addresses go."""
    from .service import erase_customer_messages

    erase_customer_messages(customer.id)


@hookimpl
def portal_personal_data(customer: Any) -> dict[str, Any] | None:
    from .service import customer_messages_export

    rows = customer_messages_export(customer.id)
    return {"name": "messaging", "data": rows} if rows else None
