"""Tables of the contact service (migration ``0011_contact`` creates them).

``contact`` is the contact history: one row per message sent, phone call, postal mailing or list
member contacted — on any channel, by anyone (staff, the dispatcher, an add-on). It is what
``recently_contacted`` counts and what the customer's "Contact history" tab shows. Append-only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import utcnow


class Contact(db.Model):
    """One contact with a customer: when, on which channel, for what, by whom, from where."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(255))


# The customer's timeline (newest first), and the cool-down check "contacted on this channel since
# …" — a range of (channel, at) handing over customer ids (and the purpose) without the table.
Index("ix_contact_customer_at", Contact.customer_id, Contact.at)
Index("ix_contact_channel_at", Contact.channel, Contact.at, Contact.customer_id, postgresql_include=["purpose"])
