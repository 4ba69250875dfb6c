"""Opening calendars: each branch's weekly pattern, its public-holiday policy (Korean public
holidays from ``holidays`` are *defaults*: many stores open on them) and HQ's per-date overrides.
Expected report days are the open days.

Everything here is set-based: :func:`expected_days` reads the branches' calendars in one query and
their overrides in another, and computes each distinct (pattern, policy) once — 1,000 branches
share a handful of calendars.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import holidays as holidays_lib
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import DateTime, Integer, Select, String, delete, insert, literal, select, text

from portal.toolkit import OrgUnit, audit, db, is_postgres, utcnow

from ..errors import MonitorError
from ..models import (
    DEFAULT_OPEN_WEEKDAYS,
    HOLIDAY_POLICIES,
    HOLIDAYS_CLOSED,
    HOLIDAYS_MAJOR_CLOSED,
    HOLIDAYS_OPEN,
    MonBranch,
    MonCalendarOverride,
)

#: Weekday keys in ``open_weekdays`` bit order (bit 0 = Monday, as ``date.weekday()``).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_WEEKDAYS = 0b1111111
#: Words in the holidays package's English names that mark Seollal and Chuseok days, including
#: "The day preceding …", "The second day of …" and "Alternative holiday for …".
MAJOR_MARKERS = ("korean new year", "chuseok")
MAX_NOTE = 200


@lru_cache(maxsize=64)
def _year(year: int) -> dict[date, tuple[str, str, bool]]:
    """A year's Korean public holidays: date → (English name, Korean name, Seollal/Chuseok day).
    Cached: the package computes the lunar dates each call."""
    en = holidays_lib.country_holidays("KR", years=year, language="en_US")
    ko = holidays_lib.country_holidays("KR", years=year, language="ko")
    out: dict[date, tuple[str, str, bool]] = {}
    for day, name in en.items():
        parts = [p.strip().lower() for p in str(name).split(";")]
        major = any(marker in part for part in parts for marker in MAJOR_MARKERS)
        out[day] = (str(name), str(ko.get(day) or name), major)
    return out


def _holiday_days(start: date, end: date) -> dict[date, tuple[str, str, bool]]:
    out: dict[date, tuple[str, str, bool]] = {}
    for year in range(start.year, end.year + 1):
        out.update({d: v for d, v in _year(year).items() if start <= d <= end})
    return out


def _korean() -> bool:
    try:
        return str(get_locale() or "").startswith("ko")
    except Exception:  # noqa: BLE001 - outside a request: English
        return False


def public_holidays(start: date, end: date) -> dict[date, str]:
    """Korean public holidays between ``start`` and ``end`` (inclusive), named in the reader's
    language (Korean or English), in date order."""
    ko = _korean()
    return {d: (v[1] if ko else v[0]) for d, v in sorted(_holiday_days(start, end).items())}


def major_holidays(start: date, end: date) -> set[date]:
    """The Seollal and Chuseok days (eves, second days and substitute days included)."""
    return {d for d, v in _holiday_days(start, end).items() if v[2]}


def ensure_branches() -> int:
    """Give every branch a ``mon_branch`` row (default calendar), set-based; returns rows made."""
    missing = select(OrgUnit.id, literal(DEFAULT_OPEN_WEEKDAYS, Integer), literal(HOLIDAYS_CLOSED, String(16)),
                     literal(utcnow(), DateTime)).where(
        OrgUnit.kind == "branch", OrgUnit.id.not_in(select(MonBranch.branch_id)))
    result = db.session.execute(insert(MonBranch).from_select(
        ["branch_id", "open_weekdays", "holiday_policy", "updated_at"], missing))
    db.session.flush()
    return max(result.rowcount or 0, 0)


def _ids(branch_ids: Iterable[int] | Select) -> list[int]:
    if isinstance(branch_ids, Select):
        return [int(i) for i in db.session.execute(branch_ids).scalars()]
    return [int(i) for i in branch_ids]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _open_days(days: list[date], holidays: dict[date, tuple[str, str, bool]], pattern: int, policy: str) -> set[date]:
    out = set()
    for day in days:
        if not pattern & (1 << day.weekday()):
            continue
        info = holidays.get(day)
        if info is not None and (policy == HOLIDAYS_CLOSED or (policy == HOLIDAYS_MAJOR_CLOSED and info[2])):
            continue
        out.add(day)
    return out


def calendars(branch_ids: Iterable[int] | Select) -> dict[int, tuple[int, str]]:
    """Each branch's (open_weekdays, holiday_policy); the default for a branch without a row."""
    ids = _ids(branch_ids)
    found: dict[int, tuple[int, str]] = {}
    if ids:
        rows = db.session.execute(select(MonBranch.branch_id, MonBranch.open_weekdays, MonBranch.holiday_policy)
                                  .where(MonBranch.branch_id.in_(ids))).all()
        found = {r[0]: (r[1], r[2] if r[2] in HOLIDAY_POLICIES else HOLIDAYS_CLOSED) for r in rows}
    return {b: found.get(b, (DEFAULT_OPEN_WEEKDAYS, HOLIDAYS_CLOSED)) for b in ids}


