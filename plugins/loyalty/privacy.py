"""The loyalty add-on's part of a data-subject export (``portal_personal_data``, PIPA / GDPR):
the customer's account, every ledger entry and lot that is theirs — in their own account or
attributed to them in a family pool — their tier history, adjustment requests and API requests.

Staff identities (who made an entry) are left out: they are not the customer's data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from portal.toolkit import Customer, db

from .ledger import member_account
from .models import LoyAccount, LoyApproval, LoyEntry, LoyLot, LoyRequest, LoyTierChange


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def personal_data(customer: Customer) -> dict[str, Any] | None:
    """Everything the add-on holds on ``customer``, JSON-ready; None when it holds nothing."""
    acct = member_account(customer.id, create=False)
    own = [acct.id] if acct is not None else []

    def mine_or_own(model: Any) -> Any:
        return or_(model.member_id == customer.id, model.account_id.in_(own))

    entries = db.session.execute(select(LoyEntry).where(mine_or_own(LoyEntry)).order_by(LoyEntry.id)).scalars().all()
    changes = db.session.execute(select(LoyTierChange).where(LoyTierChange.customer_id == customer.id)
                                 .order_by(LoyTierChange.id)).scalars().all()
    approvals = db.session.execute(select(LoyApproval).where(LoyApproval.customer_id == customer.id)
                                   .order_by(LoyApproval.id)).scalars().all()
    if acct is None and not (entries or changes or approvals):
        return None
    card = db.session.get(LoyAccount, acct.pool_id) if acct is not None and acct.pool_id else None
    lots = db.session.execute(select(LoyLot).where(mine_or_own(LoyLot)).order_by(LoyLot.id)).scalars().all()
    requests = db.session.execute(select(LoyRequest).where(LoyRequest.customer_id == customer.id)
                                  .order_by(LoyRequest.id)).scalars().all()
    return {
        "account": None if acct is None else {
            "balance": int(acct.balance), "tier": acct.tier, "tier_since": _iso(acct.tier_since),
            "status": acct.status, "opened_at": _iso(acct.created_at),
            "family_card": card.card_no if card is not None else None,
            "family_card_balance": int(card.balance) if card is not None else None,
        },
        "entries": [{"id": e.id, "kind": e.kind, "points": int(e.points), "effective_on": _iso(e.effective_on),
                     "expires_on": _iso(e.expires_on), "reason": e.reason, "on_family_card": e.account_id not in own,
                     "reverses_id": e.reverses_id, "created_at": _iso(e.created_at)} for e in entries],
        "lots": [{"id": lot.id, "points": int(lot.points), "remaining": int(lot.remaining),
                  "earned_on": _iso(lot.earned_on), "expires_on": _iso(lot.expires_on),
                  "on_family_card": lot.account_id not in own} for lot in lots],
        "tier_history": [{"from": c.from_tier, "to": c.to_tier, "direction": c.direction, "reason": c.reason,
                          "on": _iso(c.changed_on)} for c in changes],
        "adjustment_requests": [{"points": int(a.points), "reason": a.reason, "operation": a.operation,
                                 "status": a.status, "requested_at": _iso(a.requested_at),
                                 "decided_at": _iso(a.decided_at)} for a in approvals],
        "api_requests": [{"key": r.key, "operation": r.operation, "status": r.status_code,
                          "at": _iso(r.created_at)} for r in requests],
    }
