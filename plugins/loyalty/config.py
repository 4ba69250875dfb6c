"""The programme's settings: scalar rules from the control panel, tiers and rates from tables."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.toolkit import db, get_settings

from .models import LoyTier

PLUGIN = "loyalty"
MAX_PCT = 500  # any one multiplier; keeps amount × multipliers inside 64-bit integers

SETTINGS_SCHEMA: list[dict[str, Any]] = [
    {"name": "krw_per_point", "label": _l("KRW spent per point"), "type": "int", "default": 1000, "min": 1,
     "max": 1_000_000, "help": _l("Base rate: 1,000 means 1 point per 1,000 KRW.")},
    {"name": "birthday_pct", "label": _l("Birthday-month multiplier (%)"), "type": "int", "default": 200, "min": 100,
     "max": MAX_PCT, "help": _l("Applied to purchases in the customer's birth month; 100 = no bonus.")},
    {"name": "expiry_months", "label": _l("Points expire after (months)"), "type": "int", "default": 24, "min": 1,
     "max": 120, "help": _l("Points expire at the end of the month this many months after they were earned.")},
    {"name": "tier_window_months", "label": _l("Tier qualification window (months)"), "type": "int", "default": 12,
     "min": 1, "max": 36},
    {"name": "approval_limit", "label": _l("Adjustments above this need a second approver (points)"), "type": "int",
     "default": 5000, "min": 0, "max": 100_000_000,
     "help": _l("Counted per staff member and customer over the window below: several smaller adjustments or "
                "API credits add up.")},
    {"name": "approval_window_hours", "label": _l("Approval limit window (hours)"), "type": "int", "default": 24,
     "min": 1, "max": 720},
    {"name": "reminder_days", "label": _l("Expiry reminder horizon (days)"), "type": "int", "default": 30, "min": 1,
     "max": 365},
    {"name": "earn_on_import", "label": _l("Earn points automatically when a daily report is imported"),
     "type": "bool", "default": True},
]

DEFAULT_TIERS = [  # code, Korean, English, threshold (points earned in the window), multiplier %
    ("BASIC", "베이직", "Basic", 0, 100),
    ("SILVER", "실버", "Silver", 500, 110),
    ("GOLD", "골드", "Gold", 1500, 125),
    ("VIP", "VIP", "VIP", 5000, 150),
]


@dataclass(frozen=True)
class Rules:
    krw_per_point: int
    birthday_pct: int
    expiry_months: int
    tier_window_months: int
    approval_limit: int
    approval_window_hours: int
    reminder_days: int
    earn_on_import: bool


def rules() -> Rules:
    s = get_settings(PLUGIN)
    return Rules(**{k: s[k] for k in Rules.__dataclass_fields__})


def tiers() -> list[LoyTier]:
    """Tiers from the lowest threshold up."""
    return list(db.session.execute(select(LoyTier).order_by(LoyTier.threshold)).scalars())


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_for(earned_on: date, months: int) -> date:
    """Last day of the month ``months`` after the month of ``earned_on``."""
    end = add_months(earned_on.replace(day=1), months)
    return end.replace(day=calendar.monthrange(end.year, end.month)[1])
