"""Tables of the experiments service (migrations/versions/0015_experiments.py holds their migration).

- ``experiment``: one measured thing of an add-on (a campaign, a programme), named by
  ``(owner_plugin, owner_ref)``; seed, holdout share, strata and the arm counts of its one draw.
- ``experiment_assignment``: the draw, one row per customer (``treatment``, ``holdout`` or
  ``control`` — a member of the company-wide control group). ``customer_id`` is deliberately not a
  foreign key: when a customer is merged away, their row stays, marked ``merged``, so the result
  can say how many records it excluded.
- ``experiment_source``: which messages belong to an experiment — ``(source, source_object)`` as
  the outbox's message rows carry them; the ``experiment.holdout`` send-time policy reads it.
- ``global_control``: the stable company-wide control group (Braze-style), grown by
  :func:`portal.experiments.assignment.ensure_global_control`, never shrunk.
- ``experiment_result``: frozen result snapshots (read-only JSON), one per metric, window and category.

It also adds ``ix_sale_line_customer_cover`` on ``sale_line`` (customer, day, category, amount): the
outcome aggregate reads a window's lines in customer order from the index alone (no table access),
which is what makes a million-customer lift take seconds (see ``results._streaming``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import utcnow
from ..models.sales import SaleLine

ARMS = ("treatment", "holdout", "control")
STATUSES = ("created", "drawn", "frozen")


class Experiment(db.Model):
    __tablename__ = "experiment"
    __table_args__ = (UniqueConstraint("owner_plugin", "owner_ref", name="uq_experiment_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_plugin: Mapped[str] = mapped_column(String(60))
    owner_ref: Mapped[str] = mapped_column(String(120))
    seed: Mapped[int] = mapped_column(BigInteger)
    holdout_share: Mapped[float] = mapped_column(Float)
    strata: Mapped[list[str]] = mapped_column(JSON, default=list)
    use_global_control: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_at: Mapped[datetime | None]
    frozen_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12), default="created")
    #: Arm → count as drawn (a second ``draw`` returns these unchanged).
    drawn_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<Experiment {self.id} {self.owner_plugin}:{self.owner_ref}>"


class ExperimentAssignment(db.Model):
    __tablename__ = "experiment_assignment"

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    arm: Mapped[str] = mapped_column(String(12))
    stratum: Mapped[str] = mapped_column(String(200), default="")
    merged: Mapped[bool] = mapped_column(default=False, server_default=false())


# The policy, the segment field and the merge look customers up across experiments.
Index("ix_experiment_assignment_customer", ExperimentAssignment.customer_id, ExperimentAssignment.experiment_id)


class ExperimentSource(db.Model):
    __tablename__ = "experiment_source"

    source: Mapped[str] = mapped_column(String(60), primary_key=True)
    source_object: Mapped[str] = mapped_column(String(120), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), primary_key=True)


Index("ix_experiment_source_experiment", ExperimentSource.experiment_id)


class GlobalControl(db.Model):
    __tablename__ = "global_control"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    bucket: Mapped[int]
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExperimentResult(db.Model):
    __tablename__ = "experiment_result"
    __table_args__ = (UniqueConstraint("experiment_id", "metric", "window", "category",
                                       name="uq_experiment_result_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(40))
    #: ``"2026-01-01..2026-01-31"`` (inclusive days).
    window: Mapped[str] = mapped_column(String(30))
    #: Category code, or ``""`` for every category.
    category: Mapped[str] = mapped_column(String(20), default="")
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    frozen: Mapped[bool] = mapped_column(default=True)


# The outcome aggregate's covering index (migration 0015): customer order, everything it reads.
Index("ix_sale_line_customer_cover", SaleLine.customer_id, SaleLine.sold_at, SaleLine.category_id, SaleLine.amount)
