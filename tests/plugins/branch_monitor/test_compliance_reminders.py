"""BM-4: a missing report for D → one reminder at D+1 10:30 to B001's staff, one escalation at D+2
10:30 to R01's HQ; re-running sends nothing new; no reminder for closed days."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from .compliance_fixtures import clear_reports, file_report, kst, r01_hq, unit, user

D = date(2026, 3, 3)  # a Tuesday


def _notes(kind: str) -> list[tuple[int, str | None]]:
    from portal.notify.models import Notification
    from portal.toolkit import db

    return [(n.user_id, n.dedupe_key) for n in db.session.scalars(
        select(Notification).where(Notification.kind == kind).order_by(Notification.user_id))]


def _texts(kind: str) -> list[str]:
    from portal.notify.models import Notification
    from portal.toolkit import db

    return list(db.session.scalars(select(Notification.text).where(Notification.kind == kind)))


def _only_b001_missing() -> None:
    """Every branch filed every day around D, except B001 on D."""
    from portal.toolkit import OrgUnit, db

    codes = db.session.scalars(select(OrgUnit.code).where(OrgUnit.kind == "branch")).all()
    for code in codes:
        clear_reports(code, date(2026, 2, 20), date(2026, 3, 8))
        for day in (date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 2), D, date(2026, 3, 4), date(2026, 3, 5),
                    date(2026, 3, 6), date(2026, 3, 7)):
            if not (code == "B001" and day == D):
                file_report(code, day, kst(day.year, day.month, day.day, 21))


def test_bm4_reminder_then_escalation_once(app):
    from plugins.branch_monitor.compliance.reminders import run_reminders

    hq_r01 = r01_hq()
    _only_b001_missing()
    store1 = user("store1@example.com")

    assert run_reminders(now=kst(2026, 3, 4, 9, 59)) == {"reminders": 0, "escalations": 0, "notifications": 0}
    first = run_reminders(now=kst(2026, 3, 4, 10, 30))
    assert first["reminders"] == 1 and first["escalations"] == 0
    assert _notes("bm.report_reminder") == [(store1.id, "bm.reminder:B001:2026-03-03:reminder")]
    assert "2026-03-03 판매일보가 제출되지 않았습니다" in _texts("bm.report_reminder")[0]
    assert run_reminders(now=kst(2026, 3, 4, 10, 30))["notifications"] == 0  # re-run: nothing new
    assert run_reminders(now=kst(2026, 3, 4, 15, 0))["notifications"] == 0

    second = run_reminders(now=kst(2026, 3, 5, 10, 30))
    assert second["reminders"] == 0 and second["escalations"] == 1
    assert _notes("bm.report_escalation") == [(hq_r01.id, "bm.reminder:B001:2026-03-03:escalation")]
    assert _notes("bm.report_reminder") == [(store1.id, "bm.reminder:B001:2026-03-03:reminder")]
    assert run_reminders(now=kst(2026, 3, 5, 10, 30))["notifications"] == 0
    assert run_reminders(now=kst(2026, 3, 6, 10, 30))["notifications"] == 0
    assert len(_notes("bm.report_escalation")) == 1


def test_bm4_no_reminder_for_closed_days(app):
    """Sunday 2026-03-08 and an HQ-closed Wednesday expect no report: nothing is sent for them."""
    from plugins.branch_monitor.calendar.service import set_override
    from plugins.branch_monitor.compliance.reminders import run_reminders
    from portal.toolkit import db

    _only_b001_missing()
    set_override(user("hq@example.com"), unit("B001"), D, False, "내부 공사")
    db.session.commit()
    assert run_reminders(now=kst(2026, 3, 4, 10, 30))["notifications"] == 0
    assert run_reminders(now=kst(2026, 3, 5, 10, 30))["notifications"] == 0
    assert run_reminders(now=kst(2026, 3, 9, 10, 30))["notifications"] == 0  # Sunday 03-08: closed
    assert _notes("bm.report_reminder") == [] and _notes("bm.report_escalation") == []


def test_escalation_goes_to_global_hq_when_the_region_has_none(app):
    from plugins.branch_monitor.compliance.reminders import run_reminders

    _only_b001_missing()
    run_reminders(now=kst(2026, 3, 5, 10, 30))
    hq = user("hq@example.com")
    assert (hq.id, "bm.reminder:B001:2026-03-03:escalation") in _notes("bm.report_escalation")


def test_the_job_runs_through_the_queue_entry(app):
    from plugins.branch_monitor.compliance.jobs import JOBS, reminders_job

    assert JOBS[0]["schedule"] == {"minute": "30", "hour": "10", "tz": "Asia/Seoul"}
    _only_b001_missing()
    assert reminders_job("2026-03-04T10:30:00")["reminders"] == 1
