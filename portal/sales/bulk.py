"""Bulk writes inside the session's transaction: COPY on PostgreSQL, ``executemany`` on SQLite.

Both go through the session's own connection, so they commit or roll back with everything
else of the import (a killed process leaves nothing behind).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import text

from ..extensions import db

CHUNK = 50_000
_IDENT = re.compile(r'"?[a-z_]+"?')


def _ident(*names: str) -> None:
    """Table and column names are the code's own constants; refuse anything else outright."""
    for name in names:
        if not _IDENT.fullmatch(name):
            raise ValueError(f"not an identifier: {name!r}")


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _raw():
    return db.session.connection().connection.driver_connection


def _python_rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as tuples of plain Python values (numpy ints → int, NaN/NaT → None, dates → ISO text)."""
    return list(zip(*(_python_column(frame[name]) for name in frame.columns), strict=True))


def _python_column(s: pd.Series) -> list:
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.to_numpy(dtype=object, na_value=None).tolist() if s.hasnans else s.tolist()
    # Other columns repeat their values (dates, flags, names): convert each distinct value once.
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    plain = [v.isoformat() if isinstance(v, date) else v for v in uniques.tolist()] + [None]  # -1 → None
    table = np.empty(len(plain), dtype=object)
    table[:] = plain
    return table[codes].tolist()


def insert_frame(table: str, frame: pd.DataFrame, progress: Callable[[int], None] | None = None) -> None:
    """Append ``frame``'s rows (column names = table columns) to ``table``."""
    if frame.empty:
        return
    columns = list(frame.columns)
    _ident(table, *columns)
    if _dialect() == "postgresql":
        cur = _raw().cursor()
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for start in range(0, len(frame), CHUNK):
                part = frame.iloc[start:start + CHUNK]
                copy.write(_copy_text(part))
                if progress:
                    progress(len(part))
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608
    cur = _raw().cursor()
    for start in range(0, len(frame), CHUNK):
        part = frame.iloc[start:start + CHUNK]
        cur.executemany(sql, _python_rows(part))
        if progress:
            progress(len(part))


def _copy_text(frame: pd.DataFrame) -> str:
    """COPY text format: tab-separated, ``\\N`` for NULL, backslash escapes."""
    out = io.StringIO()
    cols = []
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_integer_dtype(s.dtype):
            cols.append(s.astype(str).where(s.notna(), "\\N") if s.hasnans else s.astype(str))
            continue
        txt = s.astype(object).where(s.notna(), None).map(
            lambda v: "\\N" if v is None else str(v).replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))
        cols.append(txt)
    joined = cols[0].str.cat(cols[1:], sep="\t") if len(cols) > 1 else cols[0]
    out.write("\n".join(joined.tolist()))
    out.write("\n")
    return out.getvalue()


def next_ids(table: str, count: int) -> np.ndarray:
    """``count`` fresh primary keys for ``table`` (the write lock / sequence makes them ours)."""
    _ident(table)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    if _dialect() == "postgresql":
        rows = db.session.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                                  {"t": table, "n": count}).scalars().all()
        return np.array(sorted(rows), dtype=np.int64)
    # SQLite: the import holds the write lock (BEGIN IMMEDIATE), so max(id) cannot move under us.
    start = db.session.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one() + 1  # noqa: S608
    return np.arange(start, start + count, dtype=np.int64)


def update_from_frame(table: str, key: str, frame: pd.DataFrame, set_sql: Sequence[str],
                      types: dict[str, str] | None = None) -> None:
    """``UPDATE table SET <set_sql> WHERE key = frame.key`` for every row of ``frame``.

    ``types`` names the temporary table's type for columns that are not text or integers
    (``{"v_day": "date"}``). ``set_sql`` items are SQL assignments using ``:name`` for the frame's columns
    (``"total_spend = total_spend + :spend"``). PostgreSQL goes through a temporary table and one
    ``UPDATE … FROM``; SQLite uses ``executemany``.
    """
    if frame.empty:
        return
    columns = list(frame.columns)
    _ident(table, key, *columns)
    if _dialect() == "postgresql":
        tmp = f"tmp_{table}_upd"
        types_given = types
        types = {c: ("bigint" if pd.api.types.is_integer_dtype(frame[c].dtype) else "text") for c in columns}
        types.update(types_given or {})
        db.session.execute(text(f"CREATE TEMP TABLE {tmp} ({', '.join(f'{c} {types[c]}' for c in columns)}) "
                                "ON COMMIT DROP"))
        insert_frame(tmp, frame)
        assignments = ", ".join(s.replace(":", "u.") for s in set_sql)
        db.session.execute(text(f"UPDATE {table} SET {assignments} FROM {tmp} u WHERE {table}.{key} = u.{key}"))  # noqa: S608
        db.session.execute(text(f"DROP TABLE {tmp}"))
        return
    assignments = ", ".join(set_sql)
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = :{key}"  # noqa: S608
    names = list(frame.columns)
    db.session.execute(text(sql), [dict(zip(names, row, strict=True)) for row in _python_rows(frame)])
