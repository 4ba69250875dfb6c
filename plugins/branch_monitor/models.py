"""Monitoring tables (prefix ``mon_``, migration ``mon_0001``).

Aggregates are *derived* data: ``mon_branch_day`` is kept by every daily-report import (the days a
report touches are recomputed from ``sale_line``, so a replaced report's lines drop out and a
second run changes nothing) and, with ``mon_branch_month``, rebuilt by the nightly job. KPIs are
long rows (``mon_kpi``: one per branch, month and metric, with numerator and denominator so any
rate can go on a funnel plot). ``mon_state`` holds each branch's current state per metric; a row
of ``mon_alert`` is written only when that state *changes* (ok → alert → alarm, and recovery).

Days and months are Korean calendar days (``sale_line.sold_at`` is already one; report upload
times are converted from UTC to Asia/Seoul). A month is stored as the date of its first day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.toolkit import db, register_scoped, utcnow

# --- states of a branch on one metric (comparison/alerts)
OK, ALERT, ALARM, INSUFFICIENT = "ok", "alert", "alarm", "insufficient"
STATES = (OK, ALERT, ALARM, INSUFFICIENT)
#: Severity order: a change up this ladder is a worsening, down it a recovery.
SEVERITY = {INSUFFICIENT: 0, OK: 0, ALERT: 1, ALARM: 2}

# --- the opening calendar's public-holiday policies (mon_branch.holiday_policy)
HOLIDAYS_CLOSED = "closed"  # default: closed on every Korean public holiday
HOLIDAYS_OPEN = "open"  # open on public holidays (only the weekly pattern and overrides count)
HOLIDAYS_MAJOR_CLOSED = "major_closed"  # open on public holidays except Seollal and Chuseok days
HOLIDAY_POLICIES = (HOLIDAYS_CLOSED, HOLIDAYS_OPEN, HOLIDAYS_MAJOR_CLOSED)
#: Monday..Saturday open, Sunday closed: bit 0 = Monday … bit 6 = Sunday (``date.weekday()``).
DEFAULT_OPEN_WEEKDAYS = 0b0111111

# --- compliance of one expected report day
ON_TIME, LATE, MISSING, CORRECTED, CLOSED, PENDING = "on_time", "late", "missing", "corrected", "closed", "pending"
COMPLIANCE_STATUSES = (ON_TIME, LATE, MISSING, CORRECTED, CLOSED, PENDING)


class MonBranch(db.Model):
    """One row per branch: its opening calendar (weekly pattern and public-holiday policy). Rows are
    made for every branch by ``calendar.service.ensure_branches`` (install, nightly, on import); a
    branch without a row has the default calendar."""

    __tablename__ = "mon_branch"

    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    open_weekdays: Mapped[int] = mapped_column(Integer, default=DEFAULT_OPEN_WEEKDAYS,
                                               server_default=str(DEFAULT_OPEN_WEEKDAYS))
    holiday_policy: Mapped[str] = mapped_column(String(16), default=HOLIDAYS_CLOSED, server_default=HOLIDAYS_CLOSED)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class MonCalendarOverride(db.Model):
    """HQ's decision for one branch and date: open or closed, whatever the pattern and holidays say."""

    __tablename__ = "mon_calendar_override"

    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_open: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class MonBranchDay(db.Model):
    """Sales of one branch on one Korean day, from the committed reports' lines."""

    __tablename__ = "mon_branch_day"
    __table_args__ = (Index("ix_mon_branch_day_day", "day", "branch_id"),)

    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sales: Mapped[int] = mapped_column(BigInteger, default=0)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    #: Customers whose first purchase anywhere was this day, at this branch.
    new_customers: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MonBranchMonth(db.Model):
    """Sales of one branch in one Korean month (``month`` = its first day). ``customers`` are
    distinct over the month, so it is not the sum of the days'."""

    __tablename__ = "mon_branch_month"
    __table_args__ = (Index("ix_mon_branch_month_month", "month", "branch_id"),)

    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    sales: Mapped[int] = mapped_column(BigInteger, default=0)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    new_customers: Mapped[int] = mapped_column(Integer, default=0)
    sale_days: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MonReportSpan(db.Model):
    """The days a committed report's lines fell on, written when it is applied: when a newer file
    replaces it (its lines are already deleted by then), these are the days to recompute."""

    __tablename__ = "mon_report_span"

    report_id: Mapped[int] = mapped_column(ForeignKey("sales_report.id", ondelete="CASCADE"), primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)


