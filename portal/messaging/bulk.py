"""The PostgreSQL fast path of queueing: COPY into a temporary table, then one
``INSERT … SELECT … ON CONFLICT (idempotency_key) DO NOTHING``. Same rows and the same answer as
the portable ``INSERT … ON CONFLICT DO NOTHING`` (tests/platform/test_messaging_queue.py holds both
to it); a million rows a minute needs COPY rather than row-by-row statements."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

COLUMNS = ("channel", "purpose", "customer_id", "user_id", "to_addr", "subject", "body", "html", "headers",
           "source", "source_object", "step", "variant", "idempotency_key", "not_before", "expires_at", "status",
           "attempts", "created_at", "updated_at")
_TEMP = "message_load"


def copy_insert(session: Session, rows: list[dict[str, Any]]) -> int:
    """Write ``rows`` (validated column values) in the session's transaction; returns new rows."""
    cols = ", ".join(COLUMNS)
    conn = session.connection()
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        # Column names are the constants above, never input (hence the S608 waivers).
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP} ON COMMIT DROP AS SELECT {cols} FROM message WITH NO DATA")  # noqa: S608
        cur.execute(f"TRUNCATE {_TEMP}")
        with cur.copy(f"COPY {_TEMP} ({cols}) FROM STDIN") as copy:
            for r in rows:
                headers = r.get("headers")
                copy.write_row(tuple(json.dumps(headers) if c == "headers" and headers is not None else r.get(c)
                                     for c in COLUMNS))
        cur.execute(f"INSERT INTO message ({cols}) SELECT {cols} FROM {_TEMP} ON CONFLICT (idempotency_key) DO NOTHING")  # noqa: S608
        inserted = cur.rowcount
        cur.execute(f"TRUNCATE {_TEMP}")
    return inserted
