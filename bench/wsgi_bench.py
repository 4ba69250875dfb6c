"""Bench-only WSGI module: the real app plus a bare ``/_bench/hello`` route as the baseline.

``gunicorn --chdir bench wsgi_bench:app`` (see ``bench/customers_latency.py``). The hello route
goes through the same WSGI server, Flask dispatch and after-request hooks (security headers)
but touches neither the database nor the session, so the ratio list / hello shows what the
customer list costs on top of the framework. Never used outside ``bench/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402

app = create_app()


@app.get("/_bench/hello")
def bench_hello():
    return "hello"
