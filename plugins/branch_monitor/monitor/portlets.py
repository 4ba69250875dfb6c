"""PLACEHOLDER: dashboard boxes of the monitor (area E)."""

from __future__ import annotations

from typing import Any


def portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    return []
