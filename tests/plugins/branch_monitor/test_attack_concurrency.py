"""Races at the same instant on PostgreSQL (where requests and jobs really run in parallel), each
in its own thread with its own app context and database session:

* two acknowledgements of one alert → one 200 and one 409, one note, one audit row;
* two replacements of the same branch-day (and the import hook) at once → the day and month
  aggregates equal a plain SUM over the surviving sale lines;
* the evaluation run twice at once → one alert per change, one notification per subscriber;
* the reminders job run twice at once → one notification per branch, day, level and recipient,
  neither run failing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import api_token_for, bearer
from tests.dbs import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="parallel requests need PostgreSQL; SQLite has one writer")


def _sql(query: str, **params: Any) -> list[Any]:
    from portal.toolkit import db

    rows = list(db.session.execute(text(query), params).all())
    db.session.rollback()
    return rows


def _at_once(app, jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables at the same instant, each in a new app context; their results (an
    exception is returned, not raised)."""
    barrier = threading.Barrier(len(jobs))
    out: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        with app.app_context():
            from portal.toolkit import db

            barrier.wait(timeout=20)
            try:
                out[i] = job()
            except Exception as exc:  # noqa: BLE001 - the caller asserts on it
                db.session.rollback()
                out[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return out


def _requests(app, calls: list[tuple[str, str, dict, Any]]) -> list[int]:
    def call(method: str, url: str, hdrs: dict, body: Any) -> Callable[[], int]:
        return lambda: app.test_client().open(url, method=method, json=body, headers=hdrs).status_code

    return sorted(r if isinstance(r, int) else 500 for r in _at_once(app, [call(*c) for c in calls]))


def test_two_acknowledgements_of_one_alert_one_wins(app):
    from tests.plugins.branch_monitor.test_attack_bodies import _alert

    alert = _alert("B001")
    url = f"/api/v1/monitor/alerts/{alert}/ack"
    for _round in range(3):
        codes = _requests(app, [("POST", url, bearer(api_token_for("hq@example.com")), {"note": "본사 확인"}),
                                ("POST", url, bearer(api_token_for("admin@example.com")), {"note": "관리자 확인"})])
        if _round == 0:
            assert codes == [200, 409], codes
        else:
            assert codes == [409, 409], codes
    note = _sql("SELECT ack_note FROM mon_alert WHERE id = :i", i=alert)[0][0]
    assert note in ("본사 확인", "관리자 확인")
    assert _sql("SELECT count(*) FROM audit_event WHERE action = 'bm.alert.ack'")[0][0] == 1


def test_two_replacements_of_one_branch_day_keep_the_aggregates_a_plain_sum(app):
    from portal.toolkit import import_sales_report
    from tests.plugins.branch_monitor.aggregates_fixtures import (
        OLD,
        branch_id,
        day_rows,
        import_csv,
        month_rows,
        plain_day,
        plain_month,
        report_csv,
    )

    day = OLD - timedelta(days=3)
    b001 = branch_id("B001")
    import_csv(report_csv(day, "B001", [("RACE1", 10000), ("RACE2", 20000)]), "race-0.csv")
    for rnd in range(3):
        files = [report_csv(day, "B001", [("RACE1", 11000 + rnd), ("RACE3", 30000)], tag=f"A{rnd}"),
                 report_csv(day, "B001", [("RACE2", 5000), ("RACE4", 7000 + rnd), ("RACE5", 1)], tag=f"B{rnd}")]
        results = _at_once(app, [
            (lambda data=data, i=i, rnd=rnd: import_sales_report(data, f"race-{rnd}-{i}.csv", None, replace=True,
                                                         source="cli").status)
            for i, data in enumerate(files)])
        # the core lets one replacement commit; the other may lose on its unique committed day
        assert [r for r in results if not _lost_the_day(r)] and all(r == "committed" or _lost_the_day(r)
                                                                   for r in results), results
        sums = plain_day(b001, day)
        assert day_rows()[(b001, day)][:3] == sums, (rnd, day_rows()[(b001, day)], sums)
        month = month_rows()[(b001, day.replace(day=1))]
        plain = plain_month(b001, day.replace(day=1), day.replace(day=31))
        assert month[:3] + (month[4],) == plain, (rnd, month, plain)
    # the hook fired again for every report at once changes nothing
    from portal.events import fire
    from portal.toolkit import SalesReport, db

    before_days, before_months = day_rows(), month_rows()
    ids = [r for (r,) in _sql("SELECT id FROM sales_report WHERE branch_id = :b AND report_date = :d", b=b001, d=day)]

    def hook(rid: int) -> Callable[[], Any]:
        return lambda: fire("portal_sales_imported", report=db.session.get(SalesReport, rid)).ok

    assert all(r is True for r in _at_once(app, [hook(i) for i in ids] * 2))
    assert day_rows() == before_days and month_rows() == before_months


def _lost_the_day(result: Any) -> bool:
    return isinstance(result, Exception) and "uq_sales_report_committed_day" in str(result)


def test_the_evaluation_run_twice_at_once_alerts_and_notifies_once(app):
    from plugins.branch_monitor.alerts.service import evaluate
    from tests.plugins.branch_monitor.alerts_fixtures import MONTH, notifications, set_kpi, subscribe, user

    for code in [f"B{i:03d}" for i in range(1, 13)]:
        set_kpi(code, 200, 500)
    set_kpi("B001", 12, 50)  # alert: below the 95 % limit
    set_kpi("B005", 150, 500)  # 30 % against a company of about 39 %
    hq = user("hq@example.com")
    subscribe(hq, None, None)
    day = MONTH + timedelta(days=10)
    results = _at_once(app, [lambda: evaluate(day), lambda: evaluate(day)])
    assert not [r for r in results if isinstance(r, Exception)], results
    changes = _sql("SELECT o.code, a.metric, a.to_state, count(*) FROM mon_alert a JOIN org_unit o ON o.id = "
                   "a.branch_id WHERE a.day = :d GROUP BY o.code, a.metric, a.to_state", d=day)
    assert changes and all(n == 1 for *_k, n in changes), changes
    assert {c for c, m, s, _n in changes if m == "at_risk_contact_rate" and s != "ok"} >= {"B001", "B005"}
    assert sorted(r["changes"] for r in results) == [0, len(changes)], results
    assert len(notifications(user("hq@example.com"), "bm.alert")) == 1


def test_the_reminders_job_run_twice_at_once_sends_each_reminder_once(app):
    from plugins.branch_monitor.compliance.reminders import run_reminders
    from tests.plugins.branch_monitor.compliance_fixtures import clear_reports, kst, r01_hq
    from tests.plugins.branch_monitor.test_compliance_reminders import _only_b001_missing

    r01_hq()
    _only_b001_missing()
    clear_reports("B002", date(2026, 3, 3), date(2026, 3, 3))  # a second branch missing the same day
    for at in (kst(2026, 3, 4, 10, 31), kst(2026, 3, 5, 10, 31)):
        results = _at_once(app, [lambda at=at: run_reminders(now=at)] * 2)
        assert not [r for r in results if isinstance(r, Exception)], results
    rows = _sql("SELECT user_id, dedupe_key, count(*) FROM notification WHERE kind LIKE 'bm.%' "
                "AND dedupe_key LIKE '%2026-03-03%' GROUP BY user_id, dedupe_key")
    assert rows and all(n == 1 for _u, _k, n in rows), rows
    keys = {k for _u, k, _n in rows}
    assert len(keys) == 4, keys  # B001 and B002, each a reminder and an escalation


@pytest.mark.parametrize("body", [{"org_unit": None, "metric": None}, {"org_unit": "R01", "metric": None},
                                  {"org_unit": "B001", "metric": "at_risk_contact_rate"}])
def test_a_double_click_on_subscribe_makes_one_subscription(app, body):
    """Two identical subscriptions of one user at once (made deterministic: the second starts while
    the first is flushed but not committed): one row, the second an update, no error."""
    import time

    from plugins.branch_monitor.alerts.service import subscribe
    from portal.toolkit import User, db

    data = {**body, "immediate": True, "digest": True}
    second: list[Any] = []

    def other() -> None:
        with app.app_context():
            try:
                u = db.session.scalar(db.select(User).where(User.email == "hq@example.com"))
                second.append(subscribe(u, dict(data))[1])
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - asserted below
                db.session.rollback()
                second.append(exc)
            finally:
                db.session.remove()

    with app.app_context():
        u = db.session.scalar(db.select(User).where(User.email == "hq@example.com"))
        assert subscribe(u, dict(data))[1] is True
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(1.0)
        db.session.commit()
    thread.join(30)
    assert second == [False], second
    rows = _sql("SELECT count(*) FROM mon_subscription s JOIN user_account u ON u.id = s.user_id "
                "WHERE u.email = 'hq@example.com'")[0][0]
    assert rows == 1, rows
    again = app.test_client().post("/api/v1/monitor/alerts/subscriptions", json={**body, "digest": False},
                                   headers=bearer(api_token_for("hq@example.com")))
    assert again.status_code == 200, again.get_json()


def test_two_overrides_of_one_branch_date_at_once_are_one_row(app):
    """Two managers close B001 on the same date at once (deterministic as above): one row, the
    later decision kept, no error."""
    import time

    from plugins.branch_monitor.calendar.service import set_override
    from portal.toolkit import OrgUnit, User, db

    day = date(2026, 3, 9)
    second: list[Any] = []

    def decide(email: str, note: str) -> None:
        actor = db.session.scalar(db.select(User).where(User.email == email))
        branch = db.session.scalar(db.select(OrgUnit).where(OrgUnit.code == "B001"))
        set_override(actor, branch, day, False, note)

    def other() -> None:
        with app.app_context():
            try:
                decide("admin@example.com", "관리자 휴무 지정")
                db.session.commit()
                second.append("ok")
            except Exception as exc:  # noqa: BLE001 - asserted below
                db.session.rollback()
                second.append(exc)
            finally:
                db.session.remove()

    with app.app_context():
        decide("hq@example.com", "본사 휴무 지정")
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(1.0)
        db.session.commit()
    thread.join(30)
    assert second == ["ok"], second
    rows = _sql("SELECT is_open, note FROM mon_calendar_override o JOIN org_unit u ON u.id = o.branch_id "
                "WHERE u.code = 'B001' AND o.day = :d", d=day)
    assert len(rows) == 1 and rows[0][0] is False, rows


def test_the_digest_sent_twice_at_once_reaches_each_subscriber_once(app):
    from datetime import datetime

    from plugins.branch_monitor.alerts.service import evaluate, send_digest
    from tests.plugins.branch_monitor.alerts_fixtures import MONTH, set_kpi, subscribe, user

    for code in [f"B{i:03d}" for i in range(1, 13)]:
        set_kpi(code, 200, 500)
    set_kpi("B001", 12, 50)
    subscribe(user("hq@example.com"), None, None)
    subscribe(user("admin@example.com"), "R01", None)
    day = MONTH + timedelta(days=10)
    evaluate(day, notify_subscribers=False)
    at = datetime(day.year, day.month, day.day, 12) + timedelta(days=7)
    results = _at_once(app, [lambda: send_digest(at)] * 2)
    assert not [r for r in results if isinstance(r, Exception)] and all(r["failed"] == 0 for r in results), results
    rows = _sql("SELECT user_id, count(*) FROM notification WHERE kind = 'bm.digest' GROUP BY user_id")
    assert len(rows) == 2 and all(n == 1 for _u, n in rows), rows


def test_a_replacement_during_the_rebuild_keeps_the_aggregates_a_plain_sum(app):
    """The nightly rebuild of the month and a replaced report of one of its days at the same
    instant (their advisory lock serialises them): afterwards day and month rows are a plain SUM."""
    from plugins.branch_monitor.aggregates.service import rebuild
    from portal.toolkit import import_sales_report
    from tests.plugins.branch_monitor.aggregates_fixtures import (
        OLD,
        branch_id,
        day_rows,
        import_csv,
        month_rows,
        plain_day,
        plain_month,
        report_csv,
    )

    day = OLD - timedelta(days=5)
    first = day.replace(day=1)
    b001 = branch_id("B001")
    import_csv(report_csv(day, "B001", [("REB1", 10000), ("REB2", 20000)]), "rebuild-0.csv")
    import_csv(report_csv(day + timedelta(days=1), "B001", [("REB3", 3000)]), "rebuild-1.csv")
    for rnd in range(3):
        data = report_csv(day, "B001", [("REB1", 500 + rnd), ("REB4", 40000)], tag=f"R{rnd}")
        results = _at_once(app, [
            lambda: rebuild(first, first.replace(day=28)),
            lambda data=data, rnd=rnd: import_sales_report(data, f"rebuild-r{rnd}.csv", None, replace=True,
                                                           source="cli").status])
        assert not [r for r in results if isinstance(r, Exception)], results
        for d in (day, day + timedelta(days=1)):
            assert day_rows()[(b001, d)][:3] == plain_day(b001, d), (rnd, d)
        month = month_rows()[(b001, first)]
        assert month[:3] + (month[4],) == plain_month(b001, first, first.replace(day=31)), (rnd, month)
