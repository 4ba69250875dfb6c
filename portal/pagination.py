"""Offset pagination whose count stays cheap on a million rows.

Counting every match of a broad query costs a full scan, so the count stops at ``COUNT_CAP``
(rows past it are shown as "10,000+"), like GitLab and Odoo's big lists do.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select

from .extensions import db

COUNT_CAP = 10_000
MAX_PAGE_SIZE = 200
MAX_PAGE = 100_000  # deeper offsets are slow; narrow the search instead
_INT = re.compile(r"[+-]?[0-9]{1,30}")


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


def fixed(n: int) -> Any:
    """A LIMIT / OFFSET written into the SQL text instead of bound.

    PostgreSQL caches the plan of a prepared statement (psycopg prepares a statement run five
    times on a connection) only when the generic plan looks as cheap as the custom ones; with
    ``LIMIT $1`` it cannot know the limit, so it plans the page's query again on every request.
    With the numbers in the text the first page of a list (the page asked for most) is planned
    once per connection. Page numbers are ints from :func:`parse_page_args`, never user text.
    """
    return literal(int(n), literal_execute=True)


def page_of(stmt: Select, page: int, per_page: int) -> Select:
    """``stmt`` limited to page ``page`` (1-based) of ``per_page`` rows, the numbers :func:`fixed`."""
    return stmt.limit(fixed(per_page)).offset(fixed((page - 1) * per_page))


def up_to_cap(stmt: Select) -> Select:
    """``stmt`` limited to ``COUNT_CAP + 1`` rows: enough to count a list or say "10,000+"."""
    return stmt.limit(fixed(COUNT_CAP + 1))


class PageArgError(ValueError):
    """``page``/``per_page`` that a strict caller (the JSON API) refuses with 400."""


def parse_page_args(args: Any, default_size: int = 50, strict: bool = False) -> tuple[int, int]:
    """``page``/``per_page`` from a query string.

    Lenient (HTML pages): clamped, junk falls back to the defaults. Strict (the API): junk,
    ``page`` outside 1..``MAX_PAGE`` or ``per_page`` below 1 raise :class:`PageArgError`, so a
    client never silently gets a different page than it asked for; ``per_page`` above
    ``MAX_PAGE_SIZE`` is capped (the answer's ``per_page`` says so).
    """
    def _int(name: str, default: int) -> int:
        raw = args.get(name)
        if raw is None or (raw == "" and not strict):
            return default
        raw = str(raw).strip()
        if _INT.fullmatch(raw):
            return int(raw)
        if strict:
            raise PageArgError(f"{name} must be a whole number.")
        return default

    page = _int("page", 1)
    per_page = _int("per_page", default_size)
    if strict:
        if not 1 <= page <= MAX_PAGE:
            raise PageArgError(f"page must be between 1 and {MAX_PAGE}.")
        if per_page < 1:
            raise PageArgError(f"per_page must be between 1 and {MAX_PAGE_SIZE}.")
    return max(1, min(page, MAX_PAGE)), max(1, min(per_page, MAX_PAGE_SIZE))


def paginate(stmt: Select, page: int, per_page: int, scalars: bool = True, key: Any = None) -> Page:
    """One page of ``stmt`` plus its capped count.

    ``key``: the primary-key column of a one-entity ``stmt`` (e.g. ``Customer.id``). The page's
    keys are then found first with the same filters and order — an index-only scan when an
    index covers them — and only those rows are read with their joins ("deferred join"), instead
    of reading and discarding every row before the offset.
    """
    capped = select(func.count()).select_from(up_to_cap(stmt.order_by(None)).subquery())
    total = db.session.execute(capped).scalar_one()
    window = page_of(stmt, page, per_page)
    if key is not None:
        window = stmt.where(key.in_(window.with_only_columns(key)))
    result = db.session.execute(window)
    items = list(result.scalars() if scalars else result)
    return Page(items, page, per_page, min(total, COUNT_CAP), total > COUNT_CAP)


def page_rows_statement(stmt: Select, page: int, per_page: int, key: Any, columns: tuple[Any, ...],
                        joins: tuple[tuple[Any, Any], ...] = ()) -> tuple[Select, Select]:
    """(rows statement, capped count statement) of :func:`paginate_rows`."""
    keys = stmt.order_by(None).with_only_columns(key)
    capped = select(func.count()).select_from(up_to_cap(keys).subquery())
    window = page_of(stmt.with_only_columns(key), page, per_page)
    rows_stmt = stmt.with_only_columns(*columns, capped.scalar_subquery().label("page_total"),
                                       maintain_column_froms=False).select_from(key.table)
    for target, onclause in joins:
        rows_stmt = rows_stmt.outerjoin(target, onclause)
    return rows_stmt.where(key.in_(window)), capped


def paginate_rows(stmt: Select, page: int, per_page: int, key: Any, columns: tuple[Any, ...],
                  joins: tuple[tuple[Any, Any], ...] = ()) -> Page:
    """One page of ``stmt`` as plain rows of ``columns``, with its capped count, in one query.

    ``stmt`` is a one-entity select with its filters and order (e.g. the scoped customer query);
    ``key`` its primary-key column. As in :func:`paginate` the page's keys are found first (the
    same WHERE and ORDER BY, an index-only scan where an index covers them) and only those rows
    are read, with ``joins`` (``(target, onclause)`` outer joins, e.g. the owner branch's code).
    The capped count rides along as an uncorrelated scalar subquery (evaluated once), so a page
    costs one round trip; only a page without rows (past the end, no match) asks for the count
    on its own. The rows are Core rows — no ORM identity map or instance state for a read-only list.
    """
    rows_stmt, capped = page_rows_statement(stmt, page, per_page, key, columns, joins)
    rows = db.session.execute(rows_stmt).all()
    total = rows[0].page_total if rows else db.session.execute(capped).scalar_one()
    return Page(rows, page, per_page, min(total, COUNT_CAP), total > COUNT_CAP)
