"""The consent lifecycle's part of the data-subject export and of erasure."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.toolkit import db

from ..optout_models import CemSuppressedNumber
from .replies import customer_replies_export, erase_customer_replies


def export_customer(customer: Any) -> dict[str, Any] | None:
    """The customer's inbound replies and a suppression-list entry for their phone, if any."""
    phone = getattr(customer, "phone", None)
    replies = customer_replies_export(customer.id, phone)
    listed = None
    if phone:
        row = db.session.execute(select(CemSuppressedNumber).where(CemSuppressedNumber.number == phone)).scalar()
        if row is not None:
            listed = {"number": row.number, "source": row.source, "added_at": row.added_at.isoformat(),
                      "requested_at": row.requested_at.isoformat() if row.requested_at else None}
    if not replies and listed is None:
        return None
    return {"name": "cem_channels.consent", "data": {"inbound_replies": replies, "suppressed_number": listed}}


def erase_customer(customer: Any) -> None:
    """Replies lose their text and number. A suppression-list entry stays: it is the record of a
    refusal to receive advertising (kept, like the core's consent history, so it is still honoured)."""
    erase_customer_replies(customer.id, getattr(customer, "phone", None))
