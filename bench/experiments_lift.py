"""Holdout lift for 1,000,000 customers over 10,000,000 sale lines on PostgreSQL (target: under 10 s),
beside the floor — the same aggregate run bare in ``psql``.

Usage::

    .venv/bin/python bench/experiments_lift.py --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

What it does:

1. the database ``pp_bench_10m`` (1,000,000 customers, ~10,000,000 sale lines) from
   ``bench/analytics_refresh.py``'s ``ensure_customers`` / ``ensure_lines`` (which reuse
   ``bench/load_data.py``) — reused when it is there, migrated to head;
2. one experiment ``bench / lift-1m`` (seed 2026, 10 % holdout, stratified by branch) drawn over
   every customer through ``portal.experiments.draw`` — timed once, reused by later runs;
3. ``portal.experiments.lift`` in-process, ``--runs`` times, for the whole two-year window (every
   sale line), for the last 30 days, and for one category over the whole window: wall time of the
   whole call (outcome aggregate, statsmodels, scipy);
4. the floor: the outcome aggregate's SQL text (compiled by the service itself, literal values)
   run by ``psql`` with ``\\timing``, ``--runs`` times, plus ``EXPLAIN (ANALYZE, BUFFERS)`` once.

Results: ``bench/results/experiments-lift-<stamp>.json`` and ``experiments-lift-latest.md``.
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
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from analytics_refresh import DB_NAME, ensure_customers, ensure_lines  # noqa: E402
from load_data import DEFAULT_PG, _psycopg_url, bench_env  # noqa: E402

RESULTS = ROOT / "bench" / "results"
OWNER = ("bench", "lift-1m")
TARGET_S = 10.0


def repair_placeholder_migrations(url: str) -> None:
    """A database migrated while ``0015_experiments`` was still an empty placeholder (or an earlier
    draft without ``ix_sale_line_customer_cover``) is stamped past it without what it makes now: drop
    that revision's tables and run just that revision again (stamp 0014, upgrade to 0015, stamp back
    to where it was). Other services' revisions are left alone."""
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        complete = conn.execute("SELECT to_regclass('experiment') IS NOT NULL "
                                "AND to_regclass('ix_sale_line_customer_cover') IS NOT NULL").fetchone()[0]
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        if complete or version < "0015":
            return
        print(f"{DB_NAME}: at {version} without all of 0015_experiments; running it again", flush=True)
        conn.execute("DROP TABLE IF EXISTS experiment_result, global_control, experiment_source, "
                     "experiment_assignment, experiment")
        conn.commit()
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "db"]
    for args in (["stamp", "0014_notifications"], ["upgrade", "0015_experiments"], ["stamp", version]):
        subprocess.run(flask + args, cwd=ROOT, env=bench_env(url), check=True)


def _app(url: str):
    os.environ.update(bench_env(url))
    from portal import create_app

    return create_app()


def ensure_experiment(app) -> dict:
    from sqlalchemy import select

    from portal.experiments import create_experiment, draw, get_experiment
    from portal.extensions import db
    from portal.models import Customer

    with app.app_context():
        exp = get_experiment(*OWNER)
        if exp is not None and exp.drawn_at is not None:
            return {"experiment_id": exp.id, "counts": exp.drawn_counts, "draw_seconds": None}
        if exp is None:
            exp = create_experiment(*OWNER, seed=2026, holdout_share=0.1, strata=["branch"])
            db.session.commit()
        t0 = time.perf_counter()
        ids = list(db.session.scalars(select(Customer.id)))
        counts = draw(exp, ids)
        db.session.commit()
        took = time.perf_counter() - t0
        print(f"drew {sum(counts.values()):,} customers in {took:.1f} s: {counts}", flush=True)
        return {"experiment_id": exp.id, "counts": counts, "draw_seconds": round(took, 2)}


def window(app) -> tuple[date, date, int]:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import SaleLine

    with app.app_context():
        lo, hi = db.session.execute(select(func.min(SaleLine.sold_at), func.max(SaleLine.sold_at))).one()
        cat = db.session.scalar(select(SaleLine.category_id).where(SaleLine.category_id.is_not(None)).limit(1))
    return lo, hi, cat


def time_lift(app, eid: int, runs: int, **kw) -> dict:
    from portal.experiments import lift
    from portal.experiments.models import Experiment
    from portal.extensions import db

    times, result = [], None
    for _ in range(runs):
        with app.app_context():
            exp = db.session.get(Experiment, eid)
            t0 = time.perf_counter()
            result = lift(exp, **kw)
            times.append(time.perf_counter() - t0)
            db.session.rollback()
    return {"seconds": [round(t, 2) for t in times], "median": round(statistics.median(times), 2),
            "verdict": result.verdict, "arms": result.arms, "rate_ci": result.comparison["rate_ci"]}


