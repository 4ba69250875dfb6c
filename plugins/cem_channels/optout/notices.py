"""14-day result notices of processed opt-outs (placeholder until built)."""

from __future__ import annotations

from typing import Any

JOBS: list[dict[str, Any]] = []
