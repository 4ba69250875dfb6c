"""Bounds for the numbers and dates that come from outside (files, forms, query strings, the API).

One place, so the sales import, the pages and the API refuse or clamp the same values, and the
documented maxima (docs/sales-import.md, docs/security.md) are these constants.

Money maxima are chosen so that no sum the portal computes can overflow a signed 64-bit integer
(SQLite raises on overflow, pandas wraps silently): ``MAX_LINE_AMOUNT`` × 10,000,000 sale lines
(the target scale) is 10^16, about 1/900 of 2^63 − 1 ≈ 9.2 × 10^18 — room for every line of a
billion more reports before a total could overflow.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

INT64_MAX = 2**63 - 1
MAX_QUANTITY = 100_000  # items on one sale line
MAX_UNIT_PRICE = 100_000_000  # KRW per item (₩100 million)
MAX_LINE_AMOUNT = 1_000_000_000  # KRW per sale line (₩1 billion)
SCALE_LINES = 10_000_000  # sale lines the portal is sized for
assert MAX_LINE_AMOUNT * SCALE_LINES * 100 < INT64_MAX  # noqa: S101 — a sum of every line fits, with margin
assert MAX_QUANTITY * MAX_UNIT_PRICE < INT64_MAX  # noqa: S101 — quantity × unit price is computed exactly

MIN_DATE = date(2000, 1, 1)  # the earliest report date and query date the portal accepts
DEFAULT_TIMEZONE = "Asia/Seoul"


def local_now() -> datetime:
    """Now in the portal's time zone (``PORTAL_TIMEZONE``, Asia/Seoul by default), timezone-aware."""
    name = (current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None) or DEFAULT_TIMEZONE
    return datetime.now(ZoneInfo(name))


def local_today() -> date:
    """Today where the branches are: a server running on UTC must not refuse Seoul's morning reports."""
    return local_now().date()


def clamp_date(day: date, lo: date = MIN_DATE, hi: date | None = None) -> date:
    """``day`` moved into ``[lo, hi]`` (``hi`` defaults to today in the portal's time zone)."""
    hi = local_today() if hi is None else hi
    return max(lo, min(day, hi))


def clamp_window_end(end: date, days: int) -> date:
    """The last day of a ``days``-long window, kept so the whole window lies in ``[MIN_DATE, today]``
    (so ``end - days`` and ``end + days`` stay far from ``date.min`` / ``date.max``)."""
    return clamp_date(end, MIN_DATE + timedelta(days=days - 1), local_today())
