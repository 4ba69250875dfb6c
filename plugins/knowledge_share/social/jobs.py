"""Placeholder (owner: its area's helper)."""

from __future__ import annotations

from typing import Any

JOBS: list[dict[str, Any]] = []
