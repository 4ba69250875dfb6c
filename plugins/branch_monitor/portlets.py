"""Dashboard boxes (``portal_portlets``), one function per area."""

from __future__ import annotations

from typing import Any


def portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    from .monitor.portlets import portlets as monitor_portlets

    return [*monitor_portlets(manager, user)]
