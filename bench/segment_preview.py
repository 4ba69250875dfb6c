"""Segment preview (count + suppression breakdown) at a million customers on PostgreSQL.

Usage::

    .venv/bin/python bench/segment_preview.py \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

The database ``pp_bench`` is prepared by ``bench/load_data.py`` (1,000,000 customers, 1.8M
consents, 1M sale lines; reused when already loaded, migrated to the latest schema, VACUUM
ANALYZE). ``--no-prepare`` skips that step (the database must be migrated already); ``--plugins`` sets
``PORTAL_PLUGINS`` for the in-process app (e.g. ``tests.sample_plugin`` to load no built-in add-on).

``portal.analytics.extraction.preview`` runs in-process (no HTTP) for representative rule sets ×
channels and viewers. Each case: one warm-up call, then ``--runs`` timed calls (default 5); the
median is compared with the 1-second target. The sample of 10 customers is included, as in the
API. The rule sets avoid depending on stored scores (``customer_score`` may be empty here): spend
and recency come from ``customer.total_spend`` / ``last_purchase_on``, which every import keeps.

Results: ``bench/results/segment-preview-<stamp>.json`` and ``segment-preview-latest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from load_data import DEFAULT_PG, WORK, db_url, prepare  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_S = 1.0

CASES = [
    ("all customers", "hq@example.com", "sms", {"all": []}),
    ("spend ≥ 300k or RFM champions/loyal", "hq@example.com", "email",
     {"any": [{"field": "total_spend", "op": "gte", "value": 300_000},
              {"field": "rfm_segment", "op": "in", "value": ["champions", "loyal"]}]}),
    ("bought beauty in the last 90 days", "hq@example.com", "dm",
     {"all": [{"field": "bought_category", "op": "eq", "value": {"category": "beauty", "days": 90}}]}),
    ("branch viewer: age 30–59, bought within a year", "store1@example.com", "sms",
     {"all": [{"field": "age", "op": "between", "value": [30, 59]},
              {"field": "last_purchase_on", "op": "within_days", "value": 365}]}),
    ("count only: three branches, neither SMS consent nor a Nov/Dec birthday", "hq@example.com", None,
     {"all": [{"field": "branch", "op": "in", "value": ["B001", "B002", "B003"]},
              {"not": {"any": [{"field": "consent", "op": "eq", "value": "sms"},
                               {"field": "birthday_month", "op": "in", "value": [11, 12]}]}}]}),
]


def run(url: str, runs: int, plugins: list[str]) -> list[dict]:
    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(WORK))
    from sqlalchemy import select

    from portal import create_app
    from portal.analytics.extraction import preview
    from portal.extensions import db
    from portal.models import User

    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-only-secret-not-for-production"}
    if plugins:
        config["PORTAL_PLUGINS"] = plugins
    app = create_app(config)
    out = []
    with app.app_context(), app.test_request_context():
        for label, email, channel, rules in CASES:
            viewer = db.session.execute(select(User).where(User.email == email)).scalar_one()
            times = []
            result = None
            for i in range(runs + 1):
                t0 = time.perf_counter()
                result = preview(viewer, rules, channel)
                elapsed = time.perf_counter() - t0
                db.session.rollback()
                if i:
                    times.append(elapsed)
            median = statistics.median(times)
            out.append({"case": label, "viewer": email, "channel": channel, "rules": rules,
                        "median_s": round(median, 3), "min_s": round(min(times), 3), "max_s": round(max(times), 3),
                        "runs": [round(t, 3) for t in times], "ok": median < TARGET_S,
                        "total": result.total, "included": result.included, "excluded": result.excluded})
            print(f"{label:48} {channel or '-':6} median {median:6.3f} s  (min {min(times):.3f}, max {max(times):.3f})"
                  f"  total {result.total:>9,}  included {result.included:>9,}", flush=True)
    return out


def report(rows: list[dict], meta: dict) -> str:
    lines = [f"Segment preview at {meta['customers']:,} customers (PostgreSQL, {meta['cpus']} CPUs), "
             f"median of {meta['runs']} runs after a warm-up; target < {TARGET_S:g} s. "
             f"Load average before/after: {meta['load_before']:.2f} / {meta['load_after']:.2f}.", "",
             "| case | viewer | channel | median | min | max | matching | included | ok |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['viewer'].split('@')[0]} | {r['channel'] or '—'} | {r['median_s']:.3f} s "
                     f"| {r['min_s']:.3f} s | {r['max_s']:.3f} s | {r['total']:,} | {r['included']:,} "
                     f"| {'yes' if r['ok'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="server URL; its database part is replaced by --db-name")
    ap.add_argument("--db-name", default="pp_bench")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-prepare", action="store_true", help="use the database as it is")
    ap.add_argument("--plugins", default="", help="PORTAL_PLUGINS for the app (comma-separated; default: the usual discovery)")
    args = ap.parse_args()
    url = db_url(args.pg_url, args.db_name) if args.no_prepare else prepare(args.pg_url, args.db_name, args.customers, 1)
    load_before = os.getloadavg()[0]
    rows = run(url, args.runs, [p.strip() for p in args.plugins.split(",") if p.strip()])
    meta = {"customers": args.customers, "runs": args.runs, "cpus": os.cpu_count(), "db": args.db_name,
            "load_before": load_before, "load_after": os.getloadavg()[0],
            "python": platform.python_version(), "at": datetime.now().isoformat(timespec="seconds")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"segment-preview-{stamp}.json").write_text(json.dumps({"meta": meta, "cases": rows}, indent=2,
                                                                      ensure_ascii=False, default=str))
    md = report(rows, meta)
    (RESULTS / "segment-preview-latest.md").write_text(md)
    print()
    print(md)


if __name__ == "__main__":
    main()
