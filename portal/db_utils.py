"""Small database helpers shared by bulk loaders."""

from __future__ import annotations

from sqlalchemy import text

from .extensions import db


def sync_sequences(*tables: str) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL's id sequences past the max id.

    SQLite needs nothing: its rowid allocation always follows the current maximum.
    """
    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - table names are ours
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1), "
            f"(SELECT MAX(id) IS NOT NULL FROM {table}))"
        ))
