"""Isolated event reactions (issue 14 item 3): ``portal.events.fire`` with two add-ons, one failing.

The import and the other add-on's work survive, the failing reaction is stored and retried (and
succeeds once its fault is gone), and both orders of registration give the same result.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Customer, SalesReport, utcnow
from tests.conftest import TEST_PLUGIN, _app_on_clone, make_app
from tests.test_sales_import import BASIC, csv_bytes, run_import

A, B = "tests.event_plugin_a", "tests.event_plugin_b"


def _events_app(template_db, order):
    def factory(url):
        return make_app(url, PORTAL_PLUGINS=[TEST_PLUGIN, *order])

    for app in _app_on_clone(template_db, factory):
        from portal.plugins_lifecycle import install

        install("eva")
        install("evb")
        yield app


@pytest.fixture(params=[(A, B), (B, A)], ids=["a-then-b", "b-then-a"])
def events_app(template_db, request):
    from tests.event_plugin_a import hooks as a_hooks
    from tests.event_plugin_b import hooks as b_hooks

    a_hooks.CALLS.clear()
    b_hooks.CALLS.clear()
    b_hooks.FAIL.clear()
    yield from _events_app(template_db, request.param)
    b_hooks.FAIL.clear()


def _audit(action: str) -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)).scalar_one()


def _failures() -> list:
    from portal.events.models import EventFailure

    return list(db.session.execute(select(EventFailure).order_by(EventFailure.id)).scalars())


def test_a_failing_reaction_leaves_the_import_and_the_other_add_on_intact(events_app, caplog):
    from tests.event_plugin_b import hooks as b_hooks

    b_hooks.FAIL.add("sales_imported")
    with caplog.at_level(logging.ERROR, logger="portal.events"):
        result = run_import(csv_bytes(BASIC), mode="strict")
    assert result.status == "committed", result.message
    db.session.rollback()
    report = db.session.get(SalesReport, result.report_id)
    assert report.status == "committed"
    assert db.session.execute(select(func.count()).where(
        db.text("sale_line.report_id = :r")).select_from(db.text("sale_line")), {"r": report.id}).scalar_one() == 3
    assert _audit("eva.sales_imported") == 1  # A's reaction committed
    assert _audit("evb.sales_imported") == 0  # B's half-work rolled back with its savepoint
    [failure] = _failures()
    assert (failure.hook, failure.plugin, failure.attempts) == ("portal_sales_imported", "evb", 1)
    assert failure.args == {"report": {"$row": "sales_report", "id": report.id}}
    assert "RuntimeError: evb cannot handle sales_imported" in failure.error
    assert failure.resolved_at is None and failure.next_try_at > failure.created_at
    assert any("'evb'" in r.getMessage() and "portal_sales_imported" in r.getMessage() for r in caplog.records)

    # Not due yet: nothing happens. Due but still faulty: retried, back-off grows.
    from portal.events.retry import retry_due

    assert retry_due() == {"resolved": 0, "failed": 0, "gave_up": 0}
    later = utcnow() + timedelta(minutes=2)
    assert retry_due(now=later) == {"resolved": 0, "failed": 1, "gave_up": 0}
    [failure] = _failures()
    assert failure.attempts == 2 and failure.next_try_at == later + timedelta(minutes=2)
    # The fault is gone: the retry succeeds, B's work is there once, A's is not repeated.
    b_hooks.FAIL.clear()
    assert retry_due(now=later + timedelta(hours=1)) == {"resolved": 1, "failed": 0, "gave_up": 0}
    [failure] = _failures()
    assert failure.resolved_at is not None and failure.next_try_at is None
    assert _audit("evb.sales_imported") == 1 and _audit("eva.sales_imported") == 1
    assert retry_due(now=later + timedelta(days=1)) == {"resolved": 0, "failed": 0, "gave_up": 0}


def test_order_is_by_add_on_name_whatever_the_registration_order(events_app):
    from portal.events import fire, implementations
    from tests.event_plugin_a import hooks as a_hooks
    from tests.event_plugin_b import hooks as b_hooks

    names = [i.plugin_name for i in implementations("portal_sales_imported")]
    assert names[-2:] == ["eva", "evb"] and all(n.startswith("core") for n in names[:-2])
    report_id = db.session.execute(select(SalesReport.id).limit(1)).scalar_one()
    result = fire("portal_sales_imported", report=db.session.get(SalesReport, report_id))
    assert result.ok and result.called[-2:] == ["eva", "evb"]
    assert a_hooks.CALLS == [("sales_imported", f"report {report_id}")]
    assert b_hooks.CALLS == [("sales_imported", f"report {report_id}")]


def test_inside_a_transaction_reactions_are_savepoints_and_commit_with_the_caller(events_app):
    from portal.events import fire
    from tests.event_plugin_b import hooks as b_hooks

    b_hooks.FAIL.add("quality_changed")
    customer = db.session.execute(select(Customer).order_by(Customer.id).limit(1)).scalar_one()
    customer.note = "changed by the caller"
    result = fire("portal_quality_changed", customer_ids=[customer.id], field="phone", opened=True, actor=None,
                  source="test")
    assert result.failed.keys() == {"evb"} and len(result.failure_ids) == 1
    assert db.session().in_transaction()  # fire never commits an in-transaction event
    db.session.rollback()  # the caller changes its mind: the change, A's work and the failure row go together
    assert db.session.get(Customer, customer.id).note != "changed by the caller"
    assert _audit("eva.quality_changed") == 0 and _failures() == []

    customer.note = "kept"
    fire("portal_quality_changed", customer_ids=[customer.id], field="phone", opened=True, actor=None, source="test")
    db.session.commit()
    assert db.session.get(Customer, customer.id).note == "kept"
    assert _audit("eva.quality_changed") == 1 and _audit("evb.quality_changed") == 0
    assert [f.plugin for f in _failures()] == ["evb"]


def test_a_reaction_that_breaks_the_sql_transaction_is_contained(events_app):
    """A failed statement aborts a PostgreSQL transaction; the savepoint keeps the caller's alive
    (and on SQLite the savepoint really rolls back: pysqlite's own BEGIN handling is off)."""
    from portal.events import fire, implementations

    customer = db.session.execute(select(Customer).order_by(Customer.id).limit(1)).scalar_one()
    calls = []

    def broken_sql(customer, changes):
        calls.append(customer.id)
        db.session.execute(db.text("INSERT INTO no_such_table VALUES (1)"))

    impl = next(i for i in implementations("portal_customer_changed") if i.plugin_name == "evb")
    saved = impl.function
    impl.function = broken_sql
    try:
        customer.note = "survives"
        result = fire("portal_customer_changed", customer=customer, changes={"note": (None, "survives")})
    finally:
        impl.function = saved
    assert calls == [customer.id] and "evb" in result.failed
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).note == "survives"
    [failure] = _failures()
    assert failure.args["changes"] == {"$dict": [["note", [None, None]]]}  # personal values never stored


