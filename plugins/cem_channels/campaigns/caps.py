"""Cross-channel frequency caps (placeholder until built)."""

from __future__ import annotations

from typing import Any

POLICIES: list[dict[str, Any]] = []
