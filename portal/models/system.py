"""Plugin state and the security epoch (the outbox is ``portal.messaging``'s ``message`` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import utcnow


class PluginState(db.Model):
    """What is *installed* and *enabled*; ``PORTAL_PLUGINS`` says what is *available*."""

    __tablename__ = "plugin_state"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    installed: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=False)
    version: Mapped[str | None] = mapped_column(String(20))
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    installed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SecurityEpoch(db.Model):
    """One row whose ``value`` database triggers raise on every change that can alter a signed-in
    identity (users, roles, local roles and their org-unit / partner targets, revoked tokens, ended
    sessions, plugin state). Workers cache identities and the active plugin set per value, so a
    request reads this one integer instead of reloading them (``portal.auth.identity_cache``)."""

    __tablename__ = "security_epoch"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
