"""The consent and contact service on PostgreSQL: may_contact_many per dispatcher batch, and
record_contacts in bulk.

Usage::

    .venv/bin/python bench/contact_check.py --db-name pp_contact_bench \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

The database is one ``bench/load_data.py`` prepared (``--customers``; reused when loaded). The
script adds contact history first when there is none (``--contacts`` marketing SMS contacts spread
over 30 days, as a used target list writes them), then times:

* ``may_contact_many`` for batches of 500 (the dispatcher's) and 5,000 random customers, on SMS
  and e-mail, marketing and service — median of ``--runs``;
* ``record_contacts`` of 10,000 rows (rolled back).

Results go to stdout and ``bench/results/contact-check-latest.md``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from load_data import DEFAULT_PG, WORK, db_url, prepare  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def seed_contacts(n: int) -> int:
    from sqlalchemy import text

    from portal.extensions import db

    have = db.session.execute(text("SELECT count(*) FROM contact")).scalar_one()
    if have:
        return have
    db.session.execute(text("""
        INSERT INTO contact (customer_id, channel, purpose, at, source, ref)
        SELECT c.id, 'sms', 'marketing', now() AT TIME ZONE 'UTC' - (c.id % 30) * interval '1 day', 'extraction',
               'extraction:bench'
        FROM customer c WHERE c.id % 7 = 0 ORDER BY c.id LIMIT :n"""), {"n": n})
    db.session.commit()
    db.session.execute(text("ANALYZE contact"))
    db.session.commit()
    return db.session.execute(text("SELECT count(*) FROM contact")).scalar_one()


def timed(fn, runs: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def run(url: str, runs: int, contacts: int) -> list[str]:
    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(WORK))
    from sqlalchemy import text

    from portal import create_app
    from portal.contact import may_contact_many, record_contacts
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-only-secret-not-for-production"})
    lines = ["| case | median | min | per customer |", "|---|---:|---:|---:|"]
    with app.app_context(), app.test_request_context():
        print(f"contact rows: {seed_contacts(contacts):,}", flush=True)
        ids = [r[0] for r in db.session.execute(text("SELECT id FROM customer"))]
        rng = random.Random(14)
        at = datetime(2026, 12, 7, 3, 0)  # 12:00 KST
        for size in (500, 5000):
            batch = rng.sample(ids, size)
            for channel, purpose in (("sms", "marketing"), ("email", "marketing"), ("sms", "service")):
                def call(batch=batch, channel=channel, purpose=purpose):
                    may_contact_many(batch, channel, purpose, at)
                    db.session.rollback()

                med, low = timed(call, runs)
                line = f"| may_contact_many {size} × {channel}/{purpose} | {med * 1000:.1f} ms | {low * 1000:.1f} ms | " \
                       f"{med / size * 1e6:.1f} µs |"
                print(line, flush=True)
                lines.append(line)
        rows = [{"customer_id": cid, "channel": "sms", "purpose": "marketing", "source": "bench", "ref": f"message:{i}",
                 "at": at - timedelta(minutes=i % 600)} for i, cid in enumerate(rng.sample(ids, 10_000))]

        def insert():
            record_contacts(rows)
            db.session.rollback()

        med, low = timed(insert, max(1, runs // 2))
        line = f"| record_contacts 10,000 rows | {med * 1000:.0f} ms | {low * 1000:.0f} ms | {med / 10_000 * 1e6:.1f} µs |"
        print(line, flush=True)
        lines.append(line)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--db-name", default="pp_bench")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-prepare", action="store_true")
    args = ap.parse_args()
    url = db_url(args.pg_url, args.db_name) if args.no_prepare else prepare(args.pg_url, args.db_name, args.customers, 1)
    load = os.getloadavg()[0]
    lines = run(url, args.runs, args.contacts)
    head = (f"Consent and contact service, {args.db_name} on PostgreSQL ({os.cpu_count()} CPUs, load {load:.1f} "
            f"before), {datetime.now():%Y-%m-%d %H:%M}; median of {args.runs} runs after a warm-up.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "contact-check-latest.md").write_text(head + "\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
