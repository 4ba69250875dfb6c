"""Placeholder (owner: search helper)."""

from __future__ import annotations

from typing import Any


def register(group: Any) -> None:
    return None
