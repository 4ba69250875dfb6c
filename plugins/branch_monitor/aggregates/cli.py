"""PLACEHOLDER (area A): ``flask portal branch_monitor refresh [--if-stale]`` and friends."""

from __future__ import annotations

from typing import Any


def register(cli: Any) -> None:
    return None
