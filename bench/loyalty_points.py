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
4. checks the result (every line has its earn record; the balances equal the entries) and writes
   ``bench/results/loyalty_points-<timestamp>.json``.

Target (issue 5): under 60 s on 2 cores for the points. The immediate tier upgrades that follow in
the same transaction (a cold start upgrades hundreds of thousands of customers at once, each
mirrored into ``customer.tier``) are timed and reported separately.
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
BRANCHES = 1000
DAYS = 730
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
        from plugins.loyalty.models import LoyCategoryRate, LoyPromotion

        db.session.add(LoyCategoryRate(category_id=1, multiplier_pct=150))
        db.session.add(LoyPromotion(name="double", starts_on=date(2025, 9, 1), ends_on=date(2025, 9, 30),
                                    multiplier_pct=200, active=True))
        db.session.add(LoyPromotion(name="digital", starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 31),
                                    multiplier_pct=300, category_id=7, active=True))
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()

        from plugins.loyalty.earning import earn_pending

        steps: dict[str, float] = {}
        mark = [time.perf_counter()]

        def step(name: str) -> None:
            now = time.perf_counter()
            steps[name] = round(now - mark[0], 2)
            mark[0] = now
            print(f"  {name:<16} {steps[name]:6.1f} s", flush=True)

        t0 = time.perf_counter()
        batch = earn_pending(as_of=date(2026, 10, 31), step=step)
        db.session.commit()
        step("commit")
        total = time.perf_counter() - t0
        tiers_s = steps.get("tiers", 0.0)
        result = {"lines": batch.lines, "entries": batch.entries, "points": batch.points, "seconds": round(total, 1),
                  "points_seconds": round(total - tiers_s, 1), "tier_upgrade_seconds": tiers_s, "steps": steps}
        print(f"earned {batch.points:,} points on {batch.lines:,} lines ({batch.entries:,} entries) in {total:.1f} s",
              flush=True)
        t = time.perf_counter()
        q = db.session.execute(db.text("""SELECT (SELECT count(*) FROM loy_earn_line),
            (SELECT count(*) FROM loy_account a WHERE a.balance <> (SELECT COALESCE(SUM(points), 0) FROM loy_entry e
                                                                   WHERE e.account_id = a.id)),
            (SELECT count(*) FROM loy_tier_change)""")).one()
        result.update(earn_lines=q[0], balance_mismatches=q[1], tier_changes=q[2],
                      verify_seconds=round(time.perf_counter() - t, 1))
        db.session.remove()
        db.engine.dispose()
        return result


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
