"""``flask portal knowledge_share …`` commands; each area adds its own to the add-on's group."""

from __future__ import annotations

from typing import Any


def register(cli: Any) -> None:
    """Add the commands to ``cli``: the core's ``AppGroup`` named after the add-on already
    (docs/hooks.md ``portal_cli``), so a group made here would nest a second ``knowledge_share``."""
    from .search.cli import register as register_search

    register_search(cli)
