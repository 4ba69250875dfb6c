"""Bench-only WSGI module: the real app plus reference routes that bracket what a list can cost.

``gunicorn --chdir bench wsgi_bench:app`` (see ``bench/customers_latency.py``). Never used
outside ``bench/``.

``/_bench/hello`` goes through the same WSGI server, Flask dispatch and after-request hooks
(security headers) but touches neither the database nor the session: the issue's baseline.

``/_bench/floor/<step>`` is the least work any answer with a page of customers must do, without
the product around it: no session or token, no permission check, no ORM, no template. Each step
adds one piece, so the run shows what the database work alone costs beside hello on the same
cores:

- ``epoch``: one round trip on a pooled connection (the security-epoch read every signed-in
  request makes);
- ``page``: that, plus the first page of HQ's customer list (the very statement ``list_page``
  sends for a user who sees every customer: 50 rows with owner codes and the capped count), the
  rows serialised to JSON;
- ``logged``: that, plus the access-log row and the commit, which every view of personal data
  needs (SECURITY.md).

Statements go straight through the psycopg connection of the app's pool, prepared by psycopg as
the app's are. What the real ``/api/v1/customers`` costs on top of ``logged`` is the product:
authentication, scope, filters, the ORM session, the JSON shape.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Response, abort  # noqa: E402
from sqlalchemy import select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.auth.identity_cache import EPOCH_SQL  # noqa: E402
from portal.customers.service import LIST_COLUMNS, LIST_JOINS, CustomerFilters, customer_query  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Customer, User  # noqa: E402
from portal.pagination import page_rows_statement  # noqa: E402

app = create_app()

FLOOR_STEPS = ("epoch", "page", "logged")
ACCESS_LOG_SQL = ("INSERT INTO access_log (at, user_id, ip, action, object_type, count, detail) "
                  "VALUES (now() AT TIME ZONE 'utc', NULL, %s, 'api_list', 'customer', %s, 'bench floor')")


@cache
def first_page_sql() -> str:
    """HQ's first customer page as ``list_page`` sends it (hq@ sees every customer), as SQL text."""
    hq = db.session.execute(select(User).where(User.email == "hq@example.com")).scalar_one()
    stmt, _capped = page_rows_statement(customer_query(hq, CustomerFilters()), 1, 50,
                                        Customer.id, LIST_COLUMNS, LIST_JOINS)
    return str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))


@app.get("/_bench/hello")
def bench_hello():
    return "hello"


@app.get("/_bench/floor/<step>")
def bench_floor(step: str):
    if step not in FLOOR_STEPS:
        abort(404)
    pooled = db.engine.raw_connection()
    try:
        conn = pooled.driver_connection
        body = "{}"
        with conn.transaction():
            conn.execute(EPOCH_SQL).fetchone()
            if step != "epoch":
                cur = conn.execute(first_page_sql())
                names = [c.name for c in cur.description]
                rows = cur.fetchall()
                items = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(names, row, strict=True)}
                         for row in rows]
                body = json.dumps({"items": items, "total": rows[0][-1] if rows else 0}, ensure_ascii=False)
                if step == "logged":
                    conn.execute(ACCESS_LOG_SQL, ("127.0.0.1", len(rows)))
    finally:
        pooled.close()
    return Response(body, mimetype="application/json")
