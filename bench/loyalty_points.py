"""Loyalty earning for 10,000,000 imported sale lines, set-based, on PostgreSQL (issue 5).

    .venv/bin/python bench/loyalty_points.py --lines 10000000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

1. creates (or reuses) the database ``pp_bench_loyalty``, migrates the core and generates the
   data directly in SQL (``generate_series``): 1,000 branches, ``--customers`` customers with birth
   dates, 8 categories, one daily report per branch and day, and ``--lines`` sale lines in receipts
   of three lines (one customer per receipt), with amounts from 1,000 to 200,000 KRW;
2. installs the loyalty add-on fresh (uninstall with purge first, so every run starts from zero)
   and sets a category multiplier and two promotions, so every rule's CASE is exercised;
3. times ``earn_pending()`` — the same set-based statements the import hook runs for one report —
   over every line, step by step, then the commit;
4. checks the result (every line has its earn record; the balances equal the entries);
5. times one day's report of 10,000 lines into that loaded ledger (``earn_for_report``, the
   import hook's path; rolled back) and writes ``bench/results/loyalty_points-<timestamp>.json``.

Target (issue 5): under 60 s on 2 cores for the whole earning, including the immediate tier
upgrades in the same transaction (a cold start upgrades hundreds of thousands of customers at once,
each mirrored into ``customer.tier``); the tier steps are also reported on their own. The script
prints the PostgreSQL settings it ran with (it changes none) and the WAL each step wrote.

Between the purge and the timing it vacuums ``customer`` (the purge rewrote the previous run's
tier mirror: what autovacuum would do a minute later, so that it does not run during the timing)
and takes a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load_data import DEFAULT_PG, bench_env, ensure_database  # noqa: E402

DBNAME = "pp_bench_loyalty"
SHOWN = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_buffers", "work_mem",
         "max_parallel_workers_per_gather", "jit", "wal_compression", "maintenance_work_mem")  # the server settings printed with the result
BRANCHES = 1000
DAYS = 730
DAILY_LINES = 10_000  # the incremental path: one day's report into the loaded ledger
START = date(2024, 11, 1)


def _psql(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)


def generate(url: str, customers: int, lines: int) -> None:
    """The data set, in SQL only (no Python row loop): skipped when it is already there."""
    with _psql(url) as conn:
        have = conn.execute("SELECT count(*) FROM sale_line").fetchone()[0]
        if have == lines and conn.execute("SELECT count(*) FROM customer").fetchone()[0] == customers:
            print(f"data: reusing {have:,} sale lines")
            return
        print("data: generating …", flush=True)
        purge_loyalty(url)  # its ledger refuses the TRUNCATE below (append-only), as it should
        t = time.perf_counter()
        conn.execute("TRUNCATE sale_line, sales_report, customer, org_unit, category RESTART IDENTITY CASCADE")
        conn.execute("INSERT INTO org_unit (id, code, name, kind, parent_id, path, depth, active, created_at) "
                      "VALUES (1, 'HQ', 'HQ', 'hq', NULL, '/1/', 0, true, now())")
        conn.execute(f"""INSERT INTO org_unit (id, code, name, kind, parent_id, path, depth, active, created_at)
                         SELECT g + 1, 'B' || lpad(g::text, 4, '0'), 'Branch ' || g, 'branch', 1,
                                '/1/' || (g + 1) || '/', 1, true, now()
                         FROM generate_series(1, {BRANCHES}) g""")
        conn.execute("""INSERT INTO category (id, code, name_ko, name_en) VALUES
            (1, 'health', '건강식품', 'Health food'), (2, 'beauty', '화장품', 'Beauty'), (3, 'home', '생활용품', 'Home'),
            (4, 'kitchen', '주방용품', 'Kitchen'), (5, 'personal', '퍼스널케어', 'Personal care'),
            (6, 'baby', '유아용품', 'Baby'), (7, 'digital', '디지털기기', 'Digital'), (8, 'fashion', '패션잡화', 'Fashion')""")
        conn.execute(f"""INSERT INTO customer (id, code, name, birth_date, branch_id, complaint, created_at, updated_at,
                                               total_spend)
                         SELECT g, 'C' || lpad(g::text, 8, '0'), 'Customer ' || g,
                                date '1950-01-01' + (g::bigint * 7919 % 20000)::int, 2 + g % {BRANCHES}, false, now(), now(), 0
                         FROM generate_series(1, {customers}) g""")
        conn.execute(f"""INSERT INTO sales_report (id, branch_id, report_date, status, rows, accepted, rejected,
                                                   created_at, mode, source, customers_created, customers_matched,
                                                   total_amount)
                         SELECT d * {BRANCHES} + b + 1, b + 2, date '{START}' + d, 'committed', 0, 0, 0, now(),
                                'strict', 'bench', 0, 0, 0
                         FROM generate_series(0, {DAYS - 1}) d, generate_series(0, {BRANCHES - 1}) b""")
        # Line g: receipt g/3 (one customer), report by receipt, amounts spread 1,000 … 200,000 KRW.
        conn.execute(f"""INSERT INTO sale_line (report_id, customer_id, branch_id, category_id, receipt_no, sold_at,
                                                quantity, unit_price, amount)
                         SELECT r % ({DAYS} * {BRANCHES}) + 1, (r * 2654435761) % {customers} + 1,
                                r % {BRANCHES} + 2, g % 8 + 1, 'R' || r, date '{START}' + (r % ({DAYS} * {BRANCHES})) / {BRANCHES},
                                1, 1000 * (1 + (g * 37) % 200), 1000 * (1 + (g * 37) % 200)
                         FROM (SELECT g, g / 3 AS r FROM generate_series(0, {lines - 1}) g) x""")
        conn.execute("SELECT setval(pg_get_serial_sequence('customer', 'id'), (SELECT max(id) FROM customer))")
        conn.execute("SELECT setval(pg_get_serial_sequence('sales_report', 'id'), (SELECT max(id) FROM sales_report))")
        conn.execute("VACUUM ANALYZE")
        print(f"data: {lines:,} lines generated in {time.perf_counter() - t:.0f} s", flush=True)


def purge_loyalty(url: str) -> None:
    from portal import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PORTAL_PLUGINS": ["loyalty"]})
    with app.app_context():
        from portal.extensions import db
        from portal.models import PluginState
        from portal.plugins_lifecycle import uninstall

        state = db.session.get(PluginState, "loyalty")
        if state is not None and state.installed:
            uninstall("loyalty", purge=True)
        db.session.remove()
        db.engine.dispose()


def run(url: str) -> dict:
    os.environ.update(bench_env(url))
    os.environ["PORTAL_PLUGINS"] = "loyalty"
    from portal import create_app

    app = create_app()
    with app.app_context():
        from portal.extensions import db
        from portal.migrations_support import upgrade_core
        from portal.models import PluginState
        from portal.plugins_lifecycle import install, uninstall

        upgrade_core()
        state = db.session.get(PluginState, "loyalty")
        if state is not None and state.installed:
            uninstall("loyalty", purge=True)
        install("loyalty")
        settings = {name: db.session.execute(db.text(f"SHOW {name}")).scalar_one() for name in SHOWN}
        print("server:", ", ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
        from plugins.loyalty.models import LoyCategoryRate, LoyPromotion

        db.session.add(LoyCategoryRate(category_id=1, multiplier_pct=150))
        db.session.add(LoyPromotion(name="double", starts_on=date(2025, 9, 1), ends_on=date(2025, 9, 30),
                                    multiplier_pct=200, active=True))
        db.session.add(LoyPromotion(name="digital", starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 31),
                                    multiplier_pct=300, category_id=7, active=True))
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        # The purge above cleared the previous run's tier mirror (a rewrite of those customer rows).
        with _psql(url) as conn:
            conn.execute("VACUUM customer")
            conn.execute("CHECKPOINT")

        from plugins.loyalty.earning import earn_pending

        steps: dict[str, float] = {}
        wal_mb: dict[str, int] = {}
        lsn = "SELECT pg_current_wal_insert_lsn()"
        mark = [time.perf_counter(), db.session.execute(db.text(lsn)).scalar_one()]

        def step(name: str) -> None:
            now, at = time.perf_counter(), db.session.execute(db.text(lsn)).scalar_one()
            wal = db.session.execute(db.text("SELECT CAST(:a AS pg_lsn) - CAST(:b AS pg_lsn)"),
                                     {"a": at, "b": mark[1]}).scalar_one()
            steps[name] = round(now - mark[0], 2)
            wal_mb[name] = round(float(wal) / 1e6)
            mark[0], mark[1] = time.perf_counter(), at
            print(f"  {name:<26} {steps[name]:6.1f} s  {wal_mb[name]:6,} MB WAL", flush=True)

        t0 = time.perf_counter()
        batch = earn_pending(as_of=date(2026, 10, 31), step=step)
        db.session.commit()
        step("commit")
        total = time.perf_counter() - t0
        tiers_s = round(sum(v for k, v in steps.items() if k.startswith("tiers")), 2)
        result = {"lines": batch.lines, "entries": batch.entries, "points": batch.points, "seconds": round(total, 1),
                  "points_seconds": round(total - tiers_s, 1), "tier_upgrade_seconds": tiers_s, "steps": steps,
                  "wal_mb": wal_mb, "settings": settings}
        print(f"earned {batch.points:,} points on {batch.lines:,} lines ({batch.entries:,} entries) in {total:.1f} s",
              flush=True)
        t = time.perf_counter()
        # Every line has its record; every balance equals its entries and its open lots; every
        # account above the base tier has its move in the history and its tier in customer.tier.
        q = db.session.execute(db.text("""SELECT (SELECT count(*) FROM loy_earn_line),
            (SELECT count(*) FROM loy_account a
             LEFT JOIN (SELECT account_id, SUM(points) AS p FROM loy_entry GROUP BY account_id) e ON e.account_id = a.id
             WHERE a.balance <> COALESCE(e.p, 0)),
            (SELECT count(*) FROM loy_account a
             LEFT JOIN (SELECT account_id, SUM(remaining) AS p FROM loy_lot GROUP BY account_id) l ON l.account_id = a.id
             WHERE a.balance <> COALESCE(l.p, 0)),
            (SELECT count(*) FROM loy_tier_change),
            (SELECT count(*) FROM loy_account a JOIN customer c ON c.id = a.customer_id
             WHERE a.tier_since IS NOT NULL AND (c.tier IS DISTINCT FROM a.tier
                   OR NOT EXISTS (SELECT 1 FROM loy_tier_change t WHERE t.customer_id = a.customer_id
                                  AND t.to_tier = a.tier)))""")).one()
        result.update(earn_lines=q[0], balance_mismatches=q[1], lot_mismatches=q[2], tier_changes=q[3],
                      tier_mismatches=q[4], verify_seconds=round(time.perf_counter() - t, 1))
        db.session.commit()
        result["daily"] = daily_report(db, DAILY_LINES)
        db.session.remove()
        db.engine.dispose()
        return result


def daily_report(db, lines: int) -> dict:
    """One day's report of ``lines`` lines into the loaded ledger, through ``earn_for_report`` (what
    the import hook runs): the incremental path beside the cold start. Rolled back afterwards."""
    from plugins.loyalty.earning import earn_for_report

    report_id = db.session.execute(db.text("""
        INSERT INTO sales_report (branch_id, report_date, status, rows, accepted, rejected, created_at, mode,
                                  source, customers_created, customers_matched, total_amount)
        VALUES (2, date '2026-11-05', 'committed', 0, 0, 0, now(), 'strict', 'bench', 0, 0, 0) RETURNING id""")).scalar_one()
    customers = db.session.execute(db.text("SELECT max(id) FROM customer")).scalar_one()
    db.session.execute(db.text(f"""
        INSERT INTO sale_line (report_id, customer_id, branch_id, category_id, receipt_no, sold_at, quantity,
                               unit_price, amount)
        SELECT :r, (g * 7919) % {customers} + 1, 2, g % 8 + 1, 'D' || g, date '2026-11-05', 1, 150000, 150000
        FROM generate_series(1, {lines}) g"""), {"r": report_id})  # noqa: S608 - integers
    t = time.perf_counter()
    batch = earn_for_report(report_id, as_of=date(2026, 11, 5))
    seconds = time.perf_counter() - t
    up = db.session.execute(db.text("SELECT count(*) FROM loy_tier_change WHERE changed_on = date '2026-11-05'")).scalar_one()
    db.session.rollback()
    print(f"daily report: {batch.lines:,} lines into the loaded ledger in {seconds:.2f} s ({up:,} upgrades)", flush=True)
    return {"lines": batch.lines, "entries": batch.entries, "seconds": round(seconds, 2), "tier_upgrades": up}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=os.environ.get("PORTAL_BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args()
    url = ensure_database(args.pg_url, DBNAME)
    import subprocess

    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "db", "upgrade"], cwd=ROOT,
                   env={**bench_env(url), "PORTAL_PLUGINS": "loyalty"}, check=True, capture_output=True)
    generate(url, args.customers, args.lines)
    result = run(url)
    result.update(bench="loyalty_points", database="postgresql", cpus=os.cpu_count(), python=platform.python_version(),
                  at=datetime.now(UTC).isoformat(timespec="seconds"), target_seconds=60,
                  customers=args.customers)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"loyalty_points-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
