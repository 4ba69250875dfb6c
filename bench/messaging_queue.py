"""Queue and render 1,000,000 marketing e-mails for a frozen audience on PostgreSQL (target < 60 s).

Usage::

    .venv/bin/python bench/messaging_queue.py --customers 1000000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

The timed part is what a campaign does when it starts: read the frozen audience (id, name,
address) in one query, render one personalised body per customer from a Jinja template compiled
once (sandboxed, StrictUndefined, as add-ons must), and hand the rows to
``portal.messaging.queue_many`` — validation, addresses, the Korean advertising wrapper
(``compose_marketing``: "(광고)" subject, sender, contact, unsubscribe footer, RFC 8058 headers)
and the set-based write (COPY into a temporary table, one ``INSERT … SELECT … ON CONFLICT DO
NOTHING`` per 10,000-row chunk) — then the commit. The floor (the same rows by a bare COPY into
``message`` with nothing of ours around it) is measured first. Reported: wall time, rows/s,
CPU of this process and of PostgreSQL. ``message`` is emptied before each run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from messaging_setup import (  # noqa: E402
    DEFAULT_PG,
    WORK,
    bench_env,
    postgres_cpu,
    prepare,
    process_cpu,
    raw,
    server_settings,
)

RESULTS = ROOT / "bench" / "results"
TARGET_S = 60.0
BODY = ("{{ name }}님, 안녕하세요.\n파트너포털 봄 세일을 안내해 드립니다. 3월 31일까지 전 품목 20% 할인,\n"
        "가까운 매장에서 확인하세요.\n")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def floor(url: str, n: int) -> dict:
    """A bare COPY of n similar rows into ``message`` (psycopg, no validation, no compose)."""
    import psycopg

    cols = "channel, purpose, customer_id, to_addr, subject, body, source, source_object, idempotency_key, " \
           "not_before, status, attempts, created_at, updated_at"
    now = datetime.utcnow()
    with psycopg.connect(raw(url)) as conn:
        conn.execute("TRUNCATE message")
        ids = [r[0] for r in conn.execute("SELECT id FROM customer ORDER BY id LIMIT %s", (n,))]
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        t, c, pg, own = time.perf_counter(), cpu(), postgres_cpu(), process_cpu(backend)
        with conn.cursor() as cur, cur.copy(f"COPY message ({cols}) FROM STDIN") as copy:
            for cid in ids:
                copy.write_row(("email", "marketing", cid, f"c{cid}@bench.example", "(광고)봄 세일",
                                BODY.replace("{{ name }}", f"고객{cid}") * 3, "bench", "floor", f"floor:{cid}",
                                now, "queued", 0, now, now))
        conn.commit()
        out = {"rows": len(ids), "seconds": time.perf_counter() - t, "cpu_python": cpu() - c,
               "cpu_postgres": postgres_cpu() - pg, "cpu_backend": process_cpu(backend) - own}
        conn.execute("TRUNCATE message")
        conn.commit()
    return out


def run(url: str, n: int) -> dict:
    os.environ.update(bench_env(url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE="0"))
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import db
    from portal.messaging import queue_many

    app = create_app()
    with app.app_context():
        db.session.execute(text("TRUNCATE message"))
        db.session.commit()
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        t, c, pg, own = time.perf_counter(), cpu(), postgres_cpu(), process_cpu(backend)
        template = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False).from_string(BODY)
        audience = db.session.execute(text("SELECT id, name FROM customer ORDER BY id LIMIT :n"), {"n": n}).all()
        t_read = time.perf_counter() - t
        rows = ({"channel": "email", "purpose": "marketing", "customer_id": cid, "subject": "봄 세일 20% 할인",
                 "body": template.render(name=name), "idempotency_key": f"bench:1:{cid}", "source": "bench",
                 "source_object": "campaign:1", "step": "1"} for cid, name in audience)
        queued = queue_many(rows, chunk=10_000)
        db.session.commit()
        out = {"rows": queued, "seconds": time.perf_counter() - t, "read_audience_s": t_read,
               "cpu_python": cpu() - c, "cpu_postgres": postgres_cpu() - pg,
               "cpu_backend": process_cpu(backend) - own}
        sample = db.session.execute(text("SELECT subject, body, headers FROM message ORDER BY id LIMIT 1")).one()
        out["sample"] = {"subject": sample.subject, "body": sample.body,
                         "headers": sample.headers if isinstance(sample.headers, dict) else json.loads(sample.headers)}
        out["table_mb"] = db.session.execute(text("SELECT pg_total_relation_size('message') / 1048576")).scalar_one()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--recreate", action="store_true")
    ap.add_argument("--no-floor", action="store_true")
    args = ap.parse_args()
    url = prepare(args.pg_url, args.customers, consents=20_000, recreate=args.recreate)
    result = {"when": datetime.now().isoformat(timespec="seconds"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "load_before": os.getloadavg(), "server": server_settings(url)}
    if not args.no_floor:
        result["floor"] = floor(url, args.customers)
        print(f"floor (bare COPY): {result['floor']['rows']:,} rows in {result['floor']['seconds']:.1f} s", flush=True)
    result["queue"] = q = run(url, args.customers)
    verdict = "PASS" if q["seconds"] < TARGET_S and q["rows"] == args.customers else "FAIL"
    print(f"queue_many: {q['rows']:,} marketing e-mails queued and rendered in {q['seconds']:.1f} s "
          f"({q['rows'] / q['seconds']:,.0f}/s; CPU python {q['cpu_python']:.1f} s, our PG backend {q['cpu_backend']:.1f} s) "
          f"— target < {TARGET_S:.0f} s: {verdict}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"messaging-queue-{stamp}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    buf = io.StringIO()
    buf.write("| run | rows | wall s | rows/s | CPU python s | CPU our PG backend s | CPU all PG s |\n|---|---|---|---|---|---|---|\n")
    for key in ("floor", "queue"):
        if key in result:
            r = result[key]
            buf.write(f"| {key} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} | "
                      f"{r['cpu_python']:.1f} | {r['cpu_backend']:.1f} | {r['cpu_postgres']:.1f} |\n")
    (RESULTS / "messaging-queue-latest.md").write_text(buf.getvalue())
    print(buf.getvalue())
    WORK.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    main()
