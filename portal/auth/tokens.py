"""API bearer tokens: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from ..extensions import db, write_intent
from ..models import ApiToken, User, utcnow

PREFIX = "pp_"


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name[:80], prefix=raw[:10], token_hash=hashlib.sha256(raw.encode()).hexdigest())
    db.session.add(token)
    return token, raw


def user_for_token(raw: str) -> User | None:
    if not raw.startswith(PREFIX):
        return None
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(raw.encode()).hexdigest())
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        write_intent()
        token.last_used_at = now
        db.session.commit()
    return token.user


def revoke_token(token: ApiToken) -> None:
    token.revoked_at = utcnow()
