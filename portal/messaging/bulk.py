"""The PostgreSQL fast path of queueing: COPY. Same rows and the same answer as the portable
``INSERT … ON CONFLICT DO NOTHING`` (tests/platform/test_messaging_queue.py holds the paths to it);
a million rows a minute needs COPY rather than row-by-row statements."""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

COLUMNS = ("channel", "purpose", "customer_id", "user_id", "to_addr", "subject", "body", "html", "headers",
           "source", "source_object", "step", "variant", "idempotency_key", "not_before", "expires_at", "status",
           "attempts", "created_at", "updated_at")
_TEMP = "message_load"


def copy_insert(session: Session, rows: list[dict[str, Any]]) -> int:
    """Write ``rows`` (validated column values) in the session's transaction; returns new rows.

    The keys already stored are looked up first and left out, and the rest are COPYed straight into
    ``message`` — the server inserts while Python still sends, so the two overlap. A concurrent
    writer of the same keys makes that COPY fail on the unique key: the chunk's savepoint is then
    rolled back and the chunk goes through a temporary table and ``ON CONFLICT DO NOTHING``.
    """
    from psycopg import errors

    cols = ", ".join(COLUMNS)
    raw = session.connection().connection.dbapi_connection
    keys = [r["idempotency_key"] for r in rows]
    with raw.cursor() as cur:
        stored = _lookup_stored(cur, keys)
        fresh = [r for r in rows if r["idempotency_key"] not in stored]
        if not fresh:
            return 0
        cur.execute("SAVEPOINT portal_message_copy")
        try:
            # Column names are the constants above, never input (hence the S608 waivers).
            memo: dict[tuple, str] = {}
            with cur.copy(f"COPY message ({cols}) FROM STDIN") as copy:
                for r in fresh:
                    copy.write_row(_values(r, memo))
        except errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT portal_message_copy")
            return _through_temp_table(cur, cols, fresh)
        cur.execute("RELEASE SAVEPOINT portal_message_copy")
    return len(fresh)


_GET = itemgetter(*COLUMNS)
_HEADERS = COLUMNS.index("headers")


def _lookup_stored(cur: Any, keys: list[str]) -> set[str]:
    return {k for (k,) in cur.execute("SELECT idempotency_key FROM message WHERE idempotency_key = ANY(%s)", (keys,))}


def _values(r: dict[str, Any], memo: dict[tuple, str]) -> list[Any]:
    values = list(_GET(r))
    headers = values[_HEADERS]
    if headers is not None:
        key = tuple(headers.items())  # a campaign's rows share their headers: encode them once
        text = memo.get(key)
        if text is None:
            text = memo[key] = json.dumps(headers)
        values[_HEADERS] = text
    return values


def _through_temp_table(cur: Any, cols: str, rows: list[dict[str, Any]]) -> int:
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP} ON COMMIT DROP AS SELECT {cols} FROM message WITH NO DATA")  # noqa: S608
    cur.execute(f"TRUNCATE {_TEMP}")
    memo: dict[tuple, str] = {}
    with cur.copy(f"COPY {_TEMP} ({cols}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(_values(r, memo))
    cur.execute(f"INSERT INTO message ({cols}) SELECT {cols} FROM {_TEMP} ON CONFLICT (idempotency_key) DO NOTHING")  # noqa: S608
    inserted = cur.rowcount
    cur.execute(f"TRUNCATE {_TEMP}")
    return inserted
