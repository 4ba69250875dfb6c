"""Loyalty tables (prefix ``loy_``).

The ledger is ``loy_entry`` (append-only: database triggers refuse UPDATE and DELETE) with
``loy_allocation`` (append-only too: which lots a debit consumed, or a reversal restored).
Everything else is either configuration or a cache that ``portal loyalty check`` verifies
against the ledger: ``loy_account.balance`` (= sum of the account's entries) and
``loy_lot.remaining`` (= the lot's points minus its allocations).

Ledger rows carry plain integer references to customers, reports and users (no foreign keys):
a merge or a deleted report must never need to touch an append-only row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.toolkit import db, utcnow

BIGID = BigInteger().with_variant(Integer, "sqlite")  # autoincrementing 64-bit ids on both databases

ENTRY_KINDS = ("earn", "redeem", "expire", "adjust", "reverse", "transfer")
ACCOUNT_KINDS = ("member", "family")
APPROVAL_STATES = ("pending", "approved", "rejected")
REWARD_KINDS = ("item", "discount")


class LoyAccount(db.Model):
    """A points account: one per customer (``member``) and one per family card (``family``).

    A member whose ``pool_id`` names a family account earns into and redeems from the pool; the
    member account keeps the person's tier.
    """

    __tablename__ = "loy_account"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("kind IN ('member', 'family')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="member")
    customer_id: Mapped[int | None] = mapped_column(unique=True)
    household_id: Mapped[int | None]
    pool_id: Mapped[int | None]
    card_no: Mapped[str | None] = mapped_column(String(20))
    balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tier: Mapped[str | None] = mapped_column(String(20))
    tier_since: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default="active", server_default="active")
    merged_into_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Plain references (no foreign keys): PostgreSQL checks each with a trigger and a row lock, a
    # third of the cost of opening a million accounts in one import. A merged customer's account
    # is closed by the merge hook; ``ledger.check`` reports any reference that does not resolve.
    customer = relationship("Customer", primaryjoin="foreign(LoyAccount.customer_id) == Customer.id")
    household = relationship("Household", primaryjoin="foreign(LoyAccount.household_id) == Household.id")


# Family columns are NULL on nearly every row: partial indexes cost the bulk paths nothing.
Index("uq_loy_account_household", LoyAccount.household_id, unique=True,
      postgresql_where=text("household_id IS NOT NULL"), sqlite_where=text("household_id IS NOT NULL"))
Index("uq_loy_account_card_no", LoyAccount.card_no, unique=True,
      postgresql_where=text("card_no IS NOT NULL"), sqlite_where=text("card_no IS NOT NULL"))
Index("ix_loy_account_pool", LoyAccount.pool_id,
      postgresql_where=text("pool_id IS NOT NULL"), sqlite_where=text("pool_id IS NOT NULL"))


class LoyBatch(db.Model):
    """One set-based run (an import's earning, an expiry run, a tier review), for the record."""

    __tablename__ = "loy_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    report_id: Mapped[int | None]
    as_of: Mapped[date | None]
    lines: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    actor_label: Mapped[str] = mapped_column(String(254), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500))
    # The id range of the entries it wrote: a replaced report's earn entries are found through its
    # batch (a primary-key range) instead of an index on every entry's report id.
    first_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    last_entry_id: Mapped[int | None] = mapped_column(BigInteger)


Index("ix_loy_batch_report", LoyBatch.report_id, postgresql_where=text("report_id IS NOT NULL"),
      sqlite_where=text("report_id IS NOT NULL"))


class LoyEntry(db.Model):
    """One ledger entry in integer points: positive credits, negative debits. Never changed.

    No foreign keys on the ledger's own references (account, batch, reversed entry; lots and
    allocations likewise): PostgreSQL checks a foreign key with a row lock per inserted row, which
    would dominate the set-based paths (millions of rows per batch). ``ledger.check`` verifies
    that every reference resolves.
    """

    __tablename__ = "loy_entry"
    __table_args__ = (
        CheckConstraint("kind IN ('earn', 'redeem', 'expire', 'adjust', 'reverse', 'transfer')", name="kind"),
        CheckConstraint("kind <> 'earn' OR points > 0", name="earn_positive"),
        CheckConstraint("kind NOT IN ('redeem', 'expire') OR points < 0", name="debit_negative"),
        CheckConstraint("points <> 0 OR kind = 'reverse'", name="not_zero"),
    )

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    account_id: Mapped[int]
    member_id: Mapped[int | None]  # the customer the points belong to (inside a family pool too)
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[int] = mapped_column(BigInteger)
    effective_on: Mapped[date]
    expires_on: Mapped[date | None]  # credits that open a lot
    report_id: Mapped[int | None]  # earn: the sales report whose lines earned it
    batch_id: Mapped[int | None]
    reverses_id: Mapped[int | None] = mapped_column(BigInteger)
    peer_id: Mapped[int | None] = mapped_column(BigInteger)  # transfer: the other side's entry
    reward_id: Mapped[int | None]
    approval_id: Mapped[int | None]
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reason: Mapped[str | None] = mapped_column(String(200))
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(254), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_loy_entry_account", LoyEntry.account_id, LoyEntry.id)
Index("ix_loy_entry_member", LoyEntry.member_id, LoyEntry.effective_on)
# An entry is reversed at most once.
Index("uq_loy_entry_reverses", LoyEntry.reverses_id, unique=True, postgresql_where=text("reverses_id IS NOT NULL"),
      sqlite_where=text("reverses_id IS NOT NULL"))