def test_unknown_events_and_unstorable_arguments_are_refused_before_any_reaction(events_app):
    from portal.events import EventArgError, fire
    from tests.event_plugin_a import hooks as a_hooks

    with pytest.raises(ValueError, match="not an event"):
        fire("portal_menu_items", user=None)
    with pytest.raises(EventArgError):
        fire("portal_quality_changed", customer_ids=[1], field="phone", opened=True, actor=object(), source="x")
    assert a_hooks.CALLS == []


def test_a_retry_gives_up_when_the_row_is_gone_or_after_max_attempts(events_app):
    from portal.events import MAX_ATTEMPTS
    from portal.events.models import EventFailure
    from portal.events.retry import retry_due, retry_one
    from tests.event_plugin_b import hooks as b_hooks

    now = utcnow()
    gone = EventFailure(hook="portal_sales_imported", plugin="evb", args={"report": {"$row": "sales_report", "id": 10**9}},
                        error="x", attempts=1, next_try_at=now, created_at=now)
    stubborn = EventFailure(hook="portal_customers_created", plugin="evb", args={
        "customer_ids": [1], "actor": None, "source": "import"}, error="x", attempts=MAX_ATTEMPTS - 1,
        next_try_at=now, created_at=now)
    db.session.add_all([gone, stubborn])
    db.session.commit()
    b_hooks.FAIL.add("customers_created")
    assert retry_due(now=now) == {"resolved": 0, "failed": 0, "gave_up": 2}
    db.session.expire_all()
    assert gone.next_try_at is None and "no longer exists" in gone.error
    assert stubborn.next_try_at is None and stubborn.attempts == MAX_ATTEMPTS
    b_hooks.FAIL.clear()
    assert retry_one(stubborn.id, force=True) == "resolved"  # an administrator's retry after the fix
    assert _audit("evb.customers_created") == 1


def test_codec_round_trip(app):
    from datetime import date, datetime

    from portal.events.codec import decode, encode

    customer = db.session.execute(select(Customer).limit(1)).scalar_one()
    value = {"a": [1, "x", None, True, 2.5], "d": date(2026, 12, 7), "t": datetime(2026, 12, 7, 9, 30),
             "c": customer, ("k", 1): (1, 2)}
    import json

    back = decode(json.loads(json.dumps(encode(value))))
    assert back == {"a": [1, "x", None, True, 2.5], "d": date(2026, 12, 7), "t": datetime(2026, 12, 7, 9, 30),
                    "c": customer, ("k", 1): [1, 2]}


def test_a_failure_asks_the_queue_for_a_retry_after_the_commit(events_app, monkeypatch):
    """After-commit events enqueue ``events.retry`` at once; in-transaction ones only once the
    caller commits (the failure row must exist for the job) — never on a rollback."""
    import portal.jobs
    from portal.events import fire
    from tests.event_plugin_b import hooks as b_hooks

    queued = []
    monkeypatch.setattr(portal.jobs, "enqueue", lambda name, **kw: queued.append((name, kw)) or "task")
    b_hooks.FAIL.update({"quality_changed", "sales_imported"})
    customer = db.session.execute(select(Customer).order_by(Customer.id).limit(1)).scalar_one()
    fire("portal_quality_changed", customer_ids=[customer.id], field="phone", opened=True, actor=None, source="t")
    assert queued == []
    db.session.rollback()
    fire("portal_quality_changed", customer_ids=[customer.id], field="phone", opened=True, actor=None, source="t")
    fire("portal_quality_changed", customer_ids=[customer.id], field="email", opened=True, actor=None, source="t")
    db.session.commit()
    assert [name for name, _kw in queued] == ["events.retry"]  # once per commit, none for the rolled-back one
    db.session.commit()
    assert len(queued) == 1
    queued.clear()
    report = db.session.execute(select(SalesReport).limit(1)).scalar_one()
    fire("portal_sales_imported", report=report)
    assert queued == [("events.retry", {"delay": 60.0})]


def test_the_retry_job_is_registered_and_runs(events_app):
    """``events.retry`` is a periodic job of the core (every minute) and runs through the queue."""
    from portal.jobs import run_now
    from portal.jobs.registry import collect_specs

    spec = collect_specs(events_app)["events.retry"]
    assert spec.plugin == "core" and spec.schedule == {"minute": "*"}
    db.session.commit()
    assert run_now("events.retry") == {"resolved": 0, "failed": 0, "gave_up": 0}
