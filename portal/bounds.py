"""Bounds for the numbers and dates that come from outside (files, forms, query strings, the API).

One place, so the sales import, the pages and the API refuse or clamp the same values, and the
documented maxima (docs/sales-import.md, docs/security.md) are these constants.

Money maxima are chosen so that no sum the portal computes can overflow a signed 64-bit integer
(SQLite raises on overflow, pandas wraps silently): ``MAX_LINE_AMOUNT`` × 10,000,000 sale lines
(the target scale) is 10^16, about 1/900 of 2^63 − 1 ≈ 9.2 × 10^18 — room for every line of a
billion more reports before a total could overflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from werkzeug.routing import IntegerConverter

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1  # an INTEGER column on PostgreSQL
MAX_QUANTITY = 100_000  # items on one sale line
MAX_UNIT_PRICE = 100_000_000  # KRW per item (₩100 million)
MAX_LINE_AMOUNT = 1_000_000_000  # KRW per sale line (₩1 billion)
SCALE_LINES = 10_000_000  # sale lines the portal is sized for
assert MAX_LINE_AMOUNT * SCALE_LINES * 100 < INT64_MAX  # noqa: S101 — a sum of every line fits, with margin
assert MAX_QUANTITY * MAX_UNIT_PRICE < INT64_MAX  # noqa: S101 — quantity × unit price is computed exactly

MIN_DATE = date(2000, 1, 1)  # the earliest report date and query date the portal accepts
DEFAULT_TIMEZONE = "Asia/Seoul"
#: Korean time, fixed: the clock of the Korean ad law (night window, notice deadlines), of the
#: notification digest's day and of postal mailing dates — whatever ``PORTAL_TIMEZONE`` says.
#: The ``local_*`` helpers below follow ``PORTAL_TIMEZONE`` instead (what the pages show).
KST = ZoneInfo("Asia/Seoul")


def to_kst(at: datetime) -> datetime:
    """``at`` in Korean time; a naive datetime is UTC (the portal's storage convention)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(KST)


def kst_date(at: datetime | date) -> date:
    """The Korean calendar date of ``at`` (a date is returned as is; naive datetimes are UTC)."""
    if isinstance(at, datetime):
        return to_kst(at).date()
    return at


def kst_today() -> date:
    """Today in Korea."""
    return datetime.now(KST).date()


def kst_to_utc(day: date, at: time = time(0)) -> datetime:
    """The naive UTC datetime the tables store for ``at`` o'clock Korean time on ``day``
    (default 00:00: where that Korean day starts)."""
    return datetime.combine(day, at, tzinfo=KST).astimezone(UTC).replace(tzinfo=None)


def local_now() -> datetime:
    """Now in the portal's time zone (``PORTAL_TIMEZONE``, Asia/Seoul by default), timezone-aware."""
    name = (current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None) or DEFAULT_TIMEZONE
    return datetime.now(ZoneInfo(name))


def local_today() -> date:
    """Today where the branches are: a server running on UTC must not refuse Seoul's morning reports."""
    return local_now().date()


def one_of(raw: Any, allowed: Sequence[str], default: str) -> str:
    """A tab or filter name from a query string or form kept to its ``allowed`` set (``default``
    for junk or nothing): what reaches a query or a link is always one the page knows."""
    return raw if isinstance(raw, str) and raw in allowed else default


def clamp_date(day: date, lo: date = MIN_DATE, hi: date | None = None) -> date:
    """``day`` moved into ``[lo, hi]`` (``hi`` defaults to today in the portal's time zone)."""
    hi = local_today() if hi is None else hi
    return max(lo, min(day, hi))


def clamp_window_end(end: date, days: int) -> date:
    """The last day of a ``days``-long window, kept so the whole window lies in ``[MIN_DATE, today]``
    (so ``end - days`` and ``end + days`` stay far from ``date.min`` / ``date.max``)."""
    return clamp_date(end, MIN_DATE + timedelta(days=days - 1), local_today())


def query_date(raw: str, parsed: date | None, lo: date = MIN_DATE, hi: date | None = None) -> tuple[date | None, str]:
    """A date typed into a filter or a query string, kept inside ``[lo, hi]`` (default: MIN_DATE to
    today in the portal's time zone), and what to tell the user when it was not used as given.

    ``parsed`` is ``raw`` already parsed by the caller's date syntax (``None`` when it is not a
    date). Out-of-window dates are clamped rather than refused: a list "up to 9999-12-31" means
    "up to today", and nothing outside the window exists to be shown anyway.
    """
    from flask_babel import gettext as _

    raw = raw.strip()
    if not raw:
        return None, ""
    if parsed is None:
        return None, _("“%(value)s” is not a date; write it as YYYY-MM-DD (e.g. 2026-11-01).", value=raw[:20])
    hi = local_today() if hi is None else hi
    used = clamp_date(parsed, lo, hi)
    if used != parsed:
        return used, _("Dates from %(lo)s to %(hi)s can be shown; %(used)s is shown instead of %(value)s.",
                       lo=lo.isoformat(), hi=hi.isoformat(), used=used.isoformat(), value=parsed.isoformat())
    return used, ""


def local_midnight_utc(day: date) -> datetime:
    """The start of ``day`` in the portal's time zone as the naive UTC datetime the tables store,
    so a filter "to 2026-12-07" covers that whole day as the pages show it (Seoul time)."""
    tz = local_now().tzinfo
    return datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


class IdConverter(IntegerConverter):
    """The ``<int:…>`` URL converter, bounded to what an id column holds: 1 … 2^31 − 1 (an
    ``INTEGER`` id on PostgreSQL). A route on a 64-bit id says so: ``<int(max=INT64_MAX):…>``.

    Werkzeug's own takes any number of digits, and an id past the column's range made the
    driver fail (SQLite: ``OverflowError`` past 2^63 − 1; PostgreSQL: "integer out of range"
    past 2^31 − 1) — a 500 on every ``<int:…>`` route. Out of range now answers 404, exactly
    like a missing id. Registered app-wide in ``create_app`` before any blueprint (plugins'
    included), so every ``<int:…>`` rule uses it."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = 1, max: int | None = INT32_MAX,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
