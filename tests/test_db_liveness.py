"""Pooled connections: pinged before use only after being idle a while (portal/db_liveness.py),
and a connection the server dropped while idle is replaced before a request sees it."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.conftest import _app_on_clone
from tests.dbs import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="SQLite connections have nothing to ping")


def _backend_pids() -> set[int]:
    with db.engine.connect() as conn:
        return {conn.connection.driver_connection.info.backend_pid}


def _kill(pids: set[int]) -> None:
    """End these server processes, as a restart or an idle timeout would, from another connection."""
    url = db.engine.url
    with sa.create_engine(url).connect() as other:
        for pid in pids:
            other.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        other.commit()


def _ping_counter(monkeypatch) -> list[int]:
    calls: list[int] = []
    dialect = db.engine.dialect
    original = dialect.do_ping

    def counting(dbapi_connection):
        calls.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting)
    return calls


@contextmanager
def _client(template_db, window: float):
    """A test client of an app whose pool pings connections idle longer than ``window`` seconds."""
    gen = _app_on_clone(template_db, PORTAL_DB_PING_AFTER_IDLE=window)
    app = next(gen)
    try:
        yield app.test_client()
    finally:
        next(gen, None)


def _idle_connection_dropped(client, idle: float) -> None:
    """One request (its connection back in the pool), then the server ends that connection."""
    assert client.get("/healthz").status_code == 200
    _kill(_backend_pids())
    time.sleep(idle)


def test_busy_connection_is_not_pinged_idle_one_is(template_db, monkeypatch):
    with _client(template_db, 0.2) as client:
        calls = _ping_counter(monkeypatch)
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
        assert calls == []  # each checkout followed the last check-in within the window
        time.sleep(0.3)
        assert client.get("/healthz").status_code == 200
        assert len(calls) == 1


def test_dropped_idle_connection_is_replaced_before_use(template_db):
    with _client(template_db, 0.1) as client:
        _idle_connection_dropped(client, 0.2)
        assert client.get("/healthz").status_code == 200  # the ping found it dead; a new one served
        assert client.get("/api/v1/me").status_code == 401


def test_without_the_ping_a_dropped_connection_fails_the_request(template_db):
    """The control: with a window longer than the idle time, the dead connection is handed out."""
    with _client(template_db, 3600) as client:
        _idle_connection_dropped(client, 0.1)
        with pytest.raises(sa.exc.OperationalError):
            client.get("/healthz")
