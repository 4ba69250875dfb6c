"""Create, migrate and fill the benchmark database with the demo data set at scale.

Usage (also called by ``bench/customers_latency.py``)::

    .venv/bin/python bench/load_data.py --customers 1000000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python bench/load_data.py --customers 1000000 --sqlite bench/.work/bench.sqlite

The rows come from the project's own deterministic demo loader (``portal.demo.loader``) — same
organisation, accounts, names, phones, addresses, consents, quality issues, households and
sale lines. Only the transport differs: the loader's bulk ``INSERT`` statements are turned into
PostgreSQL ``COPY`` (about 10x faster at a million rows), and the id sequences are advanced
afterwards. An already loaded database with the wanted customer count is reused.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"


def db_url(pg_url: str, dbname: str) -> str:
    base, _, _ = pg_url.rpartition("/")
    return f"{base}/{dbname}"


def bench_env(url: str) -> dict[str, str]:
    WORK.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "PORTAL_DATABASE_URL": url,
        "PORTAL_SECRET_KEY": env.get("PORTAL_SECRET_KEY") or "bench-only-secret-not-for-production",
        "PORTAL_INSTANCE_PATH": str(WORK),
        # Loopback HTTP: the session cookie must be accepted without TLS.
        "PORTAL_SECURE_COOKIES": "0",
    })
    return env


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def ensure_database(pg_url: str, dbname: str, recreate: bool = False) -> str:
    import psycopg

    with psycopg.connect(_psycopg_url(pg_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists and recreate:
            conn.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return db_url(pg_url, dbname)


def migrate(url: str) -> None:
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "db", "upgrade"],
                   cwd=ROOT, env=bench_env(url), check=True)


def customer_count(url: str) -> int:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        return conn.execute("SELECT count(*) FROM customer").fetchone()[0]


# -- INSERT → COPY ---------------------------------------------------------------------------------


class _CopySession:
    """Stands in for ``db.session`` inside the demo loader: bulk inserts go through COPY."""

    def __init__(self, real: Any):
        self._real = real
        self.copied: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def execute(self, stmt: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.sql.dml import Insert

        if isinstance(stmt, Insert) and isinstance(params, list) and params:
            self._copy(stmt.table, params)
            return None
        if params is None:
            return self._real.execute(stmt, *args, **kwargs)
        return self._real.execute(stmt, params, *args, **kwargs)

    def _copy(self, table: Any, rows: list[dict[str, Any]]) -> None:
        keys: list[str] = []
        for row in rows[:1000]:
            keys += [k for k in row if k not in keys]
        defaults = {}
        for col in table.columns:
            if col.name in keys or col.default is None:
                continue
            d = col.default
            if d.is_scalar:
                defaults[col.name] = (False, d.arg)
            elif d.is_callable:
                defaults[col.name] = (True, d.arg)
        columns = keys + list(defaults)
        raw = self._real.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy:
            for row in rows:
                values = [row.get(k) for k in keys]
                values += [fn(None) if call else fn for call, fn in defaults.values()]
                copy.write_row(values)
        self.copied[table.name] = self.copied.get(table.name, 0) + len(rows)


def _flush_keeping_last(original: Any, real_session: Any):
    """Wrap ``loader._flush_customers`` so a household can still pair with the previous batch.

    The demo loader pairs customer *n* with customer *n-1* in a household through
    ``batch[-2]``; right after a flush the batch holds one row and that raises IndexError
    (about once per 125,000 customers). The wrapper keeps the last written row in the batch
    (marked written) and applies a later household assignment to it with an UPDATE, so the
    data are exactly what the loader means to produce.
    """
    def flush(batch: list, consents: list, issues: list, households: list) -> None:
        ghost = batch[0] if batch and batch[0].get("_written") else None
        fresh = [r for r in batch if not r.get("_written")]
        original(list(fresh), consents, issues, households)  # it clears the list it is given
        if ghost is not None and ghost.get("household_id") is not None:
            from sqlalchemy import text

            real_session.execute(text("UPDATE customer SET household_id = :h WHERE id = :i"),
                                 {"h": ghost["household_id"], "i": ghost["id"]})
            ghost["household_id"] = None
        last = fresh[-1] if fresh else ghost
        batch.clear()
        if last is not None:
            last["_written"] = True
            batch.append(last)

    return flush


class _CopyDB:
    def __init__(self, real: Any):
        self._real = real
        self.session = _CopySession(real.session)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _progress(line: str) -> None:
    """The loader reports every 5,000 rows; print every 100,000th and everything else."""
    head, _, tail = line.partition(": ")
    done = tail.split("/")[0]
    if head not in ("customers", "sale lines") or not done.isdigit() or int(done) % 100_000 == 0 or "/" not in tail \
            or done == tail.split("/")[1]:
        print(line, flush=True)


def load(url: str, customers: int, lines_per_customer: int) -> str:
    os.environ.update(bench_env(url))
    from portal import create_app
    from portal.demo import loader

    app = create_app()
    with app.app_context():
        real_db, real_flush = loader.db, loader._flush_customers
        if url.startswith("sqlite"):  # no COPY: the loader's own executemany INSERTs
            loader._flush_customers = _flush_keeping_last(real_flush, real_db.session)
            try:
                summary = loader.load_demo(customers=customers, lines_per_customer=lines_per_customer, echo=_progress)
            finally:
                loader._flush_customers = real_flush
            real_db.session.commit()
            return summary
        loader.db = _CopyDB(real_db)
        loader._flush_customers = _flush_keeping_last(real_flush, real_db.session)
        try:
            summary = loader.load_demo(customers=customers, lines_per_customer=lines_per_customer, echo=_progress)
        finally:
            loader.db, loader._flush_customers = real_db, real_flush
        # Rows were written with explicit ids: move every id sequence past them.
        from sqlalchemy import text

        for (seq_table,) in real_db.session.execute(text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'id' AND column_default LIKE 'nextval%'")).all():
            # Table names come from the catalogue, not from input.
            sql = (f"SELECT setval(pg_get_serial_sequence('\"{seq_table}\"', 'id'), "  # noqa: S608
                   f"(SELECT coalesce(max(id), 0) + 1 FROM \"{seq_table}\"), false)")
            real_db.session.execute(text(sql))
        real_db.session.commit()
    return summary


def vacuum_analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def sqlite_url(path: str) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def prepare_sqlite(path: str, customers: int, lines_per_customer: int, recreate: bool = False) -> str:
    """The SQLite twin of :func:`prepare`: the database file ``path`` migrated and loaded (reused
    when it has the wanted number of customers), then ``ANALYZE`` for the query planner."""
    import sqlite3

    url = sqlite_url(path)
    files = [Path(path + sfx) for sfx in ("", "-wal", "-shm")]
    if recreate:
        for f in files:
            f.unlink(missing_ok=True)
    migrate(url)
    with sqlite3.connect(path) as conn:
        have = conn.execute("SELECT count(*) FROM customer").fetchone()[0]
    if have == customers:
        print(f"reusing {path}: {have:,} customers already loaded", flush=True)
    else:
        print(f"{path} has {have:,} customers, want {customers:,}: (re)creating", flush=True)
        for f in files:
            f.unlink(missing_ok=True)
        migrate(url)
        t0 = time.time()
        print(load(url, customers, lines_per_customer), flush=True)
        print(f"loaded in {time.time() - t0:.0f} s", flush=True)
    t0 = time.time()
    conn = sqlite3.connect(path)
    try:
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    print(f"ANALYZE in {time.time() - t0:.0f} s", flush=True)
    return url


def prepare(pg_url: str, dbname: str, customers: int, lines_per_customer: int, recreate: bool = False) -> str:
    """Database ready for the benchmark (idempotent); returns its SQLAlchemy URL."""
    url = ensure_database(pg_url, dbname, recreate=recreate)
    migrate(url)
    have = customer_count(url)
    if have == customers:
        print(f"reusing {dbname}: {have:,} customers already loaded", flush=True)
    else:
        # Empty, half loaded (an interrupted run) or another size: start from a fresh database.
        print(f"{dbname} has {have:,} customers, want {customers:,}: (re)creating", flush=True)
        url = ensure_database(pg_url, dbname, recreate=True)
        migrate(url)
        t0 = time.time()
        print(load(url, customers, lines_per_customer), flush=True)
        print(f"loaded in {time.time() - t0:.0f} s", flush=True)
    t0 = time.time()
    vacuum_analyze(url)
    print(f"VACUUM ANALYZE in {time.time() - t0:.0f} s", flush=True)
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lines-per-customer", type=int, default=1)
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="server URL; its database part is replaced by --db-name")
    ap.add_argument("--db-name", default="pp_bench")
    ap.add_argument("--recreate", action="store_true", help="drop and reload the bench database")
    ap.add_argument("--sqlite", metavar="FILE", help="load this SQLite database file instead of PostgreSQL")
    args = ap.parse_args()
    if args.sqlite:
        prepare_sqlite(args.sqlite, args.customers, args.lines_per_customer, args.recreate)
        return
    prepare(args.pg_url, args.db_name, args.customers, args.lines_per_customer, args.recreate)


if __name__ == "__main__":
    main()
