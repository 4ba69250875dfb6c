"""Redemption throughput: ``POST /api/v1/loyalty/accounts/<id>/redeem`` under gunicorn on
PostgreSQL (issue 5: at least 500 redemptions per second with 2 workers).

    .venv/bin/python bench/loyalty_redeem.py \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

1. creates (or reuses) the database ``pp_bench_redeem``: core migrations, ``--accounts`` customers,
   one large sale line each, the loyalty add-on installed and every line earned (set-based), so
   each account holds 100,000 points in one lot; an HQ user and an API token;
2. starts gunicorn (``--workers`` 2, ``sync`` by default) on a free loopback port;
3. drives it with ``wrk`` (``--connections`` keep-alive connections, ``--duration`` seconds)
   and a Lua script posting redemptions of 1 point to random accounts, each with a unique
   idempotency key (thread, counter and a run id), counting the answers by status;
4. checks afterwards that the ledger agrees (one redeem entry per 201, balances = entries) and
   writes ``bench/results/loyalty_redeem-<timestamp>.json``.

Needs ``wrk`` (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load_data import DEFAULT_PG, bench_env, ensure_database  # noqa: E402
from process_cpu import cpu_used  # noqa: E402

DBNAME = "pp_bench_redeem"
EMAIL = "bench-hq@example.com"

LUA = r"""
local counter = 1
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  n = 0
  created = 0
  refused = 0
  other = 0
  math.randomseed(tid * 7919 + os.time())
end
request = function()
  n = n + 1
  local id = math.random(1, __ACCOUNTS__)
  local body = string.format('{"points": 1, "reason": "bench", "idempotency_key": "__RUN__-%d-%d"}', tid, n)
  return wrk.format("POST", "/api/v1/loyalty/accounts/" .. id .. "/redeem",
    {["Authorization"] = "Bearer __TOKEN__", ["Content-Type"] = "application/json"}, body)
end
response = function(status, headers, body)
  if status == 201 then created = created + 1 elseif status == 409 then refused = refused + 1 else other = other + 1 end
