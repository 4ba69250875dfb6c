"""Campaign results (placeholder: owner H3)."""

from __future__ import annotations

from typing import Any


def result_for_ref(ref: int | str) -> dict[str, Any] | None:
    return None
