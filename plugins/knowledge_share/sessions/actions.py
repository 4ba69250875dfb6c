"""Placeholder (owner: sessions helper)."""

from __future__ import annotations

from datetime import date
from typing import Any


def overdue_items(on: date, unit_ids: list[int] | None) -> list[dict[str, Any]]:
    return []
