"""In-process cost of one customer list / API request against the bench database.

    PORTAL_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55432/pp_bench \
        .venv/bin/python bench/profile_request.py [--profile 'hq list p1'] [-n 30]

Logs hq@, store1@ and ibo1@ in through the Flask test client (real login form, CSRF off),
creates an API token for each, then runs every scenario of ``customers_latency.py`` ``-n``
times and prints the SQL statements per request and the median / p90 server time.
``--profile NAME`` runs pyinstrument (if installed) or cProfile over that scenario instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from customers_latency import PASSWORD, SCENARIOS, USERS  # noqa: E402
from sqlalchemy import event  # noqa: E402

from portal import create_app  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--profile", default="")
    ap.add_argument("--show-sql", default="", help="scenario name: print its statements once")
    args = ap.parse_args()
    if not os.environ.get("PORTAL_DATABASE_URL"):
        sys.exit("set PORTAL_DATABASE_URL to the bench database")
    app = create_app({"WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False})
    from portal.auth.tokens import create_token
    from portal.extensions import db
    from portal.models import User

    statements: list[str] = []
    phase = {"sql": 0.0, "render": 0.0}
    started: list[float] = []

    def before(conn, cur, stmt, params, ctx, many):
        statements.append(stmt)
        started.append(time.perf_counter())

    def after(conn, cur, stmt, params, ctx, many):
        phase["sql"] += time.perf_counter() - started.pop()

    import flask.templating

    real_render = flask.templating._render

    def timed_render(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real_render(*a, **kw)
        finally:
            phase["render"] += time.perf_counter() - t0

    flask.templating._render = timed_render
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        tokens = {}
        for key, email in USERS.items():
            user = db.session.execute(db.select(User).where(User.email == email)).scalar_one()
            _tok, raw = create_token(user, "profile")
            tokens[key] = raw
        db.session.commit()
    clients = {}
    for key, email in USERS.items():
        c = app.test_client()
        r = c.post("/login", data={"email": email, "password": PASSWORD})
        assert r.status_code in (302, 303), (key, r.status_code)
        clients[key] = c

    def run(user: str, kind: str, path: str):
        c = clients[user]
        if kind == "api":
            return c.get(path, headers={"Authorization": f"Bearer {tokens[user]}"})
        return c.get(path)

    if args.profile:
        user, name = args.profile.split(" ", 1)
        kind, path = next((k, p) for n, k, p in SCENARIOS if n == name)
        for _ in range(5):
            run(user, kind, path)
        try:
            from pyinstrument import Profiler

            prof = Profiler(interval=0.0002)
            prof.start()
            for _ in range(args.n):
                run(user, kind, path)
            prof.stop()
            print(prof.output_text(unicode=True, color=False, show_all=False))
        except ImportError:
            import cProfile
            import pstats

            pr = cProfile.Profile()
            pr.enable()
            for _ in range(args.n):
                run(user, kind, path)
            pr.disable()
            st = pstats.Stats(pr)
            st.sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("TOP", "40")))
            if os.environ.get("CALLEES"):
                st.print_callees(os.environ["CALLEES"])
            if os.environ.get("CALLERS"):
                st.print_callers(os.environ["CALLERS"])
        return

    print(f"{'user':7} {'scenario':18} {'SQL':>4} {'p50 ms':>7} {'p90 ms':>7} {'SQL ms':>7} {'render ms':>9} {'py CPU ms':>9}")
    for user in USERS:
        for name, kind, path in SCENARIOS:
            for _ in range(3):
                r = run(user, kind, path)
                assert r.status_code == 200, (user, name, r.status_code)
            times, counts, sql_t, render_t, cpu_t = [], [], [], [], []
            for _ in range(args.n):
                statements.clear()
                phase["sql"] = phase["render"] = 0.0
                t0, c0 = time.perf_counter(), time.process_time()
                run(user, kind, path)
                times.append((time.perf_counter() - t0) * 1000)
                cpu_t.append((time.process_time() - c0) * 1000)
                counts.append(len(statements))
                sql_t.append(phase["sql"] * 1000)
                render_t.append(phase["render"] * 1000)
            if args.show_sql == f"{user} {name}":
                for s in statements:
                    print("   ", " ".join(s.split())[:300])
            times.sort()
            print(f"{user:7} {name:18} {statistics.median(counts):>4.0f} {statistics.median(times):7.1f} "
                  f"{times[int(len(times) * 0.9)]:7.1f} {statistics.median(sql_t):7.1f} {statistics.median(render_t):9.1f} {statistics.median(cpu_t):9.1f}")


if __name__ == "__main__":
    main()
