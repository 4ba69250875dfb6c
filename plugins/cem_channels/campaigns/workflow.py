"""The workflow ``cem_campaign`` (placeholder until built by the campaigns service)."""

from __future__ import annotations

from typing import Any

WORKFLOWS: list[dict[str, Any]] = []


def register() -> None:
    return None
