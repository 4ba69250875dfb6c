"""Data-subject requests (PIPA / GDPR): export everything held on a customer, or pseudonymize.

Pseudonymization keeps the customer row and its sale lines (so sales statistics stay true)
but removes every direct identifier, records opt-outs on every channel, and writes an audit
event naming the cleared fields — never their old values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from .. import audit
from ..events import fire
from ..extensions import db
from ..models import CHANNELS, AuditEvent, Customer, QualityIssue, SaleLine, utcnow
from ..plugins import hook
from .service import household_changed

PERSONAL_FIELDS = ("name", "phone", "email", "address", "postal_code", "birth_date", "gender", "note", "complaint_note")


def export_personal_data(customer: Customer) -> dict[str, Any]:
    lines = db.session.execute(
        select(SaleLine).where(SaleLine.customer_id == customer.id).order_by(SaleLine.sold_at, SaleLine.id)).scalars()
    return {
        "customer": {
            "id": customer.id, "code": customer.code, "name": customer.name, "phone": customer.phone,
            "email": customer.email, "address": customer.address, "postal_code": customer.postal_code,
            "birth_date": customer.birth_date.isoformat() if customer.birth_date else None, "gender": customer.gender,
            "branch": customer.branch.code if customer.branch else None,
            "distributor": customer.partner.code if customer.partner else None,
            "household": customer.household.name if customer.household else None, "tier": customer.tier,
            "complaint": customer.complaint, "complaint_note": customer.complaint_note, "note": customer.note,
            "created_at": customer.created_at.isoformat(), "updated_at": customer.updated_at.isoformat(),
        },
        "consents": [{"channel": c.channel, "purpose": c.purpose, "granted": c.granted, "method": c.method,
                      "recorded_at": c.recorded_at.isoformat(), "note": c.note} for c in customer.consents],
        "data_quality": [{"field": q.field, "reason": q.reason, "created_at": q.created_at.isoformat(),
                          "resolved_at": q.resolved_at.isoformat() if q.resolved_at else None}
                         for q in customer.quality_issues],
        "purchases": [{"date": line.sold_at.isoformat(), "receipt_no": line.receipt_no,
                       "product": line.product.sku if line.product else None, "quantity": line.quantity,
                       "amount": line.amount} for line in lines],
        "changes": [{"at": e.at.isoformat(), "action": e.action, "by": e.actor_label}
                    for e in db.session.execute(select(AuditEvent).where(
                        AuditEvent.object_type == "customer", AuditEvent.object_id == str(customer.id))
                        .order_by(AuditEvent.at)).scalars()],
        "add_ons": add_on_data(customer),
    }


def add_on_data(customer: Customer) -> dict[str, Any]:
    """Every active add-on's data on the customer (``portal_personal_data``), by add-on name:
    the data-subject export covers what the add-ons hold too (SECURITY.md, Privacy)."""
    out: dict[str, Any] = {}
    for part in hook("portal_personal_data")(customer=customer):
        if part and part.get("data") is not None:
            out[str(part["name"])] = part["data"]
    return dict(sorted(out.items()))


def pseudonymize(user: Any, customer: Customer, reason: str) -> None:
    cleared = [f for f in PERSONAL_FIELDS if getattr(customer, f) not in (None, "")]
    for field in PERSONAL_FIELDS:
        setattr(customer, field, None)
    customer.name = f"(삭제됨 / erased) {customer.code}"
    old_household_id, customer.household_id = customer.household_id, None
    customer.pseudonymized_at = now = utcnow()
    # Nothing is left to fix on an erased record: close its data-quality issues.
    db.session.execute(update(QualityIssue).where(QualityIssue.customer_id == customer.id,
                                                  QualityIssue.resolved_at.is_(None))
                       .values(resolved_at=now, resolved_by_id=getattr(user, "id", None)))
    audit.record("customer.pseudonymized", customer, summary=(reason or "")[:200],
                 changes={f: ("(removed)", None) for f in cleared})
    if old_household_id is not None:
        household_changed(customer, old_household_id, None, actor=user, source="erasure")
    # The personal-data hook pair's second half: every add-on erases its copies in this transaction,
    # each in its own savepoint; one that fails is retried by ``events.retry`` until it has.
    fire("portal_personal_data_erased", customer=customer, actor=user)
    # Then the marketing opt-outs, through the consent service like every other withdrawal, so
    # ``portal_consent_changed`` reaches add-ons with their own suppression lists (messaging has
    # cancelled this customer's queue as "erased" above; its opt-out reaction finds nothing left,
    # and still cancels anything should the erasure reaction have failed).
    from ..contact import record_consent

    for channel in CHANNELS:
        record_consent(customer.id, channel, "marketing", False, method="web" if user is None else "store",
                       source="erasure", actor=user, note="data-subject request: erased")
    fire("portal_customer_changed", customer=customer, changes={"pseudonymized": (None, True)})
