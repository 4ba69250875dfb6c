"""Daily-report compliance: for each expected report day, on time / late / missing / corrected
against the deadline (default D+1 10:00 KST, a setting).

One query over ``sales_report`` (grouped by branch and report day) gives every day's first and last
filing; the opening calendar says which days were expected. A filing is a committed or replaced
report (a rejected import is not one). The *first* filing decides on time (at or before the
deadline — 10:00:00 is on time, 10:00:01 late) or late; a replacement filed after the deadline is a
*correction*, counted on its own: the original stays on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Select, case, func, select

from portal.toolkit import SalesReport, db, get_settings

from ..calendar.service import expected_days
from ..models import CORRECTED, LATE, MISSING, ON_TIME, PENDING
from ..months import KST, kst_now

PLUGIN = "branch_monitor"
FILING_STATUSES = ("committed", "replaced")
#: Korea has kept UTC+9 all year since 1988: a fixed offset turns 10,000s of stored naive-UTC
#: upload times into Korean time far cheaper than a zoneinfo lookup each.
KST_FIXED = timezone(timedelta(hours=9), "KST")
_NINE_HOURS = timedelta(hours=9)


def _utc_to_kst(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(KST_FIXED)
    return (moment + _NINE_HOURS).replace(tzinfo=KST_FIXED)


@dataclass(frozen=True)
class DayStatus:
    branch_id: int
    day: date
    status: str  # models.ON_TIME | LATE | MISSING | CORRECTED | PENDING (deadline not reached yet)
    filed_at: datetime | None = None  # first committed filing, KST
    corrected_at: datetime | None = None  # a replacement after the deadline, KST
    report_id: int | None = None


@dataclass(frozen=True)
class Deadline:
    """The due rule from the settings: D + ``days`` at ``hour``:``minute`` KST."""

    days: int = 1
    hour: int = 10
    minute: int = 0

    def of(self, day: date) -> datetime:
        return datetime.combine(day + timedelta(days=self.days), time(self.hour, self.minute), tzinfo=KST)


def deadline_rule() -> Deadline:
    """The deadline settings (defaults 1 day, 10:00) read once."""
    values = get_settings(PLUGIN)
    try:
        return Deadline(int(values.get("deadline_days", 1)), int(values.get("deadline_hour", 10)),
                        int(values.get("deadline_minute", 0)))
    except (TypeError, ValueError):
        return Deadline()


def deadline_for(day: date) -> datetime:
    """The (aware, KST) moment the report of ``day`` is due: D + deadline_days at deadline_hour:minute."""
    return deadline_rule().of(day)


def _kst(moment: datetime | None) -> datetime:
    """``now`` as aware KST; a naive value is read as Korean wall-clock time."""
    if moment is None:
        return kst_now()
    if moment.tzinfo is None:
        return moment.replace(tzinfo=KST)
    return moment.astimezone(KST)


def filings(branch_ids: list[int] | Select, start: date, end: date) -> dict[tuple[int, date], tuple[datetime, datetime, int, int | None]]:
    """(branch, day) → (first filing, last filing (both KST), filings, the committed report's id),
    in one grouped query."""
    return {key: (_utc_to_kst(_naive_utc(first)), _utc_to_kst(_naive_utc(last)), n, rid)
            for key, (first, last, n, rid) in _filings_utc(branch_ids, start, end).items()}


def _filings_utc(branch_ids: list[int] | Select, start: date, end: date) -> dict[tuple[int, date], tuple[Any, Any, int, int | None]]:
    """:func:`filings` with the stored naive-UTC times, read through the Core (no ORM row
    processing: a month of 1,000 branches is ~26,000 rows)."""
    ids = branch_ids if isinstance(branch_ids, Select) else list(branch_ids)
    if not isinstance(ids, Select) and not ids:
        return {}
    query = (select(SalesReport.branch_id, SalesReport.report_date, func.min(SalesReport.created_at),
                    func.max(SalesReport.created_at), func.count(),
                    func.max(case((SalesReport.status == "committed", SalesReport.id))))
             .where(SalesReport.branch_id.in_(ids), SalesReport.report_date >= start, SalesReport.report_date <= end,
                    SalesReport.status.in_(FILING_STATUSES))
             .group_by(SalesReport.branch_id, SalesReport.report_date))
    return {(b, d): (first, last, n, rid) for b, d, first, last, n, rid in db.session.connection().execute(query)}


def _naive_utc(moment: Any) -> datetime:
    """A stored time as naive UTC (SQLite may hand back text for an aggregate of a DateTime)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def day_statuses(branch_ids: list[int] | Select, start: date, end: date, now: datetime | None = None, *,
                 expected: dict[int, set[date]] | None = None) -> list[DayStatus]:
    """Every expected report day of the branches between ``start`` and ``end``, with its status,
    by branch id then day. ``expected`` (from ``calendar.expected_days``) saves reading the calendars
    again when the caller has them."""
    moment = _kst(now)
    rule = deadline_rule()
    if expected is None:
        expected = expected_days(branch_ids, start, end)
    if not expected:
        return []
    filed = _filings_utc(list(expected), start, end)
    due_kst: dict[date, datetime] = {}
    due_utc: dict[date, datetime] = {}
    day = start
    while day <= end:
        due_kst[day] = rule.of(day)
        due_utc[day] = due_kst[day].astimezone(UTC).replace(tzinfo=None)
        day += timedelta(days=1)
    out: list[DayStatus] = []
    append = out.append
    for branch_id in sorted(expected):
        for day in sorted(expected[branch_id]):
            hit = filed.get((branch_id, day))
            if hit is None:
                append(DayStatus(branch_id, day, PENDING if moment <= due_kst[day] else MISSING))
                continue
            first, last, count, report_id = hit
            first, due = _naive_utc(first), due_utc[day]
            corrected_at = None
            if count > 1:
                last = _naive_utc(last)
                if last > due:
                    corrected_at = _utc_to_kst(last)
            if first <= due:
                status = CORRECTED if corrected_at is not None else ON_TIME
            else:
                status = LATE
            append(DayStatus(branch_id, day, status, _utc_to_kst(first), corrected_at, report_id))
    return out


def summarise(statuses: list[DayStatus], branch_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Counts and rates per branch from ``day_statuses`` (see :func:`summary`)."""
    out: dict[int, dict[str, Any]] = {b: {"expected": 0, ON_TIME: 0, LATE: 0, MISSING: 0, CORRECTED: 0, PENDING: 0}
                                      for b in branch_ids}
    for s in statuses:
        row = out.setdefault(s.branch_id, {"expected": 0, ON_TIME: 0, LATE: 0, MISSING: 0, CORRECTED: 0, PENDING: 0})
        row["expected"] += 1
        if s.status == CORRECTED:
            row[ON_TIME] += 1
        else:
            row[s.status] += 1
        if s.corrected_at is not None:
            row[CORRECTED] += 1
    for row in out.values():
        due = row["expected"] - row[PENDING]
        row["due"] = due
        row["filed"] = row[ON_TIME] + row[LATE]
        row["on_time_rate"] = row[ON_TIME] / due if due else None
        row["filed_rate"] = row["filed"] / due if due else None
    return out


def summary(branch_ids: list[int] | Select, start: date, end: date, now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """Per branch: ``expected``, ``on_time``, ``late``, ``missing``, ``corrected``, ``pending``,
    ``on_time_rate`` and ``filed_rate`` (over the days whose deadline has passed; None when none).

    ``on_time`` + ``late`` + ``missing`` + ``pending`` = ``expected`` (a corrected day counts as on
    time when its first filing was); ``corrected`` counts the days with a replacement filed after the
    deadline on its own. Rates are fractions (0.857 = 85.7 %) over ``due`` = expected − pending; also
    ``filed`` = on time + late. Every branch asked for has a row, even with no expected day."""
    expected = expected_days(branch_ids, start, end)
    return summarise(day_statuses(list(expected), start, end, now, expected=expected), list(expected))
