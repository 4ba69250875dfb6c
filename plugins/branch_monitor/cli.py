"""``flask portal branch_monitor …`` commands; each area adds its own to the add-on's group."""

from __future__ import annotations

from typing import Any


def register(cli: Any) -> None:
    """Add the commands to ``cli`` (the core's ``AppGroup`` named after the add-on already)."""
    from .aggregates.cli import register as register_aggregates

    register_aggregates(cli)
    from .kpis.cli import register as register_kpis

    register_kpis(cli)
    from .alerts.cli import register as register_alerts

    register_alerts(cli)
