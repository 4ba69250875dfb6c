"""Shared column helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String


def utcnow() -> datetime:
    """Naive UTC timestamp: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def byte_ordered(length: int) -> String:
    """Text compared byte-wise on PostgreSQL (``COLLATE "C"``).

    Prefix search (``LIKE 'abc%'``) and range scans can then use a plain b-tree index whatever
    the database's locale; Hangul syllables sort in dictionary (가나다) order by code point.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def path_column_type() -> String:
    """Materialized-path text compared byte-wise, so subtree range scans use the index."""
    return byte_ordered(255)


def subtree_bounds(path: str) -> tuple[str, str]:
    """``[low, high)`` covering ``path`` and every descendant (paths look like ``/1/4/``).

    ``'/'`` sorts just before ``'0'``, so ``'/1/4/…' < '/1/40'``: an indexed range, no LIKE.
    """
    return path, path[:-1] + "0"



def core_tables() -> set[str]:
    """Tables mapped by ``portal.models`` and the platform services' ``models`` modules: the core
    migrations own exactly these."""
    from ..extensions import db
    from ..platform import SERVICES

    services = {f"portal.{name}.models" for name in SERVICES}
    return {m.local_table.name for m in db.Model.registry.mappers
            if m.class_.__module__.startswith("portal.models.") or m.class_.__module__ in services}
