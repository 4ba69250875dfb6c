"""A duplicate customer merged into another: their points follow them (transfers, not edits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from portal.toolkit import db

from .ledger import lock_accounts, member_account, target_account, transfer
from .models import LoyAccount, LoyApproval, LoyTierChange


def merge_accounts(survivor: Any, merged_id: int) -> None:
    """Move the duplicate's valid points to the survivor (into their pool if they have one),
    keep the duplicate's account as a closed record, and re-point its history rows."""
    dup = member_account(merged_id, create=False)
    if dup is not None:
        keep = member_account(survivor.id)
        dest = target_account(keep)
        if dup.pool_id:  # what the duplicate holds in a family pool comes out with them
            pool = db.session.get(LoyAccount, dup.pool_id)
            transfer(pool, dest, 0, "customer merged", from_member=merged_id, to_member=survivor.id,
                     all_of_member=True)
            dup.pool_id = None
        transfer(dup, dest, 0, "customer merged", from_member=None, to_member=survivor.id, all_of_member=True)
        lock_accounts([dup.id])
        dup.status, dup.merged_into_id, dup.customer_id = "merged", keep.id, None
    db.session.execute(update(LoyTierChange).where(LoyTierChange.customer_id == merged_id)
                       .values(customer_id=survivor.id))
    db.session.execute(update(LoyApproval).where(LoyApproval.customer_id == merged_id)
                       .values(customer_id=survivor.id))
