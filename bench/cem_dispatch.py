"""SMS sending through the cem_channels provider adapter, 2 consumers on PostgreSQL, against a fake
provider accepting 2,000 messages/s (issue 15: at least 1,000 messages/s on 2 cores).

Usage::

    .venv/bin/python bench/cem_dispatch.py --messages 20000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

1. **Ceiling and floor**, no database: the fake provider (``bench/fake_sms_provider.py``, its own
   process, asyncio) answering as fast as it can, fed by 2 bare Python processes posting the
   adapter's JSON payload — once with the adapter's client as it was (``urllib.request``, a new
   connection per request), once with one keep-alive ``http.client`` connection per process. The
   keep-alive figure is the most any dispatcher in Python could reach here.
2. Its own database ``pp_cem_bench`` (migrated, ``cem_channels`` installed, a verified sender
   number, customers with SMS marketing *and* night-advertising consent so the run does not depend
   on the time of day); ``--messages`` marketing SMS queued with ``queue_many``.
3. Two consumers (``flask portal messages send --channel sms``, separate processes) drain the
   outbox into the provider, now limited to ``--rate`` (2,000/s; above it answers 429, a
   temporary failure retried after 1 s, up to 20 times). Timed until every
   message is terminal. Twice (``--mode both``): with the adapter as configured by default (a
   ``sending`` commit per message), and with the provider declared de-duplicating by idempotency
   key (``PORTAL_CEM_PROVIDER_DEDUPLICATES=1``: ``sending`` committed for 50 messages at a time).

Reported: messages/s (wall, from the consumers' start until every message is terminal, and steady,
from the provider's first accepted request to its last), CPU per message of the consumers, PostgreSQL and the provider, the load
average, and that the provider accepted each idempotency key exactly once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from fake_sms_provider import ProviderProcess  # noqa: E402
from messaging_setup import DEFAULT_PG, bench_env, db_url, postgres_cpu, raw, server_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DBNAME = "pp_cem_bench"
TARGET = 1000.0
SENDER = "0215881234"
TEXT = "{name}님, 파트너포털 봄 세일 20% 할인 쿠폰이 도착했어요. 3/31까지 매장에서 사용하세요."


def cem_env(url: str, **extra: str) -> dict[str, str]:
    return bench_env(url, PORTAL_PLUGINS="cem_channels", PORTAL_MESSAGES_DISPATCH_ON_QUEUE="0",
                     PORTAL_SENDER_NAME="파트너포털", PORTAL_SENDER_CONTACT="02-1588-1234",
                     PORTAL_MESSAGES_RETRY_DELAYS=",".join(["1"] * 20), **extra)


# --- floor: bare clients, no database ----------------------------------------------------------

def _payload(i: int) -> bytes:
    return json.dumps({"idempotency_key": f"floor:{i}", "type": "lms", "from": SENDER, "to": f"010{i:08d}",
                       "text": "(광고)파트너포털\n" + TEXT.format(name=f"고객{i}") + "\n무료수신거부 080-123-4567"},
                      ensure_ascii=False).encode()


def _bare_client(url: str, n: int, offset: int, keepalive: bool, done: Any) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer bench"}
    refused = 0
    if keepalive:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        for i in range(offset, offset + n):
            conn.request("POST", "/v1/sms", body=_payload(i), headers={**headers, "Idempotency-Key": f"floor:{i}"})
            answer = conn.getresponse()
            answer.read()
            refused += answer.status != 200
        conn.close()
    else:
        for i in range(offset, offset + n):
            req = urllib.request.Request(f"{url}/v1/sms", data=_payload(i), method="POST",
                                         headers={**headers, "Idempotency-Key": f"floor:{i}"})
            try:
                with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310 (127.0.0.1)
                    answer.read()
            except urllib.error.HTTPError:
                refused += 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    done.send((usage.ru_utime + usage.ru_stime, refused))


def floor(n: int, clients: int, keepalive: bool, rate: float = 0.0) -> dict[str, Any]:
    """``n`` requests from ``clients`` processes to a fresh provider (``rate`` 0 = unlimited)."""
    with ProviderProcess(rate=rate) as provider:
        before = provider.stats()["cpu"]
        pipes, procs = [], []
        t = time.perf_counter()
        for k in range(clients):
            parent, child = mp.Pipe()
            p = mp.get_context("fork").Process(target=_bare_client,
                                               args=(provider.url, n // clients, k * n, keepalive, child))
            p.start()
            pipes.append(parent)
            procs.append(p)
        answers = [p.recv() for p in pipes]
        for p in procs:
            p.join()
        wall = time.perf_counter() - t
        stats = provider.stop()
    sent = (n // clients) * clients
    return {"clients": clients, "client": "http.client keep-alive" if keepalive else "urllib, connection per request",
            "rate_limit": rate, "requests": sent, "accepted": stats["accepted"], "refused_429": stats["rate_limited"],
            "seconds": wall, "per_second": sent / wall, "accepted_per_second": stats["accepted"] / wall,
            "cpu_clients_ms_per_msg": 1000 * sum(a[0] for a in answers) / sent,
            "cpu_provider_ms_per_msg": 1000 * (stats["cpu"] - before) / sent, "load": os.getloadavg()}


# --- the database ------------------------------------------------------------------------------

def prepare(pg_url: str, customers: int, recreate: bool = False) -> str:
    """``pp_cem_bench``: migrated, cem_channels installed, sender verified, consents by SQL."""
    import psycopg

    url = db_url(pg_url, DBNAME)
    with psycopg.connect(raw(pg_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,)).fetchone()
        if exists and recreate:
            conn.execute(f'DROP DATABASE "{DBNAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DBNAME}"')
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal"]
    env = cem_env(url)
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    with psycopg.connect(raw(url), autocommit=True) as conn:
        installed = conn.execute("SELECT installed FROM plugin_state WHERE name = 'cem_channels'").fetchone()
    if not (installed and installed[0]):
        subprocess.run([*flask, "plugins", "install", "cem_channels"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    with psycopg.connect(raw(url), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM customer").fetchone()[0]
        if have < customers:
            print(f"filling {customers - have:,} customers …", flush=True)
            conn.execute("""
                INSERT INTO customer (code, name, email, phone, complaint, created_at, updated_at, total_spend)
                SELECT 'CB' || lpad(g::text, 8, '0'), '고객' || g, 'c' || g || '@bench.example',
                       '010' || lpad(g::text, 8, '0'), false, now(), now(), 0
                FROM generate_series(%s, %s) g""", (have + 1, customers))
        for purpose in ("marketing", "night_ads"):  # night_ads: the run may fall in 21:00–08:00 KST
            conn.execute("""
                INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at, kind, source)
                SELECT c.id, 'sms', %s, true, 'web', now(), 'consent', 'bench' FROM customer c
                WHERE NOT EXISTS (SELECT 1 FROM consent k WHERE k.customer_id = c.id AND k.channel = 'sms'
                                  AND k.purpose = %s)""", (purpose, purpose))
        conn.execute("INSERT INTO cem_sender_number (number, label, verified_at, created_at) "
                     "VALUES (%s, '대표번호', now(), now()) ON CONFLICT (number) DO NOTHING", (SENDER,))
        conn.execute("UPDATE plugin_state SET settings = coalesce(settings::jsonb, '{}'::jsonb) || %s::jsonb "
                     "WHERE name = 'cem_channels'", (json.dumps({"sms_sender": SENDER}),))
        conn.execute("VACUUM ANALYZE customer")
        conn.execute("VACUUM ANALYZE consent")
    return url


def queue(url: str, n: int, run: str) -> None:
    os.environ.update(cem_env(url))
    from sqlalchemy import create_engine, text

    from portal import create_app
    from portal.extensions import db
    from portal.toolkit import queue_many

    app = create_app()
    with app.app_context():
        db.session.execute(text("TRUNCATE message"))
        db.session.execute(text("DELETE FROM contact WHERE source = 'bench'"))
        audience = db.session.execute(text("SELECT id, name FROM customer ORDER BY id LIMIT :n"), {"n": n}).all()
        assert len(audience) == n, f"only {len(audience)} customers"
        queue_many({"channel": "sms", "purpose": "marketing", "customer_id": cid, "body": TEXT.format(name=name),
                    "idempotency_key": f"bench:{run}:{cid}", "source": "bench", "source_object": f"campaign:{run}"}
                   for cid, name in audience)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE message"))
    engine.dispose()


def startup(url: str) -> float:
    """Wall seconds of one consumer with nothing due: what each consumer pays before sending."""
    import psycopg

    with psycopg.connect(raw(url), autocommit=True) as conn:
        conn.execute("TRUNCATE message")
    env = cem_env(url, PORTAL_CEM_PROVIDER_URL="http://127.0.0.1:9")
    t = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "messages", "send",
                    "--channel", "sms"], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def _open_counts(url: str) -> tuple[dict[str, int], float | None]:
    import psycopg

    with psycopg.connect(raw(url)) as conn:
        counts = dict(conn.execute("SELECT status, count(*) FROM message GROUP BY status").fetchall())
        wait = conn.execute("SELECT extract(epoch FROM min(not_before) - (now() AT TIME ZONE 'UTC')) FROM message "
                            "WHERE status IN ('queued', 'failed_temporary')").fetchone()[0]
    return counts, (float(wait) if wait is not None else None)


def consumers(url: str, provider_url: str, n: int, workers: int, batch: int,
              profile: Path | None = None, dedup: bool = False) -> dict[str, Any]:
    """Rounds of ``workers`` consumers until every message is terminal (429s come back after 1 s)."""
    env = cem_env(url, PORTAL_CEM_PROVIDER_URL=provider_url, PORTAL_CEM_PROVIDER_KEY="bench",
                  PORTAL_CEM_PROVIDER_DEDUPLICATES="1" if dedup else "0")
    cmd = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "messages", "send",
           "--channel", "sms", "--batch", str(batch)]
    if profile:  # the first consumer under cProfile (slower: compare CPU shares, not rates)
        cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), *cmd]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg_before = postgres_cpu()
    load = [os.getloadavg()]
    outputs: list[str] = []
    rounds = 0
    t = time.perf_counter()
    started = time.monotonic()  # the provider's clock too (CLOCK_MONOTONIC is system-wide)
    while True:
        rounds += 1
        procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
        for p in procs:
            out, err = p.communicate()
            if p.returncode != 0:
                raise SystemExit(f"consumer failed: {err[-2000:]}")
            outputs.append(out.strip().splitlines()[-1] if out.strip() else "")
        load.append(os.getloadavg())
        counts, wait = _open_counts(url)
        if wait is None and not counts.get("claimed") and not counts.get("sending"):
            break
        if rounds > 50:
            raise SystemExit(f"not done after 50 rounds: {counts}")
        time.sleep(max(0.0, min(wait or 0.0, 5.0)))
    wall = time.perf_counter() - t
    ended = time.monotonic()
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after_children.ru_utime + after_children.ru_stime) - (before_children.ru_utime + before_children.ru_stime)
    return {"workers": workers, "batch": batch, "rounds": rounds, "seconds": wall, "per_second": n / wall,
            "cpu_consumers_ms_per_msg": 1000 * cpu / n, "cpu_postgres_ms_per_msg": 1000 * (postgres_cpu() - pg_before) / n,
            "statuses": counts, "load": load, "consumer_output": outputs, "started": started, "ended": ended}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rate", type=float, default=2000.0, help="the fake provider's limit, messages/s")
    ap.add_argument("--mode", choices=("both", "message", "group"), default="both",
                    help="message: a commit per message (the default adapter); group: PORTAL_CEM_PROVIDER_DEDUPLICATES=1, "
                         "'sending' marked per group of 50; both (default): one run of each")
    ap.add_argument("--floor-only", action="store_true")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--label", default="cem-dispatch")
    ap.add_argument("--profile", type=Path, default=None, help="write the consumers' cProfile here (use --workers 1)")
    args = ap.parse_args()
    result: dict[str, Any] = {"when": datetime.now().isoformat(timespec="seconds"), "machine": platform.machine(),
                              "cpus": os.cpu_count(), "load_before": os.getloadavg(), "messages": args.messages}
    lines = ["| run | msg/s | CPU ms/msg (senders) | CPU ms/msg (PostgreSQL) | CPU ms/msg (provider) | load |",
             "|---|---|---|---|---|---|"]
    if not args.no_floor:
        n = min(args.messages, 20_000)
        result["floor"] = [floor(n, 2, keepalive=False), floor(n, 2, keepalive=True), floor(n, 1, keepalive=True)]
        for f in result["floor"]:
            row = (f"| floor: bare {f['client']} × {f['clients']}, no limit | {f['per_second']:,.0f} | "
                   f"{f['cpu_clients_ms_per_msg']:.3f} | – | {f['cpu_provider_ms_per_msg']:.3f} | {f['load'][0]:.1f} |")
            lines.append(row)
            print(row, flush=True)
    if not args.floor_only:
        url = prepare(args.pg_url, max(args.messages, 100_000))
        result["server"] = server_settings(url)
        result["startup_seconds"] = startup(url)
        print(f"a consumer with nothing due (imports, app, one empty claim): {result['startup_seconds']:.2f} s", flush=True)
        modes = {"message": [False], "group": [True], "both": [False, True]}[args.mode]
        result["dispatch"] = []
        for dedup in modes:
            run_id = datetime.now().strftime("%H%M%S")
            t = time.perf_counter()
            queue(url, args.messages, run_id)
            result["queue_seconds"] = time.perf_counter() - t
            with ProviderProcess(rate=args.rate) as provider:
                before = provider.stats()["cpu"]
                run = consumers(url, provider.url, args.messages, args.workers, args.batch, args.profile, dedup)
                run["provider"] = provider.stop()
            p = run["provider"]
            run["cpu_provider_ms_per_msg"] = 1000 * (p["cpu"] - before) / args.messages
            # From the provider's first request to its last: the rate once both consumers are started
            # (the wall figure also holds their start-up, about 1.5 s of imports and app set-up).
            span = (p["last_at"] or 0) - (p["first_at"] or 0)
            run["steady_per_second"] = p["accepted"] / span if span > 0 else None
            run["before_first_request"] = (p["first_at"] or run["started"]) - run["started"]
            run["after_last_request"] = run["ended"] - (p["last_at"] or run["ended"])
            run["dedup"] = dedup
            result["dispatch"].append(run)
            sent = run["statuses"].get("sent", 0)
            ok = p["distinct_keys"] == args.messages and p["duplicates"] == 0 and sent == args.messages
            verdict = "PASS" if ok and run["per_second"] >= TARGET else "FAIL"
            print(f"dispatch ({'groups of 50' if dedup else 'commit per message'}), {args.workers} consumers: {args.messages:,} SMS in {run['seconds']:.1f} s "
                  f"({run['rounds']} round(s)) = {run['per_second']:,.0f} msg/s ({run['steady_per_second'] or 0:,.0f} msg/s "
                  f"from the provider's first request to its last; {run['before_first_request']:.1f} s before it, "
                  f"{run['after_last_request']:.1f} s after); CPU per message: consumers "
                  f"{run['cpu_consumers_ms_per_msg']:.2f} ms, PostgreSQL {run['cpu_postgres_ms_per_msg']:.2f} ms, provider "
                  f"{run['cpu_provider_ms_per_msg']:.3f} ms; provider: {p['distinct_keys']:,} distinct keys, "
                  f"{p['duplicates']} duplicates, {p['rate_limited']} answered 429; statuses {run['statuses']}; "
                  f"load {run['load'][0][0]:.1f} → {run['load'][-1][0]:.1f} — target ≥ {TARGET:.0f}/s: {verdict}", flush=True)
            mode = "sending marked per group of 50 (provider de-duplicates)" if dedup else "a commit per message"
            lines.append(f"| dispatch × {args.workers} consumers, {mode}, provider limit {args.rate:,.0f}/s | "
                         f"{run['per_second']:,.0f} "
                         f"(steady {run['steady_per_second'] or 0:,.0f}) | "
                         f"{run['cpu_consumers_ms_per_msg']:.2f} | {run['cpu_postgres_ms_per_msg']:.2f} | "
                         f"{run['cpu_provider_ms_per_msg']:.3f} | {run['load'][-1][0]:.1f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{args.label}-{stamp}.json").write_text(json.dumps(result, indent=2, default=str))
    (RESULTS / f"{args.label}-latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