class MonKpi(db.Model):
    """One KPI of one branch in one month. A rate is ``numerator / denominator`` (kept apart for
    funnel plots and for summing over a region); an amount has ``denominator`` NULL. ``detail``
    holds what a number alone cannot (category mix, the index's components)."""

    __tablename__ = "mon_kpi"
    __table_args__ = (Index("ix_mon_kpi_month_metric", "month", "metric", "branch_id"),)

    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MonRfmSnapshot(db.Model):
    """Each customer's RFM segment at the last monthly snapshot and the one before it: the RFM
    migration KPI (up / down counts per branch) compares the two."""

    __tablename__ = "mon_rfm_snapshot"
    __table_args__ = (Index("ix_mon_rfm_snapshot_branch", "branch_id", "month"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="SET NULL"))
    month: Mapped[date] = mapped_column(Date)
    segment: Mapped[str | None] = mapped_column(String(30))
    prev_month: Mapped[date | None] = mapped_column(Date)
    prev_segment: Mapped[str | None] = mapped_column(String(30))


class MonComplaint(db.Model):
    """When a customer's complaint flag was raised and cleared (the core keeps only the flag): the
    care index counts complaints open over 14 days. Fed by ``portal_customer_changed``; at install,
    customers already flagged get a row from the audit trail's last ``customer.complaint``."""

    __tablename__ = "mon_complaint"
    __table_args__ = (Index("ix_mon_complaint_open", "branch_id", "closed_at", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class MonState(db.Model):
    """A branch's current state on one metric (``care_index``, ``at_risk_contact_rate``,
    ``filed_rate``, ``sales_baseline`` …): the last evaluation, with the limits it was judged by."""

    __tablename__ = "mon_state"

    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(12), default=OK)
    since: Mapped[date] = mapped_column(Date)
    evaluated_on: Mapped[date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # limits, n, z, company rate …
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MonAlert(db.Model):
    """One change of a branch's state on one metric (worsening or recovery), acknowledged by HQ."""

    __tablename__ = "mon_alert"
    __table_args__ = (
        Index("ix_mon_alert_branch", "branch_id", "created_at"),
        Index("ix_mon_alert_open", "ack_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    from_state: Mapped[str] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ack_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    ack_at: Mapped[datetime | None] = mapped_column(DateTime)
    ack_note: Mapped[str | None] = mapped_column(String(500))


class MonSubscription(db.Model):
    """A user's wish to be told about alerts in a scope: an org unit (region or branch; NULL = all
    they may see) and optionally one metric; ``digest`` adds them to the weekly digest. What they
    are told is still cut to what their roles let them see."""

    __tablename__ = "mon_subscription"
    __table_args__ = (Index("uq_mon_subscription", "user_id", "org_unit_id", "metric", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"))
    metric: Mapped[str | None] = mapped_column(String(40))
    immediate: Mapped[bool] = mapped_column(Boolean, default=True)
    digest: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MonRun(db.Model):
    """One run of a monitoring job (nightly rebuild, KPI month, evaluation, reminders): what
    ``--if-stale`` reads, and the progress shown on the monitor page."""

    __tablename__ = "mon_run"
    __table_args__ = (Index("ix_mon_run_kind", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # rebuild | kpis | evaluate | reminders | digest
    status: Mapped[str] = mapped_column(String(10), default="running")  # running | done | failed
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(String(500))


# Scope: every table with a branch is cut by the user's grants like the core's sales tables.
for _model in (MonBranch, MonBranchDay, MonBranchMonth, MonKpi, MonState, MonAlert):
    register_scoped(_model, branch_attr="branch_id")
