"""Read models for pages and the API: a customer's points at a glance and their statement."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select

from portal.toolkit import Customer, db, paginate

from . import tiers as tier_service
from .ledger import member_account, open_lots
from .models import LoyAccount, LoyEntry


def account_of(customer: Customer) -> tuple[LoyAccount | None, LoyAccount | None]:
    """(the member's own account or None, the account their points live in)."""
    member = member_account(customer.id, create=False)
    if member is None:
        return None, None
    if member.pool_id:
        return member, db.session.get(LoyAccount, member.pool_id)
    return member, member


def lot_dict(lot: Any) -> dict[str, Any]:
    return {"id": lot.id, "points": int(lot.points), "remaining": int(lot.remaining),
            "earned_on": lot.earned_on.isoformat(), "expires_on": lot.expires_on.isoformat(),
            "member_id": lot.member_id}


def entry_dict(entry: LoyEntry, balance: int | None = None) -> dict[str, Any]:
    out = {"id": entry.id, "account_id": entry.account_id, "customer_id": entry.member_id, "kind": entry.kind,
           "points": int(entry.points), "reason": entry.reason, "effective_on": entry.effective_on.isoformat(),
           "expires_on": entry.expires_on.isoformat() if entry.expires_on else None,
           "reverses_id": entry.reverses_id, "report_id": entry.report_id, "shortfall": int(entry.shortfall or 0),
           "created_at": entry.created_at.isoformat(timespec="seconds")}
    if balance is not None:
        out["balance_after"] = int(balance)
    return out


def customer_summary(customer: Customer) -> dict[str, Any]:
    """``{"customer_id", "balance", "tier", "lots", "card_no", "pooled"}`` (the API's answer)."""
    member, acct = account_of(customer)
    if acct is None:
        return {"customer_id": customer.id, "balance": 0, "tier": tier_service.base_tier_code(), "lots": [],
                "card_no": None, "pooled": False}
    lots = [lot_dict(lot) for lot in open_lots(acct.id)]
    for lot in lots:  # a pool's lots of other members: points and dates, not whose they are
        if lot["member_id"] != customer.id:
            lot["member_id"] = None
    return {"customer_id": customer.id, "balance": int(acct.balance), "tier": member.tier,
            "lots": lots, "card_no": acct.card_no,
            "pooled": acct.id != member.id, "account_id": acct.id}


def statement_query(account_id: int, member_id: int | None = None):
    stmt = select(LoyEntry).where(LoyEntry.account_id == account_id)
    if member_id is not None:  # a pool member's own view: their entries plus the pool's bookkeeping
        stmt = stmt.where(or_(LoyEntry.member_id == member_id, LoyEntry.member_id.is_(None)))
    return stmt.order_by(LoyEntry.id.desc())


def statement(account_id: int, page: int = 1, per_page: int = 20, member_id: int | None = None):
    return paginate(statement_query(account_id, member_id), page, per_page)


def tab_context(customer: Customer, page: int = 1) -> dict[str, Any]:
    member, acct = account_of(customer)
    ctx: dict[str, Any] = {"member": member, "account": acct, "as_of": date.today()}
    ctx["progress"] = tier_service.progress(customer.id, member.tier if member else None)
    if acct is None:
        return ctx
    ctx["lots"] = open_lots(acct.id)
    # On a family card, the customer's own entries only: the other members may be outside the
    # viewer's scope (docs/security.md, "Households and points"); the card page shows what is theirs.
    pooled = member is not None and acct.id != member.id
    ctx["page"] = statement(acct.id, page, member_id=customer.id if pooled else None)
    ctx["tier_history"] = tier_service.history(customer.id, limit=10)
    ctx["expired_total"] = int(db.session.execute(select(func.coalesce(func.sum(LoyEntry.points), 0)).where(
        LoyEntry.account_id == acct.id, LoyEntry.kind == "expire")).scalar_one())
    return ctx
