"""Customer score refresh at the target scale (1,000,000 customers, 10,000,000 sale lines, PostgreSQL),
and our lifetime-value fit beside the ``lifetimes`` package's on the full CDNOW file.

Usage::

    .venv/bin/python bench/analytics_refresh.py \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

What it does, in one run:

1. database ``pp_bench_10m`` with 1,000,000 customers: a copy of ``pp_bench`` (``CREATE DATABASE …
   TEMPLATE``) when that one holds them (``bench/load_data.py``), else ``load_data.prepare``;
   migrated to the head revision. Reused when it is already there.
2. sale lines topped up to ``--lines`` set-based in SQL (one ``INSERT … SELECT`` over
   ``generate_series``), BG/NBD-like so the fit is meaningful: each customer is acquired on a
   random day of the first 600 of the 730 days, stays active for an exponential lifetime (mean
   420 days, so many have churned by the end) and visits at a log-normal rate while active (a few
   heavy buyers, many light ones) on uniform random days; a visit is a basket of 1–4 lines of
   random products, 1–3 units scaled by a per-customer basket size. Rows are inserted in date
   order, as daily imports lay them out (the heap is NOT ordered by customer). Then
   ``VACUUM ANALYZE``.
3. ``flask --app wsgi portal analytics refresh --json`` as a child process, ``--runs`` times
   (wall time from the parent, peak RSS of the child from ``wait4``, stage lines time-stamped);
   the overview page's aggregate query for HQ is timed in-process afterwards.
4. ``--compare-read``: the refresh's warehouse read four ways: the grouped query by binary COPY
   into numpy (what the refresh does), by text COPY parsed by pandas, by a plain cursor fetch
   (all three with the refresh's ``work_mem``), and every line by binary COPY grouped in numpy.
5. CLV fit on ``tests/data/CDNOW_master.txt`` (23,570 customers, calibration to 1997-09-30):
   ours in-process, ``lifetimes==0.11.3``'s ``BetaGeoFitter`` in ``/tmp/ltvenv`` (created on demand
   with old pandas/numpy/scipy pins; skipped with a note if it cannot be installed or run). Only
   the fit is timed, best of 3 each; log-likelihoods are compared at the same data.

Results: ``bench/results/analytics-refresh-<stamp>.json`` and ``analytics-refresh-latest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from child_process import run_cli  # noqa: E402
from load_data import (  # noqa: E402
    DEFAULT_PG,
    _psycopg_url,
    bench_env,
    customer_count,
    db_url,
    prepare,
    vacuum_analyze,
)

RESULTS = ROOT / "bench" / "results"
DB_NAME = "pp_bench_10m"
SOURCE_DB = "pp_bench"
AS_OF = date(2026, 11, 1)  # the demo window ends 2026-10-31
WINDOW_START = date(2024, 11, 1)  # 730 days to 2026-10-31
CDNOW_MASTER = ROOT / "tests" / "data" / "CDNOW_master.txt"
LT_VENV = Path("/tmp/ltvenv")
LT_PINS = ["lifetimes==0.11.3", "pandas<2", "numpy<1.24", "scipy<1.11"]


# -- the database -------------------------------------------------------------------------------------


def _connect(url: str, autocommit: bool = False):
    import psycopg

    return psycopg.connect(_psycopg_url(url), autocommit=autocommit)


def ensure_customers(pg_url: str, customers: int) -> str:
    """``pp_bench_10m`` with ``customers`` customers (copied from ``pp_bench`` when that has them), migrated."""
    with _connect(pg_url, autocommit=True) as conn:
        have = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        if DB_NAME not in have and SOURCE_DB in have and customer_count(db_url(pg_url, SOURCE_DB)) == customers:
            t0 = time.time()
            conn.execute(f'CREATE DATABASE "{DB_NAME}" TEMPLATE "{SOURCE_DB}"')
            print(f"copied {SOURCE_DB} to {DB_NAME} in {time.time() - t0:.0f} s", flush=True)
    return prepare(pg_url, DB_NAME, customers, 1)  # migrates; reuses a database of the right size


PLAN_SQL = """
CREATE UNLOGGED TABLE bench_plan AS
SELECT c.id, c.branch_id, c.partner_id, s.start_day, LEAST(729, s.start_day + s.life) AS end_day,
       s.rate * (LEAST(729, s.start_day + s.life) - s.start_day + 1) AS weight, s.basket