def overrides(branch_ids: Iterable[int] | Select, start: date, end: date) -> dict[int, dict[date, bool]]:
    """HQ's overrides of the branches between ``start`` and ``end``, in one query."""
    query = select(MonCalendarOverride.branch_id, MonCalendarOverride.day, MonCalendarOverride.is_open).where(
        MonCalendarOverride.day >= start, MonCalendarOverride.day <= end)
    if isinstance(branch_ids, Select):
        query = query.where(MonCalendarOverride.branch_id.in_(branch_ids))
    else:
        ids = list(branch_ids)
        if not ids:
            return {}
        query = query.where(MonCalendarOverride.branch_id.in_(ids))
    out: dict[int, dict[date, bool]] = {}
    for branch_id, day, is_open_ in db.session.execute(query):
        out.setdefault(branch_id, {})[day] = bool(is_open_)
    return out


def expected_days(branch_ids: list[int] | Select, start: date, end: date) -> dict[int, set[date]]:
    """Each branch's open days (= expected report days) between ``start`` and ``end`` inclusive:
    the weekly pattern minus the public holidays its policy closes, HQ's overrides winning."""
    if end < start:
        return {}
    cals = calendars(branch_ids)
    if not cals:
        return {}
    days = _days(start, end)
    hols = _holiday_days(start, end)
    by_calendar: dict[tuple[int, str], set[date]] = {}
    for cal in set(cals.values()):
        by_calendar[cal] = _open_days(days, hols, *cal)
    result = {b: set(by_calendar[cal]) for b, cal in cals.items()}
    for branch_id, days_open in overrides(list(cals), start, end).items():
        mine = result.get(branch_id)
        if mine is None:
            continue
        for day, open_ in days_open.items():
            if open_:
                mine.add(day)
            else:
                mine.discard(day)
    return result


def is_open(branch_id: int, day: date) -> bool:
    """Is the branch open (a report expected) on ``day``?"""
    return day in expected_days([branch_id], day, day).get(branch_id, set())


def weekday_keys(mask: int) -> list[str]:
    """``0b0111111`` → ``["mon", …, "sat"]``."""
    return [k for i, k in enumerate(WEEKDAYS) if mask & (1 << i)]


def check_pattern(open_weekdays: Any, holiday_policy: Any, *, prefix: str = "") -> dict[str, str]:
    """Field errors of a weekly pattern and a holiday policy (empty when both are valid)."""
    errors: dict[str, str] = {}
    if isinstance(open_weekdays, bool) or not isinstance(open_weekdays, int) or not 0 <= open_weekdays <= ALL_WEEKDAYS:
        errors[f"{prefix}open_weekdays"] = _("Give the open weekdays as a number from 0 to 127 "
                                             "(1 = Monday, 2 = Tuesday, … 64 = Sunday, added up).")
    if holiday_policy not in HOLIDAY_POLICIES:
        errors[f"{prefix}holiday_policy"] = _("Choose one of: %(choices)s.", choices=", ".join(HOLIDAY_POLICIES))
    return errors


#: PostgreSQL advisory lock (with the branch's id) of one branch's calendar: two managers saving
#: the same date at once are two updates of one row, never a primary-key violation (a 500).
CALENDAR_LOCK = 18_0006


def _lock_branch(branch_id: int) -> None:
    if is_postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key, :branch)"),
                           {"key": CALENDAR_LOCK, "branch": branch_id})


def _row(branch: Any) -> MonBranch:
    _lock_branch(branch.id)
    row = db.session.get(MonBranch, branch.id)
    if row is None:
        row = MonBranch(branch_id=branch.id, open_weekdays=DEFAULT_OPEN_WEEKDAYS, holiday_policy=HOLIDAYS_CLOSED)
        db.session.add(row)
        db.session.flush()
    return row


