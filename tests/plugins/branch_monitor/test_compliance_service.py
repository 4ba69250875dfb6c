"""Compliance and the opening calendar through the services: BM-1 (expected days and rates),
BM-2 (the deadline boundary and corrections), BM-3 (holiday policies), the deadline setting."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from .compliance_fixtures import clear_reports, file_report, kst, unit, user

FEB = (date(2026, 2, 1), date(2026, 2, 28))
NOON_MARCH = kst(2026, 3, 10)


def _set_sunday_closed(code: str) -> None:
    from plugins.branch_monitor.calendar.service import set_pattern
    from portal.toolkit import db

    set_pattern(user("hq@example.com"), unit(code), 0b0111111, "closed")
    db.session.commit()


def test_bm1_february_2026_b001(app):
    """BM-1: closed Sundays, public holidays as default → 28 − 4 Sundays − 3 Seollal days = 21 expected;
    18 on time, 2 late, 1 missing → on time 85.7 %, filed 95.2 %."""
    from plugins.branch_monitor.calendar.service import expected_days
    from plugins.branch_monitor.compliance.service import summary

    _set_sunday_closed("B001")
    b001 = unit("B001")
    days = sorted(expected_days([b001.id], *FEB)[b001.id])
    assert len(days) == 21
    assert not {date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18)} & set(days)
    assert all(d.weekday() != 6 for d in days)

    clear_reports("B001", *FEB)
    missing, late = days[5], days[10:12]
    for d in days:
        if d == missing:
            continue
        nxt = d + timedelta(days=1)
        at = kst(nxt.year, nxt.month, nxt.day, 11, 30) if d in late else kst(d.year, d.month, d.day, 21, 0)
        file_report("B001", d, at)
    file_report("B001", days[0], kst(2026, 2, 1, 20), status="rejected")  # a rejected import is no filing

    row = summary([b001.id], *FEB, now=NOON_MARCH)[b001.id]
    assert (row["expected"], row["on_time"], row["late"], row["missing"], row["pending"]) == (21, 18, 2, 1, 0)
    assert round(row["on_time_rate"] * 100, 1) == 85.7
    assert round(row["filed_rate"] * 100, 1) == 95.2


@pytest.mark.parametrize(("second", "status"), [(0, "on_time"), (1, "late")])
def test_bm2_deadline_boundary_inclusive(app, second, status):
    """BM-2: the report for 2026-03-03 uploaded 2026-03-04 10:00:00 KST is on time, at 10:00:01 late."""
    from plugins.branch_monitor.compliance.service import day_statuses, deadline_for

    assert deadline_for(date(2026, 3, 3)) == kst(2026, 3, 4, 10, 0, 0)
    clear_reports("B001", date(2026, 3, 3), date(2026, 3, 3))
    file_report("B001", date(2026, 3, 3), kst(2026, 3, 4, 10, 0, second))
    [s] = day_statuses([unit("B001").id], date(2026, 3, 3), date(2026, 3, 3), now=NOON_MARCH)
    assert s.status == status
    assert s.filed_at == kst(2026, 3, 4, 10, 0, second)


def test_bm2_replacement_after_deadline_is_corrected(app):
    """BM-2: a replacement filed 2026-03-05 → "corrected"; the original stays on time."""
    from plugins.branch_monitor.compliance.service import day_statuses, summary

    b001 = unit("B001").id
    d = date(2026, 3, 3)
    clear_reports("B001", d, d)
    first = file_report("B001", d, kst(2026, 3, 4, 10, 0, 0), status="replaced")
    second = file_report("B001", d, kst(2026, 3, 5, 9, 0), replaces=first)
    [s] = day_statuses([b001], d, d, now=NOON_MARCH)
    assert (s.status, s.report_id) == ("corrected", second)
    assert s.corrected_at == kst(2026, 3, 5, 9, 0)
    row = summary([b001], d, d, now=NOON_MARCH)[b001]
    assert (row["on_time"], row["late"], row["corrected"]) == (1, 0, 1)
    assert row["on_time_rate"] == 1.0


def test_pending_before_the_deadline_missing_after(app):
    from plugins.branch_monitor.compliance.service import day_statuses, summary

    b001 = unit("B001").id
    d = date(2026, 3, 3)
    clear_reports("B001", d, d)
    [s] = day_statuses([b001], d, d, now=kst(2026, 3, 4, 10, 0, 0))
    assert s.status == "pending"
    assert summary([b001], d, d, now=kst(2026, 3, 4, 9))[b001]["on_time_rate"] is None
    [s] = day_statuses([b001], d, d, now=kst(2026, 3, 4, 10, 0, 1))
    assert s.status == "missing"


def test_bm3_major_closed_policy_local_election_day(app):
    """BM-3: B002 open on public holidays except Seollal/Chuseok expects 2026-06-03 (Local Election
    Day); a default-calendar branch does not — and B002 still closes on Seollal and Chuseok days."""
    from plugins.branch_monitor.calendar.service import expected_days, is_open, set_pattern
    from portal.toolkit import db

    set_pattern(user("hq@example.com"), unit("B002"), 0b1111111, "major_closed")
    db.session.commit()
    b002, b003 = unit("B002").id, unit("B003").id
    election = date(2026, 6, 3)
    assert is_open(b002, election)
    assert not is_open(b003, election)
    year = expected_days([b002, b003], date(2026, 1, 1), date(2026, 12, 31))
    for closed in (date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18), date(2026, 9, 24), date(2026, 9, 25),
                   date(2026, 9, 26)):
        assert closed not in year[b002]
    assert date(2026, 3, 2) in year[b002]  # a substitute day of another holiday: open
    assert date(2027, 2, 9) not in expected_days([b002], date(2027, 2, 9), date(2027, 2, 9))[b002]  # Seollal's substitute


def test_overrides_win_and_are_audited(app):
    from sqlalchemy import select

    from plugins.branch_monitor.calendar.service import is_open, set_override
    from portal.toolkit import AuditEvent, db

    hq, b001 = user("hq@example.com"), unit("B001")
    set_override(hq, b001, date(2026, 2, 17), True, "설 특별 영업")
    set_override(hq, b001, date(2026, 2, 19), False)
    db.session.commit()
    assert is_open(b001.id, date(2026, 2, 17))
    assert not is_open(b001.id, date(2026, 2, 19))
    set_override(hq, b001, date(2026, 2, 17), None)
    db.session.commit()
    assert not is_open(b001.id, date(2026, 2, 17))
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("bm.calendar.%"))).all()
    assert actions.count("bm.calendar.override") == 3


def test_public_holidays_named_and_cached(app):
    from flask_babel import force_locale

    from plugins.branch_monitor.calendar.service import major_holidays, public_holidays

    with force_locale("en"):
        assert public_holidays(date(2026, 1, 1), date(2026, 12, 31))[date(2026, 6, 3)] == "Local Election Day"
    with force_locale("ko"):
        assert public_holidays(date(2026, 6, 1), date(2026, 6, 30))[date(2026, 6, 3)] == "지방선거일"
    assert major_holidays(date(2028, 10, 1), date(2028, 10, 31)) == {
        date(2028, 10, 2), date(2028, 10, 3), date(2028, 10, 4), date(2028, 10, 5)}


def test_deadline_follows_the_settings(app):
    from plugins.branch_monitor.compliance.service import deadline_for
    from portal.toolkit import save_settings

    assert save_settings("branch_monitor", {"deadline_days": 2, "deadline_hour": 18, "deadline_minute": 30,
                                            "baseline_z_alert": 2.5, "baseline_z_alarm": 3.5}) == {}
    assert deadline_for(date(2026, 3, 3)) == kst(2026, 3, 5, 18, 30)


def test_ensure_branches_is_set_based_and_idempotent(app):
    from sqlalchemy import func, select

    from plugins.branch_monitor.calendar.service import ensure_branches
    from plugins.branch_monitor.models import MonBranch
    from portal.toolkit import OrgUnit, db

    ensure_branches()
    db.session.commit()
    assert ensure_branches() == 0
    branches = db.session.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.kind == "branch"))
    assert db.session.scalar(select(func.count()).select_from(MonBranch)) == branches
