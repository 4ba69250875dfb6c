"""Tables of the jobs service (migrations/versions/0010_jobs.py creates them).

Huey keeps the queue itself (tasks, schedule) in its own storage — a SQLite file, Redis or
PostgreSQL tables. These two tables live in the app database, which every consumer shares:

* ``job_run`` — one row per task run (a task and its retries share the row): what the jobs page
  and ``flask portal jobs list`` show. ``lock_key`` is unique: a periodic run claims
  ``"<name>@<minute>"`` so that when several consumers each enqueue the same tick, one runs it.
* ``job_lock`` — one row per periodic job while it runs, with an expiry, so a slow run is not
  overlapped by the next tick and a consumer killed mid-run does not leave the job locked forever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import utcnow

STATUSES = ("queued", "scheduled", "running", "done", "failed", "retrying", "skipped")


class JobRun(db.Model):
    """One run of a job (all its attempts)."""

    __tablename__ = "job_run"
    __table_args__ = (
        Index("ix_job_run_status_id", "status", "id"),
        Index("ix_job_run_name_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    plugin: Mapped[str] = mapped_column(String(60), default="core")
    trigger: Mapped[str] = mapped_column(String(10), default="enqueue")  # enqueue | periodic | manual | retry
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    args_summary: Mapped[str | None] = mapped_column(String(300))
    kwargs: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # ids only (contract), kept for "retry"
    lock_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(100))
    pid: Mapped[int | None]
    retried_as: Mapped[str | None] = mapped_column(String(64))  # task id of the run "retry" started


class JobLock(db.Model):
    """A periodic job that is running now (until ``expires_at``)."""

    __tablename__ = "job_lock"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
