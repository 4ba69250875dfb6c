"""Customer list page and ``GET /api/v1/customers`` at a million customers, beside a bare route.

One command does everything (issue 2)::

    .venv/bin/python bench/customers_latency.py --customers 1000000 \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python bench/customers_latency.py --customers 1000000 --sqlite bench/.work/bench.sqlite

1. creates (or reuses) the database ``pp_bench`` on that server, migrates it and loads the
   deterministic demo data set at the wanted size (``bench/load_data.py``), then VACUUM ANALYZE;
2. starts gunicorn (2 workers, ``sync`` by default) on 127.0.0.1 with ``bench/wsgi_bench.py``:
   the real app plus a bare ``/_bench/hello`` route and the ``/_bench/floor/…`` reference routes
   (the database work of a list answer without the product around it; see that module);
3. logs in hq@, store1@ and ibo1@example.com through ``POST /login`` (CSRF token from the form)
   and creates an API token for each (``flask portal token create``);
4. drives each scenario with ``wrk`` (closed loop, keep-alive where the server allows it, a
   fixed number of connections, bounded in time) from a separate process over loopback; the
   hello route runs before each user's scenarios and at the end of the same run, the floor
   routes once after the first hello; the CPU time of the gunicorn workers, of PostgreSQL and of
   wrk during each scenario is recorded, per request;
5. writes ``bench/results/<label>-<timestamp>.json`` and prints a Markdown table.

Needs ``wrk`` (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))

from load_data import DEFAULT_PG, bench_env, prepare, prepare_sqlite  # noqa: E402
from process_cpu import cpu_used  # noqa: E402

PASSWORD = "demo-pass-2026"
USERS = {
    "hq": "hq@example.com",  # HQ Staff: all customers
    "store1": "store1@example.com",  # Branch Staff of B001: one branch
    "ibo1": "ibo1@example.com",  # Distributor G01-0002: a small sponsor subtree
}
NAME_Q = "김"
GIVEN_Q = "지호"  # a part inside the name (given name): the name-suffix index (issue 13, item 24)
PHONE_Q = "010-1234"
SCENARIOS = [  # (name, kind, path)
    ("list p1", "web", "/customers/"),
    ("list p50", "web", "/customers/?page=50"),
    (f"list q={NAME_Q}", "web", "/customers/?" + urlencode({"q": NAME_Q})),
    (f"list q={GIVEN_Q}", "web", "/customers/?" + urlencode({"q": GIVEN_Q})),
    (f"list q={PHONE_Q}", "web", "/customers/?" + urlencode({"q": PHONE_Q})),
    ("api p1", "api", "/api/v1/customers"),
    (f"api q={NAME_Q}", "api", "/api/v1/customers?" + urlencode({"q": NAME_Q})),
    (f"api q={GIVEN_Q}", "api", "/api/v1/customers?" + urlencode({"q": GIVEN_Q})),
]
FLOOR = [  # (name, path): reference rows, see bench/wsgi_bench.py
    ("floor: 1 round trip", "/_bench/floor/epoch"),
    ("floor: + HQ page 1", "/_bench/floor/page"),
    ("floor: + access log", "/_bench/floor/logged"),
]


# -- server --------------------------------------------------------------------------------------


def start_server(url: str, port: int, workers: int, worker_class: str, threads: int) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--chdir", str(BENCH), "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--worker-class", worker_class, "--backlog", "256",
           "--log-level", "warning", "--timeout", "60"]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    cmd.append("wsgi_bench:app")
    proc = subprocess.Popen(cmd, cwd=BENCH, env=bench_env(url), start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            status, _, _ = request(port, "GET", "/_bench/hello")
            if status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None,
            body: str | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def _cookie(headers: dict[str, str]) -> str:
    m = re.search(r"portal_session=([^;]+)", headers.get("set-cookie", ""))
    if not m:
        raise SystemExit(f"no session cookie in {headers}")
    return f"portal_session={m.group(1)}"


def login(port: int, email: str) -> str:
    """Real login through the form (CSRF token included); returns the Cookie header value."""
    status, headers, html = request(port, "GET", "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    if status != 200 or not token:
        raise SystemExit(f"login form: HTTP {status}, csrf token found: {bool(token)}")
    cookie = _cookie(headers)
    body = urlencode({"csrf_token": token.group(1), "email": email, "password": PASSWORD})
    status, headers, _ = request(port, "POST", "/login", {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}, body)
    if status != 302:
        raise SystemExit(f"login as {email}: HTTP {status}")
    return _cookie(headers)


def api_token(url: str, email: str) -> str:
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "token", "create", email,
                          "--name", "bench"], cwd=ROOT, env=bench_env(url), check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


# -- load ----------------------------------------------------------------------------------------


def wrk(port: int, path: str, headers: dict[str, str], duration: int, connections: int, threads: int) -> dict:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
           "-s", str(BENCH / "report.lua")]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    res = json.loads(line[len("WRK_JSON "):])
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def check(port: int, path: str, headers: dict[str, str], kind: str) -> dict:
    """One request before the load: right status, and how many rows the page shows."""
    status, _, body = request(port, "GET", path, headers)
    if status != 200:
        raise SystemExit(f"GET {path}: HTTP {status} (expected 200)")
    if kind == "api":
        data = json.loads(body)
        return {"rows": len(data["items"]), "total": data["total"], "total_is_capped": data["total_is_capped"]}
    if kind == "web":
        return {"rows": body.count('data-testid="customer-row"'), "bytes": len(body.encode())}
    if kind == "floor" and "items" in body:
        return {"rows": len(json.loads(body)["items"])}
    return {"bytes": len(body.encode())}


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")))
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "kernel": platform.release(), "loadavg_at_start": [round(x, 2) for x in load]}


def run(args: argparse.Namespace) -> dict:
    if args.sqlite:
        url = prepare_sqlite(args.sqlite, args.customers, args.lines_per_customer)
        args.no_floor = True  # the floor routes are PostgreSQL statements
    else:
        url = prepare(args.pg_url, args.db_name, args.customers, args.lines_per_customer)
    proc = start_server(url, args.port, args.workers, args.worker_class, args.threads)
    results: list[dict] = []
    try:
        auth = {}
        for key, email in USERS.items():
            if key in args.users:
                auth[key] = {"web": {"Cookie": login(args.port, email)},
                             "api": {"Authorization": f"Bearer {api_token(url, email)}"}}

        def one(label: str, user: str, kind: str, path: str) -> None:
            headers = auth[user][kind] if user != "-" else {}
            info = check(args.port, path, headers, kind)
            wrk(args.port, path, headers, args.warmup, args.connections, args.wrk_threads)  # warm caches/pools
            with cpu_used(proc.pid) as cpu:
                res = wrk(args.port, path, headers, args.duration, args.connections, args.wrk_threads)
            res.update({"scenario": label, "user": user, "kind": kind, "path": path, "check": info,
                        "cpu_ms_per_request": {k: round(v * 1000 / max(1, res["requests"]), 3) for k, v in cpu.items()},
                        "loadavg_after": [round(x, 2) for x in os.getloadavg()]})
            results.append(res)
            print(f"{user:7} {label:18} p50 {res['p50_ms']:7.1f} ms  p95 {res['p95_ms']:7.1f} ms  "
                  f"p99 {res['p99_ms']:7.1f} ms  {res['rps']:7.1f} req/s  errors {res['errors']}  {info}", flush=True)

        # The machine may be shared: the baseline runs before every user's block and at the end,
        # and each ratio is taken against the mean of all hello runs of this run.
        for n, user in enumerate(auth):
            one(f"hello (before {user})", "-", "hello", "/_bench/hello")
            for label, path in FLOOR if n == 0 and not args.no_floor else ():
                one(label, "-", "floor", path)
            for label, kind, path in SCENARIOS:
                if args.only and not re.search(args.only, label):
                    continue
                one(label, user, kind, path)
        one("hello (end)", "-", "hello", "/_bench/hello")
    finally:
        stop_server(proc)
    hello = [r["rps"] for r in results if r["scenario"].startswith("hello")]
    hello_rps = sum(hello) / len(hello)
    for r in results:
        r["ratio_vs_hello"] = r["rps"] / hello_rps
        if r["kind"] in ("web", "api"):
            r["meets_p95"] = r["p95_ms"] < 100
            r["meets_throughput"] = r["ratio_vs_hello"] >= 0.30
    return {
        "label": args.label, "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/customers_latency.py", *sys.argv[1:]]),
        "database": f"sqlite:{args.sqlite}" if args.sqlite else args.db_name,
        "customers": args.customers, "server": {"workers": args.workers, "worker_class": args.worker_class,
                                                "threads": args.threads if args.worker_class == "gthread" else 1},
        "load": {"tool": "wrk", "connections": args.connections, "wrk_threads": args.wrk_threads,
                 "duration_s": args.duration, "warmup_s": args.warmup},
        "machine": machine(), "hello_rps_mean": hello_rps, "results": results,
    }


def markdown(report: dict) -> str:
    lines = ["| user | scenario | p50 ms | p95 ms | p99 ms | req/s | vs hello | p95 < 100 ms | ≥ 30 % of hello "
             "| CPU ms/req: workers | PostgreSQL | wrk | load avg |",
             "|---|---|---:|---:|---:|---:|---:|:---:|:---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        hello = r["scenario"].startswith("hello")
        target = r.get("kind", "web") in ("web", "api")  # hello and the floor rows are references
        yes = {True: "yes", False: "**no**"}
        mark = f"{yes[r['p95_ms'] < 100]} | {yes[r['ratio_vs_hello'] >= 0.30]}" if target else " | "
        errs = sum(r["errors"].values())
        ratio = "" if hello else f"{r['ratio_vs_hello']:.0%}"
        cpu = r.get("cpu_ms_per_request")
        cpu_cells = " | ".join(f"{cpu[k]:.2f}" for k in ("gunicorn", "postgres", "wrk")) if cpu else " | | "
        lines.append(f"| {r['user']} | {r['scenario']}{f' ({errs} errors)' if errs else ''} | {r['p50_ms']:.1f} | "
                     f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['rps']:.1f} | "
                     f"{ratio} | {mark} | {cpu_cells} | {r.get('loadavg_after', [0])[0]:.1f} |")
    return "\n".join(lines)


def render(path: str) -> None:
    """``--render results/x.json``: print the table of an earlier run again."""
    print(markdown(json.loads(Path(path).read_text())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lines-per-customer", type=int, default=1)
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="server URL; the database part is replaced by --db-name")
    ap.add_argument("--db-name", default="pp_bench")
    ap.add_argument("--sqlite", metavar="FILE", help="run on this SQLite database file instead of PostgreSQL "
                    "(created and loaded by bench/load_data.py when needed; no floor rows)")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    ap.add_argument("--threads", type=int, default=4, help="threads per worker with --worker-class gthread")
    ap.add_argument("--connections", type=int, default=4, help="concurrent wrk connections (closed loop)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load before each scenario")
    ap.add_argument("--users", default=",".join(USERS), help="comma-separated subset of " + ",".join(USERS))
    ap.add_argument("--only", default="", help="regular expression: run only the matching scenarios")
    ap.add_argument("--no-floor", action="store_true", help="skip the /_bench/floor reference rows")
    ap.add_argument("--label", default="run", help="name for the results file (e.g. before, after)")
    ap.add_argument("--render", metavar="JSON", help="only print the table of an earlier results file")
    args = ap.parse_args()
    if args.render:
        render(args.render)
        return
    args.users = [u for u in args.users.split(",") if u]
    report = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.label}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    report_md = markdown(report)
    (RESULTS / f"{args.label}-latest.md").write_text(report_md + "\n")
    print(f"\n{report_md}\n\nresults: {out.relative_to(ROOT)}  (hello mean {report['hello_rps_mean']:.0f} req/s)")


if __name__ == "__main__":
    main()
