"""Placeholder (owner: results helper)."""

from __future__ import annotations

from typing import Any


def on_programme_closed(programme: dict[str, Any], result: dict[str, Any], actor: Any) -> None:
    return None
