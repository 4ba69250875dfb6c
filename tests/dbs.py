"""Test databases: one migrated + seeded template per worker, cloned for every test.

SQLite: the template file is copied (milliseconds). PostgreSQL (``PORTAL_TEST_DATABASE=postgres``
with ``PORTAL_TEST_POSTGRES_URL`` pointing at a server): ``CREATE DATABASE … TEMPLATE …``.
Every test gets a real, committed database of its own — no transaction tricks — so tests can run
gunicorn or several connections against it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BACKEND = os.environ.get("PORTAL_TEST_DATABASE", "sqlite")
PG_SERVER_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL", "")
_counter = itertools.count()


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _pg_url_for(dbname: str) -> str:
    parts = urlsplit(PG_SERVER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


def _pg_admin():
    parts = urlsplit(PG_SERVER_URL)
    dsn = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    return psycopg.connect(dsn, autocommit=True)


class TemplateDB:
    """A database with the schema and the small demo data set, to clone from."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.name = f"pp_tpl_{worker_id()}_{os.getpid()}"
        if BACKEND == "postgres":
            if not PG_SERVER_URL:
                raise RuntimeError("PORTAL_TEST_DATABASE=postgres needs PORTAL_TEST_POSTGRES_URL")
            with _pg_admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = _pg_url_for(self.name)
        else:
            self.path = tmp / f"{self.name}.db"
            self.url = f"sqlite:///{self.path}"

    def finish(self) -> None:
        """Called after seeding: make the template cloneable."""
        if BACKEND != "postgres":
            conn = sqlite3.connect(self.path)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.close()

    def clone(self) -> tuple[str, callable]:
        n = next(_counter)
        if BACKEND == "postgres":
            name = f"{self.name}_{n}"
            with _pg_admin() as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')

            def drop() -> None:
                with _pg_admin() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

            return _pg_url_for(name), drop
        target = self.tmp / f"t{n}.db"
        shutil.copyfile(self.path, target)

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{target}", remove

    def drop(self) -> None:
        if BACKEND == "postgres":
            with _pg_admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def fresh_empty_db(tmp: Path) -> tuple[str, callable]:
    """An empty database (for migration tests)."""
    n = next(_counter)
    if BACKEND == "postgres":
        name = f"pp_empty_{worker_id()}_{os.getpid()}_{n}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with _pg_admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return _pg_url_for(name), drop
    path = tmp / f"empty{n}.db"
    return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
