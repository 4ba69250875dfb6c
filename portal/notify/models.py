"""Tables of the notify service (migrations/versions/0014_notifications.py creates them).

``notification`` holds one row per recipient. ``UNIQUE (user_id, dedupe_key)`` is what makes a
reminder go out once: :func:`portal.notify.notify` inserts with ``ON CONFLICT DO NOTHING``, so two
callers racing with the same key still create one row (rows without a key never conflict: NULLs
are distinct). ``ix_notification_unread`` (user, read_at, id) answers the header badge's count
and the unread inbox page from the index alone; ``ix_notification_user`` (user, id) the "all" page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import utcnow

CHANNELS = ("inbox", "email", "digest")


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("user_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str | None] = mapped_column(String(60))
    object_id: Mapped[int | None] = mapped_column(BigInteger)  # an add-on's table may use 64-bit ids
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(String(2000), default="")
    url: Mapped[str | None] = mapped_column(String(500))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
    digest_at: Mapped[datetime | None]


Index("ix_notification_unread", Notification.user_id, Notification.read_at, Notification.id)
Index("ix_notification_user", Notification.user_id, Notification.id)
Index("ix_notification_object", Notification.object_type, Notification.object_id)


class NotificationPreference(db.Model):
    """How one user wants one kind: ``inbox`` only, ``email`` at once, or in the daily ``digest``.
    No row = the kind's default (``email_default`` of ``portal_notification_kinds``)."""

    __tablename__ = "notification_preference"
    __table_args__ = (CheckConstraint("channel IN ('inbox', 'email', 'digest')", name="channel"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(80), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
