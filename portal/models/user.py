"""Users, global and local roles, server-side sessions, API tokens and auth bookkeeping."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import utcnow


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(5), default="ko")
    active: Mapped[bool] = mapped_column(default=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    global_roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    local_roles: Mapped[list[LocalRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    partner = relationship("Partner")

    # Set by the session loader: the server-side session this request runs under.
    session_token = None  # type: str | None

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str | None:
        """Flask-Login stores the *session* token, not the user id: logout can revoke it."""
        return self.session_token

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.global_roles}

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserRole(db.Model):
    """A global role (applies everywhere)."""

    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)


class LocalRole(db.Model):
    """A role granted on one org unit, partner group or partner, inherited by everything below."""

    __tablename__ = "local_role"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN org_unit_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN partner_group_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN partner_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
        UniqueConstraint("user_id", "role", "org_unit_id", "partner_group_id", "partner_id", name="uq_local_role_grant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), index=True)
    partner_group_id: Mapped[int | None] = mapped_column(ForeignKey("partner_group.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"), index=True)

    org_unit = relationship("OrgUnit", lazy="joined")
    partner_group = relationship("PartnerGroup", lazy="joined")
    partner = relationship("Partner", lazy="joined")

    @property
    def target_label(self) -> str:
        target = self.org_unit or self.partner_group or self.partner
        return f"{target.code} {target.name}" if target else "?"


class UserSession(db.Model):
    """Server-side session: the cookie carries only its random id; logout deletes the row."""

    __tablename__ = "user_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80), default="")
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """One failed login; counted per account and per IP across all workers."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_login_failure_key_at", LoginFailure.key, LoginFailure.at)


class PasswordResetToken(db.Model):
    __tablename__ = "password_reset_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
