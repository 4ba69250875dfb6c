"""Hooks knowledge_share declares for other add-ons (``portal_add_hookspecs``); call them through
``portal.toolkit.plugin_hook``. branch_monitor counts a branch's overdue action items this way."""

from __future__ import annotations

from datetime import date
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("portal")


@hookspec(firstresult=True)
def ks_overdue_action_items(on: date, unit_ids: list[int] | None) -> list[dict[str, Any]] | None:
    """Open action items from knowledge-sharing sessions whose due date is before ``on`` (a Korean
    calendar day), for the owner branches ``unit_ids`` (None: every branch): ``{"id", "title",
    "owner_unit_id", "due_date", "days_overdue", "session_id", "session_title", "url"}``, oldest
    due first. Implemented by knowledge_share itself."""


@hookspec
def ks_action_items_overdue(items: list[dict[str, Any]]) -> None:
    """Action items that became overdue today (the same dicts as ``ks_overdue_action_items``),
    offered once per item by the daily job; other add-ons react (alerts, scorecards). Runs in the
    job's transaction; raise nothing."""