def floor_sql(app, eid: int, **kw) -> tuple[str, str]:
    """The outcome aggregate exactly as ``outcomes`` builds it (literal values) and the planner
    settings it runs with, for psql."""
    from sqlalchemy.dialects import postgresql

    from portal.experiments.models import Experiment
    from portal.experiments.results import _STREAMING, _streaming, outcome_statement
    from portal.extensions import db

    with app.app_context():
        streaming = _streaming(db.session.get(Experiment, eid))
        stmt = outcome_statement(eid, kw["start"], kw["end"], kw.get("category_id"), restrict=not streaming)
        sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    settings = "".join(f"SET {k} = {v};\n" for k, v in _STREAMING.items()) if streaming else ""
    return sql, settings


def psql(url: str, sql: str, settings: str, runs: int) -> dict:
    dsn = _psycopg_url(url)
    script = settings + "\\timing on\n" + "\n".join([sql + ";"] * runs)
    out = subprocess.run(["psql", dsn, "-X", "-q", "-At", "-f", "-"], input=script, capture_output=True, text=True,
                         check=True).stdout
    times = [float(m) / 1000 for m in re.findall(r"Time: ([\d.]+) ms", out)][-runs:]
    plan = subprocess.run(["psql", dsn, "-X", "-q", "-At", "-f", "-"], capture_output=True, text=True, check=True,
                          input=settings + "EXPLAIN (ANALYZE, BUFFERS) " + sql + ";").stdout
    return {"seconds": [round(t, 2) for t in times], "median": round(statistics.median(times), 2), "plan": plan}


def server_facts(url: str) -> dict:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM customer), (SELECT count(*) FROM sale_line), "
                           "current_setting('max_parallel_workers_per_gather'), current_setting('shared_buffers'), "
                           "version()").fetchone()
    return {"customers": row[0], "sale_lines": row[1], "max_parallel_workers_per_gather": row[2],
            "shared_buffers": row[3], "server": row[4].split(",")[0], "cores": os.cpu_count()}


def markdown(res: dict) -> str:
    rows = [f"| {name} | {r['lift']['median']:.2f} s ({', '.join(map(str, r['lift']['seconds']))}) | "
            f"{r['floor']['median']:.2f} s ({', '.join(map(str, r['floor']['seconds']))}) | {r['lift']['verdict']} | "
            f"{r['load_avg']} |" for name, r in res["scenarios"].items()]
    facts = res["facts"]
    draw = res["experiment"]
    return "\n".join([
        f"# Experiments lift — {res['stamp']}",
        "",
        f"{facts['customers']:,} customers, {facts['sale_lines']:,} sale lines, {facts['server']}, "
        f"{facts['cores']} cores; experiment {draw['counts']} "
        + (f"drawn in {draw['draw_seconds']} s" if draw.get("draw_seconds") else "(drawn earlier)"),
        "",
        "| scenario | `lift()` median (runs) | floor: the same SQL in psql | verdict | load avg |",
        "|---|---|---|---|---:|",
        *rows,
        "",
        f"Target: under {TARGET_S:.0f} s for the whole-window lift.",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    url = ensure_customers(args.pg_url, args.customers)
    ensure_lines(url, args.lines)
    repair_placeholder_migrations(url)
    app = _app(url)
    experiment = ensure_experiment(app)
    lo, hi, cat = window(app)
    scenarios = {"whole window (every line)": {"start": lo, "end": hi},
                 "last 30 days": {"start": hi - timedelta(days=29), "end": hi},
                 "one category, whole window": {"start": lo, "end": hi, "category_id": cat}}
    res = {"stamp": time.strftime("%Y%m%dT%H%M%S"), "facts": server_facts(url), "experiment": experiment,
           "scenarios": {}}
    for name, kw in scenarios.items():
        lift_t = time_lift(app, experiment["experiment_id"], args.runs, **kw)
        floor_t = psql(url, *floor_sql(app, experiment["experiment_id"], **kw), args.runs)
        res["scenarios"][name] = {"window": {k: str(v) for k, v in kw.items()}, "lift": lift_t, "floor": floor_t,
                                  "load_avg": round(os.getloadavg()[0], 1)}
        print(f"{name}: lift {lift_t['seconds']} s, floor {floor_t['seconds']} s, {lift_t['verdict']}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"experiments-lift-{res['stamp']}.json").write_text(json.dumps(res, indent=2, default=str))
    md = markdown(res)
    (RESULTS / "experiments-lift-latest.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
