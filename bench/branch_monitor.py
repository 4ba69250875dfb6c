"""branch_monitor at the issue's scale on PostgreSQL: 1,000 branches × 24 months × 10,000,000 sale
lines — the nightly rebuild (< 60 s), the update after one daily report (< 2 s), the KPI month and
the day's evaluation (nightly, reference), the HQ monitor and scorecard pages (< 1 s).

Usage::

    .venv/bin/python bench/branch_monitor.py --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python bench/branch_monitor.py --only pages,report --runs 5   # the database is reused

What it does:

1. the database ``pp_branch_monitor`` (``--db-name``): migrated, the demo organisation and accounts
   (``load_demo`` with 50 customers, no add-ons), ``branch_monitor`` installed (``ks_search.py``'s
   way); then filled set-based with ``generate_series`` (triggers and FK checks off, secondary indexes
   of the big tables dropped for the load and rebuilt after it, then ``VACUUM ANALYZE``): 10 regions
   (the demo's R01–R03 and R04–R10) of 100 branches each (the 12 demo branches among them),
   1,000,000 customers spread unevenly over the branches, one committed ``sales_report`` per branch
   and open day (Monday–Saturday) over the 730 days to ``END`` (≈ 626,000 reports, 3 % filed late),
   10,000,000 sale lines on those reports (demo products, Sunday sales moved to Saturday), each
   customer's ``total_spend``/``last_purchase_on``, a ``customer_score`` per customer with an RFM
   segment and P(alive), marketing consents for 40 % (recorded 0–40 days after creation), data
   quality issues for 5 % (60 % fixed), a logged contact for 35 % of the at-risk / cannot-lose
   customers, 2,000 open complaints. Reused when it holds the wanted counts (``--recreate``);
2. the add-on's service functions in-process (``--runs`` times each; wall time of the whole call,
   committed): ``aggregates.service.rebuild()`` (all 24 months), ``kpis.service.compute_month()``
   for the last full month, ``alerts.service.evaluate(END)``; the report step re-files B001's report
   of ``END - 1`` (its lines as filed plus one line, ``replace``) through the core importer as
   store1 — the ``portal_sales_imported`` hook runs ``apply_report`` inside it — then
   ``apply_report()`` alone on that report (second run: idempotent);
3. the pages through the Flask test client (real login form): as hq@ the monitor for the month,
   drilled down to R01, the funnel page if there is one, B001's scorecard and the JSON API
   (``/api/v1/monitor/branches?month=``, ``…/branches/B001``); as store1@ (Branch Staff B001) its
   own scorecard. The URLs are found in the app's URL map (endpoints of ``bm_monitor``/``bm_api``);
   a page that is not there yet is reported as missing, not failed;
4. for every step, its slowest SQL statements (SQLAlchemy cursor events: time, count, the text) —
   ``--explain`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest statement of each step over
   target, run bare through psycopg (the floor of that statement).

Results: ``bench/results/branch-monitor-<stamp>.json`` and ``branch-monitor-latest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from load_data import DEFAULT_PG, _psycopg_url, bench_env, ensure_database  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DB_NAME = "pp_branch_monitor"
REGIONS, BRANCHES, CUSTOMERS, LINES, DAYS = 10, 1000, 1_000_000, 10_000_000, 730
END = date(2026, 12, 6)  # a Sunday: ages ≡ 0 (mod 7) are Sundays
START = END - timedelta(days=DAYS - 1)
MONTH = date(2026, 11, 1)  # the last full month: pages, KPIs
PASSWORD = "demo-pass-2026"
SEGMENTS = ["champions", "loyal", "loyal", "potential_loyalist", "potential_loyalist", "new_customers", "promising",
            "need_attention", "need_attention", "about_to_sleep", "about_to_sleep", "at_risk", "at_risk", "at_risk",
            "cannot_lose", "hibernating", "hibernating", "hibernating", "lost", "lost"]
APP_NAME = "bm_bench"  # the benchmark's PostgreSQL backends, for their CPU seconds
TARGETS = {"rebuild": 60.0, "report": 2.0, "apply_report": 2.0, "page": 1.0}


def _q(conn: Any, sql: str, params: tuple | None = None) -> list[tuple]:
    cur = conn.execute(sql, params)
    return cur.fetchall() if cur.description else []


# -- data ------------------------------------------------------------------------------------------


SERIAL = False  # --serial: no parallel workers, so the backend's CPU seconds are all of PostgreSQL's


def make_app(url: str) -> Any:
    os.environ.update(bench_env(url))
    connect: dict[str, Any] = {"application_name": APP_NAME}
    if SERIAL:
        connect["options"] = "-c max_parallel_workers_per_gather=0"
    from portal import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "PORTAL_PLUGINS": ["branch_monitor"],
                       "SECRET_KEY": "bench-only-secret-not-for-production", "WTF_CSRF_ENABLED": False,
                       "SESSION_COOKIE_SECURE": False,
                       "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": connect}})


def counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        if not _q(conn, "SELECT 1 FROM pg_tables WHERE tablename = 'customer_score'"):
            return {}
        return {"branches": _q(conn, "SELECT count(*) FROM org_unit WHERE kind = 'branch'")[0][0],
                "lines": _q(conn, "SELECT count(*) FROM sale_line")[0][0],
                "scores": _q(conn, "SELECT count(*) FROM customer_score")[0][0]}


def prepare(url: str) -> None:
    """Migrated core, the demo organisation and accounts, branch_monitor installed (or upgraded)."""
    from sqlalchemy import func, select

    from portal.demo.loader import load_demo
    from portal.extensions import db
    from portal.migrations_support import upgrade_core, upgrade_plugin
    from portal.models import OrgUnit, PluginState
    from portal.plugins_lifecycle import install

    app = make_app(url)
    with app.app_context():
        upgrade_core()
        if not db.session.execute(select(func.count(OrgUnit.id))).scalar_one():
            load_demo(customers=50, lines_per_customer=1, install_plugins=False, echo=lambda _line: None)
            db.session.commit()
        state = db.session.get(PluginState, "branch_monitor")
        if state is None or not state.installed:
            install("branch_monitor")
        else:
            db.session.commit()
            upgrade_plugin("branch_monitor")
        db.session.commit()


def fill(url: str) -> dict[str, float]:
    """Everything set-based (one INSERT … SELECT generate_series per table), indexes rebuilt after."""
    import psycopg

    big = ("sale_line", "sales_report", "customer", "customer_score", "consent", "quality_issue", "contact")
    stages: dict[str, float] = {}

    def stage(name: str, t: float) -> None:
        stages[name] = time.perf_counter() - t
        print(f"  {name}: {stages[name]:.1f} s", flush=True)

    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        _q(conn, "SET session_replication_role = replica")  # no triggers, no FK checks (ids are built valid)
        _q(conn, "SET work_mem = '256MB'")
        _q(conn, "SET maintenance_work_mem = '512MB'")
        _q(conn, "SELECT setseed(0.18)")
        t = time.perf_counter()
        _q(conn, "TRUNCATE sale_line, sales_report_rejection, mon_report_span, sales_report, mon_branch_day, "
                 "mon_branch_month, mon_kpi, mon_state, mon_alert, mon_rfm_snapshot, mon_complaint")
        indexes = _q(conn, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                           "AND tablename = ANY(%s) AND indexname NOT LIKE 'pk\\_%%' AND indexname NOT LIKE 'uq\\_%%'",
                     (list(big),))
        for name, _def in indexes:
            _q(conn, f'DROP INDEX "{name}"')
        # -- organisation: R04–R10 under HQ, then 1,000 branches, 100 per region
        hq_id, hq_path = _q(conn, "SELECT id, path FROM org_unit WHERE kind = 'hq' ORDER BY id LIMIT 1")[0]
        _q(conn, f"""INSERT INTO org_unit (code, name, kind, parent_id, path, depth, active, created_at)
            SELECT 'R' || lpad(r::text, 2, '0'), '지역 ' || r, 'region', %s, '/', 1, true, now()
            FROM generate_series(4, {REGIONS}) r ON CONFLICT (code) DO NOTHING""", (hq_id,))
        _q(conn, "UPDATE org_unit SET path = %s || id || '/' WHERE kind = 'region' AND path = '/'", (hq_path,))
        regions = _q(conn, "SELECT id, path, (SELECT count(*) FROM org_unit b WHERE b.parent_id = r.id) "
                           "FROM org_unit r WHERE kind = 'region' ORDER BY code")
        n = 1
        for rid, _path, have in regions:
            add = BRANCHES // REGIONS - have
            _q(conn, f"""INSERT INTO org_unit (code, name, kind, parent_id, path, depth, active, created_at)
                SELECT 'B' || lpad((12 + {n} + i)::text, 4, '0'), '벤치 ' || (12 + {n} + i) || '호점', 'branch',
                       %s, '/', 2, true, now()
                FROM generate_series(0, {add - 1}) i ON CONFLICT (code) DO NOTHING""", (rid,))
            n += add
        _q(conn, "UPDATE org_unit b SET path = r.path || b.id || '/' FROM org_unit r "
                 "WHERE b.parent_id = r.id AND b.kind = 'branch' AND b.path = '/'")
        _q(conn, "DROP TABLE IF EXISTS bm_bench_branch")
        _q(conn, "CREATE UNLOGGED TABLE bm_bench_branch AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS b, "
                 "id AS branch_id FROM org_unit WHERE kind = 'branch'")
        nb = _q(conn, "SELECT count(*) FROM bm_bench_branch")[0][0]
        assert nb == BRANCHES, nb
        stage("organisation", t)
        # -- customers: uneven branch sizes (power law over the branch index)
        t = time.perf_counter()
        _q(conn, "DELETE FROM customer_score")
        cmin = _q(conn, "SELECT coalesce(max(id), 0) + 1 FROM customer")[0][0]
        _q(conn, f"""INSERT INTO customer (id, code, name, phone, branch_id, complaint, created_at, updated_at, total_spend)
            SELECT {cmin} + i - 1, 'BM' || lpad(i::text, 7, '0'), '고객' || i,
                   '010-' || lpad((i / 10000)::text, 4, '0') || '-' || lpad((i % 10000)::text, 4, '0'),
                   m.branch_id, i % 500 = 0, ts, ts, 0
            FROM (SELECT i, floor({BRANCHES} * power(random(), 1.25))::int AS b,
                         TIMESTAMP '{END.isoformat()}' - random() * INTERVAL '1000 days' AS ts
                  FROM generate_series(1, {CUSTOMERS}) i) x
            JOIN bm_bench_branch m ON m.b = x.b""")
        _q(conn, "SELECT setval('customer_id_seq', (SELECT max(id) FROM customer))")
        stage("customers", t)
        # -- reports: one per branch and open day (Mon–Sat), ids computed so lines can point at them
        t = time.perf_counter()
        rbase = _q(conn, "SELECT coalesce(max(id), 0) + 1 FROM sales_report")[0][0]
        _q(conn, f"""INSERT INTO sales_report (id, branch_id, report_date, status, file_name, rows, accepted, rejected,
                                               created_at, mode, source, customers_created, customers_matched,
                                               total_amount)
            SELECT {rbase} + m.b * {DAYS} + ({DAYS - 1} - a), m.branch_id, DATE '{END.isoformat()}' - a, 'committed',
                   '판매일보_' || to_char(DATE '{END.isoformat()}' - a, 'YYYYMMDD') || '.csv', 0, 0, 0,
                   (DATE '{END.isoformat()}' - a) + CASE WHEN random() < 0.03 THEN INTERVAL '47 hours'
                                                          ELSE INTERVAL '21 hours' END,
                   'strict', 'web', 0, 0, 0
            FROM bm_bench_branch m CROSS JOIN generate_series(0, {DAYS - 1}) a
            WHERE a % 7 <> 0""")
        _q(conn, "SELECT setval('sales_report_id_seq', (SELECT max(id) FROM sales_report))")
        stage("reports", t)
        # -- sale lines: random customer (its branch), random demo product, Sunday → Saturday
        t = time.perf_counter()
        _q(conn, "DROP TABLE IF EXISTS bm_bench_product")
        _q(conn, "CREATE UNLOGGED TABLE bm_bench_product AS SELECT row_number() OVER (ORDER BY id)::int AS k, id, "
                 "category_id, unit_price FROM product")
        np_ = _q(conn, "SELECT count(*) FROM bm_bench_product")[0][0]
        _q(conn, f"""INSERT INTO sale_line (report_id, customer_id, branch_id, product_id, category_id, receipt_no,
                                            sold_at, quantity, unit_price, amount)
            SELECT {rbase} + m.b * {DAYS} + ({DAYS - 1} - x.age), c.id, c.branch_id, p.id, p.category_id,
                   'R' || (x.n / 3), DATE '{END.isoformat()}' - x.age, x.q, p.unit_price, x.q * p.unit_price
            FROM (SELECT n, {cmin} + floor(random() * {CUSTOMERS})::int AS cid,
                         a + (a % 7 = 0)::int AS age, 1 + floor(random() * {np_})::int AS k,
                         1 + floor(power(random(), 3) * 3)::int AS q
                  FROM (SELECT n, floor(random() * {DAYS - 1})::int AS a FROM generate_series(1, {LINES}) n) g) x
            JOIN customer c ON c.id = x.cid
            JOIN bm_bench_branch m ON m.branch_id = c.branch_id
            JOIN bm_bench_product p ON p.k = x.k""")
        _q(conn, "SELECT setval('sale_line_id_seq', (SELECT max(id) FROM sale_line))")
        stage("sale lines", t)
        t = time.perf_counter()
        _q(conn, """UPDATE sales_report r SET rows = s.n, accepted = s.n, total_amount = s.amount
            FROM (SELECT report_id, count(*) AS n, sum(amount) AS amount FROM sale_line GROUP BY report_id) s
            WHERE r.id = s.report_id""")
        _q(conn, """UPDATE customer c SET total_spend = s.amount, last_purchase_on = s.last
            FROM (SELECT customer_id, sum(amount) AS amount, max(sold_at) AS last FROM sale_line GROUP BY customer_id) s
            WHERE c.id = s.customer_id""")
        stage("report and customer totals", t)
        # -- scores, consents, quality issues, contacts, complaints
        t = time.perf_counter()
        segs = "ARRAY[" + ",".join(f"'{s}'" for s in SEGMENTS) + "]"
        _q(conn, f"""INSERT INTO customer_score (customer_id, as_of, recency_days, frequency, monetary, r_score, f_score,
                                                 m_score, rfm_segment, p_alive, expected_purchases, expected_value,
                                                 computed_at)
            SELECT id, DATE '{END.isoformat()}' + 1, DATE '{END.isoformat()}' + 1 - last_purchase_on,
                   1 + floor(random() * 20)::int, least(total_spend, 2000000000)::int, 1 + floor(random() * 5)::int,
                   1 + floor(random() * 5)::int, 1 + floor(random() * 5)::int,
                   ({segs})[1 + floor(random() * {len(SEGMENTS)})::int], random(), random() * 4, random() * 400000, now()
            FROM customer WHERE last_purchase_on IS NOT NULL""")
        _q(conn, """INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at)
            SELECT id, 'sms', 'marketing', true, 'store', created_at + random() * INTERVAL '40 days'
            FROM customer WHERE random() < 0.4""")
        _q(conn, f"""INSERT INTO quality_issue (customer_id, field, reason, created_at, resolved_at)
            SELECT id, 'phone', 'Phone number looks invalid', ts,
                   CASE WHEN random() < 0.6 THEN ts + random() * INTERVAL '30 days' END
            FROM (SELECT id, TIMESTAMP '{END.isoformat()}' - random() * INTERVAL '365 days' AS ts FROM customer
                  WHERE random() < 0.05) x""")
        _q(conn, f"""INSERT INTO contact (customer_id, channel, purpose, at, source)
            SELECT s.customer_id, 'phone', 'service', TIMESTAMP '{END.isoformat()}' - random() * INTERVAL '120 days',
                   'manual'
            FROM customer_score s WHERE s.rfm_segment IN ('at_risk', 'cannot_lose') AND random() < 0.35""")
        _q(conn, f"""INSERT INTO mon_complaint (customer_id, branch_id, opened_at, closed_at)
            SELECT id, branch_id, TIMESTAMP '{END.isoformat()}' - random() * INTERVAL '60 days', NULL
            FROM customer WHERE complaint""")
        stage("scores, consents, issues, contacts, complaints", t)
        t = time.perf_counter()
        for _name, indexdef in indexes:
            _q(conn, indexdef)
        stage("indexes", t)
        _q(conn, "DROP TABLE bm_bench_product")
        _q(conn, "DROP TABLE bm_bench_branch")
        _q(conn, "UPDATE security_epoch SET value = value + 1")  # org units changed with triggers off
        t = time.perf_counter()
        _q(conn, "VACUUM ANALYZE")
        stage("vacuum analyze", t)
    return stages


# -- timing ------------------------------------------------------------------------------------------


class SqlLog:
    """Statements and their time per step (SQLAlchemy cursor events on the app's engine)."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str, Any]] = []
        self._t: list[float] = []

    def attach(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        self._t.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        self.rows.append((time.perf_counter() - self._t.pop(), statement, None if executemany else parameters))

    def take(self) -> list[tuple[float, str, Any]]:
        rows, self.rows = self.rows, []
        return rows


#: step → (statement, parameters) of its slowest statement, whole, for ``--explain``
SLOWEST: dict[str, tuple[str, Any]] = {}


def summarise(rows: list[tuple[float, str, Any]], top: int = 4, step: str = "") -> dict[str, Any]:
    by: dict[str, list[float]] = defaultdict(list)
    params: dict[str, Any] = {}
    for dt, stmt, p in rows:
        by[stmt].append(dt)
        params.setdefault(stmt, p)
    ranked = sorted(by.items(), key=lambda kv: -sum(kv[1]))[:top]
    if ranked and step:
        SLOWEST[step] = (ranked[0][0], params[ranked[0][0]])
    return {"statements": len(rows), "sql_s": sum(dt for dt, _s, _p in rows),
            "slowest": [{"total_s": sum(v), "count": len(v), "sql": re.sub(r"\s+", " ", s)[:1500],
                         "params": repr(params[s])[:600]} for s, v in ranked]}


class Cpu:
    """CPU seconds of this process and of its PostgreSQL backends (``/proc/<pid>/stat``, local
    server): on a machine shared with other work, what the wall time would be on a quiet one."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(_psycopg_url(url), autocommit=True)
        self.tick = os.sysconf("SC_CLK_TCK")

    def backends(self) -> float:
        total = 0.0
        for (pid,) in _q(self.conn, "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / self.tick
        return total

    def now(self) -> tuple[float, float]:
        return time.process_time(), self.backends()


CPU: Cpu | None = None
REBUILD_RUNS = 1  # --rebuild-runs: the second and later rebuilds find every report's span already kept


def timed(name: str, fn: Callable[[], Any], runs: int, log: SqlLog, results: list[dict], target: float | None,
          commit: Callable[[], None] | None = None) -> Any:
    times, py, pg, out, sql = [], [], [], None, {}
    for _ in range(runs):
        log.take()
        c0 = CPU.now() if CPU else (0.0, 0.0)
        t = time.perf_counter()
        out = fn()
        if commit:
            commit()
        times.append(time.perf_counter() - t)
        c1 = CPU.now() if CPU else (0.0, 0.0)
        py.append(c1[0] - c0[0])
        pg.append(max(0.0, c1[1] - c0[1]))  # a backend closed during the step loses its seconds
        sql = summarise(log.take(), step=name)
    row = {"step": name, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
           "runs": runs, "target_s": target, "result": repr(out)[:300], "load": os.getloadavg()[0],
           "python_cpu_s": statistics.median(py), "pg_cpu_s": statistics.median(pg), **sql}
    results.append(row)
    verdict = "" if target is None else ("✔" if row["median_s"] < target else "✘")
    print(f"  {name}: median {row['median_s']:.3f} s (min {row['min_s']:.3f}, max {row['max_s']:.3f}; CPU python "
          f"{row['python_cpu_s']:.3f} s + PostgreSQL {row['pg_cpu_s']:.3f} s; load {row['load']:.1f}), "
          f"{sql.get('statements', 0)} statements, SQL {sql.get('sql_s', 0):.3f} s {verdict}  → {row['result'][:120]}",
          flush=True)
    for s in sql.get("slowest", [])[:2]:
        print(f"      {s['total_s']:.3f} s ×{s['count']}: {s['sql'][:200]}", flush=True)
    return out


def services(app: Any, runs: int, only: set[str], results: list[dict], log: SqlLog) -> None:
    from plugins.branch_monitor.aggregates import service as agg
    from plugins.branch_monitor.alerts import service as alerts
    from plugins.branch_monitor.kpis import service as kpis
    from portal.extensions import db

    with app.app_context():
        if "rebuild" in only:
            try:
                from plugins.branch_monitor.calendar.service import ensure_branches

                timed("calendar.ensure_branches()", ensure_branches, 1, log, results, None, db.session.commit)
            except ImportError:
                pass
            timed("aggregates.rebuild() — 24 months", agg.rebuild, REBUILD_RUNS, log, results,
                  TARGETS["rebuild"], db.session.commit)
        if "rebuild-recent" in only:
            # what a nightly run needs when only recent reports changed: the months since the earliest
            # report committed after the last rebuild (here the last full month and the current one)
            timed(f"aggregates.rebuild({MONTH}, {END}) — the last two months", lambda: agg.rebuild(MONTH, END),
                  max(1, min(runs, 2)), log, results, TARGETS["rebuild"], db.session.commit)
        if "kpis" in only:
            prev = date(MONTH.year, MONTH.month - 1, 1) if MONTH.month > 1 else date(MONTH.year - 1, 12, 1)
            timed(f"kpis.compute_month({prev:%Y-%m})", lambda: kpis.compute_month(prev), 1, log, results, None,
                  db.session.commit)
            timed(f"kpis.compute_month({MONTH:%Y-%m})", lambda: kpis.compute_month(MONTH), max(1, min(runs, 2)), log,
                  results, None, db.session.commit)
        if "evaluate" in only:
            timed(f"alerts.evaluate({END})", lambda: alerts.evaluate(END), max(1, min(runs, 2)), log, results, None,
                  db.session.commit)
        if "report" in only:
            report_step(app, runs, results, log)


def report_step(app: Any, runs: int, results: list[dict], log: SqlLog) -> None:
    """B001's report of END − 1 re-filed (replace) as store1 through the core importer, then the hook's
    function alone on the new report."""
    from sqlalchemy import select

    from plugins.branch_monitor.aggregates import service as agg
    from portal.demo.refile import report_with_extra_lines
    from portal.extensions import db
    from portal.models import Customer, OrgUnit, Product, SalesReport, User
    from portal.sales.importer import import_report

    day = END - timedelta(days=1)
    with app.app_context():
        staff = db.session.execute(select(User).where(User.email == "store1@example.com")).scalar_one()
        b001 = db.session.execute(select(OrgUnit.id).where(OrgUnit.code == "B001")).scalar_one()
        code = db.session.execute(select(Customer.code).where(Customer.branch_id == b001).limit(1)).scalar_one()
        product = db.session.execute(select(Product).order_by(Product.id).limit(1)).scalar_one()
        state: dict[str, Any] = {}

        def refile() -> Any:
            data = report_with_extra_lines("B001", day, [code], product)
            res = import_report(data, f"판매일보_B001_{day:%Y%m%d}_bench{time.time_ns()}.csv", staff, replace=True)
            assert res.status == "committed", (res.status, res.message)
            state["report_id"] = res.report_id
            return f"report {res.report_id}, {res.rows} rows"

        timed(f"sales import of one branch-day (replace; hook → apply_report) — B001 {day}", refile, runs, log,
              results, TARGETS["report"])
        report = db.session.get(SalesReport, state["report_id"])
        timed("aggregates.apply_report(report) alone (again: idempotent)", lambda: agg.apply_report(report), runs, log,
              results, TARGETS["apply_report"], db.session.commit)


def find_urls(app: Any) -> dict[str, str]:
    """The pages to time (label → path), those of the add-on's URL map that exist now."""
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("bm_")}
    m = f"month={MONTH:%Y-%m}"
    wanted = [
        ("/monitor/", "HQ monitor, all regions (hq)", f"/monitor/?{m}"),
        ("/monitor/", "HQ monitor, page 10 sorted by name (hq)", f"/monitor/?{m}&sort=name&page=10"),
        ("/monitor/region/<code>", "HQ monitor, region R01 drill-down (hq)", f"/monitor/region/R01?{m}"),
        ("/monitor/", "HQ monitor, funnel of at-risk contact rate (hq)", f"/monitor/?{m}&metric=at_risk_contact_rate"),
        ("/monitor/branches/<code>", "scorecard B001 (hq)", f"/monitor/branches/B001?{m}"),
        ("/monitor/branches/<code>", "scorecard B0500 (hq)", f"/monitor/branches/B0500?{m}"),
        ("/monitor/my", "own scorecard (store1, Branch Staff B001)", f"/monitor/my?{m}"),
        ("/monitor/branches/<code>", "scorecard B001 (store1)", f"/monitor/branches/B001?{m}"),
        ("/monitor/compliance/", "compliance page (hq)", f"/monitor/compliance/?{m}"),
        ("/monitor/alerts/", "alerts page (hq)", "/monitor/alerts/"),
        ("/api/v1/monitor/branches", "API branches?month (hq)", f"/api/v1/monitor/branches?{m}"),
        ("/api/v1/monitor/branches/<code>", "API branches/B001 (hq)", f"/api/v1/monitor/branches/B001?{m}"),
        ("/api/v1/monitor/compliance", "API compliance, one month (hq)",
         f"/api/v1/monitor/compliance?from={MONTH}&to={date(MONTH.year, MONTH.month, 30)}"),
    ]
    out = {label: path for rule, label, path in wanted if rule in rules}
    out["_rules"] = json.dumps(sorted(rules))
    return out


def pages(app: Any, runs: int, results: list[dict], log: SqlLog) -> None:
    from sqlalchemy import select

    from portal.auth.tokens import create_token
    from portal.extensions import db
    from portal.models import User

    urls = find_urls(app)
    print("  bm routes:", urls.pop("_rules"), flush=True)
    if not urls:
        print("  no monitor pages yet", flush=True)
        return
    clients: dict[str, Any] = {}
    for who in ("hq", "store1"):
        c = app.test_client()
        r = c.post("/login", data={"email": f"{who}@example.com", "password": PASSWORD})
        assert r.status_code in (302, 303), (who, r.status_code)
        clients[who] = c
    with app.app_context():
        hq = db.session.execute(select(User).where(User.email == "hq@example.com")).scalar_one()
        _tok, token = create_token(hq, "bench")
        db.session.commit()
    for label, path in urls.items():
        who = "store1" if "store1" in label else "hq"
        headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
        status: list[int] = []

        def get(path: str = path, who: str = who, headers: dict = headers, status: list[int] = status) -> str:
            r = clients[who].get(path, headers=headers)
            status.append(r.status_code)
            return f"{r.status_code}, {len(r.data):,} bytes" + (f" → {r.location}" if r.location else "")

        get()  # warm: templates compiled (each request has its own app context, as in production)
        timed(f"page {label}: {path}", get, runs, log, results, TARGETS["page"])
        if any(s >= 400 for s in status):
            results[-1]["error"] = f"status {sorted(set(status))}"


def explain(url: str, results: list[dict]) -> None:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest statement of each step over its target, with
    its own parameters, in a transaction rolled back (a DELETE or INSERT changes nothing)."""
    import psycopg

    for row in results:
        if row.get("target_s") is None or row["median_s"] < row["target_s"] or row["step"] not in SLOWEST:
            continue
        stmt, params = SLOWEST[row["step"]]
        with psycopg.connect(_psycopg_url(url)) as conn:
            literal = psycopg.ClientCursor(conn).mogrify(stmt, params)
            plan = "\n".join(r[0] for r in _q(conn, f"EXPLAIN (ANALYZE, BUFFERS) {literal}"))
            conn.rollback()
        row["explain"] = plan
        print(f"\n== {row['step']} — its slowest statement:\n{literal[:2000]}\n{plan}", flush=True)


def markdown(results: list[dict], stages: dict[str, float], n: dict[str, int]) -> str:
    lines = [f"# branch_monitor — {n.get('branches', 0):,} branches, {n.get('lines', 0):,} sale lines, "
             f"{START} … {END} (PostgreSQL)", "",
             "| step | median | min | max | CPU Python + PostgreSQL | load | runs | statements | SQL time | target | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        target = f"< {r['target_s']:g} s" if r.get("target_s") else "reference"
        verdict = "" if not r.get("target_s") else ("✔" if r["median_s"] < r["target_s"] else "✘")
        if r.get("error"):
            verdict = r["error"]
        lines.append(f"| {r['step']} | {r['median_s']:.3f} s | {r['min_s']:.3f} s | {r['max_s']:.3f} s | "
                     f"{r['python_cpu_s']:.2f} + {r['pg_cpu_s']:.2f} s | {r['load']:.1f} | {r['runs']} | "
                     f"{r.get('statements', 0)} | {r.get('sql_s', 0):.3f} s | {target} | {verdict} |")
    if stages:
        lines += ["", "Fill: " + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items())]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg-url", default=os.environ.get("PG", DEFAULT_PG))
    ap.add_argument("--db-name", default=DB_NAME)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--recreate", action="store_true")
    ap.add_argument("--fill-only", action="store_true")
    ap.add_argument("--only", default="rebuild,rebuild-recent,kpis,evaluate,report,pages",
                    help="comma-separated steps: rebuild, rebuild-recent, kpis, evaluate, report, pages")
    ap.add_argument("--rebuild-runs", type=int, default=1)
    ap.add_argument("--serial", action="store_true",
                    help="no parallel workers: the CPU column then counts all of PostgreSQL's work")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--label", default="")
    args = ap.parse_args()

    global SERIAL
    SERIAL = args.serial
    url = ensure_database(args.pg_url, args.db_name, recreate=args.recreate)
    t = time.perf_counter()
    prepare(url)
    n = counts(url)
    stages: dict[str, float] = {}
    # the report step adds one line per run: a database within 100,000 lines of the target is loaded
    if n.get("branches") != BRANCHES or not LINES <= n.get("lines", 0) < LINES + 100_000 or not n.get("scores"):
        if n.get("lines"):  # a half-filled database (interrupted load) lacks its dropped indexes: start over
            url = ensure_database(args.pg_url, args.db_name, recreate=True)
            prepare(url)
        print(f"filling {args.db_name} …", flush=True)
        stages = fill(url)
        n = counts(url)
        print(f"  filled in {time.perf_counter() - t:.0f} s: {n}", flush=True)
    else:
        print(f"reusing {args.db_name}: {n}", flush=True)
    if args.fill_only:
        return
    only = set(args.only.split(","))
    app = make_app(url)
    log = SqlLog()
    with app.app_context():
        from portal.extensions import db

        log.attach(db.engine)
    global CPU, REBUILD_RUNS
    CPU, REBUILD_RUNS = Cpu(url), args.rebuild_runs
    results: list[dict] = []
    services(app, args.runs, only, results, log)
    if "pages" in only:
        pages(app, args.runs, results, log)
    if args.explain:
        explain(url, results)
    text = markdown(results, stages, n)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    label = f"branch-monitor{'-' + args.label if args.label else ''}"
    (RESULTS / f"{label}-{stamp}.json").write_text(json.dumps({"results": results, "fill": stages, "counts": n},
                                                              default=str, indent=1))
    (RESULTS / f"{label}-latest.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
