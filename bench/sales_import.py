"""A 1,000,000-row daily sales report through the full import, beside the raw insert of its rows.

Usage::

    .venv/bin/python bench/sales_import.py --rows 1000000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

For each database (SQLite file, PostgreSQL database ``pp_sales_bench``), in one run:

1. a fresh database is migrated and seeded by the demo loader with ``--existing`` customers;
2. a report file is generated (UTF-8, Korean headers): one branch, one day, ``--rows`` rows in
   receipts of 1–4 lines; 65 % of receipts name an existing customer by number, 10 % by phone,
   25 % are new customers (half with a new number, half phone-only; some without address or
   e-mail, so quality issues are written too);
3. **raw**: the very rows the import ends up writing — the new customers and the sale lines — are
   prepared in memory beforehand (untimed) and inserted in one transaction with the fastest plain
   driver call: ``executemany`` on SQLite, ``COPY`` from a pre-built buffer on PostgreSQL. Timed
   from BEGIN to COMMIT, then deleted again (untimed);
4. **import**: ``flask --app wsgi portal sales import FILE --json`` in a child process, the way an
   operator runs it: reading, checks, matching, quality flags, customer totals, audit, one commit.
   Wall time includes the process start; the child's peak RSS comes from ``wait4``.

Results go to ``bench/results/sales-import-<stamp>.json`` and ``sales-import-latest.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from child_process import run_cli  # noqa: E402
from load_data import DEFAULT_PG, WORK, bench_env, ensure_database, load, migrate, vacuum_analyze  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REPORT_DAY = date(2023, 11, 20)  # before the demo's three years of sales, which file a report every day up to yesterday
BRANCH = "B001"
PY = str(ROOT / ".venv" / "bin" / "python")

CUSTOMER_COLS = ("id", "code", "name", "phone", "email", "address", "postal_code", "birth_date", "branch_id",
                 "complaint", "created_at", "updated_at", "total_spend", "last_purchase_on")
LINE_COLS = ("report_id", "customer_id", "branch_id", "partner_id", "product_id", "category_id", "receipt_no",
             "sold_at", "quantity", "unit_price", "amount")


# -- database access without the app (the raw side) ------------------------------------------------


class Target:
    """One database under test: a plain DB-API connection for seeding queries and the raw insert."""

    def __init__(self, kind: str, url: str):
        self.kind, self.url = kind, url

    def connect(self):
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            return conn
        import psycopg

        return psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://", 1))

    def query(self, sql: str) -> list[tuple]:
        conn = self.connect()
        try:
            return list(conn.execute(sql).fetchall())
        finally:
            conn.close()


def prepare(kind: str, pg_url: str, existing: int) -> Target:
    t0 = time.time()
    if kind == "sqlite":
        path = WORK / "sales_bench.sqlite"
        WORK.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        migrate(url)
        code = ("from portal import create_app\nfrom portal.demo.loader import load_demo\napp = create_app()\n"
                f"with app.app_context():\n    print(load_demo(customers={existing}, lines_per_customer=1, "
                "echo=lambda s: None, install_plugins=False))\n")
        subprocess.run([PY, "-c", code], cwd=ROOT, env=bench_env(url), check=True)
    else:
        url = ensure_database(pg_url, "pp_sales_bench", recreate=True)
        migrate(url)
        load(url, existing, 1)
        vacuum_analyze(url)
    print(f"[{kind}] seeded {existing:,} customers in {time.time() - t0:.0f} s", flush=True)
    return Target(kind, url)


# -- the report --------------------------------------------------------------------------------------


def build_report(target: Target, rows: int, seed: int = 7) -> tuple[pd.DataFrame, dict]:
    """The report frame (text columns as a branch would send them) and facts for the raw side."""
    rng = np.random.default_rng(seed)
    branch_id, = target.query(f"SELECT id FROM org_unit WHERE code = '{BRANCH}'")[0]  # noqa: S608
    products = pd.DataFrame(target.query(
        "SELECT p.sku, p.name, c.code, p.unit_price, p.id, c.id FROM product p JOIN category c ON c.id = p.category_id"),
        columns=["sku", "name", "category", "price", "product_id", "category_id"])
    known = pd.DataFrame(target.query(
        "SELECT id, code, phone, partner_id FROM customer WHERE pseudonymized_at IS NULL"),
        columns=["id", "code", "phone", "partner_id"])
    phone_counts = known["phone"].value_counts()
    by_phone = known[known["phone"].map(phone_counts).eq(1)]

    sizes = rng.integers(1, 5, size=rows)  # lines per receipt
    receipt_of_row = np.repeat(np.arange(len(sizes)), sizes)[:rows]
    receipts = int(receipt_of_row[-1]) + 1
    kind = rng.choice(3, size=receipts, p=[0.65, 0.10, 0.25])  # 0 code, 1 phone, 2 new
    n_new = max(1, int((kind == 2).sum() / 1.5))  # a new customer buys on ~1.5 receipts
    who = np.where(kind == 0, rng.integers(0, len(known), receipts),
                   np.where(kind == 1, rng.integers(0, len(by_phone), receipts), rng.integers(0, n_new, receipts)))
    r_kind, r_who = kind[receipt_of_row], who[receipt_of_row]

    new_ids = np.arange(n_new)
    new = pd.DataFrame({
        "code": np.where(new_ids % 2 == 0, [f"N{i:08d}" for i in new_ids], ""),
        "name": [f"고객{i}" for i in new_ids],
        "phone": [f"011-9{i // 10000:03d}-{i % 10000:04d}" for i in new_ids],  # the demo uses 010 only
        "email": np.where(rng.random(n_new) < 0.5, [f"new{i}@example.net" for i in new_ids], ""),
        "address": np.where(rng.random(n_new) < 0.9, "서울특별시 강남구 테헤란로 152", ""),
        "postal": np.where(rng.random(n_new) < 0.9, "06236", "062"),
        "birth": np.where(rng.random(n_new) < 0.7, "1985-03-14", ""),
    })
    prod = products.iloc[rng.integers(0, len(products), rows)].reset_index(drop=True)
    qty = rng.integers(1, 4, rows)
    blank = np.full(rows, "", dtype=object)

    def pick(col_known: np.ndarray | None, col_phone: np.ndarray | None, col_new: np.ndarray) -> np.ndarray:
        out = blank.copy()
        if col_known is not None:
            m = r_kind == 0
            out[m] = col_known[r_who[m]]
        if col_phone is not None:
            m = r_kind == 1
            out[m] = col_phone[r_who[m]]
        m = r_kind == 2
        out[m] = col_new[r_who[m]]
        return out

    frame = pd.DataFrame({
        "판매일자": REPORT_DAY.isoformat(), "지점코드": BRANCH,
        "영수증번호": [f"{BRANCH}-{r:07d}" for r in receipt_of_row],
        "고객번호": pick(known["code"].to_numpy(object), None, new["code"].to_numpy(object)),
        "고객명": pick(None, None, new["name"].to_numpy(object)),
        "전화번호": pick(None, by_phone["phone"].to_numpy(object), new["phone"].to_numpy(object)),
        "이메일": pick(None, None, new["email"].to_numpy(object)),
        "주소": pick(None, None, new["address"].to_numpy(object)),
        "우편번호": pick(None, None, new["postal"].to_numpy(object)),
        "생년월일": pick(None, None, new["birth"].to_numpy(object)),
        "상품코드": prod["sku"].to_numpy(), "상품명": prod["name"].to_numpy(), "카테고리": prod["category"].to_numpy(),
        "수량": qty, "단가": prod["price"].to_numpy(), "금액": qty * prod["price"].to_numpy(),
    })
    facts = {"branch_id": branch_id, "known": known, "by_phone": by_phone, "new": new, "n_new": n_new,
             "r_kind": r_kind, "r_who": r_who, "prod": prod, "qty": qty, "receipt_of_row": receipt_of_row}
    return frame, facts


def raw_rows(target: Target, frame: pd.DataFrame, facts: dict) -> tuple[list[tuple], list[tuple]]:
    """The new customers and sale lines the import will write, as plain tuples (built untimed)."""
    start = target.query("SELECT COALESCE(MAX(id), 0) + 1 FROM customer")[0][0]
    new, n_new, branch_id = facts["new"], facts["n_new"], facts["branch_id"]
    used = np.zeros(n_new, dtype=bool)
    used[facts["r_who"][facts["r_kind"] == 2]] = True
    new_id = np.full(n_new, -1, dtype=np.int64)
    new_id[used] = np.arange(start, start + int(used.sum()))
    now = datetime.now().isoformat(sep=" ")
    customers = [
        (int(new_id[i]), new["code"][i] or f"C{new_id[i]:07d}", new["name"][i], new["phone"][i].replace("-", ""),
         new["email"][i] or None, new["address"][i] or None, new["postal"][i] if len(new["postal"][i]) == 5 else None,
         new["birth"][i] or None, branch_id, False, now, now, 0, REPORT_DAY.isoformat())
        for i in np.flatnonzero(used)
    ]
    kind, who = facts["r_kind"], facts["r_who"]
    cust = np.where(kind == 0, facts["known"]["id"].to_numpy()[np.where(kind == 0, who, 0)],
                    np.where(kind == 1, facts["by_phone"]["id"].to_numpy()[np.where(kind == 1, who, 0)],
                             new_id[np.where(kind == 2, who, 0)]))
    partner_of = dict(zip(facts["known"]["id"], facts["known"]["partner_id"], strict=True))
    prod, qty = facts["prod"], facts["qty"]
    day = REPORT_DAY.isoformat()
    lines = list(zip(
        [None] * len(frame), cust.tolist(), [branch_id] * len(frame),
        [None if pd.isna(p := partner_of.get(c)) else int(p) for c in cust.tolist()],
        prod["product_id"].tolist(), prod["category_id"].tolist(), frame["영수증번호"].tolist(), [day] * len(frame),
        qty.tolist(), prod["price"].tolist(), (qty * prod["price"].to_numpy()).tolist(), strict=True))
    facts["first_new_id"] = start
    return customers, lines


def _copy_buffer(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    for row in rows:
        out.write("\t".join("\\N" if v is None else ("t" if v is True else "f" if v is False else str(v))
                            for v in row))
        out.write("\n")
    return out.getvalue().encode()


def time_raw(target: Target, customers: list[tuple], lines: list[tuple]) -> float:
    """BEGIN … COMMIT of the prepared rows; afterwards they are deleted again (untimed)."""
    ids = [c[0] for c in customers]
    conn = target.connect()
    try:
        if target.kind == "sqlite":
            c_sql = f"INSERT INTO customer ({', '.join(CUSTOMER_COLS)}) VALUES ({', '.join('?' * len(CUSTOMER_COLS))})"  # noqa: S608
            l_sql = f"INSERT INTO sale_line ({', '.join(LINE_COLS)}) VALUES ({', '.join('?' * len(LINE_COLS))})"  # noqa: S608
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(c_sql, customers)
            conn.executemany(l_sql, lines)
            conn.execute("COMMIT")
            took = time.perf_counter() - t0
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM sale_line WHERE report_id IS NULL AND sold_at = ?", (REPORT_DAY.isoformat(),))
            conn.execute(f"DELETE FROM customer WHERE id >= {min(ids)}")  # noqa: S608
            conn.execute("COMMIT")
            return took
        c_buf, l_buf = _copy_buffer(customers), _copy_buffer(lines)
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(f"COPY customer ({', '.join(CUSTOMER_COLS)}) FROM STDIN") as copy:
                copy.write(c_buf)
            with cur.copy(f"COPY sale_line ({', '.join(LINE_COLS)}) FROM STDIN") as copy:
                copy.write(l_buf)
        conn.commit()
        took = time.perf_counter() - t0
        conn.execute("DELETE FROM sale_line WHERE report_id IS NULL AND sold_at = %s", (REPORT_DAY,))
        conn.execute("DELETE FROM customer WHERE id = ANY(%s)", (ids,))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE customer")
        conn.execute("VACUUM ANALYZE sale_line")
        return took
    finally:
        conn.close()


def time_import(target: Target, path: Path) -> dict:
    """The CLI in a child process (see ``child_process.run_cli``)."""
    return run_cli(["sales", "import", str(path), "--json"], bench_env(target.url))


def profile_import(target: Target, path: Path) -> None:
    """The same import in this process under cProfile (``--profile``): where the time goes."""
    import cProfile
    import pstats

    os.environ.update(bench_env(target.url))
    from portal import create_app
    from portal.sales.importer import import_report

    app = create_app()
    with app.app_context(), app.test_request_context():
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        result = import_report(path.read_bytes(), path.name, None, source="cli")
        prof.disable()
        print(f"[{target.kind}] in-process import: {time.perf_counter() - t0:.1f} s, {result.status}", flush=True)
    out = RESULTS / f"sales-import-{target.kind}.prof"
    RESULTS.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(out)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(45)


def run(kind: str, args: argparse.Namespace) -> dict:
    target = prepare(kind, args.pg_url, args.existing)
    t0 = time.time()
    frame, facts = build_report(target, args.rows)
    path = WORK / f"sales-report-{args.rows}.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    customers, lines = raw_rows(target, frame, facts)
    print(f"[{kind}] report {path.name}: {len(frame):,} rows, {path.stat().st_size / 1e6:.0f} MB, "
          f"{len(customers):,} new customers (built in {time.time() - t0:.0f} s)", flush=True)
    raw = time_raw(target, customers, lines)
    print(f"[{kind}] raw insert: {raw:.1f} s", flush=True)
    if args.profile:
        profile_import(target, path)
        raise SystemExit(0)
    imp = time_import(target, path)
    res = imp["result"]
    print(f"[{kind}] import: {imp['wall_s']:.1f} s, peak {imp['peak_rss_mib']} MiB, status {res['status']}, "
          f"{res['accepted']:,} lines, {res['customers_created']:,} created, {res['customers_matched']:,} matched",
          flush=True)
    written = target.query(f"SELECT count(*) FROM sale_line WHERE report_id = {int(res['report_id'])}")[0][0]  # noqa: S608
    issues = target.query(f"SELECT count(*) FROM quality_issue WHERE customer_id >= {facts['first_new_id']}")[0][0]  # noqa: S608
    checks = {"lines_in_db": written, "expected_lines": args.rows, "new_customers_expected": len(customers),
              "quality_issues_written": issues}
    if written != args.rows or res["customers_created"] != len(customers):
        raise SystemExit(f"[{kind}] mismatch: {checks} vs {res}")
    return {"db": kind, "rows": args.rows, "existing_customers": args.existing, "file_mb": round(path.stat().st_size / 1e6),
            "raw_s": round(raw, 2), "import": imp, "ratio": round(imp["wall_s"] / raw, 2), "checks": checks}


def markdown(runs: list[dict], command: str) -> str:
    lines = [f"Command: `{command}`", "",
             "| database | rows | new customers | raw insert (s) | full import (s) | ratio | peak RSS (MiB) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r['db']} | {r['rows']:,} | {r['import']['result']['customers_created']:,} | {r['raw_s']:.1f} "
                     f"| {r['import']['wall_s']:.1f} | {r['ratio']:.2f}× | {r['import']['peak_rss_mib']:,} |")
    lines.append("")
    for r in runs:
        lines.append(f"Stages on {r['db']} (seconds since the process started): "
                     + "; ".join(f"{t:.1f} {s}" for t, s in r["import"]["stages"] if "%" in s))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--existing", type=int, default=100_000, help="customers in the warehouse before the import")
    ap.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--profile", action="store_true", help="profile the import in-process instead of timing the CLI")
    args = ap.parse_args()
    runs = [run(kind, args) for kind in args.db.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    command = " ".join(["bench/sales_import.py", *sys.argv[1:]])
    (RESULTS / f"sales-import-{stamp}.json").write_text(json.dumps(runs, indent=1, default=str))
    md = markdown(runs, command)
    (RESULTS / "sales-import-latest.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
