"""Customer analytics: stored scores (RFM, lifetime value), saved segments and extractions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..contact.registry import RegistryCodes
from ..extensions import db
from .base import utcnow
from .customer import Consent

# The channel registry's codes that target lists can be made for (``portal.contact.registry``).
EXTRACTION_CHANNELS = RegistryCodes(extraction=True)


class CustomerScore(db.Model):
    """One row per customer, rewritten by ``portal analytics refresh`` (set-based, as of a date).

    Kept out of ``customer`` so a refresh of a million rows is a bulk replace of a narrow table,
    not an update of the customer records (their audit trail and ``updated_at`` stay meaningful).
    """

    __tablename__ = "customer_score"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date]
    recency_days: Mapped[int | None]  # days from the last purchase to as_of; None: never bought
    frequency: Mapped[int] = mapped_column(default=0)  # distinct purchase days up to as_of
    monetary: Mapped[int] = mapped_column(default=0)  # KRW spent up to as_of
    r_score: Mapped[int | None]  # 1..5 (5 = most recent); None when never bought
    f_score: Mapped[int | None]
    m_score: Mapped[int | None]
    rfm_segment: Mapped[str | None] = mapped_column(String(30))  # champions, loyal, at_risk ...
    p_alive: Mapped[float | None]  # BG/NBD probability that the customer is still active
    expected_purchases: Mapped[float | None]  # BG/NBD, over the run's horizon_weeks
    expected_value: Mapped[float | None]  # KRW over the horizon: expected purchases × Gamma-Gamma spend
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_customer_score_segment", CustomerScore.rfm_segment)
Index("ix_customer_score_value", CustomerScore.expected_value)
Index("ix_customer_score_alive", CustomerScore.p_alive)


class AnalyticsRun(db.Model):
    """One ``analytics refresh``: when, as of which day, the fitted parameters and the outcome."""

    __tablename__ = "analytics_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date]
    horizon_weeks: Mapped[int] = mapped_column(default=26)
    status: Mapped[str] = mapped_column(String(10), default="running")  # running | done | failed
    customers: Mapped[int] = mapped_column(default=0)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"bgnbd": {...}, "gamma_gamma": {...}}
    message: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class Segment(db.Model):
    """A saved rule set; evaluated always within the viewer's scope, never stored as a list."""

    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(500))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


EXTRACTION_STATUSES = ("draft", "used", "cancelled")


class Extraction(db.Model):
    """A frozen target list for one channel: who was included, and how many were excluded why.

    ``draft`` → ``used`` (``used_at``: the contact moment, which starts the cool-down) → or
    ``cancelled``; ``branch_id`` / ``partner_id`` place it in the org / partner trees, so lists are
    scoped like customers (migration 0009, ``portal.analytics.extraction``).
    """

    __tablename__ = "extraction"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(10))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id", ondelete="SET NULL"))
    included: Mapped[int] = mapped_column(default=0)
    excluded: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # reason → count
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(10), default="draft", server_default="draft")
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)


class ExtractionMember(db.Model):
    """A customer on an extraction; also the contact history behind ``recently_contacted``."""

    __tablename__ = "extraction_member"

    extraction_id: Mapped[int] = mapped_column(ForeignKey("extraction.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)


Index("ix_extraction_member_customer", ExtractionMember.customer_id, ExtractionMember.extraction_id)
# Contact history for ``recently_contacted``: the used lists of a channel by when they were used.
Index("ix_extraction_channel_used_at", Extraction.channel, Extraction.used_at)
# Suppression reads every customer's current consent on one channel: this index hands the channel's
# records over in (customer, newest first) order without touching the table (``granted`` is
# included), so PostgreSQL takes the newest per customer with DISTINCT ON and no sort (migration 0005).
Index("ix_consent_channel_latest", Consent.channel, Consent.purpose, Consent.customer_id, Consent.recorded_at,
      Consent.id, postgresql_include=["granted"])
