"""Server-side sessions: the signed cookie carries a random id; the row is the truth.

Rotation: every login creates a new row (ASVS 7.2.4). Logout deletes it, so a cookie captured
before logout is worthless afterwards (7.4.1). Idle and absolute timeouts (7.3.x) are checked
on every load; ``last_seen_at`` is written at most once a minute to keep reads cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from ..extensions import db, write_intent
from ..models import User, UserSession, utcnow
from ..plugins import active_plugin_names, active_plugins_column, remember_active_plugins, use_active_plugins
from .identity_cache import CachedIdentity, attach, identity_cache, prototype, security_epoch

TOUCH_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(user: User) -> str:
    # Sessions past the absolute timeout can never be used again: drop the user's old ones here.
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id, UserSession.created_at < utcnow() - current_app.config["PORTAL_SESSION_ABSOLUTE"]))
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            token_hash=token_hash(token),
            user_id=user.id,
            ip=request.remote_addr if request else None,
            user_agent=(request.user_agent.string or "")[:255] if request else None,
        )
    )
    user.session_token = token
    return token


def identity_options() -> tuple:
    """Load a user's global and local roles (with the local roles' targets) in the same SELECT
    as the user: the permission checks of every request need them."""
    return (joinedload(User.global_roles), joinedload(User.local_roles))


def load_session_user(token: str) -> User | None:
    """The session's user, with roles.

    Logout, expiry and role changes take effect at once: with an unchanged security epoch and a
    session touched less than a minute ago, the worker's cached identity is used (one integer
    read, ``identity_cache``); otherwise one round trip loads session ⨝ user ⟕ roles ⟕ local roles,
    with the active plugin set riding on the same SELECT (``plugins.active_plugins_column``).
    """
    key = token_hash(token)
    cache = identity_cache()
    now = utcnow()
    cfg = current_app.config
    if cache is not None:
        epoch = security_epoch()
        hit = cache.get("session", key, epoch)
        if hit is not None and now - hit.seen_at <= TOUCH_EVERY and now - hit.started_at <= cfg["PORTAL_SESSION_ABSOLUTE"]:
            use_active_plugins(hit.plugins)
            user = attach(hit)
            user.session_token = token
            return user
    row = db.session.execute(
        select(User, UserSession.created_at, UserSession.last_seen_at, active_plugins_column())
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == key)
        .options(*identity_options())
    ).unique().first()
    if row is None:
        return None
    user, created_at, last_seen_at, plugins = row
    remember_active_plugins(plugins)
    if now - last_seen_at > cfg["PORTAL_SESSION_IDLE"] or now - created_at > cfg["PORTAL_SESSION_ABSOLUTE"]:
        write_intent()
        # Statements, not ORM objects: a parallel request may have removed the row already.
        db.session.execute(delete(UserSession).where(UserSession.token_hash == key))
        db.session.commit()
        return None
    if not user.active:
        return None
    entry = None
    if cache is not None:  # before any commit below expires the loaded user
        entry = CachedIdentity(prototype(user), epoch, active_plugin_names(), created_at, last_seen_at)
    if now - last_seen_at > TOUCH_EVERY:
        write_intent()
        touched = db.session.execute(update(UserSession).where(UserSession.token_hash == key).values(last_seen_at=now))
        db.session.commit()
        if not touched.rowcount:  # logged out by a parallel request
            return None
        if entry is not None:
            entry = CachedIdentity(entry.user, entry.epoch, entry.plugins, created_at, now)
    if entry is not None:
        cache.put("session", key, entry)
    user.session_token = token
    return user


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))


def end_all_sessions(user: User, keep: str | None = None) -> None:
    """After a password change or reset: every other session of the user ends."""
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        stmt = stmt.where(UserSession.token_hash != token_hash(keep))
    db.session.execute(stmt)
