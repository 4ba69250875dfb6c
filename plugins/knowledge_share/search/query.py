"""Placeholder: signatures fixed by the lead, bodies by the search helper."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SearchPage:
    items: list[Any] = field(default_factory=list)  # KsStory rows, best first
    total: int = 0
    page: int = 1
    per_page: int = 20


def search(user: Any, q: str = "", *, filters: Mapping[str, Any] | None = None, sort: str = "relevance",
           page: int = 1, per_page: int = 20) -> SearchPage:
    """Published base stories ``user`` may see matching ``q`` (Korean bigrams, Latin words in any
    case) and ``filters`` (``category_id``, ``channel``, ``season``, ``rfm_segment``, ``keyword``,
    ``author_unit_id``, ``mark``), counted and paged in SQL."""
    return SearchPage(page=page, per_page=per_page)