end
done = function(summary, latency, requests)
  local c, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    r = r + t:get("refused")
    o = o + t:get("other")
  end
  io.write(string.format("STATUS created=%d refused=%d other=%d\n", c, r, o))
  io.write(string.format("LATENCY p50=%.2f p90=%.2f p99=%.2f\n", latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
"""


def _psql(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)


def prepare(url: str, accounts: int, reuse: bool = False) -> str:
    """Data, the add-on, every account credited (``reuse``: as a previous run left them, when the
    add-on is installed); returns a fresh API token."""
    env = {**bench_env(url), "PORTAL_PLUGINS": "loyalty"}
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "db", "upgrade"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    os.environ.update(env)
    with _psql(url) as conn:
        if conn.execute("SELECT count(*) FROM customer").fetchone()[0] != accounts:
            print(f"data: {accounts:,} customers with one sale line each …", flush=True)
            conn.execute("TRUNCATE sale_line, sales_report, customer, org_unit, category RESTART IDENTITY CASCADE")
            conn.execute("INSERT INTO org_unit (id, code, name, kind, path, depth, active, created_at) "
                         "VALUES (1, 'B001', 'Bench', 'branch', '/1/', 0, true, now())")
            conn.execute("INSERT INTO category (id, code, name_ko, name_en) VALUES (1, 'health', '건강식품', 'Health')")
            conn.execute(f"""INSERT INTO customer (id, code, name, branch_id, complaint, created_at, updated_at, total_spend)
                             SELECT g, 'C' || lpad(g::text, 8, '0'), 'Customer ' || g, 1, false, now(), now(), 0
                             FROM generate_series(1, {accounts}) g""")
            conn.execute("""INSERT INTO sale_line (customer_id, branch_id, category_id, sold_at, quantity, unit_price, amount)
                            SELECT id, 1, 1, date '2026-10-01', 1, 100000000, 100000000 FROM customer""")
            conn.execute("SELECT setval(pg_get_serial_sequence('customer', 'id'), (SELECT max(id) FROM customer))")
    from portal import create_app

    app = create_app()
    with app.app_context():
        from portal.auth.service import find_user
        from portal.auth.tokens import create_token
        from portal.extensions import db
        from portal.models import PluginState
        from portal.plugins_lifecycle import install, uninstall
        from portal.users.service import create_user

        state = db.session.get(PluginState, "loyalty")
        if not (reuse and state is not None and state.installed):
            if state is not None and state.installed:
                uninstall("loyalty", purge=True)  # every run from the same starting point
            install("loyalty")
            from plugins.loyalty.earning import earn_pending

            batch = earn_pending(as_of=date(2026, 10, 31))
            db.session.commit()
            print(f"earned {batch.points:,} points on {batch.lines:,} accounts", flush=True)
        user = find_user(EMAIL) or create_user(EMAIL, "Bench HQ", "bench-pass-2026-long", roles=["HQ Staff"])
        _token, raw = create_token(user, "bench")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    with _psql(url) as conn:
        conn.execute("VACUUM ANALYZE")
    return raw


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, workers: int, worker_class: str, threads: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    cmd = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--worker-class", worker_class, "--log-level", "warning", "--access-logfile", "/dev/null"]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    cmd.append("wsgi:app")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**bench_env(url), "PORTAL_PLUGINS": "loyalty"}, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:  # noqa: S310 - loopback
                if resp.status == 200:
                    time.sleep(1)
                    return proc, port
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("gunicorn did not answer within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("PORTAL_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="per worker, with --worker-class gthread")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the ledger a previous run left (each account starts with 100,000 points)")
    args = parser.parse_args()
    url = ensure_database(args.pg_url, DBNAME)
    token = prepare(url, args.accounts, args.reuse)
    run_id = datetime.now(UTC).strftime("%H%M%S")
    script = Path(tempfile.mkdtemp()) / "redeem.lua"
    script.write_text(LUA.replace("__ACCOUNTS__", str(args.accounts)).replace("__RUN__", run_id)
                      .replace("__TOKEN__", token))
    proc, port = serve(url, args.workers, args.worker_class, args.threads)
    try:
        # a short warm-up (connections, plans), then the measured run
        subprocess.run(["wrk", "-t2", "-c4", "-d3s", "-s", str(script), f"http://127.0.0.1:{port}"], check=True,
                       capture_output=True, text=True, timeout=60)
        with cpu_used(proc.pid) as used:
            out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "10s",
                                  "-s", str(script), f"http://127.0.0.1:{port}"], check=True, capture_output=True,
                                 text=True, timeout=args.duration + 60).stdout
        cpu = {k: round(v, 1) for k, v in used.items()}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    print(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    status = dict((k, int(v)) for k, v in re.findall(r"(created|refused|other)=(\d+)", out))
    lat = dict((k, float(v)) for k, v in re.findall(r"(p50|p90|p99)=([\d.]+)", out))
    with _psql(url) as conn:
        redeems = conn.execute("SELECT count(*) FROM loy_entry WHERE kind = 'redeem'").fetchone()[0]
        mismatches = conn.execute("""SELECT count(*) FROM loy_account a WHERE a.balance <>
                                     (SELECT COALESCE(SUM(points), 0) FROM loy_entry e WHERE e.account_id = a.id)""").fetchone()[0]
    result = {"bench": "loyalty_redeem", "database": "postgresql", "workers": args.workers,
              "worker_class": args.worker_class, "threads": args.threads if args.worker_class == "gthread" else 1,
              "connections": args.connections, "duration_s": args.duration, "accounts": args.accounts,
              "requests_per_s": rps, "cpu_seconds": cpu,
              "cpu_ms_per_request": {k: round(v * 1000 / max(1, rps * args.duration), 2) for k, v in cpu.items()},
              "status": status, "latency_ms": lat, "redeem_entries": redeems,
              "balance_mismatches": mismatches, "target_per_s": 500, "cpus": os.cpu_count(),
              "python": platform.python_version(), "at": datetime.now(UTC).isoformat(timespec="seconds")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"loyalty_redeem-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
