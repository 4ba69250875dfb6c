"""Per-worker cache of signed-in identities and of the active plugin set, checked against the
database's security epoch on every request.

Loading a user with roles, local roles and their targets through the ORM costs more CPU than
most of the request it serves (an API redemption, a list page). The ``security_epoch`` row is
raised by database triggers (migration ``0006_security_epoch``) on every change that can alter an
identity: a user, a role, a local role or its org unit / partner target (or a new org unit or
partner under it), a revoked token, an ended session, the plugin state. So a request reads that one integer, and while it is unchanged a
worker may reuse what it loaded before; any such change, committed by any worker, process or
SQL client, makes every cached entry stale on the next request everywhere.

What this keeps exactly as before: logout, revocation, deactivation and role changes take
effect on the next request in every worker (the epoch moves); idle and absolute session timeouts
and the once-a-minute ``last_seen_at`` / ``last_used_at`` touches run on the uncached path, since
an entry is used only while its session or token was touched less than a minute ago.

Entries are detached *prototypes*: each request gets its own session-bound copy through
``Session.merge(load=False)`` (no SQL), so a commit that expires the request's objects never
touches the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app, g, has_app_context
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import User

MAX_ENTRIES = 4096
EPOCH_SQL = "SELECT value FROM security_epoch WHERE id = 1"  # (table: models.SecurityEpoch)


@dataclass(frozen=True)
class CachedIdentity:
    user: User  # detached prototype with roles and local roles loaded
    epoch: int
    plugins: frozenset[str]
    started_at: datetime | None  # the session's start (None for a token)
    seen_at: datetime  # the session's last_seen_at / the token's last_used_at when loaded


class IdentityCache:
    """LRU of :class:`CachedIdentity` by credential hash, plus the active plugin set of one epoch.
    Thread-safe (gthread workers share it)."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], CachedIdentity] = OrderedDict()
        self._lock = threading.Lock()
        self.plugins: tuple[int, frozenset[str]] | None = None
        self._scopes: dict[Any, Any] = {}
        self._scopes_epoch: int | None = None

    def get(self, kind: str, key: str, epoch: int) -> CachedIdentity | None:
        with self._lock:
            hit = self._entries.get((kind, key))
            if hit is None:
                return None
            if hit.epoch != epoch:
                del self._entries[(kind, key)]
                return None
            self._entries.move_to_end((kind, key))
            return hit

    def put(self, kind: str, key: str, entry: CachedIdentity) -> None:
        with self._lock:
            self._entries[(kind, key)] = entry
            self._entries.move_to_end((kind, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, kind: str, key: str) -> None:
        with self._lock:
            self._entries.pop((kind, key), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._scopes.clear()
            self.plugins = None

    def scope(self, key: Any, epoch: int, build: Callable[[], Any]) -> Any:
        """``build()``'s value for ``key`` (e.g. the node ids under a user's grants), reused while
        the epoch is unchanged: adding, moving or removing an org unit or partner raises it."""
        with self._lock:
            if self._scopes_epoch != epoch or len(self._scopes) >= self.max_entries:
                self._scopes.clear()
                self._scopes_epoch = epoch
            if key in self._scopes:
                return self._scopes[key]
        value = build()
        with self._lock:
            if self._scopes_epoch == epoch:
                self._scopes[key] = value
        return value

    def __len__(self) -> int:
        return len(self._entries)


def init_identity_cache(app: Flask) -> None:
    app.extensions["portal_identity_cache"] = IdentityCache(app.config.get("PORTAL_IDENTITY_CACHE_SIZE", MAX_ENTRIES))


def identity_cache() -> IdentityCache | None:
    """This app's cache, or None where it is switched off (``PORTAL_IDENTITY_CACHE_SIZE=0``)."""
    cache = current_app.extensions.get("portal_identity_cache")
    return cache if cache is not None and cache.max_entries > 0 else None


def security_epoch() -> int:
    """The epoch, read once per request (and again after :func:`forget_epoch`)."""
    if has_app_context() and "portal_security_epoch" in g:
        return g.portal_security_epoch
    # Straight to the driver on the session's connection and transaction (sqlite3 and psycopg
    # alike): a constant statement needs none of SQLAlchemy's statement handling, and every
    # request runs it.
    row = db.session.connection().connection.driver_connection.execute(EPOCH_SQL).fetchone()
    value = -1 if row is None else int(row[0])
    if has_app_context():
        g.portal_security_epoch = value
    return value


def forget_epoch() -> None:
    """After this request changed something the epoch watches (e.g. the plugin state)."""
    g.pop("portal_security_epoch", None)


def prototype(user: User) -> User:
    """A detached copy of a loaded ``user`` (roles and local roles included) for the cache."""
    scratch = Session()
    try:
        return scratch.merge(user, load=False)
    finally:
        scratch.expunge_all()


def attach(entry: CachedIdentity) -> Any:
    """This request's session-bound copy of a cached user: no SQL."""
    return db.session.merge(entry.user, load=False)
