"""Customers with consent history, data-quality issues, complaint flag and household."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..contact.registry import RegistryCodes
from ..extensions import db
from .base import byte_ordered, utcnow

# The channel registry's codes (``portal.contact.registry``), read when used: core channels plus the
# active add-ons' ones. Kept under the old name so ``channel in CHANNELS`` validates against it.
CHANNELS = RegistryCodes(consent=True)
PURPOSES = ("marketing", "service", "night_ads")
#: How consent was given; ``message`` is for notices the portal itself sent (re-confirmation, result).
CONSENT_METHODS = ("store", "paper", "web", "phone", "import", "api", "message")
#: ``consent`` grants or withdraws; the notice kinds record a legal notice sent (they never change the
#: state, and a ``reconfirmation_notice`` restarts the 2-year validity: see docs/platform/contact.md).
#: ``optin_notice`` (migration 0017): the 14-day result notice after a grant; it keeps the consent's
#: instant, so it never moves the 2-year mark.
CONSENT_KINDS = ("consent", "reconfirmation_notice", "optout_notice", "optin_notice")
QUALITY_FIELDS = ("phone", "email", "address", "postal_code", "name", "birth_date")


class Household(db.Model):
    """A family sharing one card (loyalty pools their points)."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[Customer]] = relationship(back_populates="household")


class Customer(db.Model):
    __tablename__ = "customer"
    # Room on each page for a row's next version (migration 0007): updates that leave the indexed
    # columns alone (the loyalty tier mirror, flags, notes) stay heap-only, no index entry each.
    __table_args__ = {"postgresql_with": {"fillfactor": 70}}

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(byte_ordered(30), unique=True)
    name: Mapped[str] = mapped_column(byte_ordered(120))  # indexed by ix_customer_name_id below
    phone: Mapped[str | None] = mapped_column(byte_ordered(20), index=True)
    email: Mapped[str | None] = mapped_column(byte_ordered(254), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    birth_date: Mapped[date | None]
    gender: Mapped[str | None] = mapped_column(String(1))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    tier: Mapped[str | None] = mapped_column(String(20))
    complaint: Mapped[bool] = mapped_column(default=False)
    complaint_note: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    pseudonymized_at: Mapped[datetime | None]
    # Kept by every import and merge (set-based), so "sorted by value" needs no aggregate.
    total_spend: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_purchase_on: Mapped[date | None]

    branch = relationship("OrgUnit")
    partner = relationship("Partner")
    household: Mapped[Household | None] = relationship(back_populates="members")
    consents: Mapped[list[Consent]] = relationship(
        back_populates="customer", order_by="Consent.recorded_at.desc(), Consent.id.desc()"
    )
    quality_issues: Mapped[list[QualityIssue]] = relationship(
        back_populates="customer", order_by="QualityIssue.created_at.desc()"
    )

    @property
    def open_quality_issues(self) -> list[QualityIssue]:
        return [q for q in self.quality_issues if q.resolved_at is None]

    def __repr__(self) -> str:
        return f"<Customer {self.code}>"


Index("ix_customer_branch_name", Customer.branch_id, Customer.name)
Index("ix_customer_partner_name", Customer.partner_id, Customer.name)
# List order (name, id) with the scope columns: a page's ids come from an index-only scan, and
# name-prefix search uses it too (migration 0002).
Index("ix_customer_name_id", Customer.name, Customer.id, postgresql_include=["branch_id", "partner_id"])


class CustomerNameSuffix(db.Model):
    """Every suffix of a customer's case-folded name, for "any part of the name" search.

    Any substring of a name is a prefix of one of its suffixes, so ``suffix >= q AND suffix < q ||
    U+10FFFF`` finds it by an index range scan, however short ``q`` is (trigram indexes need three
    characters; Korean given names have two). Written only by database triggers (migration 0008):
    every path that inserts, renames, merges away or pseudonymizes a customer keeps it in step,
    ORM or bulk SQL alike. See ``portal.customers.name_search``.
    """

    __tablename__ = "customer_name_suffix"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    suffix: Mapped[str] = mapped_column(byte_ordered(120), primary_key=True)


Index("ix_customer_name_suffix_suffix", CustomerNameSuffix.suffix, CustomerNameSuffix.customer_id)


class CustomerAlias(db.Model):
    """The code of a customer merged into another: imports quoting it land on the survivor."""

    __tablename__ = "customer_alias"

    code: Mapped[str] = mapped_column(byte_ordered(30), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class Consent(db.Model):
    """One consent event; the newest per (customer, channel, purpose) is the current state.

    Append-only: a change is a new row, so the history of who/when/how stays intact.
    """

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(20))
    granted: Mapped[bool]
    method: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(String(255))
    # Migration 0011: what the row records (CONSENT_KINDS) and where it came from ("staff", "api",
    # "import", "unsubscribe_link", an add-on's name …); NULL for rows written before 0011.
    kind: Mapped[str] = mapped_column(String(24), default="consent", server_default="consent")
    source: Mapped[str | None] = mapped_column(String(40))

    customer: Mapped[Customer] = relationship(back_populates="consents")
    recorded_by = relationship("User")


Index("ix_consent_current", Consent.customer_id, Consent.channel, Consent.purpose, Consent.recorded_at)
# The legal-notice jobs' due bands (a range of recorded_at within one purpose), read index-only on
# PostgreSQL instead of scanning the consent table (migration 0017).
Index("ix_consent_purpose_recorded", Consent.purpose, Consent.recorded_at,
      postgresql_include=["customer_id", "channel", "granted", "kind", "id"])


class QualityIssue(db.Model):
    """A data-quality flag on one field of a customer, with the reason; open until resolved."""

    __tablename__ = "quality_issue"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    customer: Mapped[Customer] = relationship(back_populates="quality_issues")


Index("ix_quality_issue_open", QualityIssue.field, QualityIssue.resolved_at, QualityIssue.customer_id)
# The data-to-fix queue (total_spend DESC, id DESC: a backward walk) and duplicate candidates by
# name + birth date (an index-only GROUP BY) at a million customers (migration 0004).
Index("ix_customer_value", Customer.total_spend, Customer.id)
Index("ix_customer_name_birth", Customer.name, Customer.birth_date)
