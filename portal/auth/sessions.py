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

from ..extensions import db, write_intent
from ..models import User, UserSession, utcnow

TOUCH_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(user: User) -> str:
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


def load_session_user(token: str) -> User | None:
    key = token_hash(token)
    row = db.session.get(UserSession, key)
    if row is None:
        return None
    now = utcnow()
    cfg = current_app.config
    if now - row.last_seen_at > cfg["PORTAL_SESSION_IDLE"] or now - row.created_at > cfg["PORTAL_SESSION_ABSOLUTE"]:
        write_intent()
        # Statements, not ORM objects: a parallel request may have removed the row already.
        db.session.execute(delete(UserSession).where(UserSession.token_hash == key))
        db.session.commit()
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        write_intent()
        touched = db.session.execute(update(UserSession).where(UserSession.token_hash == key).values(last_seen_at=now))
        db.session.commit()
        if not touched.rowcount:  # logged out by a parallel request
            return None
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


def active_sessions(user: User) -> list[UserSession]:
    return list(db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalars())
