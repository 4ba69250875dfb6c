"""The demo seed's promises (``make run``): a month of report compliance with late and missing
days, B002's holiday calendar with an HQ override, a branch in alarm for the at-risk contact rate
with an open alert — and a second run changes nothing."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select

from tests.plugins.branch_monitor.seed_fixtures import run_demo_seed


def _month(done) -> date:
    return date.fromisoformat(done["month"])


def test_demo_month_is_the_last_complete_month(app):
    from plugins.branch_monitor.months import month_start, prev_month
    from plugins.branch_monitor.seed import demo_today

    done = run_demo_seed()
    assert _month(done) == prev_month(month_start(demo_today()))
    assert _month(done) < month_start(demo_today())


def test_compliance_month_has_on_time_late_and_missing_days(app):
    from plugins.branch_monitor.compliance.service import summary
    from plugins.branch_monitor.models import LATE as LATE_STATUS
    from plugins.branch_monitor.models import ON_TIME
    from plugins.branch_monitor.months import KST, month_end
    from plugins.branch_monitor.seed import LATE, demo_today
    from portal.toolkit import OrgUnit, db

    done = run_demo_seed()
    month = _month(done)
    assert done["late"] >= 3  # the test template's branches file only a few days a month
    ids = list(db.session.execute(select(OrgUnit.id).where(OrgUnit.kind == "branch")).scalars())
    now = datetime.combine(demo_today(), time(12), tzinfo=KST)
    per_branch = summary(ids, month, month_end(month), now=now)
    totals = {k: sum(s.get(k) or 0 for s in per_branch.values()) for k in (ON_TIME, LATE_STATUS, "missing")}
    assert totals[LATE_STATUS] == done["late"]
    assert totals["missing"] > 0
    assert totals[ON_TIME] > 0
    codes = dict(db.session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.id.in_(ids))).all())
    late_codes = {codes[b] for b, s in per_branch.items() if s.get(LATE_STATUS)}
    assert late_codes and late_codes <= set(LATE)
    for b, s in per_branch.items():
        assert (s.get(LATE_STATUS) or 0) <= LATE.get(codes[b], 0)


def test_b002_opens_on_holidays_except_seollal_chuseok_with_one_override(app):
    from plugins.branch_monitor.calendar.service import is_open
    from plugins.branch_monitor.models import HOLIDAYS_MAJOR_CLOSED, MonBranch, MonCalendarOverride
    from plugins.branch_monitor.seed import OVERRIDE_NOTE
    from portal.toolkit import OrgUnit, db

    done = run_demo_seed()
    b002 = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B002")).scalar_one()
    b001 = db.session.execute(select(OrgUnit).where(OrgUnit.code == "B001")).scalar_one()
    assert db.session.get(MonBranch, b002.id).holiday_policy == HOLIDAYS_MAJOR_CLOSED
    assert is_open(b002.id, date(2026, 6, 3)) and not is_open(b001.id, date(2026, 6, 3))  # Local Election Day
    assert not is_open(b002.id, date(2026, 2, 17))  # Seollal
    overrides = db.session.execute(select(MonCalendarOverride).where(MonCalendarOverride.branch_id == b002.id)).scalars().all()
    assert [(o.day.isoformat(), o.is_open, o.note) for o in overrides] == [(done["calendar"]["override"], False, OVERRIDE_NOTE)]
    assert not is_open(b002.id, overrides[0].day)


def test_seed_is_idempotent(app):
    from plugins.branch_monitor.models import MonAlert, MonCalendarOverride, MonKpi, MonState
    from portal.toolkit import Contact, SalesReport, db

    def snapshot():
        return {
            "contacts": db.session.execute(select(func.count(Contact.id))).scalar_one(),
            "overrides": db.session.execute(select(func.count()).select_from(MonCalendarOverride)).scalar_one(),
            "alerts": db.session.execute(select(func.count(MonAlert.id))).scalar_one(),
            "states": sorted(db.session.execute(select(MonState.branch_id, MonState.metric, MonState.state)).all()),
            "kpis": db.session.execute(select(func.count()).select_from(MonKpi)).scalar_one(),
            "filed": sorted(db.session.execute(select(SalesReport.id, SalesReport.created_at)).all()),
        }

    first = run_demo_seed()
    before = snapshot()
    second = run_demo_seed(scores=False)
    assert snapshot() == before
    assert second["calls"] == {"calls": 0}
    assert first["calls"]["calls"] > 0


def test_a_branch_is_in_alarm_for_the_at_risk_contact_rate_with_an_open_alert(app):
    """The funnel plot's alarm: one branch called almost none of its at-risk customers."""
    from plugins.branch_monitor.models import ALARM, MonAlert, MonState
    from portal.toolkit import OrgUnit, db

    done = run_demo_seed()
    alarm_code = done["calls"]["alarm_branch"]
    branch = db.session.execute(select(OrgUnit).where(OrgUnit.code == alarm_code)).scalar_one()
    state = db.session.get(MonState, (branch.id, "at_risk_contact_rate"))
    assert state is not None and state.state == ALARM
    assert state.value < state.detail["lo998"] < state.detail["company_rate"]
    alarms = db.session.execute(select(MonState.branch_id).where(
        MonState.metric == "at_risk_contact_rate", MonState.state == ALARM)).scalars().all()
    assert alarms == [branch.id]  # the others call most of theirs
    alerts = db.session.execute(select(MonAlert).where(MonAlert.branch_id == branch.id,
                                                       MonAlert.metric == "at_risk_contact_rate")).scalars().all()
    assert [(a.to_state, a.ack_at) for a in alerts] == [(ALARM, None)]
    # hq@ follows every branch: the alarm is in its notifications, once
    from portal.notify.models import Notification
    from portal.toolkit import User

    hq = db.session.execute(select(User).where(User.email == "hq@example.com")).scalar_one()
    notes = db.session.execute(select(Notification).where(Notification.user_id == hq.id,
                                                          Notification.kind == "bm.alert")).scalars().all()
    assert len(notes) == 1 and alarm_code in notes[0].text
    run_demo_seed(scores=False)
    assert db.session.execute(select(func.count(Notification.id)).where(
        Notification.user_id == hq.id, Notification.kind == "bm.alert")).scalar_one() == 1
