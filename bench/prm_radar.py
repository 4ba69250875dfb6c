"""The prm_groups weak-category radar over 100,000 distributors, 1,000,000 customers and 10,000,000
sale lines on PostgreSQL (target: under 5 s), beside the floor — the same counting SQL bare in ``psql``.

Usage::

    .venv/bin/python bench/prm_radar.py --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

What it does:

1. the database ``pp_prm_radar`` (``--db-name``): created and migrated to head (core migrations;
   the radar reads only core tables), then filled set-based with ``generate_series`` — 50 partner
   groups of uneven size, 100,000 distributors, 1,000,000 customers, 10,000,000 sale lines over two
   years in the 8 demo categories (group ``R01`` buys less health food), with triggers off
   (``session_replication_role = replica``: no name-suffix rows, not needed here). The secondary indexes
   of ``sale_line``/``customer``/``partner`` are dropped for the load and rebuilt after it, then
   ``VACUUM ANALYZE``. Reused when it already holds the wanted row counts (``--recreate`` to rebuild);
2. ``plugins.prm_groups.radar.service.compute()`` in-process, ``--runs`` times, 12 months and
   3 months ending on the last sale day: wall time of the whole call (SQL, scipy limits, ranking);
3. the floor: the service's counting statement (``mask_statement``, compiled with literal values) run by ``psql``
   with ``\\timing``, ``--runs`` times, plus ``EXPLAIN (ANALYZE, BUFFERS)`` once (printed with
   ``--explain``); then through psycopg with the CPU seconds of its PostgreSQL backend
   (``/proc/<pid>/stat``, local server) and the load average — on a machine shared with other
   work the CPU time is what the wall time would be on a quiet one.

Results: ``bench/results/prm-radar-<stamp>.json`` and ``prm-radar-latest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from load_data import DEFAULT_PG, _psycopg_url, bench_env, ensure_database, migrate  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DB_NAME = "pp_prm_radar"
TARGET_S = 5.0
GROUPS, PARTNERS, CUSTOMERS, LINES = 50, 100_000, 1_000_000, 10_000_000
LAST_DAY = date(2026, 11, 30)
CATEGORIES = [("health", "건강식품", "Health food"), ("beauty", "화장품", "Beauty"), ("home", "생활용품", "Home care"),
              ("kitchen", "주방용품", "Kitchen"), ("personal", "퍼스널케어", "Personal care"),
              ("baby", "유아용품", "Baby"), ("digital", "디지털기기", "Digital devices"),
              ("fashion", "패션잡화", "Fashion accessories")]
TABLES = ("partner", "customer", "sale_line")


def _q(conn, sql: str, params: tuple | None = None) -> list[tuple]:
    cur = conn.execute(sql, params)
    return cur.fetchall() if cur.description else []


def loaded(url: str) -> bool:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        n = {t: _q(conn, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}  # noqa: S608 - fixed names
    return n == {"partner": PARTNERS, "customer": CUSTOMERS, "sale_line": LINES}


def fill(url: str) -> dict[str, float]:
    """Everything set-based: one INSERT … SELECT generate_series per table, indexes rebuilt after."""
    import psycopg

    stages: dict[str, float] = {}
    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        # triggers off for the load (superuser): the security epoch and the name-suffix search
        # index are per-row work the radar never reads; FK checks are skipped too (ids are built valid)
        _q(conn, "SET session_replication_role = replica")
        t = time.perf_counter()
        _q(conn, "TRUNCATE sale_line, customer, partner, partner_group RESTART IDENTITY CASCADE")
        indexes = _q(conn, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                           "AND tablename = ANY(%s) AND indexname NOT LIKE 'pk\\_%%' AND indexname NOT LIKE 'uq\\_%%'",
                     (list(TABLES),))
        for name, _def in indexes:
            _q(conn, f'DROP INDEX "{name}"')
        for code, ko, en in CATEGORIES:
            _q(conn, "INSERT INTO category (code, name_ko, name_en) VALUES (%s, %s, %s) ON CONFLICT (code) DO NOTHING",
               (code, ko, en))
        _q(conn, "SELECT setseed(0.42)")
        _q(conn, f"""INSERT INTO partner_group (code, name, active, created_at)
            SELECT 'R' || lpad(g::text, 2, '0'), 'Radar group ' || g, true, now()
            FROM generate_series(1, {GROUPS}) g""")
        # uneven groups: the group of distributor i is skewed towards the low numbers
        _q(conn, f"""INSERT INTO partner (group_id, code, name, level, path, depth, active, created_at)
            SELECT 1 + floor({GROUPS} * power(random(), 1.6))::int, 'RP' || lpad(i::text, 6, '0'),
                   'Distributor ' || i, 'distributor', '/', 0, true, now()
            FROM generate_series(1, {PARTNERS}) i""")
        stages["groups+partners"] = time.perf_counter() - t
        t = time.perf_counter()
        _q(conn, f"""INSERT INTO customer (code, name, partner_id, complaint, created_at, updated_at, total_spend)
            SELECT 'RC' || lpad(i::text, 7, '0'), 'Customer ' || i, 1 + ((i::bigint * 7919) % {PARTNERS})::int, false, now(), now(), 0
            FROM generate_series(1, {CUSTOMERS}) i""")
        stages["customers"] = time.perf_counter() - t
        t = time.perf_counter()
        cats = dict(_q(conn, "SELECT code, id FROM category"))
        ids = "ARRAY[" + ",".join(str(cats[c]) for c, _k, _e in CATEGORIES) + "]"
        # customer = a random one; category: 8 demo categories with weights, and customers of R01
        # (group 1) swap most health lines for home care — the weak cell the radar should find.
        _q(conn, f"""INSERT INTO sale_line (customer_id, partner_id, category_id, sold_at, quantity, unit_price, amount)
            SELECT c.id, c.partner_id,
                   CASE WHEN x.cat = 1 AND p.group_id = 1 AND x.r < 0.45 THEN {cats['home']}
                        ELSE ({ids})[x.cat] END,
                   DATE '{LAST_DAY.isoformat()}' - x.age, 1, x.amount, x.amount
            FROM (SELECT 1 + floor(random() * {CUSTOMERS})::int AS cid,
                         1 + floor(power(random(), 1.4) * 8)::int AS cat, random() AS r,
                         floor(random() * 730)::int AS age, (1000 + floor(random() * 99) * 1000)::int AS amount
                  FROM generate_series(1, {LINES})) x
            JOIN customer c ON c.id = x.cid JOIN partner p ON p.id = c.partner_id""")
        stages["sale lines"] = time.perf_counter() - t
        t = time.perf_counter()
        for _name, indexdef in indexes:
            _q(conn, indexdef)
        stages["indexes"] = time.perf_counter() - t
        t = time.perf_counter()
        _q(conn, "VACUUM ANALYZE")
        stages["vacuum analyze"] = time.perf_counter() - t
    return stages


def service_times(url: str, runs: int, months: int) -> tuple[list[float], str, dict]:
    """Wall time of ``compute()`` (``runs`` times) and the counting SQL it runs, with literals."""
    os.environ.update(bench_env(url))
    from sqlalchemy.dialects import postgresql

    from plugins.prm_groups.radar import service
    from portal import create_app
    from portal.extensions import db

    app = create_app()
    times: list[float] = []
    with app.app_context():
        res = None
        for _ in range(runs):
            t = time.perf_counter()
            res = service.compute(end=LAST_DAY, months=months)
            times.append(time.perf_counter() - t)
            db.session.rollback()
        from portal.toolkit import Category

        category_ids = list(db.session.execute(db.select(Category.id).order_by(Category.id)).scalars())
        stmt = service.mask_statement(res.start, res.end, category_ids)
        sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        summary = {"groups": len(res.groups), "categories": len(res.categories), "cells": len(res.cells),
                   "gaps": [(g.group, g.category, g.flag, round(g.rate, 4), round(g.benchmark, 4)) for g in res.gaps[:5]],
                   "active": sum(g["active"] for g in res.groups)}
    return times, sql, summary


def psql_times(url: str, sql: str, runs: int, explain: bool) -> tuple[list[float], str]:
    """The bare statement in ``psql``: ``\\timing`` per run (JIT off, no parallel workers, as the service sets them)."""
    script = "SET jit = off;\nSET max_parallel_workers_per_gather = 0;\n\\timing on\n" + "".join(f"{sql};\n" for _ in range(runs))
    out = subprocess.run(["psql", _psycopg_url(url), "-X", "-q"], input=script, capture_output=True, text=True,
                         check=True).stdout
    times = [float(m) / 1000 for m in re.findall(r"Time: ([0-9.]+) ms", out)]
    plan = ""
    if explain:
        plan = subprocess.run(["psql", _psycopg_url(url), "-X", "-q"],
                              input=f"SET jit = off;\nSET max_parallel_workers_per_gather = 0;\nEXPLAIN (ANALYZE, BUFFERS) {sql};\n",
                              capture_output=True, text=True, check=True).stdout
    return times, plan


def backend_cpu(url: str, sql: str, runs: int) -> tuple[list[float], list[float]]:
    """The statement through psycopg, with the CPU seconds its PostgreSQL backend spent (from
    ``/proc/<pid>/stat`` when the server is local; empty otherwise): on a loaded machine the CPU
    time says what the wall time would be on a quiet one."""
    import psycopg

    tick = os.sysconf("SC_CLK_TCK")
    walls: list[float] = []
    cpus: list[float] = []
    with psycopg.connect(_psycopg_url(url)) as conn:
        conn.execute("SET jit = off")
        conn.execute("SET max_parallel_workers_per_gather = 0")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        stat = Path(f"/proc/{pid}/stat")

        def cpu() -> float | None:
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            return (int(fields[11]) + int(fields[12])) / tick

        for _ in range(runs):
            c0, t = cpu(), time.perf_counter()
            conn.execute(sql).fetchall()
            walls.append(time.perf_counter() - t)
            c1 = cpu()
            if c0 is not None and c1 is not None:
                cpus.append(c1 - c0)
    return walls, cpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg-url", default=os.environ.get("PG", DEFAULT_PG))
    ap.add_argument("--db-name", default=DB_NAME)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--recreate", action="store_true")
    ap.add_argument("--explain", action="store_true")
    args = ap.parse_args()

    url = ensure_database(args.pg_url, args.db_name, recreate=args.recreate)
    migrate(url)
    stages = {}
    if not loaded(url):
        # a half-filled database (interrupted load) lacks its dropped indexes: start from scratch
        url = ensure_database(args.pg_url, args.db_name, recreate=True)
        migrate(url)
        print("filling", args.db_name, "…", flush=True)
        stages = fill(url)
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()), flush=True)
    rows = []
    detail = {}
    for months in (12, 3):
        svc, sql, summary = service_times(url, args.runs, months)
        load = os.getloadavg()[0]
        floor, plan = psql_times(url, sql, args.runs, args.explain and months == 12)
        if plan:
            print(plan)
        _walls, cpus = backend_cpu(url, sql, args.runs)
        rows.append({"case": f"{months} months to {LAST_DAY}", "service_median_s": statistics.median(svc),
                     "service_min_s": min(svc), "floor_median_s": statistics.median(floor) if floor else None,
                     "floor_min_s": min(floor) if floor else None,
                     "backend_cpu_median_s": statistics.median(cpus) if cpus else None, "load": load})
        detail[months] = summary
    lines = [f"# prm radar — {PARTNERS:,} distributors, {CUSTOMERS:,} customers, {LINES:,} sale lines, "
             f"{GROUPS} groups (PostgreSQL, {args.runs} runs)", "",
             "| case | compute() median | min | bare SQL (psql) median | min | its backend CPU | load | target |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['service_median_s']:.2f} s | {r['service_min_s']:.2f} s | "
                     f"{r['floor_median_s']:.2f} s | {r['floor_min_s']:.2f} s | "
                     f"{'{:.2f} s'.format(r['backend_cpu_median_s']) if r['backend_cpu_median_s'] is not None else '–'} | "
                     f"{r['load']:.1f} | < {TARGET_S:.0f} s "
                     f"{'✔' if r['service_median_s'] < TARGET_S else '✘'} |")
    lines += ["", f"12 months: {detail[12]['active']:,} active customers, {detail[12]['cells']} cells; "
              f"top gaps {detail[12]['gaps']}"]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"prm-radar-{stamp}.json").write_text(json.dumps({"rows": rows, "fill": stages, "detail": detail},
                                                                default=str, indent=1))
    (RESULTS / "prm-radar-latest.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
