"""Branch states and alerts: evaluate every branch's metrics, write ``mon_alert`` only on a state
change (ok → alert → alarm, and recovery), tell subscribers, acknowledge with a note.

PLACEHOLDER (area D): signatures are fixed; the owner replaces the bodies."""

from __future__ import annotations

from datetime import date
from typing import Any


def evaluate(day: date | None = None) -> dict[str, int]:
    """Judge every branch on ``day`` (default: yesterday, KST); returns counts of changes."""
    return {"changes": 0}


def states_for(branch_ids: list[int] | Any) -> dict[int, dict[str, Any]]:
    """``{branch_id: {metric: MonState}}`` plus ``{"overall": worst state}`` per branch."""
    return {}


def acknowledge(actor: Any, alert_id: int, note: str) -> Any:
    """Acknowledge one alert in the actor's scope (404 outside it; 422 for a bad note)."""
    raise NotImplementedError
