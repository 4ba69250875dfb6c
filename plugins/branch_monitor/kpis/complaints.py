"""Complaint opening and closing dates (``mon_complaint``), which the core does not keep: it has
only the customer's ``complaint`` flag. The care index counts complaints open over 14 days.

One open row per customer at most: raising an already raised flag (or a merge that brings a
second open row) keeps the oldest opening date, which is how long the customer has been waiting.
Rows keep the branch the customer belonged to when the complaint was raised."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, delete, exists, func, insert, select, update
from sqlalchemy.orm import aliased

from portal.toolkit import AuditEvent, Customer, db, utcnow

from ..models import MonComplaint


def _open_row(customer_id: int) -> MonComplaint | None:
    return db.session.execute(select(MonComplaint).where(MonComplaint.customer_id == customer_id,
                                                         MonComplaint.closed_at.is_(None))
                              .order_by(MonComplaint.opened_at).limit(1)).scalar_one_or_none()


def on_customer_changed(customer: Any, changes: dict[str, Any], *, now: datetime | None = None) -> None:
    """``portal_customer_changed``: a raised complaint flag opens a row, a cleared one closes it
    (a new customer created with the flag raised opens one too)."""
    change = (changes or {}).get("complaint")
    if not change or customer is None or getattr(customer, "id", None) is None:
        return
    old, new = (change if isinstance(change, (tuple, list)) and len(change) == 2 else (None, change))
    at = now or utcnow()
    if new and not old:
        if _open_row(customer.id) is None:
            db.session.add(MonComplaint(customer_id=customer.id, branch_id=customer.branch_id, opened_at=at))
            db.session.flush()
    elif old and not new:
        db.session.execute(update(MonComplaint).where(MonComplaint.customer_id == customer.id,
                                                      MonComplaint.closed_at.is_(None))
                           .values(closed_at=at).execution_options(synchronize_session=False))


def on_customers_merged(survivor: Any, merged_id: int) -> None:
    """``portal_customers_merged``: the merged customer's complaint rows move to the survivor; of
    two open rows (both were flagged) the older stays open and the newer goes — the survivor has
    one flag, raised since the older date."""
    db.session.execute(update(MonComplaint).where(MonComplaint.customer_id == merged_id)
                       .values(customer_id=survivor.id).execution_options(synchronize_session=False))
    older = aliased(MonComplaint)
    db.session.execute(delete(MonComplaint).where(
        MonComplaint.customer_id == survivor.id, MonComplaint.closed_at.is_(None),
        exists().where(older.customer_id == survivor.id, older.closed_at.is_(None),
                       (older.opened_at < MonComplaint.opened_at)
                       | and_(older.opened_at == MonComplaint.opened_at, older.id < MonComplaint.id)))
        .execution_options(synchronize_session=False))


def backfill() -> int:
    """At install: an open row for each customer flagged today (and without one), dated by the
    audit trail's last ``customer.complaint`` event (or the customer's ``updated_at``), in one
    ``INSERT … SELECT``; returns rows made."""
    last_event = (select(func.max(AuditEvent.at))
                  .where(AuditEvent.action == "customer.complaint", AuditEvent.object_type == "customer",
                         AuditEvent.object_id == cast(Customer.id, String))
                  .scalar_subquery())
    has_open = exists().where(MonComplaint.customer_id == Customer.id, MonComplaint.closed_at.is_(None))
    source = (select(Customer.id, Customer.branch_id, func.coalesce(last_event, Customer.updated_at))
              .where(Customer.complaint.is_(True), ~has_open))
    # Counted first: PostgreSQL's driver reports no row count for an INSERT … SELECT here.
    made = int(db.session.execute(select(func.count()).select_from(source.subquery())).scalar_one())
    if made:
        db.session.execute(insert(MonComplaint.__table__).from_select(["customer_id", "branch_id", "opened_at"],
                                                                      source))
    return made
