"""Consent-lifecycle tables (slice C): the global phone suppression list and the inbound-reply
review queue. Plain integer references to customers and users (no foreign keys), so an erased or
merged customer never blocks a row here; erasure clears the personal data itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.toolkit import db, utcnow

BIGID = BigInteger().with_variant(Integer, "sqlite")

#: Review states of an inbound reply.
REPLY_STATES = ("pending", "opted_out", "kept", "ignored")
#: What the classifier decided for a reply.
REPLY_KINDS = ("stop", "ambiguous", "auto_reply", "other")


class CemSuppressedNumber(db.Model):
    """A phone number nothing marketing is sent to (SMS/LMS/Kakao), whoever it belongs to: 080
    refusals of numbers we could not match to a customer, and STOP replies from unknown numbers."""

    __tablename__ = "cem_suppressed_number"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[datetime | None] = mapped_column()
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CemInboundReply(db.Model):
    """An inbound SMS reply that was not an exact STOP keyword, waiting for a person to decide."""

    __tablename__ = "cem_inbound_reply"
    __table_args__ = (Index("ix_cem_inbound_reply_status", "status", "received_at"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(BIGID, index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[int | None] = mapped_column(BIGID)
    decided_at: Mapped[datetime | None] = mapped_column()
