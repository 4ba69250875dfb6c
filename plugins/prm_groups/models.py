"""Programme tables (prefix ``prm_``, migration ``prm_0001``).

A programme is HQ's support for one partner group in one category: steps (leader-voiced messages
sent as ``cem_channels`` campaigns, a seminar series), a measurement plan frozen at approval and
its results. Its ``state`` column is the one source of truth for the workflow ``prm_programme``
(``draft → leader_review → approved → running → measuring → closed``, plus ``rejected`` and
``cancelled``). It is placed in the partner tree through ``partner_id`` = the group's top partner,
so the core's scope filter shows it to HQ and to the group's leaders, never to another group.

The holdout lives in the core experiment tables (``experiment_id``), drawn once at start.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.toolkit import db, register_scoped, utcnow

DRAFT, REVIEW, APPROVED, RUNNING = "draft", "leader_review", "approved", "running"
MEASURING, CLOSED, REJECTED, CANCELLED = "measuring", "closed", "rejected", "cancelled"
#: Every programme state, in the order of its life.
STATES = (DRAFT, REVIEW, APPROVED, RUNNING, MEASURING, CLOSED, REJECTED, CANCELLED)
#: States in which the plan and the content may still be edited (an edit in ``approved`` goes back
#: to ``leader_review``).
EDITABLE = (DRAFT, REVIEW, APPROVED, REJECTED)
FINAL = (CLOSED, CANCELLED)

METRICS = ("category_purchase_rate", "category_spend", "category_buyers")
DESIGNS = ("holdout", "did_vs_groups")
STEP_KINDS = ("message", "seminar_series")
#: Channels a message step may use (``cem_channels`` step channels with leader-voiced text).
MESSAGE_CHANNELS = ("email", "dm", "sms", "kakao", "push")
MAX_HOLDOUT_SHARE = 0.5
DEFAULT_MEASURE_EXTRA_DAYS = 30


class PrmProgramme(db.Model):
    __tablename__ = "prm_programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    partner_group_id: Mapped[int] = mapped_column(ForeignKey("partner_group.id"), index=True)
    #: The group's top partner (root of its sponsor line): places the programme for the scope filter.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    objective_metric: Mapped[str] = mapped_column(String(30), default="category_purchase_rate")
    baseline_start: Mapped[date]
    baseline_end: Mapped[date]
    run_start: Mapped[date]
    run_end: Mapped[date]
    measure_start: Mapped[date]
    measure_end: Mapped[date]
    #: Subset of DESIGNS, e.g. ["holdout", "did_vs_groups"].
    design: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["holdout", "did_vs_groups"])
    holdout_share: Mapped[float] = mapped_column(Float, default=0.1)
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    budget: Mapped[int | None] = mapped_column(BigInteger)
    #: The effect the programme is meant to show (absolute, 0.03 = +3 pp): the power check's target.
    target_mde: Mapped[float] = mapped_column(Float, default=0.03)
    objective: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    #: The pre-registered measurement plan, frozen (JSON) when the leader approves.
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    experiment_id: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    group = relationship("PartnerGroup")
    category = relationship("Category")
    steps: Mapped[list[PrmStep]] = relationship(back_populates="programme", order_by="PrmStep.position",
                                                cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<PrmProgramme {self.id} {self.state}>"


register_scoped(PrmProgramme, partner_attr="partner_id")


class PrmStep(db.Model):
    """An ordered step: ``message`` (leader-voiced text on ``channels``, sent as one cem campaign)
    or ``seminar_series`` (sessions in ``prm_session``). ``rules``: core segment rules narrowing the
    group's eligible customers; they may use the add-on's segment fields (opened/clicked step 1,
    attended ≥ 1 session)."""

    __tablename__ = "prm_step"
    __table_args__ = (UniqueConstraint("programme_id", "position", name="uq_prm_step_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prm_programme.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200), default="")
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Days after the run start when the step goes out / invitations are sent.
    offset_days: Mapped[int] = mapped_column(Integer, default=0)
    #: Seminar series: sessions a customer must attend to complete the series (k of n).
    completion_min: Mapped[int | None] = mapped_column(Integer)
    #: The cem campaign sending this message step (created at start through ``cem_create_campaign``).
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    programme: Mapped[PrmProgramme] = relationship(back_populates="steps")


class PrmContentRevision(db.Model):
    """An immutable revision of a message step's leader-voiced text (every channel at once).
    ``sha256`` is the hash of the template text and its variable list; the leader approves exactly
    this revision. Edits add a revision; nothing is updated but the approval columns, once."""

    __tablename__ = "prm_content_revision"
    __table_args__ = (UniqueConstraint("step_id", "number", name="uq_prm_content_revision_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prm_programme.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("prm_step.id", ondelete="CASCADE"), index=True)
    #: 1, 2, 3 … per step.
    number: Mapped[int] = mapped_column(Integer)
    #: ``{"email": {"subject", "body", "html"}, "dm": {"body"}, …}``
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The signatory (the top leader's name as printed), never a sender address.
    signer: Mapped[str] = mapped_column(String(120), default="")
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    approval_note: Mapped[str | None] = mapped_column(String(500))


class PrmResult(db.Model):
    """A frozen measurement snapshot (``interim`` while running/measuring, ``final`` at close):
    n, events, estimates and intervals as JSON. Later merges or erasures never rewrite it."""

    __tablename__ = "prm_result"
    __table_args__ = (Index("ix_prm_result_programme", "programme_id", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prm_programme.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # interim | final
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    frozen: Mapped[bool] = mapped_column(Boolean, default=True)
