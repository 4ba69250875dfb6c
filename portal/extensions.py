"""Flask extension singletons, bound to the app in :func:`portal.create_app`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
login_manager = LoginManager()
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record) -> None:  # noqa: ARG001
    """WAL + busy timeout, and let SQLAlchemy (not pysqlite) issue BEGIN."""
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _reads_only() -> bool:
    from flask import g, has_request_context, request

    return has_request_context() and request.method in READ_ONLY_METHODS and not g.get("sqlite_write")


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    """Write transactions take SQLite's write lock up front with ``BEGIN IMMEDIATE``.

    A deferred transaction that reads and then writes can fail with SQLITE_BUSY at once
    (the busy timeout does not cover that lock upgrade). So anything that may write — form
    posts, API writes, CLI, imports — begins IMMEDIATE and waits its turn; GET requests begin
    deferred so readers never queue, and call :func:`write_intent` before their first write.
    """
    if conn.dialect.name == "sqlite":
        enforce = not _SQLITE_BULK.get()
        info = conn.connection.info
        if info.get("foreign_keys", True) != enforce:  # only outside a transaction does the pragma apply
            conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforce else 'OFF'}")
            info["foreign_keys"] = enforce
        conn.exec_driver_sql("BEGIN" if _reads_only() else "BEGIN IMMEDIATE")
        # What the connection had changed when this transaction began: ``write_intent`` ends
        # a deferred transaction only while it has changed nothing.
        info[_CHANGES_AT_BEGIN] = conn.connection.dbapi_connection.total_changes


_CHANGES_AT_BEGIN = "portal_total_changes_at_begin"


_SQLITE_BULK: ContextVar[bool] = ContextVar("sqlite_bulk", default=False)


@contextmanager
def sqlite_bulk_load() -> Iterator[bool]:
    """Transactions begun inside skip SQLite's per-row foreign-key lookups (PostgreSQL keeps them).

    For bulk loaders only, whose every reference was looked up or created in the same
    write-locked transaction; a loader of a million rows spends a fifth of its insert time on
    those lookups. Yields whether it applies: it cannot change a transaction already begun.
    The loader commits its work inside; a transaction still open at the end (a read after the
    commit) is rolled back so that bulk mode never leaks into later work.
    """
    applies = db.engine.dialect.name == "sqlite" and not db.session().in_transaction()
    token = _SQLITE_BULK.set(applies)
    try:
        yield applies
    finally:
        _SQLITE_BULK.reset(token)
        if applies and db.session().in_transaction():
            db.session.rollback()


def write_intent() -> None:
    """About to write inside a read-only (GET/HEAD/OPTIONS) request on SQLite: make the rest of
    the request one write transaction (``BEGIN IMMEDIATE``, see :func:`_sqlite_begin`).

    The rule is one transaction per request, committed or rolled back by the view. Every other
    request (and the CLI) already began IMMEDIATE, so here nothing happens — above all, nothing
    is committed: a POST whose validation fails after an ``audit.record`` loses every change.
    A GET's deferred transaction that has only read is *rolled back* (it has nothing to commit;
    committing would also flush pending ORM changes halfway through the request), and the next
    statement begins IMMEDIATE. If that transaction has written already (a bug in the caller:
    write_intent belongs before the first write), it is kept, not split: SQLite upgrades its
    lock in place, at the risk of ``database is locked``, never of a half-saved request.
    PostgreSQL needs none of this.
    """
    from flask import g, has_request_context

    if not has_request_context() or db.engine.dialect.name != "sqlite" or not _reads_only():
        return
    g.sqlite_write = True
    session = db.session()
    if not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        return
    conn = session.connection()
    if conn.connection.dbapi_connection.total_changes != conn.connection.info.get(_CHANGES_AT_BEGIN):
        return
    session.rollback()
