"""Small database helpers shared by bulk loaders and the platform services.

One place for the dialect choices the services used to spell out each on their own: "is this
PostgreSQL", a long id list as one ``= ANY(:array)`` parameter there (an ``IN`` list on SQLite),
id lists cut into chunks under SQLite's bound-parameter limit, and the dialect's ``INSERT`` that
knows ``ON CONFLICT``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, text

from .extensions import db

T = TypeVar("T")


def is_postgres() -> bool:
    """Whether the session talks to PostgreSQL (otherwise SQLite): the one test behind every
    dialect-specific path."""
    return db.session.get_bind().dialect.name == "postgresql"


def id_in(column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids`` — on PostgreSQL as ``= ANY(:array)``: one parameter instead of thousands,
    about ten times faster to send and plan for a batch of 5,000–10,000 ids. On SQLite an ``IN``
    list, so callers keep a batch under its parameter limit (see :func:`chunked`)."""
    if is_postgres():
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam("ids", value=list(ids), type_=ARRAY(BigInteger), unique=True))
    return column.in_(list(ids))


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (an id list kept under SQLite's
    bound-parameter limit, or a bulk insert in bounded statements)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def dialect_insert(table: Any) -> Any:
    """``INSERT`` of the session's dialect (PostgreSQL or SQLite): both offer
    ``on_conflict_do_nothing``, which the portable ``insert`` does not."""
    if is_postgres():
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def sync_sequences(*tables: str) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL's id sequences past the max id.

    SQLite needs nothing: its rowid allocation always follows the current maximum.
    """
    if not is_postgres():
        return
    for table in tables:
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - table names are ours
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1), "
            f"(SELECT MAX(id) IS NOT NULL FROM {table}))"
        ))