def set_pattern(actor: Any, branch: Any, open_weekdays: int, holiday_policy: str) -> None:
    """HQ sets a branch's weekly pattern and holiday policy (validated: ``MonitorError`` 422 at
    ``open_weekdays`` / ``holiday_policy``; audited). Does not commit."""
    errors = check_pattern(open_weekdays, holiday_policy)
    if errors:
        raise MonitorError(errors)
    row = _row(branch)
    before = (row.open_weekdays, row.holiday_policy)
    if before == (open_weekdays, holiday_policy):
        return
    row.open_weekdays, row.holiday_policy = open_weekdays, holiday_policy
    row.updated_at, row.updated_by_id = utcnow(), getattr(actor, "id", None)
    changes = {k: (b, a) for k, b, a in (("open_weekdays", before[0], open_weekdays),
                                         ("holiday_policy", before[1], holiday_policy)) if b != a}
    audit.record("bm.calendar.pattern", branch, summary=branch.code, changes=changes, actor=actor)
    db.session.flush()


def check_override(day: Any, is_open_: Any, note: Any, *, prefix: str = "", date_field: str = "date",
                   open_field: str = "open") -> dict[str, str]:
    """Field errors of one override (``day`` a date, ``is_open_`` a bool or None, a short note)."""
    errors: dict[str, str] = {}
    if not isinstance(day, date) or not 2000 <= day.year <= 2100:
        errors[f"{prefix}{date_field}"] = _("Give a real date as YYYY-MM-DD.")
    if is_open_ is not None and not isinstance(is_open_, bool):
        errors[f"{prefix}{open_field}"] = _("Give true (open), false (closed) or null (remove the override).")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        errors[f"{prefix}note"] = _("At most %(n)s characters.", n=MAX_NOTE)
    return errors


def set_override(actor: Any, branch: Any, day: date, is_open: bool | None, note: str = "") -> None:  # noqa: A002
    """HQ opens or closes one branch on one date (``is_open`` None removes the override);
    validated (``MonitorError`` 422 at ``date`` / ``open`` / ``note``), audited. Does not commit."""
    errors = check_override(day, is_open, note)
    if errors:
        raise MonitorError(errors)
    _lock_branch(branch.id)
    row = db.session.get(MonCalendarOverride, (branch.id, day))
    before = None if row is None else row.is_open
    note = (note or "").strip() or None
    if is_open is None:
        if row is None:
            return
        db.session.execute(delete(MonCalendarOverride).where(MonCalendarOverride.branch_id == branch.id,
                                                             MonCalendarOverride.day == day))
    elif row is None:
        db.session.add(MonCalendarOverride(branch_id=branch.id, day=day, is_open=is_open, note=note,
                                           created_by_id=getattr(actor, "id", None)))
    else:
        if row.is_open == is_open and row.note == note:
            return
        row.is_open, row.note = is_open, note
        row.created_at, row.created_by_id = utcnow(), getattr(actor, "id", None)
    audit.record("bm.calendar.override", branch, summary=f"{branch.code} {day.isoformat()}",
                 changes={day.isoformat(): (before, is_open)}, actor=actor)
    db.session.flush()


def override_list(branch_id: int, start: date | None = None, end: date | None = None) -> list[MonCalendarOverride]:
    """A branch's overrides in date order (optionally between ``start`` and ``end``)."""
    query = select(MonCalendarOverride).where(MonCalendarOverride.branch_id == branch_id)
    if start is not None:
        query = query.where(MonCalendarOverride.day >= start)
    if end is not None:
        query = query.where(MonCalendarOverride.day <= end)
    return list(db.session.execute(query.order_by(MonCalendarOverride.day)).scalars())


def policy_labels() -> dict[str, str]:
    """The holiday policies in the reader's language."""
    return {HOLIDAYS_CLOSED: _("Closed on public holidays"), HOLIDAYS_OPEN: _("Open on public holidays"),
            HOLIDAYS_MAJOR_CLOSED: _("Open on public holidays except Seollal and Chuseok")}


def weekday_labels() -> dict[str, str]:
    return {"mon": _("Mon"), "tue": _("Tue"), "wed": _("Wed"), "thu": _("Thu"), "fri": _("Fri"), "sat": _("Sat"),
            "sun": _("Sun")}