class LoyLot(db.Model):
    """Points credited together with one expiry date; consumed first-to-expire-first."""

    __tablename__ = "loy_lot"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
    )

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    account_id: Mapped[int]
    entry_id: Mapped[int] = mapped_column(BigInteger)  # the credit that opened it
    member_id: Mapped[int | None]
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_on: Mapped[date]
    expires_on: Mapped[date]


Index("ix_loy_lot_open", LoyLot.account_id, LoyLot.expires_on, LoyLot.id,
      postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0"))
Index("ix_loy_lot_expiring", LoyLot.expires_on, postgresql_where=text("remaining > 0"),
      sqlite_where=text("remaining > 0"))


class LoyAllocation(db.Model):
    """Points an entry took from a lot (positive) or gave back to it (negative, a reversal)."""

    __tablename__ = "loy_allocation"
    __table_args__ = (CheckConstraint("points <> 0", name="not_zero"),)

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    lot_id: Mapped[int] = mapped_column(BigInteger, index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class LoyEarnLine(db.Model):
    """Exactly once per sale line: the primary key is the line's id with its report's id (0 for a
    line without a report). The report belongs to the key because SQLite reuses the rowids of
    deleted rows — a replaced report's lines are deleted and the replacement's lines may get the
    same ids — while report ids are never reused. Kept after the lines are gone: the record of
    what each line earned. Its entry is the earn entry of the same report, customer and day."""

    __tablename__ = "loy_earn_line"

    sale_line_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    report_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=0)
    points: Mapped[int] = mapped_column(BigInteger)


class LoyRequest(db.Model):
    """An idempotency key: the first request's hash and answer, unique per customer and key."""

    __tablename__ = "loy_request"
    __table_args__ = (UniqueConstraint("customer_id", "key", name="uq_loy_request_customer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(10))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(default=201)
    response: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoyTier(db.Model):
    """A tier: reached when the points *earned* in the rolling window reach ``threshold``."""

    __tablename__ = "loy_tier"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_ko: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[int] = mapped_column(BigInteger, unique=True)
    multiplier_pct: Mapped[int] = mapped_column(default=100)


class LoyTierChange(db.Model):
    """Tier history: every move up or down, with why."""

    __tablename__ = "loy_tier_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(index=True)
    from_tier: Mapped[str | None] = mapped_column(String(20))
    to_tier: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(4))  # up / down
    reason: Mapped[str] = mapped_column(String(20))  # earn / period_end / manual
    changed_on: Mapped[date] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoyCategoryRate(db.Model):
    __tablename__ = "loy_category_rate"

    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    multiplier_pct: Mapped[int] = mapped_column(default=100)

    category = relationship("Category")


class LoyPromotion(db.Model):
    """A time-boxed multiplier, for every purchase or one category."""

    __tablename__ = "loy_promotion"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    multiplier_pct: Mapped[int] = mapped_column(default=200)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    category = relationship("Category")


class LoyReward(db.Model):
    """The rewards catalogue: an item or a KRW discount for a number of points."""

    __tablename__ = "loy_reward"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name_ko: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10), default="item")
    points_cost: Mapped[int] = mapped_column(BigInteger)
    krw_value: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LoyApproval(db.Model):
    """A manual credit or debit above the approval limit (an adjustment, or an API earn), waiting
    for a second staff member."""

    __tablename__ = "loy_approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    # "adjust" (the adjustment form) or "earn" (the API): what approving it writes
    operation: Mapped[str] = mapped_column(String(10), default="adjust", server_default="adjust")
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(200))
    entry_id: Mapped[int | None] = mapped_column(BigInteger)

    customer = relationship("Customer")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
