"""The toolkit tier service (``set_tiers``) over 1,000,000 customers on PostgreSQL (issue 14).

    .venv/bin/python bench/tier_service.py --customers 1000000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

1. creates (or reuses) the database ``pp_bench_tiers``, migrates the core and generates
   ``--customers`` customers in SQL (``generate_series``) and a source table ``bench_tier_src``
   (customer_id, tier) giving every customer one of three tiers;
2. times ``set_tiers(text("SELECT customer_id, tier FROM bench_tier_src"), ...)`` — the set-based
   form the loyalty add-on's period-end review uses — on customers with no tier (every row
   changes), then again (no row changes: validation and the comparison only);
3. times the floor: the same ``UPDATE customer … FROM`` written by hand, without the service's
   validation query and audit row;
4. prints the figures and writes ``bench/results/tier_service-<timestamp>.json``.

The service's cost over the floor is its validation query (one scan of the assignments) and one
audit row; both paths leave rows that already hold their tier untouched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load_data import DEFAULT_PG, ensure_database  # noqa: E402

DBNAME = "pp_bench_tiers"
TIERS = ["silver", "gold", "vip"]


def _app(url: str):
    from portal import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-only-secret-not-for-production",
                       "PORTAL_PLUGINS": ["tests.sample_plugin"]})


def _load(db, text, customers: int) -> None:
    have = db.session.execute(text("SELECT count(*) FROM customer")).scalar_one()
    if have != customers:
        db.session.execute(text("TRUNCATE customer, customer_name_suffix CASCADE"))
        db.session.execute(text(
            "INSERT INTO customer (id, code, name, complaint, total_spend, created_at, updated_at) "
            "SELECT i, 'T' || i, 'x', false, 0, now(), now() FROM generate_series(1, :n) i"), {"n": customers})
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('customer', 'id'), :n)"), {"n": customers})
    db.session.execute(text("DROP TABLE IF EXISTS bench_tier_src"))
    db.session.execute(text("CREATE TABLE bench_tier_src (customer_id INTEGER PRIMARY KEY, tier VARCHAR(20))"))
    db.session.execute(text("INSERT INTO bench_tier_src SELECT id, (ARRAY['silver','gold','vip'])[1 + id % 3] "
                            "FROM customer ORDER BY id"))
    db.session.commit()


def _vacuum(db, text) -> None:
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    conn.execute(text("VACUUM ANALYZE customer"))
    conn.execute(text("VACUUM ANALYZE bench_tier_src"))
    conn.execute(text("CHECKPOINT"))
    conn.close()


def _reset(db, text) -> None:
    db.session.execute(text("UPDATE customer SET tier = NULL WHERE tier IS NOT NULL"))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--recreate", action="store_true")
    args = parser.parse_args()
    url = ensure_database(args.pg_url, DBNAME, recreate=args.recreate)
    app = _app(url)
    with app.app_context():
        from sqlalchemy import text

        from portal.extensions import db
        from portal.migrations_support import upgrade_core
        from portal.toolkit import set_tiers

        upgrade_core()
        t = time.perf_counter()
        _load(db, text, args.customers)
        load_s = time.perf_counter() - t
        query = text("SELECT customer_id, tier FROM bench_tier_src")
        result: dict[str, object] = {"customers": args.customers, "load_seconds": round(load_s, 1)}

        _reset(db, text)
        _vacuum(db, text)
        t = time.perf_counter()
        changed = set_tiers(query, source="bench", allowed=TIERS)
        db.session.commit()
        result["service_all_change_seconds"] = round(time.perf_counter() - t, 2)
        result["service_all_change_rows"] = changed

        t = time.perf_counter()
        unchanged = set_tiers(query, source="bench", allowed=TIERS)
        db.session.commit()
        result["service_no_change_seconds"] = round(time.perf_counter() - t, 2)
        result["service_no_change_rows"] = unchanged

        _reset(db, text)
        _vacuum(db, text)
        t = time.perf_counter()
        floor = db.session.execute(text(
            "UPDATE customer SET tier = m.tier FROM (SELECT customer_id, tier FROM bench_tier_src ORDER BY customer_id) m "
            "WHERE customer.id = m.customer_id AND customer.tier IS DISTINCT FROM m.tier")).rowcount
        db.session.commit()
        result["floor_all_change_seconds"] = round(time.perf_counter() - t, 2)
        result["floor_all_change_rows"] = floor
        mismatches = db.session.execute(text(
            "SELECT count(*) FROM customer c JOIN bench_tier_src s ON s.customer_id = c.id "
            "WHERE c.tier IS DISTINCT FROM s.tier")).scalar_one()
        result["mismatches"] = mismatches
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"tier_service-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
