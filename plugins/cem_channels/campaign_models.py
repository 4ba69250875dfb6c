"""Campaign tables (prefix ``cem_``, migration ``cem_0004``).

A campaign turns an audience (a saved segment or rules, always within its creator's scope) into
messages on one or more steps (channel, message set, delay, condition). Its ``state`` column is the
one source of truth for the workflow ``cem_campaign`` (``draft → pending_approval → approved →
scheduled → sending ⇄ paused → done | expired | cancelled``). At launch the audience is frozen as a
core extraction, drawn into arms by a core experiment (holdout, global control), split into A/B
variants, and written to ``cem_campaign_recipient``; each step then queues one core ``message`` row
per (step, recipient) with the idempotency key ``cem:<campaign>:<step>:<customer>``.

Customers and messages are referenced by plain integers where a million rows are written at once
(recipients, events): no foreign-key checks on the hot path, and an erased or merged customer
never blocks a row here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.toolkit import db, register_scoped, utcnow

from . import voice_models  # noqa: F401  (cem_campaign_step / _variant reference cem_message_set)

BIGID = BigInteger().with_variant(Integer, "sqlite")

DRAFT, PENDING, APPROVED, SCHEDULED = "draft", "pending_approval", "approved", "scheduled"
SENDING, PAUSED, DONE, EXPIRED, CANCELLED = "sending", "paused", "done", "expired", "cancelled"
#: Every campaign state, in the order of its life.
STATES = (DRAFT, PENDING, APPROVED, SCHEDULED, SENDING, PAUSED, DONE, EXPIRED, CANCELLED)
#: States in which the content (audience, steps, variants, message sets) may be edited.
EDITABLE = (DRAFT, PENDING, APPROVED, SCHEDULED)
FINAL = (DONE, EXPIRED, CANCELLED)

PURPOSES = ("marketing", "service")
#: Channels a step may use (the core's registry names; ``kakao`` is 알림톡 for service, 친구톡 for marketing).
STEP_CHANNELS = ("email", "sms", "kakao", "push", "dm", "phone")
#: A later step goes to the recipients of the previous step for whom this holds.
CONDITIONS = ("always", "not_delivered", "not_opened", "not_clicked")
VARIANT_CODES = ("A", "B", "C", "D", "E")
WINNER_METRICS = ("conversion", "click", "open")
#: What the rest of the audience gets when the A/B test shows no significant winner.
WINNER_FALLBACKS = ("default", "manual")
ARMS = ("treatment", "holdout", "control")
CALL_OUTCOMES = ("reached", "no_answer", "wrong_number", "declined", "callback")
EVENT_KINDS = ("open", "click", "delivered", "undelivered")  # delivered/undelivered: provider reports


class CemCampaign(db.Model):
    """One campaign. Placed like a core target list: ``branch_id`` / ``partner_id`` of its
    creator's grants (None for HQ), scoped in SQL through ``register_scoped``."""

    __tablename__ = "cem_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(12), default="marketing")
    state: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="SET NULL"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    #: Where a campaign came from when another add-on created it (``prm_groups:programme:12``).
    origin: Mapped[str | None] = mapped_column(String(120))
    # audience: a saved segment, or rules of the core segment language
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id", ondelete="SET NULL"))
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # schedule (UTC, naive like the rest of the portal)
    start_at: Mapped[datetime | None]
    max_lateness_minutes: Mapped[int] = mapped_column(default=120)
    # measurement
    holdout_share: Mapped[float] = mapped_column(Float, default=0.0)
    use_global_control: Mapped[bool] = mapped_column(Boolean, default=True)
    attribution_days: Mapped[int] = mapped_column(default=14)
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    # A/B test (no variants rows: no test)
    ab_test_share: Mapped[float | None] = mapped_column(Float)
    ab_winner_metric: Mapped[str | None] = mapped_column(String(20))
    ab_wait_hours: Mapped[int] = mapped_column(default=48)
    ab_fallback: Mapped[str] = mapped_column(String(10), default="default")
    ab_winner: Mapped[str | None] = mapped_column(String(1))
    ab_decided_at: Mapped[datetime | None]
    ab_decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # frequency caps across channels (None: the add-on's settings apply)
    cap_per_day: Mapped[int | None]
    cap_per_7_days: Mapped[int | None]
    dedupe_by_address: Mapped[bool] = mapped_column(Boolean, default=True)
    # life
    extraction_id: Mapped[int | None] = mapped_column(ForeignKey("extraction.id", ondelete="SET NULL"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frozen_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    steps: Mapped[list[CemCampaignStep]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CemCampaignStep.position")
    variants: Mapped[list[CemCampaignVariant]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CemCampaignVariant.code")

    @property
    def source_object(self) -> str:
        """The core messages' ``source_object`` (source ``cem_channels``) and the experiment's ref."""
        return f"campaign:{self.id}"


register_scoped(CemCampaign, branch_attr="branch_id", partner_attr="partner_id")


class CemCampaignStep(db.Model):
    """Step ``position`` (1, 2, …): its channel and message set, sent ``delay_hours`` after the
    previous step to the previous step's recipients for whom ``condition`` holds."""

    __tablename__ = "cem_campaign_step"
    __table_args__ = (UniqueConstraint("campaign_id", "position", name="uq_cem_campaign_step_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("cem_campaign.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=1)
    channel: Mapped[str] = mapped_column(String(20))
    message_set_id: Mapped[int | None] = mapped_column(ForeignKey("cem_message_set.id", ondelete="RESTRICT"))
    delay_hours: Mapped[int] = mapped_column(default=0)
    condition: Mapped[str] = mapped_column(String(20), default="always")
    fallback_channel: Mapped[str | None] = mapped_column(String(20))
    #: 알림톡 template code for a service step on ``kakao``.
    kakao_template: Mapped[str | None] = mapped_column(String(60))
    queued_at: Mapped[datetime | None]
    queued_count: Mapped[int] = mapped_column(default=0)

    campaign: Mapped[CemCampaign] = relationship(back_populates="steps")


class CemCampaignVariant(db.Model):
    """An A/B variant: its own message set for the first step (2–5 variants, one the default)."""

    __tablename__ = "cem_campaign_variant"
    __table_args__ = (UniqueConstraint("campaign_id", "code", name="uq_cem_campaign_variant_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("cem_campaign.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(1))
    message_set_id: Mapped[int | None] = mapped_column(ForeignKey("cem_message_set.id", ondelete="RESTRICT"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    campaign: Mapped[CemCampaign] = relationship(back_populates="variants")


class CemCampaignRecipient(db.Model):
    """The frozen audience: every eligible customer with their arm and, for treatment in an A/B
    campaign, their variant (None: the rest, waiting for the winner)."""

    __tablename__ = "cem_campaign_recipient"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("cem_campaign.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=False)
    arm: Mapped[str] = mapped_column(String(10))
    variant: Mapped[str | None] = mapped_column(String(1))


Index("ix_cem_campaign_recipient_customer", CemCampaignRecipient.customer_id)


class CemMessageEvent(db.Model):
    """The first open and the first click of one campaign e-mail (a tracking pixel and a signed
    redirect), and the provider's delivery report of an SMS/KakaoTalk/push message: at most one
    row per message and kind."""

    __tablename__ = "cem_message_event"
    __table_args__ = (UniqueConstraint("message_id", "kind", name="uq_cem_message_event_kind"),
                      Index("ix_cem_message_event_campaign", "campaign_id", "kind"))

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    message_id: Mapped[int] = mapped_column(BIGID)
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(BIGID)
    kind: Mapped[str] = mapped_column(String(12))
    url: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CemCallOutcome(db.Model):
    """What branch staff recorded for one call of a ``phone`` step."""

    __tablename__ = "cem_call_outcome"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    message_id: Mapped[int] = mapped_column(BIGID, unique=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    customer_id: Mapped[int | None] = mapped_column(BIGID)
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CemCampaignResult(db.Model):
    """The campaign's results frozen when it closed: never recomputed afterwards."""

    __tablename__ = "cem_campaign_result"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("cem_campaign.id", ondelete="CASCADE"), primary_key=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
