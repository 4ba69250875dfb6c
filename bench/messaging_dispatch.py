"""Dispatch to a local SMTP sink with 2 consumer workers on PostgreSQL (target ≥ 500 messages/s).

Usage::

    .venv/bin/python bench/messaging_dispatch.py --messages 20000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

1. **Floor**: the aiosmtpd sink (``tests/smtp_sink.py``, in its own process) fed by bare
   ``smtplib`` loops — one connection per client, ``sendmail`` of a message of the same size, no
   database — with 1 and with 2 client processes: the most any dispatcher could reach here.
2. ``--messages`` marketing e-mails to customers with e-mail consent are queued (``queue_many``).
3. Two consumers (``flask portal messages send``, separate processes, as two job workers would
   run ``messaging.dispatch``) drain the outbox at once: claims with ``FOR UPDATE SKIP LOCKED``,
   the consent check per batch, the MIME message, the commit point before the final dot, the
   outcome and the contact-history row per message.

Reported: messages/s (wall, from start to both consumers done), CPU per message of the consumers,
of PostgreSQL and of the sink, and that the sink received each Message-ID exactly once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import smtplib
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from messaging_setup import DEFAULT_PG, bench_env, postgres_cpu, prepare, server_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET = 500.0


def _sink_process(conn) -> None:
    """Run the sink until told to stop; then report what it received and its CPU."""
    from tests.smtp_sink import SmtpSink

    sink = SmtpSink().start()
    conn.send(sink.port)
    conn.recv()  # "stop"
    ids = sink.message_ids()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.send({"received": sum(ids.values()), "distinct": len(ids), "duplicates": sum(v - 1 for v in ids.values()),
               "cpu": usage.ru_utime + usage.ru_stime})
    sink.stop()


class Sink:
    def __enter__(self) -> Sink:
        self.parent, child = mp.Pipe()
        self.proc = mp.get_context("fork").Process(target=_sink_process, args=(child,), daemon=True)
        self.proc.start()
        self.port = self.parent.recv()
        return self

    def stop(self) -> dict:
        self.parent.send("stop")
        report = self.parent.recv()
        self.proc.join(10)
        return report

    def __exit__(self, *exc) -> None:
        if self.proc.is_alive():
            self.proc.kill()


def _bare_client(port: int, n: int, offset: int, body: bytes, done) -> None:
    conn = smtplib.SMTP("127.0.0.1", port)
    for i in range(offset, offset + n):
        msg = b"Message-ID: <floor%d@bench>\r\nSubject: floor\r\n\r\n" % i + body
        conn.sendmail("bench@partner-portal.local", [f"c{i}@bench.example"], msg)
    conn.quit()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    done.send(usage.ru_utime + usage.ru_stime)


def floor(n: int, clients: int) -> dict:
    body = ("고객님, 안녕하세요. 파트너포털 봄 세일을 안내해 드립니다.\r\n" * 12).encode()
    with Sink() as sink:
        t = time.perf_counter()
        pipes, procs = [], []
        for k in range(clients):
            parent, child = mp.Pipe()
            p = mp.get_context("fork").Process(target=_bare_client, args=(sink.port, n // clients, k * n, body, child))
            p.start()
            pipes.append(parent)
            procs.append(p)
        cpu_clients = sum(p.recv() for p in pipes)
        for p in procs:
            p.join()
        wall = time.perf_counter() - t
        report = sink.stop()
    return {"clients": clients, "messages": report["received"], "seconds": wall, "per_second": report["received"] / wall,
            "cpu_clients_ms_per_msg": 1000 * cpu_clients / report["received"],
            "cpu_sink_ms_per_msg": 1000 * report["cpu"] / report["received"]}


def queue(url: str, n: int) -> None:
    os.environ.update(bench_env(url, PORTAL_MESSAGES_DISPATCH_ON_QUEUE="0"))
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import db
    from portal.messaging import queue_many

    app = create_app()
    with app.app_context():
        db.session.execute(text("TRUNCATE message"))
        db.session.execute(text("DELETE FROM contact WHERE source = 'bench'"))
        audience = db.session.execute(text(
            "SELECT c.id, c.name FROM customer c JOIN consent k ON k.customer_id = c.id AND k.channel = 'email' "
            "AND k.purpose = 'marketing' AND k.granted ORDER BY c.id LIMIT :n"), {"n": n}).all()
        assert len(audience) == n, f"only {len(audience)} customers with consent"
        queue_many({"channel": "email", "purpose": "marketing", "customer_id": cid, "subject": "봄 세일 20% 할인",
                    "body": f"{name}님, 안녕하세요.\n파트너포털 봄 세일을 안내해 드립니다.\n" * 3,
                    "idempotency_key": f"bench:d:{cid}", "source": "bench", "source_object": "campaign:d"}
                   for cid, name in audience)
        db.session.commit()
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE message"))
    engine.dispose()


def consumers(url: str, port: int, n: int, workers: int, batch: int) -> dict:
    env = bench_env(url, PORTAL_SMTP_URL=f"smtp://127.0.0.1:{port}")
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg_before = postgres_cpu()
    t = time.perf_counter()
    procs = [subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "messages", "send",
                               "--channel", "email", "--batch", str(batch)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    outputs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after_children.ru_utime + after_children.ru_stime) - (before_children.ru_utime + before_children.ru_stime)
    for p, (_out, err) in zip(procs, outputs, strict=True):
        if p.returncode != 0:
            raise SystemExit(f"consumer failed: {err[-2000:]}")
    return {"workers": workers, "seconds": wall, "per_second": n / wall, "cpu_consumers_ms_per_msg": 1000 * cpu / n,
            "cpu_postgres_ms_per_msg": 1000 * (postgres_cpu() - pg_before) / n,
            "consumer_output": [o.strip().splitlines()[-1] if o.strip() else "" for o, _e in outputs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    url = prepare(args.pg_url, max(args.messages, 100_000), consents=args.messages)
    result = {"when": datetime.now().isoformat(timespec="seconds"), "machine": platform.machine(), "cpus": os.cpu_count(),
              "load_before": os.getloadavg(), "server": server_settings(url), "messages": args.messages}
    result["floor"] = [floor(min(args.messages, 10_000), 1), floor(min(args.messages, 10_000), 2)]
    for f in result["floor"]:
        print(f"floor, bare smtplib × {f['clients']}: {f['per_second']:,.0f} msg/s "
              f"(client CPU {f['cpu_clients_ms_per_msg']:.2f} ms/msg, sink {f['cpu_sink_ms_per_msg']:.2f} ms/msg)", flush=True)
    queue(url, args.messages)
    with Sink() as sink:
        run = consumers(url, sink.port, args.messages, args.workers, args.batch)
        run["sink"] = sink.stop()
    run["cpu_sink_ms_per_msg"] = 1000 * run["sink"]["cpu"] / max(run["sink"]["received"], 1)
    result["dispatch"] = run
    ok = run["sink"]["distinct"] == args.messages and run["sink"]["duplicates"] == 0
    verdict = "PASS" if ok and run["per_second"] >= TARGET else "FAIL"
    print(f"dispatch, {args.workers} consumers: {args.messages:,} e-mails in {run['seconds']:.1f} s = "
          f"{run['per_second']:,.0f} msg/s; CPU per message: consumers {run['cpu_consumers_ms_per_msg']:.2f} ms, "
          f"PostgreSQL {run['cpu_postgres_ms_per_msg']:.2f} ms, sink {run['cpu_sink_ms_per_msg']:.2f} ms; "
          f"received {run['sink']['distinct']:,} distinct, {run['sink']['duplicates']} duplicates — target ≥ {TARGET:.0f}/s: {verdict}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"messaging-dispatch-{stamp}.json").write_text(json.dumps(result, indent=2, default=str))
    lines = ["| run | msg/s | CPU ms/msg (senders) | CPU ms/msg (PostgreSQL) | CPU ms/msg (sink) |", "|---|---|---|---|---|"]
    for f in result["floor"]:
        lines.append(f"| floor: bare smtplib × {f['clients']} | {f['per_second']:,.0f} | {f['cpu_clients_ms_per_msg']:.2f} | – | "
                     f"{f['cpu_sink_ms_per_msg']:.2f} |")
    lines.append(f"| dispatch × {args.workers} consumers | {run['per_second']:,.0f} | {run['cpu_consumers_ms_per_msg']:.2f} | "
                 f"{run['cpu_postgres_ms_per_msg']:.2f} | {run['cpu_sink_ms_per_msg']:.2f} |")
    (RESULTS / "messaging-dispatch-latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