FROM customer c
CROSS JOIN LATERAL (
  SELECT floor(random() * 600 + 0 * c.id)::int AS start_day,
         ceil(-ln(1 - random()) * 420)::int AS life,
         exp(0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS rate,
         0.5 + 2.5 * random() AS basket
) s
"""

LINES_SQL = """
INSERT INTO sale_line (report_id, customer_id, branch_id, partner_id, product_id, category_id, receipt_no,
                       sold_at, quantity, unit_price, amount)
SELECT NULL, v.id, v.branch_id, v.partner_id, pr.ids[x.i], pr.cats[x.i], NULL,
       DATE '{start}' + v.d, x.q, pr.prices[x.i], x.q * pr.prices[x.i]
FROM (
  SELECT p.id, p.branch_id, p.partner_id, p.basket,
         p.start_day + floor(random() * (p.end_day - p.start_day + 1) + 0 * g)::int AS d,
         1 + floor(random() * 4 + 0 * g)::int AS n_lines
  FROM bench_plan p CROSS JOIN LATERAL generate_series(1, floor(p.weight * {scale} + random())::int) g
) v
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, array_agg(category_id ORDER BY id) AS cats,
                   array_agg(unit_price ORDER BY id) AS prices, count(*)::int AS n FROM product) pr
CROSS JOIN LATERAL generate_series(1, v.n_lines) l
CROSS JOIN LATERAL (
  SELECT 1 + floor(random() * pr.n + 0 * l)::int AS i,
         GREATEST(1, LEAST(3, round(random() * v.basket + 0.5 + 0 * l)))::int AS q
) x
ORDER BY v.d
"""
LINES_PER_VISIT = 2.5  # 1–4 lines per customer-day, uniform


def ensure_lines(url: str, lines: int) -> dict:
    """Top the warehouse up to ~``lines`` sale lines (set-based SQL); idempotent within 1 %."""
    with _connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM sale_line").fetchone()[0]
        if have >= 0.99 * lines:
            print(f"{DB_NAME}: {have:,} sale lines already", flush=True)
            return {"lines": have, "added": 0, "seconds": 0}
        t0 = time.time()
        conn.execute("DROP TABLE IF EXISTS bench_plan")
        conn.execute(PLAN_SQL)
        total_weight = conn.execute("SELECT sum(weight) FROM bench_plan").fetchone()[0]
        scale = (lines - have) / LINES_PER_VISIT / float(total_weight)
        print(f"adding ~{lines - have:,} sale lines set-based (scale {scale:.4f}) …", flush=True)
        conn.execute("SET LOCAL work_mem = '256MB'")
        cur = conn.execute(LINES_SQL.format(start=WINDOW_START.isoformat(), scale=repr(scale)))
        added = cur.rowcount
        conn.execute("DROP TABLE bench_plan")
        conn.commit()
    # Keep the derived customer columns right (the list page sorts by them).
    with _connect(url) as conn:
        conn.execute("""UPDATE customer c SET total_spend = s.total, last_purchase_on = s.last
                        FROM (SELECT customer_id, sum(amount) AS total, max(sold_at) AS last FROM sale_line
                              GROUP BY customer_id) s WHERE s.customer_id = c.id""")
        conn.commit()
    took = time.time() - t0
    t1 = time.time()
    vacuum_analyze(url)
    print(f"added {added:,} lines in {took:.0f} s; VACUUM ANALYZE {time.time() - t1:.0f} s", flush=True)
    return {"lines": have + added, "added": added, "seconds": round(took)}


def warehouse_facts(url: str) -> dict:
    with _connect(url) as conn:
        lines, buyers, days = conn.execute(
            "SELECT count(*), count(DISTINCT customer_id), "
            "(SELECT count(*) FROM (SELECT 1 FROM sale_line GROUP BY customer_id, sold_at) d) FROM sale_line").fetchone()
        customers = conn.execute("SELECT count(*) FROM customer").fetchone()[0]
    return {"customers": customers, "sale_lines": lines, "buyers": buyers, "customer_days": days}


# -- the refresh -------------------------------------------------------------------------------------------


def time_refresh(url: str) -> dict:
    """The CLI in a child process (see ``child_process.run_cli``)."""
    return run_cli(["analytics", "refresh", "--as-of", AS_OF.isoformat(), "--json"], bench_env(url))


IN_APP = textwrap.dedent("""
    import json, sys, time
    from portal import create_app
    app = create_app()
    with app.app_context():
        {body}
