"""Authentication rules, callable without HTTP."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from .. import audit
from ..extensions import db
from ..models import PasswordResetToken, User, utcnow
from . import throttle
from .passwords import hash_password, needs_rehash, policy_errors, verify_password
from .sessions import create_session, end_all_sessions

RESET_VALID = timedelta(hours=1)
RESET_MAX_PER_HOUR = 3  # reset e-mails per account: nobody can flood a mailbox through the form


class AuthError(Exception):
    """A refusal to show the user (message is already translated)."""


class ThrottledError(AuthError):
    """Too many failures: the login is paused for ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class LoginResult:
    user: User
    token: str


def find_user(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def authenticate(email: str, password: str, ip: str | None) -> LoginResult:
    """Check throttle, verify, rehash if needed, rotate into a fresh server-side session."""
    wait = throttle.retry_after(email, ip)
    if wait:
        raise ThrottledError(_("Too many failed attempts. Try again in %(s)d seconds.", s=wait), wait)
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.active:
        throttle.record_failure(email, ip)
        audit.record("auth.login_failed", summary=email.strip().lower()[:200])
        db.session.commit()
        raise AuthError(_("E-mail or password is wrong."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    throttle.clear_account(email)
    user.last_login_at = utcnow()
    token = create_session(user)
    audit.record("auth.login", user, actor=user)
    db.session.commit()
    return LoginResult(user, token)


def set_password(user: User, password: str) -> None:
    errors = policy_errors(password, user.email)
    if errors:
        raise AuthError(" ".join(errors))
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    _void_reset_tokens(user)  # a link mailed before the change must not work after it


def _void_reset_tokens(user: User) -> None:
    db.session.execute(update(PasswordResetToken).where(
        PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None)).values(used_at=utcnow()))


def change_password(user: User, current: str, new: str, keep_session: str | None, ip: str | None = None) -> None:
    """Guessing the current password here (with a stolen session) is throttled like a login."""
    wait = throttle.retry_after(user.email, ip)
    if wait:
        raise ThrottledError(_("Too many failed attempts. Try again in %(s)d seconds.", s=wait), wait)
    if not verify_password(user.password_hash, current):
        throttle.record_failure(user.email, ip)
        audit.record("auth.password_change_failed", user)
        db.session.commit()
        raise AuthError(_("The current password is wrong."))
    set_password(user, new)
    end_all_sessions(user, keep=keep_session)
    audit.record("auth.password_changed", user)
    db.session.commit()


def request_reset(email: str) -> None:
    """Queue a reset e-mail (sent by the messaging dispatcher); says nothing about whether the account exists."""
    user = find_user(email)
    if user is None or not user.active:
        return
    recent = db.session.execute(select(func.count()).select_from(PasswordResetToken).where(
        PasswordResetToken.user_id == user.id, PasswordResetToken.created_at >= utcnow() - timedelta(hours=1))).scalar_one()
    if recent >= RESET_MAX_PER_HOUR:
        return
    from ..messaging import queue_message

    raw = secrets.token_urlsafe(32)
    _void_reset_tokens(user)  # only the newest link works
    token = PasswordResetToken(user_id=user.id, token_hash=hashlib.sha256(raw.encode()).hexdigest(),
                               expires_at=utcnow() + RESET_VALID)
    db.session.add(token)
    db.session.flush()
    link = current_app.config["PORTAL_BASE_URL"].rstrip("/") + url_for("auth.reset", token=raw)
    # Really sent (service purpose, by the messaging dispatcher); expires with the link itself,
    # so a mail held up by a relay outage is never delivered with a dead link.
    queue_message(
        channel="email", purpose="service", user_id=user.id, to=user.email, source="core", step="password_reset",
        idempotency_key=f"password_reset:{token.id}", subject=_("Reset your Partner Portal password"),
        body=render_template("auth/reset_email.txt", user=user, link=link, hours=int(RESET_VALID.total_seconds() // 3600)),
        expires_at=token.expires_at,
    )
    audit.record("auth.reset_requested", user)
    db.session.commit()


def _reset_token(raw: str) -> PasswordResetToken | None:
    row = db.session.execute(select(PasswordResetToken).where(
        PasswordResetToken.token_hash == hashlib.sha256(raw.encode()).hexdigest())).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return None
    return row


def reset_token_valid(raw: str) -> bool:
    return _reset_token(raw) is not None


def reset_password(raw: str, new: str) -> User:
    row = _reset_token(raw)
    if row is None:
        raise AuthError(_("This reset link is invalid or has expired."))
    user = db.session.get(User, row.user_id)
    set_password(user, new)
    row.used_at = utcnow()
    end_all_sessions(user)
    throttle.clear_account(user.email)
    audit.record("auth.password_reset", user, actor=user)
    db.session.commit()
    return user
