"""Tables of the messaging service (migrations/versions/0012_messaging.py creates them).

``message`` is the one outbox for every channel: each row is the truth about one message (its
idempotency key, its status, the provider's id). ``message_pause`` holds the sources (an add-on,
or one of its objects such as a campaign) whose queued messages the dispatcher must not claim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import utcnow

PURPOSES = ("service", "marketing")

QUEUED = "queued"
CLAIMED = "claimed"
SENDING = "sending"  # handed to the provider: the point of no return (see dispatch.py)
SENT = "sent"
FAILED_TEMPORARY = "failed_temporary"  # waiting for its next attempt (not_before)
FAILED_PERMANENT = "failed_permanent"
SUPPRESSED = "suppressed_at_send"
EXPIRED = "expired"
CANCELLED = "cancelled"

STATUSES = (QUEUED, CLAIMED, SENDING, SENT, FAILED_TEMPORARY, FAILED_PERMANENT, SUPPRESSED, EXPIRED, CANCELLED)
TERMINAL = frozenset({SENT, FAILED_PERMANENT, SUPPRESSED, EXPIRED, CANCELLED})
# Rows that may still be sent: what cancel_queued and an opt-out stop.
PENDING = (QUEUED, CLAIMED, FAILED_TEMPORARY)

ID_TYPE = BigInteger().with_variant(Integer, "sqlite")


class Message(db.Model):
    """One message on one channel to one recipient, from queueing to its terminal state."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(12))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    to_addr: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(60))
    source_object: Mapped[str | None] = mapped_column(String(120))
    step: Mapped[str | None] = mapped_column(String(60))
    variant: Mapped[str | None] = mapped_column(String(30))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    status_reason: Mapped[str | None] = mapped_column(String(60))
    provider_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


# The due-claim query walks (status, not_before); per customer for cancel_queued and the history;
# per source for pause, progress and the outbox filters.
Index("ix_message_status_not_before", Message.status, Message.not_before)
Index("ix_message_customer_status", Message.customer_id, Message.status)
Index("ix_message_source", Message.source, Message.source_object, Message.status)
Index("ix_message_user_id", Message.user_id)


class MessagePause(db.Model):
    """A paused source (``source_object`` empty = every object of that source)."""

    __tablename__ = "message_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(60))
    source_object: Mapped[str] = mapped_column(String(120), default="")
    paused_at: Mapped[datetime] = mapped_column(default=utcnow)
    paused_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


Index("uq_message_pause_source", MessagePause.source, MessagePause.source_object, unique=True)
