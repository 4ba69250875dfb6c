"""The database alone: how many list answers a second PostgreSQL can serve on this machine.

    .venv/bin/python bench/floor_pgbench.py \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres [--seconds 15]

Runs ``pgbench`` (prepared statements, 2 and 4 clients) on the bench database ``pp_bench`` with
one transaction per answer, exactly the work of the ``/_bench/floor/logged`` route: the
security-epoch read, the first page of HQ's customer list (the statement ``list_page`` sends,
with its capped count), the access-log row and the commit. No Python runs per transaction; the
figure is the ceiling for any web tier on the same cores (issue 2, ``docs/performance.md``).
Needs the database loaded by ``customers_latency.py`` and ``pgbench`` (``postgresql-contrib``,
part of Debian's ``postgresql`` package).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from load_data import DEFAULT_PG, bench_env  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402


def pgbench_binary() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    if not versions:
        raise SystemExit("pgbench not found (apt-get install -y postgresql)")
    return str(versions[-1])


def transaction_sql(url: str) -> str:
    os.environ.update(bench_env(url))
    import wsgi_bench  # the app on this database, and the floor's statements

    with wsgi_bench.app.app_context():
        page = wsgi_bench.first_page_sql()
    log = wsgi_bench.ACCESS_LOG_SQL.replace("%s", "'127.0.0.1'", 1).replace("%s", "50", 1)
    from portal.auth.identity_cache import EPOCH_SQL

    return f"BEGIN;\n{EPOCH_SQL};\n{' '.join(page.split())};\n{log};\nCOMMIT;\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="server URL; the database is pp_bench")
    ap.add_argument("--seconds", type=int, default=15)
    args = ap.parse_args()
    url = make_url(args.pg_url).set(database="pp_bench")
    script = Path(tempfile.mkdtemp()) / "floor.sql"
    script.write_text(transaction_sql(url.render_as_string(hide_password=False)))
    conn = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    env = dict(os.environ, PGPASSWORD=url.password or "")
    for clients in (2, 4):
        out = subprocess.run([pgbench_binary(), *conn, "-n", "-M", "prepared", "-c", str(clients), "-j", "1",
                              "-T", str(args.seconds), "-f", str(script), url.database],
                             capture_output=True, text=True, env=env, check=True).stdout
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
        print(f"{clients} clients: {tps:,.0f} transactions/s", flush=True)


if __name__ == "__main__":
    main()
