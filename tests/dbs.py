"""Test databases: one migrated + seeded template per worker, cloned for every test.

SQLite: the template file is copied (milliseconds). PostgreSQL (``PORTAL_TEST_DATABASE=postgres``
with ``PORTAL_TEST_POSTGRES_URL`` pointing at a server): ``CREATE DATABASE … TEMPLATE …``.
Every test gets a real, committed database of its own — no transaction tricks — so tests can run
gunicorn or several connections against it.

PostgreSQL databases are named ``pp_<host>_<pid>_…`` (``<host>`` is a short hash of this machine's
host name), so parallel xdist workers and parallel test runs never collide. Each process drops
what it created when it exits, and the first template a process creates also sweeps the leftovers
of runs on this host whose process is gone (a run killed with SIGKILL, a crashed worker).
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import re
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors

BACKEND = os.environ.get("PORTAL_TEST_DATABASE", "sqlite")
PG_SERVER_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL", "")
_counter = itertools.count()

HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_NAME_RE = re.compile(r"^pp_([0-9a-f]{6})_(\d+)_")
_created: set[str] = set()  # PostgreSQL databases this process created and has not dropped yet
_lock = threading.Lock()
_swept = False


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _prefix() -> str:
    # The pid is looked up on every call: a forked child must not share its parent's names.
    return f"pp_{HOST_TAG}_{os.getpid()}"


def _pg_url_for(dbname: str) -> str:
    parts = urlsplit(PG_SERVER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


def _pg_admin() -> psycopg.Connection:
    if not PG_SERVER_URL:
        raise RuntimeError(
            "PORTAL_TEST_DATABASE=postgres needs PORTAL_TEST_POSTGRES_URL, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )
    parts = urlsplit(PG_SERVER_URL)
    dsn = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    return psycopg.connect(dsn, autocommit=True, connect_timeout=10)


def _pg_execute(sql: str, attempts: int = 20) -> None:
    """Run one admin statement, retrying while another session still holds the database.

    ``CREATE DATABASE … TEMPLATE`` refuses while anyone is connected to the template, and a
    backend whose client just disconnected may linger for a few milliseconds.
    """
    for attempt in range(attempts):
        try:
            with _pg_admin() as conn:
                conn.execute(sql)
            return
        except (pg_errors.ObjectInUse, pg_errors.LockNotAvailable):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def _pg_create(name: str, template: str | None = None) -> None:
    sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    with _lock:
        _created.add(name)  # registered first: a half-created database is still dropped at exit
    try:
        _pg_execute(sql)
    except pg_errors.DuplicateDatabase:
        # Left over by an earlier process that had our pid: it is ours to replace.
        _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_execute(sql)


def _pg_drop(name: str) -> None:
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with _lock:
        _created.discard(name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_databases() -> list[str]:
    """Drop ``pp_…`` databases left on the server by dead test processes of this host."""
    with _pg_admin() as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'pp\\_%'")]
    dropped = []
    for name in names:
        match = _NAME_RE.match(name)
        if not match or match.group(1) != HOST_TAG:
            continue  # another machine's run (or not ours at all): leave it alone
        pid = int(match.group(2))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', attempts=3)
            dropped.append(name)
        except psycopg.Error:
            pass  # a concurrent sweeper got there first, or it is busy: try again next run
    return dropped


def _drop_all_created() -> None:
    """At interpreter exit: drop whatever this process created and did not drop."""
    if os.getpid() != _owner_pid:
        return
    for name in sorted(_created):
        try:
            _pg_drop(name)
        except Exception:  # best effort on the way out
            pass


_owner_pid = os.getpid()
if BACKEND == "postgres":
    atexit.register(_drop_all_created)


class TemplateDB:
    """A database with the schema and the small demo data set, to clone from."""

    def __init__(self, tmp: Path):
        global _swept
        self.tmp = tmp
        if BACKEND == "postgres":
            if not _swept:
                _swept = True
                sweep_stale_databases()
            self.name = f"{_prefix()}_{worker_id()}_tpl"
            _pg_drop(self.name)
            _pg_create(self.name)
            self.url = _pg_url_for(self.name)
        else:
            self.name = f"pp_tpl_{worker_id()}_{os.getpid()}"
            self.path = tmp / f"{self.name}.db"
            self.url = f"sqlite:///{self.path}"

    def finish(self) -> None:
        """Called after seeding: make the template cloneable."""
        if BACKEND != "postgres":
            conn = sqlite3.connect(self.path)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.close()

    def clone(self) -> tuple[str, Callable[[], None]]:
        n = next(_counter)
        if BACKEND == "postgres":
            name = f"{_prefix()}_{worker_id()}_c{n}"
            _pg_create(name, template=self.name)
            return _pg_url_for(name), lambda: _pg_drop(name)
        target = self.tmp / f"t{n}.db"
        shutil.copyfile(self.path, target)

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{target}", remove

    def drop(self) -> None:
        if BACKEND == "postgres":
            _pg_drop(self.name)


def fresh_empty_db(tmp: Path) -> tuple[str, Callable[[], None]]:
    """An empty database (for migration tests)."""
    n = next(_counter)
    if BACKEND == "postgres":
        name = f"{_prefix()}_{worker_id()}_e{n}"
        _pg_create(name)
        return _pg_url_for(name), lambda: _pg_drop(name)
    path = tmp / f"empty{n}.db"
    return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)


class AddonTemplate(TemplateDB):
    """The core's seeded template cloned, an add-on installed by ``factory(url)``'s app (and
    ``prepare()`` run in its context), made cloneable like the core's: each add-on's test
    package builds its per-worker template with this."""

    def __init__(self, template_db: TemplateDB, tmp: Path, factory: Callable[..., Any], plugin: str,
                 prepare: Callable[[], None] | None = None):
        self.tmp = tmp
        url, self._drop = template_db.clone()
        app = factory(url)
        with app.app_context():
            from portal.extensions import db
            from portal.plugins_lifecycle import install

            install(plugin)
            if prepare is not None:
                prepare()
            db.session.remove()
            db.engine.dispose()
        self.url = url
        if BACKEND == "postgres":
            self.name = url.rsplit("/", 1)[1]
        else:
            self.path = Path(url.removeprefix("sqlite:///"))
        self.finish()

    def drop(self) -> None:
        self._drop()
