"""Rewards, staff redemptions and manual adjustments with a second approver above the limit.

The approval limit (SECURITY.md 2.3.5: large manual point adjustments need a second approver)
holds on every path a person moves points by hand — the adjustment form and ``POST …/earn`` of
the API — and cannot be split: what one person credited or debited by hand on one customer
within the window (setting *Approval limit window*, default 24 hours), plus the new request,
is compared with the limit. Above it the request waits for a second person with
``loyalty.approve``. Points earned from imported sales, and entries a second person approved,
do not count.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from portal.toolkit import (
    Customer,
    WorkflowConflict,
    WorkflowForbidden,
    WorkflowNotFound,
    audit,
    available_transitions,
    db,
    notify_waiting,
    scope_filter,
    transition,
    utcnow,
)

from . import ledger
from .config import rules
from .ledger import LedgerError, Result
from .models import LoyApproval, LoyEntry, LoyReward

MANUAL_KINDS = ("adjust", "earn")


def active_rewards() -> list[LoyReward]:
    return list(db.session.execute(select(LoyReward).where(LoyReward.active.is_(True))
                                   .order_by(LoyReward.points_cost, LoyReward.code)).scalars())


def redeem_reward(customer: Customer, reward: LoyReward, quantity: int, actor: Any, note: str = "",
                  on: date | None = None) -> Result:
    """Spend ``reward.points_cost × quantity``; refused (409) unless valid points cover it."""
    if not reward.active:
        raise LedgerError("This reward is not offered any more.", key="reward_gone")
    if not 1 <= quantity <= 100:
        raise LedgerError("Quantity must be between 1 and 100.", key="quantity_range")
    reason = f"{reward.code} × {quantity}" + (f" — {note}" if note else "")
    result = ledger.redeem(customer, reward.points_cost * quantity, reason, actor=actor, on=on, reward_id=reward.id)
    audit.record("loyalty.redeemed", customer, summary=f"{result.entry.points} points: {reason}"[:500])
    return result


def redeem_points(customer: Customer, points: int, reason: str, actor: Any, on: date | None = None) -> Result:
    result = ledger.redeem(customer, points, reason, actor=actor, on=on)
    audit.record("loyalty.redeemed", customer, summary=f"{result.entry.points} points: {result.entry.reason}"[:500])
    return result


def manual_points(actor_id: int, customer_id: int, since: Any) -> int:
    """Points (credits and debits alike) ``actor_id`` moved by hand on the customer since ``since``
    without a second approver: adjustments and API earns, not imports or approved requests."""
    return int(db.session.execute(select(func.coalesce(func.sum(func.abs(LoyEntry.points)), 0)).where(
        LoyEntry.member_id == customer_id, LoyEntry.actor_id == actor_id, LoyEntry.kind.in_(MANUAL_KINDS),
        LoyEntry.approval_id.is_(None), LoyEntry.report_id.is_(None), LoyEntry.batch_id.is_(None),
        LoyEntry.created_at >= since)).scalar_one())


def needs_second_approver(customer: Customer, points: int, actor: Any) -> bool:
    """Would ``points`` by ``actor`` on ``customer`` go above the limit, counted over the window?

    Locks the customer's accounts first (PostgreSQL), so two concurrent requests of one person
    cannot both pass under the limit; SQLite's write transaction excludes them already."""
    limit = rules()
    if abs(points) > limit.approval_limit:
        return True
    actor_id = getattr(actor, "id", None)
    if actor_id is None:  # the system (imports, demo data) is not a person by hand
        return False
    member = ledger.member_account(customer.id)
    ledger.lock_accounts([member.id] + ([member.pool_id] if member.pool_id else []))
    since = utcnow() - timedelta(hours=limit.approval_window_hours)
    return manual_points(actor_id, customer.id, since) + abs(points) > limit.approval_limit


def _queue(customer: Customer, points: int, reason: str, actor: Any, operation: str) -> LoyApproval:
    approval = LoyApproval(customer_id=customer.id, points=points, reason=reason, status="pending",
                           operation=operation, requested_by_id=getattr(actor, "id", None))
    db.session.add(approval)
    db.session.flush()
    audit.record("loyalty.adjustment_requested", customer, summary=f"{operation} {points:+} points: {reason}"[:500])
    notify_waiting(approval, actor)  # the approvers in the customer's scope, not the requester
    return approval


def request_adjustment(customer: Customer, points: int, reason: str, actor: Any,
                       on: date | None = None) -> tuple[str, Result | LoyApproval]:
    """Apply at once within the approval limit; above it, queue for a second staff member.
    Returns ("done", result) or ("pending", approval)."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise LedgerError("Points must be a whole number other than 0.", key="points_nonzero")
    reason = ledger.clean_reason(reason)
    if needs_second_approver(customer, points, actor):
        return "pending", _queue(customer, points, reason, actor, "adjust")
    result = ledger.adjust(customer, points, reason, actor=actor, on=on)
    audit.record("loyalty.adjusted", customer, summary=f"{points:+} points: {reason}"[:500])
    return "done", result


def request_earn(customer: Customer, points: int, reason: str, actor: Any,
                 on: date | None = None) -> tuple[str, Result | LoyApproval]:
    """A credit by hand (the API's earn): at once within the limit, else queued like an
    adjustment. Returns ("done", result) or ("pending", approval)."""
    reason = ledger.clean_reason(reason)
    if needs_second_approver(customer, points, actor):
        return "pending", _queue(customer, points, reason, actor, "earn")
    return "done", ledger.earn(customer, points, reason, actor=actor, on=on)


def decide(approval: LoyApproval, approve: bool, actor: Any, note: str = "", on: date | None = None) -> LoyApproval:
    """Approve (the adjustment is made now) or reject, through the workflow (``approvals``): the
    requester may not decide their own request, and of two people deciding at once only one
    succeeds (the other gets "already decided"). The caller commits or rolls back everything."""
    note = ledger.clean_reason(note, required=False) or ""
    try:
        transition(approval, "approve" if approve else "reject", actor, note)
    except WorkflowConflict:
        raise LedgerError("This request was already decided.", code="decided") from None
    except WorkflowForbidden as exc:
        if exc.code == "guard":
            raise LedgerError("A second staff member must decide on your own request.", code="own_request") from None
        raise LedgerError("You may not decide on this request.", code="forbidden", key="may_not_decide") from None
    except WorkflowNotFound:
        raise LedgerError("No such request.", code="not_found") from None
    customer = db.session.get(Customer, approval.customer_id)
    if approve:
        apply = ledger.earn if approval.operation == "earn" else ledger.adjust
        result = apply(customer, approval.points, approval.reason, actor=actor, on=on, approval_id=approval.id)
        approval.entry_id = result.entry.id
    approval.decided_by_id = getattr(actor, "id", None)
    approval.decided_at = utcnow()
    approval.decision_note = note or None
    audit.record("loyalty.adjustment_" + approval.status, customer,
                 summary=f"{approval.points:+} points: {approval.reason}"[:500])
    return approval


def approvals_query(user: Any, status: str = "pending"):
    """Approval requests on customers in the user's scope."""
    return (select(LoyApproval).join(Customer, Customer.id == LoyApproval.customer_id)
            .where(LoyApproval.status == status, scope_filter(user, "loyalty.approve", Customer))
            .order_by(LoyApproval.requested_at, LoyApproval.id))


def may_decide(user: Any, approval: LoyApproval) -> bool:
    """Would the workflow let ``user`` decide ``approval`` now (permission, scope, four-eyes)?"""
    return any(t.id in ("approve", "reject") for t in available_transitions(approval, user))
