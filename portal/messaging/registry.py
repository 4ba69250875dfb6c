"""Channel adapters and send-time policies, collected from the hooks (core and add-ons)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

CORE_ORDER = 1000  # the core's adapters: an add-on's adapter for the same channel (lower order) wins


def adapters() -> dict[str, Any]:
    """channel → adapter, fresh instances per call (an adapter may hold a connection per batch).

    Per channel the contribution with the lowest ``order`` wins, so an add-on can replace the
    core's SMTP adapter with a provider's API; malformed contributions are logged and skipped.
    """
    from ..plugins import hook

    chosen: dict[str, tuple[float, Any]] = {}
    for result in hook("portal_channel_adapters")():
        for item in result or []:
            if not isinstance(item, dict):
                log.warning("skipped a malformed channel adapter: %r", item)
                continue
            channel, adapter = item.get("channel"), item.get("adapter")
            if not isinstance(channel, str) or adapter is None or not callable(getattr(adapter, "send", None)):
                log.warning("skipped a malformed channel adapter: %r", item)
                continue
            order = float(item.get("order", 100))
            if channel not in chosen or order < chosen[channel][0]:
                chosen[channel] = (order, adapter)
    return {channel: adapter for channel, (_order, adapter) in chosen.items()}


def policies() -> list[dict[str, Any]]:
    """Send-time policies sorted by ``order``: ``{"name", "order", "check"}``."""
    from ..plugins import collect

    found = []
    for item in collect("portal_message_policies"):
        if not isinstance(item.get("name"), str) or not callable(item.get("check")):
            log.warning("skipped a malformed message policy: %r", item)
            continue
        found.append(item)
    return found