""")


def _in_app(url: str, body: str) -> dict:
    code = IN_APP.format(body=textwrap.indent(textwrap.dedent(body), " " * 4).lstrip())
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code], cwd=ROOT, env=bench_env(url),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_overview(url: str) -> dict:
    """The overview's one grouped query for HQ (all customers) and for one branch, best of 3."""
    return _in_app(url, """
        from portal.analytics.score_stats import overview
        from portal.auth.service import find_user
        res = {}
        for email in ("hq@example.com", "store1@example.com"):
            user, best = find_user(email), 1e9
            for _ in range(3):
                t0 = time.perf_counter()
                o = overview(user)
                best = min(best, time.perf_counter() - t0)
            res[email] = {"seconds": round(best, 3), "customers": o.customers}
        print(json.dumps(res))
    """)


def compare_reads(url: str) -> dict:
    """The refresh's warehouse read: binary COPY (used), text COPY + pandas, cursor fetch."""
    return _in_app(url, f"""
        import io
        import numpy as np, pandas as pd
        from datetime import date
        from sqlalchemy import text
        from portal.extensions import db
        from portal.analytics.scoring import read_daily_totals, _DAILY_SQL
        as_of = date.fromisoformat("{AS_OF.isoformat()}")
        res = {{}}
        t0 = time.perf_counter(); n = len(read_daily_totals(as_of)); res["binary_copy_s"] = round(time.perf_counter() - t0, 1)
        db.session.rollback()
        q = _DAILY_SQL.format(day="(sold_at - DATE '1970-01-01')", as_of="DATE '{AS_OF.isoformat()}'")
        db.session.execute(text("SET LOCAL work_mem = '128MB'"))  # as the refresh does
        raw = db.session.connection().connection.driver_connection
        t0 = time.perf_counter()
        buf = io.BytesIO()
        with raw.cursor() as cur, cur.copy(f"COPY ({{q}}) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buf.write(chunk)
        buf.seek(0)
        frame = pd.read_csv(buf, header=None, names=["customer_id", "day", "amount"], dtype="int64")
        res["text_copy_pandas_s"] = round(time.perf_counter() - t0, 1)
        del frame, buf
        db.session.rollback()
        db.session.execute(text("SET LOCAL work_mem = '128MB'"))
        t0 = time.perf_counter()
        rows = db.session.execute(text(q)).fetchall()
        arr = np.array(rows, dtype=np.int64)
        res["cursor_fetch_s"] = round(time.perf_counter() - t0, 1)
        del rows, arr
        db.session.rollback()
        # Alternative: no GROUP BY in the database — every line by binary COPY, days merged in numpy.
        import portal.analytics.scoring as sc
        t0 = time.perf_counter()
        sql_all = ("SELECT customer_id::bigint, (sold_at - DATE '1970-01-01')::bigint, amount::bigint FROM sale_line "
                   "WHERE sold_at <= DATE '{AS_OF.isoformat()}'")
        buf = bytearray()
        with raw.cursor() as cur, cur.copy(f"COPY ({{sql_all}}) TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                buf += chunk
        lines = np.frombuffer(buf, dtype=sc._PG_ROW, offset=19, count=(len(buf) - 21) // sc._PG_ROW.itemsize)
        cust, day, amt = (lines["customer"].astype(np.int64), lines["day"].astype(np.int64),
                          lines["amount"].astype(np.int64))
        key = cust * 100_000 + (day - day.min())
        order = np.argsort(key)
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        sums = np.add.reduceat(amt[order], starts)
        res["raw_lines_numpy_groupby_s"] = round(time.perf_counter() - t0, 1)
        res["raw_lines"] = int(len(lines))
        assert len(starts) == n, (len(starts), n)
        res["rows"] = n
        print(json.dumps(res))
    """)


# -- lifetime-value fit: ours vs lifetimes ------------------------------------------------------------------

