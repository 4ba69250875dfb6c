"""Rewards, staff redemptions and manual adjustments with a second approver above the limit."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import Customer, utcnow
from portal.security import has_permission, scope_filter

from . import ledger
from .config import rules
from .ledger import LedgerError, Result
from .models import LoyApproval, LoyReward


def active_rewards() -> list[LoyReward]:
    return list(db.session.execute(select(LoyReward).where(LoyReward.active.is_(True))
                                   .order_by(LoyReward.points_cost, LoyReward.code)).scalars())


def redeem_reward(customer: Customer, reward: LoyReward, quantity: int, actor: Any, note: str = "",
                  on: date | None = None) -> Result:
    """Spend ``reward.points_cost × quantity``; refused (409) unless valid points cover it."""
    if not reward.active:
        raise LedgerError("This reward is not offered any more.")
    if not 1 <= quantity <= 100:
        raise LedgerError("Quantity must be between 1 and 100.")
    reason = f"{reward.code} × {quantity}" + (f" — {note}" if note else "")
    result = ledger.redeem(customer, reward.points_cost * quantity, reason, actor=actor, on=on, reward_id=reward.id)
    audit.record("loyalty.redeemed", customer, summary=f"{result.entry.points} points: {reason}"[:500])
    return result


def redeem_points(customer: Customer, points: int, reason: str, actor: Any, on: date | None = None) -> Result:
    result = ledger.redeem(customer, points, reason, actor=actor, on=on)
    audit.record("loyalty.redeemed", customer, summary=f"{result.entry.points} points: {result.entry.reason}"[:500])
    return result


def request_adjustment(customer: Customer, points: int, reason: str, actor: Any,
                       on: date | None = None) -> tuple[str, Result | LoyApproval]:
    """Apply at once within the approval limit; above it, queue for a second staff member.
    Returns ("done", result) or ("pending", approval)."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise LedgerError("Points must be a whole number other than 0.")
    reason = " ".join((reason or "").split())[:200]
    if not reason:
        raise LedgerError("Give a reason.")
    if abs(points) > rules().approval_limit:
        approval = LoyApproval(customer_id=customer.id, points=points, reason=reason, status="pending",
                               requested_by_id=getattr(actor, "id", None))
        db.session.add(approval)
        db.session.flush()
        audit.record("loyalty.adjustment_requested", customer, summary=f"{points:+} points: {reason}"[:500])
        return "pending", approval
    result = ledger.adjust(customer, points, reason, actor=actor, on=on)
    audit.record("loyalty.adjusted", customer, summary=f"{points:+} points: {reason}"[:500])
    return "done", result


def decide(approval: LoyApproval, approve: bool, actor: Any, note: str = "", on: date | None = None) -> LoyApproval:
    """Approve (the adjustment is made now) or reject. The requester may not decide their own."""
    if approval.status != "pending":
        raise LedgerError("This request was already decided.", code="decided")
    if approval.requested_by_id is not None and approval.requested_by_id == getattr(actor, "id", None):
        raise LedgerError("A second staff member must decide on your own request.", code="own_request")
    customer = db.session.get(Customer, approval.customer_id)
    if approve:
        result = ledger.adjust(customer, approval.points, approval.reason, actor=actor, on=on, approval_id=approval.id)
        approval.entry_id = result.entry.id
    approval.status = "approved" if approve else "rejected"
    approval.decided_by_id = getattr(actor, "id", None)
    approval.decided_at = utcnow()
    approval.decision_note = " ".join((note or "").split())[:200] or None
    audit.record("loyalty.adjustment_" + approval.status, customer,
                 summary=f"{approval.points:+} points: {approval.reason}"[:500])
    return approval


def approvals_query(user: Any, status: str = "pending"):
    """Approval requests on customers in the user's scope."""
    return (select(LoyApproval).join(Customer, Customer.id == LoyApproval.customer_id)
            .where(LoyApproval.status == status, scope_filter(user, "loyalty.approve", Customer))
            .order_by(LoyApproval.requested_at, LoyApproval.id))


def may_decide(user: Any, approval: LoyApproval) -> bool:
    customer = db.session.get(Customer, approval.customer_id)
    return has_permission(user, "loyalty.approve", customer) and approval.requested_by_id != user.id
