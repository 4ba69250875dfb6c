"""The add-on's data on one customer for the data-subject export (``portal_personal_data``):
when their complaint flag was raised and cleared, and their last two monthly RFM segments.

Nothing here is erased on a data-subject request (``portal_personal_data_erased``): the rows hold
no name, contact or free text — only dates and a segment code keyed by the pseudonymised customer
id — and the branch's care index of past months must not change when a customer leaves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.toolkit import db

from ..models import MonComplaint, MonRfmSnapshot


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_customer(customer: Any) -> dict[str, Any] | None:
    complaints = db.session.execute(select(MonComplaint.opened_at, MonComplaint.closed_at)
                                    .where(MonComplaint.customer_id == customer.id)
                                    .order_by(MonComplaint.opened_at)).all()
    snap = db.session.get(MonRfmSnapshot, customer.id)
    if not complaints and snap is None:
        return None
    data: dict[str, Any] = {"complaints": [{"opened_at": _iso(o), "closed_at": _iso(c)} for o, c in complaints]}
    if snap is not None:
        data["rfm_segments"] = [{"month": _iso(snap.month), "segment": snap.segment},
                                {"month": _iso(snap.prev_month), "segment": snap.prev_segment}]
    return {"name": "branch_monitor", "data": data}
