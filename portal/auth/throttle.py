"""Login throttling per account and per IP, stored in the database so every worker agrees.

An account is paused after ``PORTAL_THROTTLE_ACCOUNT_LIMIT`` failures in the window; the pause
doubles with each further failure but never exceeds ``PORTAL_THROTTLE_MAX_LOCK`` (15 minutes),
so an attacker cannot keep a real user out for long (ASVS 6.1.1, 6.3.1). A successful login
clears the account's counter.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import LoginFailure, utcnow


def _keys(email: str, ip: str | None) -> tuple[str, str]:
    return f"acct:{email.strip().lower()}", f"ip:{ip or '-'}"


def _failures(key: str, since: datetime) -> tuple[int, datetime | None]:
    count, last = db.session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at >= since)
    ).one()
    return count, last


def retry_after(email: str, ip: str | None) -> int:
    """Seconds until a login attempt is allowed again (0 = allowed now)."""
    cfg = current_app.config
    now = utcnow()
    since = now - cfg["PORTAL_THROTTLE_WINDOW"]
    wait = 0.0
    for key, limit in zip(_keys(email, ip), (cfg["PORTAL_THROTTLE_ACCOUNT_LIMIT"], cfg["PORTAL_THROTTLE_IP_LIMIT"]), strict=True):
        count, last = _failures(key, since)
        if count >= limit and last is not None:
            # Exponent capped: a flood of parallel failures must not overflow timedelta (a 500).
            lock = min(timedelta(seconds=30 * 2 ** min(count - limit, 20)), cfg["PORTAL_THROTTLE_MAX_LOCK"])
            wait = max(wait, (last + lock - now).total_seconds())
    return max(0, int(wait + 0.999))


def record_failure(email: str, ip: str | None) -> None:
    keys = _keys(email, ip)
    # Rows older than the window never count again: drop this key's old ones as we go (indexed
    # on key, at), so the table stays the size of recent attacks instead of growing forever.
    db.session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys),
                                                  LoginFailure.at < utcnow() - current_app.config["PORTAL_THROTTLE_WINDOW"]))
    for key in keys:
        db.session.add(LoginFailure(key=key))


def clear_account(email: str) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == _keys(email, None)[0]))
