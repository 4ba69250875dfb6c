"""Expiry: lots past their date give up what remains — set-based and idempotent.

``expire(as_of)`` expires every lot whose ``expires_on`` is before ``as_of`` and that still
holds points: one ``expire`` entry per account, member and expiry date, its allocations, the
lots emptied and the balances lowered, in four statements. A second run finds no such lot and
writes nothing (not even a batch record).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, text, true

from portal.toolkit import Customer, db, scope_filter, utcnow

from .config import rules
from .ledger import SYSTEM, Actor, is_postgres
from .models import LoyAccount, LoyBatch, LoyEntry, LoyLot

DUE = "l.expires_on < :as_of AND l.remaining > 0"


def expire(as_of: date, actor: Any = None) -> LoyBatch | None:
    """Expire what is due before ``as_of``. Returns the batch, or None when nothing was due."""
    actor = Actor.of(actor) if actor is not None else SYSTEM
    p: dict[str, Any] = {"as_of": as_of, "now": utcnow(), "actor": actor.label}
    if is_postgres():  # lock the accounts concerned (a redemption may hold one of them)
        from .earning import lock_accounts_of

        db.session.execute(text("SET LOCAL work_mem = '256MB'"))
        lock_accounts_of("loy_lot l", f"WHERE {DUE}", p)
    lots, points = db.session.execute(text(f"SELECT COUNT(*), COALESCE(SUM(l.remaining), 0) FROM loy_lot l WHERE {DUE}"),  # noqa: S608
                                      p).one()
    if not lots:
        return None
    batch = LoyBatch(kind="expire", as_of=as_of, lines=int(lots), points=int(points), actor_label=actor.label,
                     created_at=p["now"])
    db.session.add(batch)
    db.session.flush()
    p.update(batch=batch.id, floor=db.session.execute(select(func.coalesce(func.max(LoyEntry.id), 0))).scalar_one())
    db.session.execute(text(f"""
        INSERT INTO loy_entry (account_id, member_id, kind, points, effective_on, expires_on, batch_id, shortfall,
                               reason, actor_label, created_at)
        SELECT l.account_id, l.member_id, 'expire', -SUM(l.remaining), :as_of, l.expires_on, :batch, 0,
               'expired', :actor, :now
        FROM loy_lot l WHERE {DUE} GROUP BY l.account_id, l.member_id, l.expires_on"""), p)  # noqa: S608
    db.session.execute(text(f"""
        INSERT INTO loy_allocation (entry_id, lot_id, points)
        SELECT e.id, l.id, l.remaining FROM loy_lot l
        JOIN loy_entry e ON e.id > :floor AND e.batch_id = :batch AND e.account_id = l.account_id
             AND COALESCE(e.member_id, 0) = COALESCE(l.member_id, 0) AND e.expires_on = l.expires_on
        WHERE {DUE}"""), p)  # noqa: S608
    db.session.execute(text(f"""
        UPDATE loy_account SET balance = loy_account.balance - s.p, updated_at = :now
        FROM (SELECT l.account_id, SUM(l.remaining) AS p FROM loy_lot l WHERE {DUE} GROUP BY l.account_id) s
        WHERE loy_account.id = s.account_id"""), p)  # noqa: S608
    db.session.execute(text("UPDATE loy_lot SET remaining = 0 WHERE expires_on < :as_of AND remaining > 0"), p)
    batch.entries = int(db.session.execute(text(
        "SELECT COUNT(*) FROM loy_entry WHERE id > :floor AND batch_id = :batch"), p).scalar_one())
    return batch


def expiring_query(user: Any, as_of: date | None = None, days: int | None = None, export: bool = False):
    """Customers in scope with points expiring in (as_of, as_of + days]: customer, points, first
    date. Family pools count for the member whose points they are. ``export``: only customers the
    user may also export (``customer.export``), for a download."""
    as_of = as_of or date.today()
    days = days or rules().reminder_days
    until = as_of + timedelta(days=days)
    member = func.coalesce(LoyLot.member_id, LoyAccount.customer_id)
    return (select(Customer.id, Customer.code, Customer.name, func.sum(LoyLot.remaining).label("points"),
                   func.min(LoyLot.expires_on).label("first_expiry"))
            .select_from(LoyLot)
            .join(LoyAccount, LoyAccount.id == LoyLot.account_id)
            .join(Customer, Customer.id == member)
            .where(LoyLot.remaining > 0, LoyLot.expires_on >= as_of, LoyLot.expires_on <= until,
                   scope_filter(user, "loyalty.view", Customer),
                   scope_filter(user, "customer.export", Customer) if export else true())
            .group_by(Customer.id, Customer.code, Customer.name)
            .order_by(func.min(LoyLot.expires_on), Customer.id)), until

