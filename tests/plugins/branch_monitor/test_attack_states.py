"""The alert state machine attacked with a day of no judgement in between (a month's first days,
a branch whose denominator drops to 0): ``insufficient`` is "no judgement", not a state change
(alerts/service's docstring: "no judgement is not a recovery") — so

* alert → insufficient → alert is the same alert: no second alert, no second notification;
* alert → insufficient → ok is a recovery: one recovery row and its notification (BM-9 tells
  recoveries: "notifications on days 1 (alarm), 3 (recovered) and 4 (alarm)");
* a state that stays the same over many runs is told once."""

from __future__ import annotations

from datetime import timedelta

from tests.plugins.branch_monitor.alerts_fixtures import MONTH, notifications, set_kpi, subscribe, user

CODES = [f"B{i:03d}" for i in range(1, 13)]


def _company() -> None:
    for code in CODES:
        set_kpi(code, 200, 500)  # about 40 % everywhere


def _run(day_no: int, b001: tuple[int, int]) -> dict[str, int]:
    from plugins.branch_monitor.alerts.service import evaluate

    set_kpi("B001", *b001)
    return evaluate(MONTH + timedelta(days=day_no))


def _alerts() -> list[tuple[str, str]]:
    from sqlalchemy import text

    from portal.toolkit import db

    return [tuple(r) for r in db.session.execute(text(
        "SELECT a.from_state, a.to_state FROM mon_alert a JOIN org_unit o ON o.id = a.branch_id "
        "WHERE o.code = 'B001' AND a.metric = 'at_risk_contact_rate' ORDER BY a.id"))]


def test_a_state_kept_over_many_runs_is_told_once(app):
    _company()
    hq = user("hq@example.com")
    subscribe(hq, "B001", "at_risk_contact_rate")
    for day_no in range(1, 6):
        _run(day_no, (12, 50))
    assert _alerts() == [("ok", "alert")]
    assert len(notifications(user("hq@example.com"))) == 1


def test_alert_insufficient_alert_is_one_alert(app):
    _company()
    subscribe(user("hq@example.com"), "B001", "at_risk_contact_rate")
    _run(1, (12, 50))
    _run(2, (0, 0))  # no at-risk customers this month so far: nothing to judge
    _run(3, (12, 50))
    assert _alerts() == [("ok", "alert")]
    assert len(notifications(user("hq@example.com"))) == 1


def test_alert_insufficient_ok_is_a_recovery(app):
    _company()
    subscribe(user("hq@example.com"), "B001", "at_risk_contact_rate")
    _run(1, (12, 50))
    _run(2, (0, 0))
    _run(3, (25, 50))  # 50 %: inside the limits
    assert _alerts() == [("ok", "alert"), ("alert", "ok")]
    assert len(notifications(user("hq@example.com"))) == 2