LT_SCRIPT = textwrap.dedent("""
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    import pandas as pd
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data
    tx = pd.read_csv(sys.argv[1], sep=r"\\s+", dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    s = summary_data_from_transaction_data(tx, "customer_id", "date", observation_period_end="1997-09-30", freq="D")
    s["recency"] /= 7.0
    s["T"] /= 7.0
    best, fit = 1e9, None
    for _ in range(3):
        f = BetaGeoFitter(penalizer_coef=0.0)
        t0 = time.perf_counter()
        f.fit(s["frequency"], s["recency"], s["T"])
        best = min(best, time.perf_counter() - t0)
        fit = f
    p = fit.params_
    ll = float(fit._negative_log_likelihood_) if hasattr(fit, "_negative_log_likelihood_") else None
    print(json.dumps({"seconds": best, "customers": int(len(s)), "r": float(p["r"]), "alpha": float(p["alpha"]),
                      "a": float(p["a"]), "b": float(p["b"]), "mean_neg_loglik": ll,
                      "versions": {"lifetimes": __import__("lifetimes").__version__, "pandas": pd.__version__,
                                   "scipy": __import__("scipy").__version__, "numpy": __import__("numpy").__version__}}))
""")


def ensure_lifetimes() -> str | None:
    """Path of a python with lifetimes 0.11.3, or None (with the reason printed)."""
    py = LT_VENV / "bin" / "python"
    check = [str(py), "-c", "import lifetimes"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(py)
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(LT_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", *LT_PINS], check=True, timeout=900)
        subprocess.run(check, check=True, capture_output=True)
        return str(py)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"lifetimes could not be installed ({exc}); comparison skipped", flush=True)
        return None


def compare_fit() -> dict:
    """Fit time (only the fit, best of 3) and log-likelihood: ours vs lifetimes' BetaGeoFitter."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import pandas as pd

    from portal.analytics import clv

    tx = pd.read_csv(CDNOW_MASTER, sep=r"\s+", dtype={"date": str})
    summary = clv.summarize_transactions(tx, "customer_id", "date", None, "1997-09-30", date_format="%Y%m%d")
    x, tx_, big_t = summary["frequency"].to_numpy(), summary["recency"].to_numpy(), summary["T"].to_numpy()
    best, ours = 1e9, None
    for _ in range(3):
        t0 = time.perf_counter()
        ours = clv.fit_bgnbd(x, tx_, big_t)
        best = min(best, time.perf_counter() - t0)
    out = {"customers": len(summary),
           "ours": {"seconds": round(best, 4), "r": ours.r, "alpha": ours.alpha, "a": ours.a, "b": ours.b,
                    "loglik": ours.loglik}}
    py = ensure_lifetimes()
    if py is None:
        out["lifetimes"] = {"skipped": "could not install lifetimes==0.11.3 with old pandas/numpy/scipy pins"}
        return out
    script = RESULTS / "_lifetimes_fit.py"
    script.write_text(LT_SCRIPT)
    try:
        run = subprocess.run([py, str(script), str(CDNOW_MASTER)], capture_output=True, text=True, timeout=900)
    finally:
        script.unlink(missing_ok=True)
    if run.returncode != 0:
        out["lifetimes"] = {"skipped": f"lifetimes failed: {run.stderr.strip().splitlines()[-1:]}"}
        return out
    lt = json.loads(run.stdout.strip().splitlines()[-1])
    # Their parameters scored with our (summed) log-likelihood: the same objective, same data.
    theirs = clv.BGNBDParams(lt["r"], lt["alpha"], lt["a"], lt["b"])
    lt["loglik"] = clv.bgnbd_loglik(theirs, x, tx_, big_t)
    lt["seconds"] = round(lt["seconds"], 4)
    out["lifetimes"] = lt
    out["speedup"] = round(lt["seconds"] / out["ours"]["seconds"], 1)
    out["loglik_diff"] = float(np.round(out["ours"]["loglik"] - lt["loglik"], 4))
    return out


# -- report --------------------------------------------------------------------------------------------------


def markdown(res: dict, command: str) -> str:
    lines = [f"Command: `{command}`", ""]
    w = res.get("warehouse")
    if w:
        lines += [f"Warehouse: {w['customers']:,} customers, {w['sale_lines']:,} sale lines, {w['buyers']:,} buyers, "
                  f"{w['customer_days']:,} customer-days; as of {AS_OF.isoformat()}; {os.cpu_count()} CPUs.", "",
                  "| run | wall (s) | peak RSS (MiB) | user CPU (s) | customers scored | BG/NBD r, α, a, b |",
                  "|---|---:|---:|---:|---:|---|"]
    for i, r in enumerate(res.get("refresh", []), start=1):
        bg = r["result"]["params"].get("bgnbd") or {}
        params = ", ".join(f"{bg[k]:.3g}" for k in ("r", "alpha", "a", "b")) if bg else "not fitted"
        lines.append(f"| {i} | {r['wall_s']:.1f} | {r['peak_rss_mib']:,} | {r['user_cpu_s']:.0f} | "
                     f"{r['result']['customers']:,} | {params} |")
    if res.get("refresh"):
        lines += ["", "Stages of run 1 (seconds since the process started): "
                  + "; ".join(f"{t:.1f} {s}" for t, s in res["refresh"][0]["stages"] if "%" in s), ""]
    if res.get("overview"):
        lines.append("Overview query: " + "; ".join(f"{k} {v['seconds'] * 1000:.0f} ms ({v['customers']:,} customers)"
                                                  for k, v in res["overview"].items()))
        lines.append("")
    if res.get("reads"):
        r = res["reads"]
        lines.append(f"Warehouse read ({r['rows']:,} customer-days): binary COPY → numpy {r['binary_copy_s']} s; "
                     f"text COPY → pandas {r['text_copy_pandas_s']} s; cursor fetch {r['cursor_fetch_s']} s; "
                     f"all {r['raw_lines']:,} lines by binary COPY, grouped in numpy {r['raw_lines_numpy_groupby_s']} s")
        lines.append("")
    fit = res.get("fit")
    if fit:
        o = fit["ours"]
        lines += ["BG/NBD fit on CDNOW master (calibration to 1997-09-30), fit only, best of 3:", "",
                  "| | customers | fit (s) | r | α | a | b | log-likelihood |", "|---|---:|---:|---:|---:|---:|---:|---:|",
                  f"| portal.analytics.clv | {fit['customers']:,} | {o['seconds']:.3f} | {o['r']:.4f} | {o['alpha']:.4f} | "
                  f"{o['a']:.4f} | {o['b']:.4f} | {o['loglik']:.2f} |"]
        lt = fit["lifetimes"]
        if "skipped" in lt:
            lines.append(f"| lifetimes 0.11.3 | – | – | – | – | – | – | skipped: {lt['skipped']} |")
        else:
            lines.append(f"| lifetimes {lt['versions']['lifetimes']} | {lt['customers']:,} | {lt['seconds']:.3f} | {lt['r']:.4f} | "
                         f"{lt['alpha']:.4f} | {lt['a']:.4f} | {lt['b']:.4f} | {lt['loglik']:.2f} |")
            lines += ["", f"Speed-up: {fit['speedup']}× at a log-likelihood difference of {fit['loglik_diff']:+.4f} "
                          f"(lifetimes with pandas {lt['versions']['pandas']}, scipy {lt['versions']['scipy']}, "
                          f"numpy {lt['versions']['numpy']})."]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="server URL; the database part is replaced")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=2, help="refreshes to time (the first one creates the scores)")
    ap.add_argument("--compare-read", action="store_true", help="also time three ways of reading the warehouse")
    ap.add_argument("--skip-fit", action="store_true", help="skip the CDNOW fit comparison")
    ap.add_argument("--only-fit", action="store_true", help="only the CDNOW fit comparison")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    res: dict = {"started": datetime.now().isoformat(timespec="seconds"), "as_of": AS_OF.isoformat()}
    if not args.only_fit:
        url = ensure_customers(args.pg_url, args.customers)
        res["lines_added"] = ensure_lines(url, args.lines)
        res["warehouse"] = warehouse_facts(url)
        print(f"warehouse: {res['warehouse']}", flush=True)
        res["refresh"] = []
        for i in range(args.runs):
            r = time_refresh(url)
            res["refresh"].append(r)
            print(f"refresh {i + 1}: {r['wall_s']:.1f} s, peak {r['peak_rss_mib']} MiB, "
                  f"{r['result']['customers']:,} customers — {r['result']['message']}", flush=True)
        res["overview"] = time_overview(url)
        if args.compare_read:
            res["reads"] = compare_reads(url)
    if not args.skip_fit:
        res["fit"] = compare_fit()
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    command = " ".join(["bench/analytics_refresh.py", *sys.argv[1:]])
    (RESULTS / f"analytics-refresh-{stamp}.json").write_text(json.dumps(res, indent=1, default=str))
    md = markdown(res, command)
    (RESULTS / "analytics-refresh-latest.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
