"""Periodic campaign work (placeholder until built)."""

from __future__ import annotations

from typing import Any

JOBS: list[dict[str, Any]] = []
