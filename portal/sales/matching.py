"""Customer matching for a report's rows: by customer number, else phone, else e-mail.

Two different customer numbers are never merged: a row with a number is that customer (or a
new one with that number); only rows without a number are matched by contact data, and a phone
or e-mail shared by several customers is refused as ambiguous rather than guessed. A row whose
phone and e-mail are both unusable (a walk-in with a mistyped number) is a new customer keyed by
what the row gives, flagged for fixing — a contact problem never refuses the sale.

Matching looks at every customer (HQ's single customer view): whether the uploader may see or
write the matched customers is decided afterwards by the importer (``portal.sales.scope``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, text

from ..extensions import db

CUSTOMER_COLUMNS = ("id", "partner_id", "phone", "email", "address", "postal_code", "birth_date", "erased")
_HIT_COLUMNS = ("id", "key", "partner_id", "phone", "email", "address", "postal_code", "birth_date", "erased")


def fetch_in(select_sql: str, column: str, values: Iterable, columns: Iterable[str]) -> pd.DataFrame:
    """Rows of ``select_sql … WHERE column IN values`` as a frame with ``columns`` (any number
    of values: one ``= ANY(array)`` on PostgreSQL, chunks of ``IN`` lists on SQLite)."""
    values, rows = list(values), []
    if not values:
        pass
    elif db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(text(f"{select_sql} WHERE {column} = ANY(:vals)"), {"vals": values}).all()
    else:
        stmt = text(f"{select_sql} WHERE {column} IN :vals").bindparams(bindparam("vals", expanding=True))
        for start in range(0, len(values), 20_000):
            rows += db.session.execute(stmt, {"vals": values[start:start + 20_000]}).all()
    columns = list(columns)
    if not rows:
        return pd.DataFrame(columns=columns)
    # Column-wise construction: pandas builds a frame from a list of Row objects ~10x slower.
    return pd.DataFrame(dict(zip(columns, (list(c) for c in zip(*rows, strict=True)), strict=True)))


def _hits(key: str, source: str = "customer c") -> str:
    """``_HIT_COLUMNS`` of the customers in ``source``, with ``key`` as the matched key (constants only)."""
    return (f"SELECT c.id, {key} AS key, c.partner_id, c.phone, c.email, c.address, c.postal_code, "  # noqa: S608
            f"c.birth_date, CASE WHEN c.pseudonymized_at IS NULL THEN 0 ELSE 1 END AS erased FROM {source}")


_BY_CODE = _hits("c.code")
_BY_ALIAS = _hits("a.code", "customer_alias a JOIN customer c ON c.id = a.customer_id")
_BY_PHONE = _hits("c.phone")
_BY_EMAIL = _hits("c.email")


@dataclass
class Matches:
    customer_id: pd.Series  # existing customer id per row, or NaN
    # key of the new customer per row, or None: "c:<code>", "p:<phone>", "e:<email>", or "w:<what the
    # row gives>" for a walk-in whose phone and e-mail are both unusable
    new_key: pd.Series
    ambiguous: pd.Series  # bool per row: the phone / e-mail belongs to several customers
    existing: pd.DataFrame  # the matched customers' current contact data (CUSTOMER_COLUMNS)


def match_customers(rows: pd.DataFrame) -> Matches:
    """``rows`` has ``customer_code``, ``phone_n`` and ``email_n`` (normalized or None) and
    ``walk_in`` (the row's name, phone and e-mail as given: the key of a walk-in)."""
    customer_id = pd.Series(np.nan, index=rows.index)
    new_key = pd.Series(None, index=rows.index, dtype=object)
    ambiguous = pd.Series(False, index=rows.index)
    found: list[pd.DataFrame] = []

    code = rows["customer_code"]
    has_code = code != ""
    if has_code.any():
        codes = code[has_code].unique().tolist()
        hits = pd.concat([fetch_in(_BY_CODE, "c.code", codes, _HIT_COLUMNS),
                          fetch_in(_BY_ALIAS, "a.code", codes, _HIT_COLUMNS)],
                         ignore_index=True).drop_duplicates("key")
        found.append(hits)
        by_code = dict(zip(hits["key"], hits["id"], strict=True))
        customer_id[has_code] = code[has_code].map(by_code)
        unknown = has_code & customer_id.isna()
        new_key[unknown] = "c:" + code[unknown]
    # Phones / e-mails of customers this file creates by number: rows without a number join them.
    new_by_code = rows[has_code & customer_id.isna()]

    todo = ~has_code
    for column, sql, db_column, prefix in (("phone_n", _BY_PHONE, "c.phone", "p:"),
                                           ("email_n", _BY_EMAIL, "c.email", "e:")):
        use = todo & rows[column].notna()
        if not use.any():
            continue
        keys = rows.loc[use, column]
        hits = fetch_in(sql, db_column, keys.unique().tolist(), _HIT_COLUMNS)
        counts = hits.groupby("key")["id"].nunique() if len(hits) else pd.Series(dtype=int)
        single = hits[hits["key"].map(counts) == 1].drop_duplicates("key")
        found.append(single)
        by_key = dict(zip(single["key"], single["id"], strict=True))
        many = set(counts[counts > 1].index)
        in_file = new_by_code.groupby(column)["customer_code"].nunique() if len(new_by_code) else pd.Series(dtype=int)
        file_single = new_by_code[new_by_code[column].map(in_file) == 1].drop_duplicates(column)
        file_by_key = dict(zip(file_single[column], "c:" + file_single["customer_code"], strict=True))
        many |= set(in_file[in_file > 1].index)
        customer_id[use] = keys.map(by_key)
        is_many = use & keys.isin(many)
        ambiguous |= is_many
        left = use & customer_id.isna() & ~is_many
        new_key[left] = keys[left].map(file_by_key).astype(object).fillna(prefix + keys[left])
        todo &= ~use
    walk_in = todo & ~has_code  # neither number nor a valid phone / e-mail: a new customer, flagged
    new_key[walk_in] = "w:" + rows.loc[walk_in, "walk_in"]
    existing = (pd.concat(found, ignore_index=True).drop_duplicates("id").drop(columns="key")
                if found else pd.DataFrame(columns=list(CUSTOMER_COLUMNS)))
    existing = existing[list(CUSTOMER_COLUMNS)]
    existing["erased"] = existing["erased"].astype(bool)
    return Matches(customer_id=customer_id, new_key=new_key, ambiguous=ambiguous, existing=existing)

