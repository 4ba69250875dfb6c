"""API bearer tokens: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db, write_intent
from ..models import ApiToken, User, utcnow
from ..plugins import active_plugin_names, active_plugins_column, remember_active_plugins, use_active_plugins
from .identity_cache import CachedIdentity, attach, identity_cache, prototype, security_epoch
from .sessions import identity_options

PREFIX = "pp_"


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name[:80], prefix=raw[:10], token_hash=hashlib.sha256(raw.encode()).hexdigest())
    db.session.add(token)
    return token, raw


def user_for_token(raw: str) -> User | None:
    """The token's user with roles: the worker's cached identity while the security epoch is
    unchanged and the token was touched less than a minute ago (see ``identity_cache``), else the
    token, its user and the user's roles in one SELECT (plus the active plugin set, which the
    request needs anyway: see ``sessions.load_session_user``)."""
    if not raw.startswith(PREFIX):
        return None
    key = hashlib.sha256(raw.encode()).hexdigest()
    cache = identity_cache()
    now = utcnow()
    if cache is not None:
        epoch = security_epoch()
        hit = cache.get("token", key, epoch)
        if hit is not None and (now - hit.seen_at).total_seconds() <= 60:
            use_active_plugins(hit.plugins)
            return attach(hit)
    row = db.session.execute(
        select(ApiToken, active_plugins_column())
        .where(ApiToken.token_hash == key)
        .options(*(joinedload(ApiToken.user).options(opt) for opt in identity_options()))
    ).unique().first()
    token = row[0] if row else None
    if row:
        remember_active_plugins(row[1])
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    user = token.user
    entry = None
    if cache is not None:  # before the commit below expires the loaded user
        entry = CachedIdentity(prototype(user), epoch, active_plugin_names(), None, token.last_used_at or now)
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        write_intent()
        token.last_used_at = now
        db.session.commit()
        if entry is not None:
            entry = CachedIdentity(entry.user, entry.epoch, entry.plugins, None, now)
    if entry is not None:
        cache.put("token", key, entry)
    return user


def revoke_token(token: ApiToken) -> None:
    token.revoked_at = utcnow()
