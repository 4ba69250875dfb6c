"""PLACEHOLDER: the area's periodic jobs (``{"name", "func", "schedule", "retries", "time_limit"}``)."""

from __future__ import annotations

from typing import Any

JOBS: list[dict[str, Any]] = []
