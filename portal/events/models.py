"""Tables of the events service (migrations/versions/0016_events.py holds their migration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import utcnow


class EventFailure(db.Model):
    """One add-on's failed reaction to one event, kept until a retry succeeds.

    ``args`` holds the event's arguments as ids and plain values (``portal.events.codec``), never
    ORM objects or personal data, so a retry re-loads the current rows. ``next_try_at`` is when the
    ``events.retry`` job tries again; NULL with ``resolved_at`` NULL means it gave up after
    ``MAX_ATTEMPTS`` (shown to administrators, retried only by hand).
    """

    __tablename__ = "event_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    hook: Mapped[str] = mapped_column(String(80))
    plugin: Mapped[str] = mapped_column(String(80))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    next_try_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


# The retry job's scan: open failures by due time.
Index("ix_event_failure_due", EventFailure.resolved_at, EventFailure.next_try_at)
