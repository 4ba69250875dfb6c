"""The database of the messaging benchmarks: ``pp_msg_bench`` on the benchmark PostgreSQL server.

Migrated with ``flask portal db upgrade`` (the real schema: indexes, triggers, foreign keys), then
filled with ``--customers`` customers by one ``INSERT … SELECT generate_series`` (codes, names,
e-mail addresses and phones; nothing else is needed to queue a campaign), and with an e-mail
marketing consent for the first ``consents`` of them (the dispatcher's consent check reads it).
Reused when it already holds enough customers. Its own database, so other benchmarks running on
the shared server are not disturbed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
DBNAME = "pp_msg_bench"
sys.path.insert(0, str(ROOT))


def db_url(pg_url: str, dbname: str = DBNAME) -> str:
    base, _, _ = pg_url.rpartition("/")
    return f"{base}/{dbname}"


def raw(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def bench_env(url: str, **extra: str) -> dict[str, str]:
    WORK.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({"PORTAL_DATABASE_URL": url, "PORTAL_INSTANCE_PATH": str(WORK),
                "PORTAL_SECRET_KEY": env.get("PORTAL_SECRET_KEY") or "bench-only-secret-not-for-production",
                "PORTAL_PLUGINS": "tests.sample_plugin", "PORTAL_SENDER_CONTACT": "02-1234-5678",
                "PORTAL_OPTOUT_080": "080-123-4567", **extra})
    return env


def prepare(pg_url: str, customers: int, consents: int, recreate: bool = False) -> str:
    import psycopg

    url = db_url(pg_url)
    with psycopg.connect(raw(pg_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,)).fetchone()
        if exists and recreate:
            conn.execute(f'DROP DATABASE "{DBNAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DBNAME}"')
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "db", "upgrade"],
                   cwd=ROOT, env=bench_env(url), check=True, capture_output=True)
    with psycopg.connect(raw(url), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM customer").fetchone()[0]
        if have < customers:
            print(f"filling {customers - have:,} customers …", flush=True)
            conn.execute("""
                INSERT INTO customer (code, name, email, phone, complaint, created_at, updated_at, total_spend)
                SELECT 'MB' || lpad(g::text, 8, '0'), '고객' || g, 'c' || g || '@bench.example',
                       '010' || lpad(g::text, 8, '0'), false, now(), now(), 0
                FROM generate_series(%s, %s) g""", (have + 1, customers))
        with_consent = conn.execute(
            "SELECT count(*) FROM consent WHERE channel = 'email' AND purpose = 'marketing'").fetchone()[0]
        if with_consent < consents:
            conn.execute("""
                INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at, kind, source)
                SELECT id, 'email', 'marketing', true, 'web', now(), 'consent', 'bench'
                FROM customer WHERE id > (SELECT coalesce(max(customer_id), 0) FROM consent
                                          WHERE channel = 'email' AND purpose = 'marketing')
                ORDER BY id LIMIT %s""", (consents - with_consent,))
        conn.execute("VACUUM ANALYZE customer")
        conn.execute("VACUUM ANALYZE consent")
    return url


def server_settings(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(raw(url)) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("fsync", "synchronous_commit", "shared_buffers", "max_wal_size")}


def postgres_cpu() -> float:
    """CPU seconds (user + system) of every PostgreSQL process on this machine so far, plus what
    the postmaster collected from backends that have exited (cutime/cstime) — a consumer's
    backend ends with its connection."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if comm == "postgres":
            total += (int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])) / tick
    return total


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process so far (e.g. our PostgreSQL backend)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    rest = text[text.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
