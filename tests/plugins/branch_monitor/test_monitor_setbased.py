"""The monitor is set-based (BM-12's premise): the number of SQL statements behind the monitor
page, the branches API and a scorecard does not grow with the number of branches in view — the
global HQ user's 12 branches cost as many statements as the R01 user's 4."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests.plugins.branch_monitor.monitor_fixtures import (
    R01_LOCAL,
    client_for,
    put_alert,
    put_state,
    r01_hq,
    seed_kpis,
    token_headers,
)


@contextmanager
def counting(app):
    from portal.toolkit import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def on_execute(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def test_statements_do_not_grow_with_branches(app):
    with app.app_context():
        seed_kpis()
        for code in ("B002", "B004", "B007", "B010"):
            put_state(code, "at_risk_contact_rate", "alarm")
            put_alert(code, "at_risk_contact_rate", "alarm")
        r01_hq()
        tokens = {e: token_headers(e) for e in ("hq@example.com", R01_LOCAL)}
    counts = {}
    for email in ("hq@example.com", R01_LOCAL):
        c = client_for(app, email, "en")
        c.get("/monitor/?month=2026-03")  # warm caches (permissions, plugin state)
        with counting(app) as page:
            assert c.get("/monitor/?month=2026-03").status_code == 200
        with counting(app) as api:
            assert app.test_client().get("/api/v1/monitor/branches?month=2026-03",
                                         headers=tokens[email]).status_code == 200
        with counting(app) as card:
            assert c.get("/monitor/branches/B002?month=2026-03").status_code == 200
        counts[email] = (len(page), len(api), len(card))
    assert counts["hq@example.com"] == counts[R01_LOCAL], counts
    assert counts["hq@example.com"][0] < 40, counts
