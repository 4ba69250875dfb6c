"""The bulk path of ``earn_lines`` (PostgreSQL: a first, very large batch into empty tables,
loaded without their indexes, rebuilt at the end) gives the very ledger the row path gives, and
leaves every index and constraint as it found them. The threshold is lowered so the demo data
takes it (the benchmark's 10 million lines take it for real)."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.plugins.loyalty.conftest import assert_ledger_ok

DEFS = """SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid::regclass::text IN ('loy_account','loy_entry','loy_lot','loy_earn_line','loy_tier_change')
          ORDER BY 1"""
CONS = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid::regclass::text LIKE 'loy_%' ORDER BY 1"


def sql(q, **p):
    return db.session.execute(sa.text(q), p).all()


def scalar(q, **p):
    return sql(q, **p)[0][0]


def snapshot():
    q = {
        "accounts": "SELECT customer_id, balance, tier, tier_since, status, kind FROM loy_account ORDER BY customer_id",
        "entries": """SELECT a.customer_id, e.member_id, e.kind, e.points, e.effective_on, e.expires_on, e.report_id
                      FROM loy_entry e JOIN loy_account a ON a.id = e.account_id ORDER BY 2, 5, 7, 4""",
        "lots": """SELECT a.customer_id, l.member_id, l.points, l.remaining, l.earned_on, l.expires_on, e.report_id
                   FROM loy_lot l JOIN loy_account a ON a.id = l.account_id JOIN loy_entry e ON e.id = l.entry_id
                   ORDER BY 2, 5, 7, 3""",
        "earn": "SELECT sale_line_id, report_id, points FROM loy_earn_line ORDER BY 1, 2",
        "tiers": "SELECT customer_id, from_tier, to_tier, direction, reason, changed_on FROM loy_tier_change ORDER BY 1",
        "mirror": "SELECT id, tier FROM customer ORDER BY id",
    }
    return {k: [tuple(r) for r in sql(v)] for k, v in q.items()}


def test_bulk_equals_rows(app, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    from plugins.loyalty import earning

    before, cons = [tuple(r) for r in sql(DEFS)], [tuple(r) for r in sql(CONS)]
    assert scalar("SELECT COUNT(*) FROM loy_account") == 0 and scalar("SELECT COUNT(*) FROM sale_line") > 1000
    results = {}
    for mode, threshold in (("rows", 10**12), ("bulk", 1)):
        monkeypatch.setattr(earning, "BULK_LINES", threshold)
        steps = []
        batch = earning.earn_pending(as_of=date(2026, 11, 30), step=steps.append)
        db.session.flush()
        assert ("unindexed" in steps) == (mode == "bulk"), steps
        results[mode] = (batch.lines, batch.points, batch.entries, snapshot())
        if mode == "bulk":
            assert [tuple(r) for r in sql(DEFS)] == before
            assert [tuple(r) for r in sql(CONS)] == cons
            assert scalar("SELECT COUNT(*) FROM loy_account WHERE id <> customer_id") == 0
            db.session.commit()
            assert_ledger_ok()
            line, rep = sql("SELECT sale_line_id, report_id FROM loy_earn_line LIMIT 1")[0]
            with pytest.raises(sa.exc.IntegrityError):
                db.session.execute(sa.text("INSERT INTO loy_earn_line VALUES (:l, :r, 1)"), {"l": line, "r": rep})
                db.session.flush()
            db.session.rollback()
            # afterwards: a new account takes a fresh id past the customers'; the next batch is incremental
            nid = db.session.execute(sa.text("SELECT nextval(pg_get_serial_sequence('loy_account', 'id'))")).scalar()
            assert nid > scalar("SELECT MAX(id) FROM loy_account")
            db.session.rollback()
        else:
            db.session.rollback()
    r, b = results["rows"], results["bulk"]
    assert r[:3] == b[:3]
    for k in r[3]:
        assert r[3][k] == b[3][k], k


def test_bulk_path_gives_way_to_a_reader(app, monkeypatch):
    """While another transaction has the ledger open (here: a read of loy_account, as the points
    tab or an import hook does), the first batch neither waits for it nor makes it wait: the lock
    attempt fails at once (NOWAIT), its savepoint releases what it had taken, and the batch takes
    the ordinary path."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    from plugins.loyalty import earning

    monkeypatch.setattr(earning, "BULK_LINES", 1)
    engine = sa.create_engine(db.engine.url)
    other = engine.connect()
    try:
        other.execute(sa.text("SELECT 1 FROM loy_account LIMIT 1"))  # ACCESS SHARE until its transaction ends
        steps = []
        batch = earning.earn_pending(as_of=date(2026, 11, 30), step=steps.append)
        assert batch.lines > 1000 and "unindexed" not in steps
        locks = scalar("""SELECT COUNT(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'AccessExclusiveLock'
                          AND relation IN ('loy_earn_line'::regclass, 'loy_account'::regclass, 'loy_entry'::regclass,
                                           'loy_lot'::regclass, 'loy_tier_change'::regclass)""")
        assert locks == 0  # the refused attempt holds nothing until the commit
        assert other.execute(sa.text("SELECT COUNT(*) FROM loy_tier_change")).scalar() == 0  # not kept waiting
        db.session.commit()
    finally:
        other.rollback()
        other.close()
        engine.dispose()
    assert_ledger_ok()
    assert scalar("SELECT COUNT(*) FROM loy_earn_line") == batch.lines
