"""Korean calendar time: today, months and upload times in Asia/Seoul. A month is stored as the
date of its first day and written ``YYYY-MM`` in URLs and the API (anything else is a 422)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from .errors import MonitorError

KST = ZoneInfo("Asia/Seoul")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)  # ASCII digits only, as parse_day


def kst_now() -> datetime:
    return datetime.now(UTC).astimezone(KST)


def kst_today() -> date:
    return kst_now().date()


def to_kst(moment: datetime) -> datetime:
    """A stored (naive UTC) or aware timestamp as Korean time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(KST)


def kst_to_utc_naive(moment: datetime) -> datetime:
    """A Korean wall-clock time (naive or aware) as the naive UTC the database stores."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    return moment.astimezone(UTC).replace(tzinfo=None)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def prev_month(month: date) -> date:
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_end(month: date) -> date:
    """The last day of ``month``."""
    return next_month(month) - timedelta(days=1)


def parse_month(value: str | None, field: str = "month", default: date | None = None) -> date:
    """``YYYY-MM`` → the month's first day; missing → ``default`` (this Korean month when None);
    anything else → ``MonitorError`` (422) at ``field``."""
    if value is None or value == "":
        return month_start(default or kst_today())
    m = _MONTH.match(value) if isinstance(value, str) else None
    if not m or not (1 <= int(m.group(2)) <= 12) or not (2000 <= int(m.group(1)) <= 2100):
        raise MonitorError({field: _("Give a month as YYYY-MM, e.g. 2026-02.")})
    return date(int(m.group(1)), int(m.group(2)), 1)


def parse_day(value: str | None, field: str) -> date:
    """``YYYY-MM-DD`` (a real date: ``2026-02-30`` is refused) → date, or ``MonitorError`` at ``field``."""
    try:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        day = date.fromisoformat(value)
        if not (2000 <= day.year <= 2100):
            raise ValueError
        return day
    except ValueError:
        raise MonitorError({field: _("Give a real date as YYYY-MM-DD.")}) from None


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"
