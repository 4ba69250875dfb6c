"""``flask portal knowledge_share …`` commands; each area adds its own."""

from __future__ import annotations

from typing import Any


def register(cli: Any) -> None:
    @cli.group("knowledge_share")
    def group() -> None:
        """Success stories: search index, freshness, digests."""

    from .search.cli import register as register_search

    register_search(group)
