"""Install-time data: the default programme (``default``) and a lived-in demo (``demo``).

Both are idempotent (a reinstall after an uninstall without purge finds its rows and adds
nothing twice) and the demo is deterministic: its dates follow the demo data set's last sale day
(the core demo's sales end yesterday), no randomness. Demo texts are Korean, like the rest of
the demo data; the reward catalogue keeps both languages because it is shown in both.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from portal.toolkit import Category, Customer, Household, OrgUnit, SaleLine, User, db

from .config import DEFAULT_TIERS
from .models import LoyAccount, LoyApproval, LoyCategoryRate, LoyEntry, LoyPromotion, LoyReward, LoyTier

DEFAULT_REWARDS = [  # code, Korean, English, kind, points, KRW value
    ("DISC5000", "5,000원 할인", "KRW 5,000 off", "discount", 500, 5000),
    ("DISC10000", "10,000원 할인", "KRW 10,000 off", "discount", 950, 10000),
    ("TUMBLER", "브랜드 텀블러", "Branded tumbler", "item", 1200, 0),
    ("GIFTSET", "건강식품 선물세트", "Health food gift set", "item", 4000, 0),
]


def demo_end() -> date:
    """The demo data set's last sale day (yesterday when ``make run`` loaded it), else yesterday."""
    last = db.session.execute(select(func.max(SaleLine.sold_at))).scalar_one_or_none()
    return last if last is not None else date.today() - timedelta(days=1)


def seed(profile: str) -> None:
    _default()
    if profile == "demo":
        _demo()


def _default() -> None:
    if not db.session.execute(select(func.count(LoyTier.id))).scalar_one():
        db.session.add_all([LoyTier(code=c, name_ko=ko, name_en=en, threshold=t, multiplier_pct=m)
                            for c, ko, en, t, m in DEFAULT_TIERS])
    if not db.session.execute(select(func.count(LoyReward.id))).scalar_one():
        db.session.add_all([LoyReward(code=c, name_ko=ko, name_en=en, kind=k, points_cost=p, krw_value=v, active=True)
                            for c, ko, en, k, p, v in DEFAULT_REWARDS])
    db.session.flush()


def _demo() -> None:
    from . import tiers
    from .earning import earn_lines, earn_pending
    from .expiry import expire
    from .family import card_for_household, issue_card
    from .ledger import LedgerError, redeem

    if db.session.execute(select(LoyEntry.id).limit(1)).first():
        return  # a reinstall over kept data: the demo is there already
    cats = {c.code: c.id for c in db.session.execute(select(Category)).scalars()}
    for code, pct in (("health", 150), ("beauty", 120)):
        if code in cats and db.session.get(LoyCategoryRate, cats[code]) is None:
            db.session.add(LoyCategoryRate(category_id=cats[code], multiplier_pct=pct))
    end = demo_end()
    # Two promotions the ladder has lived through: a double-points month two months back and a
    # digital week that ended a few days before the last sale day.
    month_start = (end.replace(day=1) - timedelta(days=40)).replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    db.session.add(LoyPromotion(name="시즌 더블 포인트", starts_on=month_start, ends_on=month_end,
                                multiplier_pct=200, active=True))
    if "digital" in cats:
        db.session.add(LoyPromotion(name="디지털 위크", starts_on=end - timedelta(days=11),
                                    ends_on=end - timedelta(days=5), multiplier_pct=300,
                                    category_id=cats["digital"], active=True))
    db.session.flush()
    # Replay the demo's two years month by month: earn, upgrade at once, review at each month end —
    # so the tier ladder has a history of moves up and down.
    month = date(end.year - 2, end.month, 1) + timedelta(days=31)
    while month <= end:
        month_end = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        earn_lines("l.sold_at <= :until", {"until": month_end}, as_of=month_end)
        expire(month_end)
        tiers.review(month_end, allow_down=True, reason="period_end")
        month = month_end + timedelta(days=1)
    earn_pending(as_of=end)  # lines outside the loop (none with the standard demo)
    expire(end + timedelta(days=1))
    households = db.session.execute(select(Household).order_by(Household.id).limit(3)).scalars().all()
    for household in households:
        if card_for_household(household.id) is None:
            issue_card(household, None, on=end)
    # A few redemptions by the richest accounts, and one large adjustment waiting for approval.
    staff = db.session.execute(select(User).where(User.email == "store1@example.com")).scalar_one_or_none()
    rich = db.session.execute(select(Customer).join(LoyAccount, LoyAccount.customer_id == Customer.id)
                              .where(LoyAccount.pool_id.is_(None), LoyAccount.balance >= 1000)
                              .order_by(LoyAccount.balance.desc(), Customer.id).limit(5)).scalars().all()
    reward = db.session.execute(select(LoyReward).where(LoyReward.code == "DISC5000")).scalar_one_or_none()
    for customer in rich:
        try:
            redeem(customer, 500, "DISC5000 × 1", actor=staff, on=end, reward_id=reward.id if reward else None)
        except LedgerError:
            continue
    if rich:
        db.session.add(LoyApproval(customer_id=rich[0].id, points=8000, reason="우수 고객 감사 포인트",
                                   status="pending", requested_by_id=staff.id if staff else None))
    db.session.flush()
    # Two more from 강남점 staff through the request function itself (its limits and workflow), so
    # HQ's "My tasks" lists several approvals and store1 sees its own waiting for someone else.
    if staff is not None:
        from .redemption import request_adjustment

        b001 = select(OrgUnit.id).where(OrgUnit.code == "B001").scalar_subquery()
        b001_customers = db.session.execute(
            select(Customer).join(LoyAccount, LoyAccount.customer_id == Customer.id)
            .where(Customer.branch_id == b001, Customer.pseudonymized_at.is_(None))
            .order_by(Customer.total_spend.desc(), Customer.id).limit(2)).scalars().all()
        for customer, (points, reason) in zip(b001_customers, ((6000, "단골 고객 감사 포인트"),
                                                               (-7000, "중복 적립 정정")), strict=False):
            request_adjustment(customer, points, reason, staff)
        db.session.flush()
