"""Alerts on state change only (BM-9), who is told, the weekly digest."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from tests.plugins.branch_monitor.alerts_fixtures import (
    METRIC,
    clear_month,
    hq_local,
    notifications,
    set_kpi,
    subscribe,
    unit,
    user,
)

DAY0 = date(2031, 5, 12)  # a Monday, in the test month


def company_at_40(x: int, n: int = 50) -> None:
    """B001 at x/n, B002 filling the company rate to exactly 40 % (over n + 1,000)."""
    set_kpi("B001", x, n)
    set_kpi("B002", 0.4 * (n + 1000) - x, 1000)


def test_bm9_notifications_on_changes_only(app):
    """BM-9: ok → alarm → alarm → ok → alarm over 5 days → notifications on days 1 (alarm),
    3 (recovered) and 4 (alarm) only; a relapse after recovery is told again (metabase#6647)."""
    from plugins.branch_monitor.alerts.service import evaluate
    from plugins.branch_monitor.models import MonAlert, MonState
    from portal.toolkit import db

    with app.app_context():
        clear_month()
        hq = user("hq@example.com")
        subscribe(hq, "B001", METRIC)
        sent: list[int] = []
        for i, x in enumerate([20, 5, 5, 20, 5]):  # ok, alarm, alarm, ok, alarm
            company_at_40(x)
            before = len(notifications(hq))
            evaluate(DAY0 + timedelta(days=i))
            if len(notifications(hq)) > before:
                sent.append(i)
        assert sent == [1, 3, 4]
        b001 = unit("B001").id
        rows = db.session.execute(select(MonAlert.day, MonAlert.from_state, MonAlert.to_state).where(
            MonAlert.branch_id == b001, MonAlert.metric == METRIC).order_by(MonAlert.id)).all()
        assert [(d - DAY0).days for d, _, _ in rows] == [1, 3, 4]
        assert [(f, t) for _, f, t in rows] == [("ok", "alarm"), ("alarm", "ok"), ("ok", "alarm")]
        state = db.session.get(MonState, (b001, METRIC))
        assert (state.state, state.since, state.evaluated_on) == ("alarm", DAY0 + timedelta(days=4),
                                                                  DAY0 + timedelta(days=4))
        texts = [t for _, t in notifications(hq)]
        assert "B001" in texts[0]
        # a second run of the same day changes and tells nothing
        assert evaluate(DAY0 + timedelta(days=4))["changes"] == 0
        assert len(notifications(hq)) == 3


def test_equal_to_the_limit_does_not_fire(app):
    """At exactly the 99.8 % limit (10/50 at 40 %) a branch is in alert, not alarm; exactly at the
    95 % limit (13/50) it is ok (metabase#10899)."""
    from plugins.branch_monitor.alerts.service import evaluate
    from plugins.branch_monitor.models import MonState
    from portal.toolkit import db

    with app.app_context():
        clear_month()
        b001 = unit("B001").id
        company_at_40(13)
        evaluate(DAY0)
        assert db.session.get(MonState, (b001, METRIC)).state == "ok"
        company_at_40(10)
        evaluate(DAY0 + timedelta(days=1))
        state = db.session.get(MonState, (b001, METRIC))
        assert state.state == "alert" and state.detail["lo998"] == 0.2


def test_insufficient_never_alerts(app):
    from plugins.branch_monitor.alerts.service import evaluate
    from plugins.branch_monitor.models import MonAlert
    from portal.toolkit import db

    with app.app_context():
        clear_month()
        company_at_40(5)
        evaluate(DAY0)  # alarm
        set_kpi("B001", 0, 0)  # no denominator any more: no judgement
        evaluate(DAY0 + timedelta(days=1))
        set_kpi("B001", 5, 50)
        evaluate(DAY0 + timedelta(days=2))
        changes = db.session.execute(select(MonAlert.from_state, MonAlert.to_state).where(
            MonAlert.branch_id == unit("B001").id, MonAlert.metric == METRIC).order_by(MonAlert.id)).all()
        # alarm → insufficient is not a recovery, and the same alarm after it is no new change
        assert [tuple(c) for c in changes] == [("ok", "alarm")]


def test_subscribers_are_told_only_within_their_scope(app):
    """An R01-local HQ subscribed to everything hears of B001, never of B005 (R02); a subscriber to
    another metric or branch hears nothing."""
    from plugins.branch_monitor.alerts.service import evaluate

    with app.app_context():
        clear_month()
        local = hq_local("R01")
        subscribe(local, None, None)
        hq = user("hq@example.com")
        subscribe(hq, "B003", METRIC)
        subscribe(hq, None, "sales_baseline")
        set_kpi("B001", 5, 50)
        set_kpi("B005", 5, 50)
        set_kpi("B002", 0.4 * 1100 - 10, 1000)
        evaluate(DAY0)
        texts = [t for _, t in notifications(local)]
        assert len(texts) == 1 and "B001" in texts[0] and "B005" not in texts[0]
        assert [t for _, t in notifications(hq) if "B00" in t and METRIC in t] == []
        assert not any("B001" in t or "B005" in t for _, t in notifications(hq))


def test_weekly_digest_once_per_user_and_week(app):
    from plugins.branch_monitor.alerts.service import evaluate, send_digest
    from portal.toolkit import db

    with app.app_context():
        clear_month()
        local = hq_local("R01")
        subscribe(local, "R01", METRIC, immediate=False, digest=True)
        set_kpi("B001", 5, 50)
        set_kpi("B005", 5, 50)
        set_kpi("B002", 0.4 * 1100 - 10, 1000)
        evaluate(DAY0)  # Monday of the week reported
        assert notifications(local) == []  # digest only
        monday_8 = datetime(2031, 5, 18, 23, 0)  # Monday 2031-05-19 08:00 KST, in UTC
        stats = send_digest(now=monday_8)
        assert stats["sent"] == 1
        (key, text), = notifications(local, "bm.digest")
        assert key == f"bm.digest:{local.id}:2031-W20"
        assert "B001" in text and "B005" not in text
        assert send_digest(now=monday_8 + timedelta(minutes=5))["sent"] == 0
        db.session.rollback()


def test_cli_evaluate_and_digest(app):
    runner = app.test_cli_runner()
    with app.app_context():
        clear_month()
        company_at_40(5)
    out = runner.invoke(args=["portal", "branch_monitor", "evaluate", "--day", DAY0.isoformat(), "--quiet"])
    assert out.exit_code == 0 and "changes" in out.output, out.output
    again = runner.invoke(args=["portal", "branch_monitor", "evaluate", "--day", DAY0.isoformat()])
    assert again.exit_code == 0 and " 0 changes" in again.output, again.output
    bad = runner.invoke(args=["portal", "branch_monitor", "evaluate", "--day", "2031-02-30"])
    assert bad.exit_code != 0 and "--day" in bad.output
    digest = runner.invoke(args=["portal", "branch_monitor", "digest"])
    assert digest.exit_code == 0 and "digests sent" in digest.output
