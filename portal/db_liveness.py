"""Liveness check of pooled database connections, skipped for a connection used a moment ago.

SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one extra round trip per request, the
most frequent statement on a busy server. A connection checked in less than
``PORTAL_DB_PING_AFTER_IDLE`` seconds ago (default 1) was working then; it is handed out without
the ping, as HikariCP does (``aliveBypassWindowMs``). One idle longer — the ones a database
restart or a firewall's idle timeout would have cut — is pinged with the dialect's own ping, and a
dead one is replaced before the request sees it; as with ``pool_pre_ping``, every connection the
pool held until then is taken for dead too (``InvalidatePoolError``: after a server restart, the
busy ones would otherwise fail once each). ``0`` pings on every checkout. SQLite has nothing to ping.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError

from .extensions import db

IDLE_KEY = "portal_checked_in_at"


def watch(engine: Engine, ping_after_idle: float) -> None:
    """Attach the check to ``engine``'s pool."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[IDLE_KEY] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(IDLE_KEY)
        if since is None or time.monotonic() - since < ping_after_idle:
            return  # just connected, or in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None) or isinstance(exc, OSError):
                raise InvalidatePoolError(str(exc)) from exc
            raise
        if not alive:
            raise InvalidatePoolError("the connection did not answer the ping")


def init_liveness(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        watch(engine, float(app.config.get("PORTAL_DB_PING_AFTER_IDLE", 1.0)))
