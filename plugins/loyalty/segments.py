"""Segment fields (``portal_segment_fields``): points balance, points expiring soon, loyalty tier.

Each field's ``condition(op, value)`` returns a SQL condition over ``customer`` (a correlated
subquery on the loyalty tables), so a segment stays one scoped query. Numbers are never NULL
(no account = 0 points), so ``not`` stays an exact complement.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import aliased

from portal.toolkit import Customer

from .config import rules
from .models import LoyAccount, LoyLot, LoyTier

INT_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "between")


def _compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "eq":
        return col == value
    if op == "ne":
        return col != value
    if op == "lt":
        return col < value
    if op == "lte":
        return col <= value
    if op == "gt":
        return col > value
    if op == "gte":
        return col >= value
    if op == "between":
        return col.between(value[0], value[1])
    if op == "in":
        return col.in_(value)
    if op == "not_in":
        return col.not_in(value)
    raise ValueError(op)


def balance_column():
    """The points the customer can use: their pool's balance while on a family card."""
    member = aliased(LoyAccount)
    pool = aliased(LoyAccount)
    return func.coalesce(
        select(func.coalesce(pool.balance, member.balance))
        .select_from(member).outerjoin(pool, pool.id == member.pool_id)
        .where(member.customer_id == Customer.id).correlate(Customer).scalar_subquery(), 0)


def expiring_column(days: int | None = None, today: date | None = None):
    """The customer's points (own, or theirs inside a pool) expiring in the next ``days`` days."""
    today = today or date.today()
    until = today + timedelta(days=days or rules().reminder_days)
    acct = aliased(LoyAccount)
    return func.coalesce(
        select(func.sum(LoyLot.remaining)).select_from(LoyLot).join(acct, acct.id == LoyLot.account_id)
        .where(or_(LoyLot.member_id == Customer.id, and_(LoyLot.member_id.is_(None), acct.customer_id == Customer.id)),
               LoyLot.remaining > 0, LoyLot.expires_on >= today, LoyLot.expires_on <= until)
        .correlate(Customer).scalar_subquery(), 0)


def tier_column():
    from .tiers import base_tier_code

    return func.coalesce(select(LoyAccount.tier).where(LoyAccount.customer_id == Customer.id)
                         .correlate(Customer).scalar_subquery(), base_tier_code() or "")


def _tier_choices() -> list[tuple[str, str]]:
    from portal.toolkit import db

    return [(t.code, t.name_en) for t in db.session.execute(select(LoyTier).order_by(LoyTier.threshold)).scalars()]


def segment_fields() -> list[dict[str, Any]]:
    return [
        {"name": "loyalty.balance", "label": _l("Points balance"), "type": "int", "ops": INT_OPS, "order": 60,
         "min": 0, "condition": lambda op, value: _compare(balance_column(), op, value)},
        {"name": "loyalty.expiring_points", "label": _l("Points expiring soon"), "type": "int", "ops": INT_OPS,
         "order": 61, "min": 0, "hint": _l("Points that expire within the reminder horizon (30 days by default)."),
         "condition": lambda op, value: _compare(expiring_column(), op, value)},
        {"name": "loyalty.tier", "label": _l("Loyalty tier"), "type": "code", "ops": ("eq", "ne", "in", "not_in"),
         "order": 62, "choices": _tier_choices(),
         "condition": lambda op, value: _compare(tier_column(), op, value)},
    ]
