"""Offset pagination whose count stays cheap on a million rows.

Counting every match of a broad query costs a full scan, so the count stops at ``COUNT_CAP``
(rows past it are shown as "10,000+"), like GitLab and Odoo's big lists do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from .extensions import db

COUNT_CAP = 10_000
MAX_PAGE_SIZE = 200


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    total_is_capped: bool

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or (self.total_is_capped and len(self.items) == self.per_page)


def parse_page_args(args: Any, default_size: int = 50) -> tuple[int, int]:
    """``page``/``per_page`` from a query string, clamped; junk falls back to defaults."""
    def _int(name: str, default: int) -> int:
        try:
            return int(args.get(name, default))
        except (TypeError, ValueError):
            return default

    page = max(1, min(_int("page", 1), 100_000))
    per_page = max(1, min(_int("per_page", default_size), MAX_PAGE_SIZE))
    return page, per_page


def paginate(stmt: Select, page: int, per_page: int, scalars: bool = True) -> Page:
    capped = select(func.count()).select_from(stmt.order_by(None).limit(COUNT_CAP + 1).subquery())
    total = db.session.execute(capped).scalar_one()
    result = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars() if scalars else result)
    return Page(items, page, per_page, min(total, COUNT_CAP), total > COUNT_CAP)
