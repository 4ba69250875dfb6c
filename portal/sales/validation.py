"""Type and check a report's text columns, whole columns at a time.

Each check turns one column into typed values plus a boolean "bad" mask; the problems become
row-numbered messages. Values that repeat (dates, codes, categories, phones) are parsed once
per distinct value (``pd.factorize``) so a million rows cost what their distinct values cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from flask_babel import gettext as _

from ..bounds import MAX_LINE_AMOUNT, MAX_QUANTITY, MAX_UNIT_PRICE, MIN_DATE, local_today
from ..customers.normalize import normalize_email, normalize_phone, postal_code_valid

_DATE = re.compile(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})\.?|(\d{4})(\d{2})(\d{2})")
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
_MAX_DIGITS = 15  # every maximum below has fewer digits; longer numbers are refused without parsing
_EMAIL_ASCII = (r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
MAX_LEN = {"receipt_no": 40, "customer_code": 30, "customer_name": 120, "phone": 30, "email": 254,
           "address": 255, "postal_code": 10, "product_sku": 40, "product_name": 160, "category": 80}
# A problem in these never refuses the sale: the value is not stored and the customer is flagged
# for fixing instead (the upload page promises it). Too long counts as not valid.
CONTACT_COLUMNS = ("phone", "email", "address", "postal_code", "birth_date")


def parse_date(text: str) -> date | None:
    """``2026-11-01``, ``2026.11.01``, ``2026/11/1`` or ``20261101``; anything else is ``None``."""
    m = _DATE.fullmatch(text)
    if not m:
        return None
    y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
    try:
        return date(int(y), int(mo), int(d))
    except ValueError:
        return None


def map_distinct(series: pd.Series, fn: Callable[[str], object]) -> pd.Series:
    """``series.map(fn)`` evaluating ``fn`` once per distinct value."""
    codes, uniques = pd.factorize(series, sort=False)
    results = np.empty(len(uniques), dtype=object)
    for i, u in enumerate(uniques):
        results[i] = fn(u)
    out = results[codes] if len(codes) else np.empty(0, dtype=object)
    return pd.Series(out, index=series.index, dtype=object)


def on_distinct(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Vectorised ``fn`` over the distinct values only, spread back to every row.

    A report repeats its dates, prices, products and customers: working on the distinct values
    makes the column checks cost what those cost, not what the rows cost.
    """
    codes, uniques = pd.factorize(series, sort=False)
    result = fn(pd.Series(uniques, dtype=series.dtype)).array.take(codes, allow_fill=True)
    return pd.Series(result, index=series.index, dtype=result.dtype)


@dataclass
class Problems:
    """Row-numbered problems, kept as arrays until the messages are needed.

    Checks name columns canonically (``amount``); the messages name them as the file did
    (``금액``) through ``labels`` — see :func:`portal.sales.reading.column_labels`.
    """

    header_row: int
    labels: dict[str, str] = field(default_factory=dict)
    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(self, mask: pd.Series, column: str, values: pd.Series, message: str | pd.Series) -> None:
        if not mask.any():
            return
        idx = mask[mask].index
        msg = message[idx] if isinstance(message, pd.Series) else message
        self.parts.append(pd.DataFrame({"idx": idx, "column": column, "value": values[idx].str.slice(0, 255).values,
                                        "message": msg}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"idx": pd.Series(dtype=int), "row_no": pd.Series(dtype=int), "column": [],
                                 "field": [], "value": [], "message": []})
        out = pd.concat(self.parts, ignore_index=True)
        out["row_no"] = out["idx"] + self.header_row + 1
        out["field"] = out["column"]
        out["column"] = out["field"].map(lambda name: self.labels.get(name, name))
        return out.sort_values(["row_no", "column"], kind="stable").reset_index(drop=True)

    def bad_rows(self, n: int) -> np.ndarray:
        bad = np.zeros(n, dtype=bool)
        for part in self.parts:
            bad[part["idx"].to_numpy()] = True
        return bad


def _integers(col: pd.Series, maximum: int) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """(values as int64 with 0 where bad, negative mask, not-a-number mask, above-``maximum`` mask).

    Any number of digits is read as text first, so ``99,999,999,999,999,999,999`` is "too large",
    never a float rounded or an int64 wrapped to something else.
    """
    def parse(u: pd.Series) -> pd.Series:
        s = u.str.replace(r"\.0+$", "", regex=True)
        ok = s.str.fullmatch(_NUMBER).astype(bool)
        negative = ~ok & s.str.fullmatch(r"-\s*(?:" + _NUMBER + r")").astype(bool)
        digits = s.where(ok, "0").str.replace(",", "", regex=False).str.lstrip("0")
        huge = digits.str.len() > _MAX_DIGITS  # beyond int64's exact range: compared as text
        values = pd.to_numeric(digits.where(~huge & (digits != ""), "0"), errors="coerce").fillna(0).astype("int64")
        too_big = huge | (values > maximum)
        values = values.where(~too_big, 0)
        # one int64 per distinct value: value * 8 + flags, unpacked below (value ≤ 10^15, so no overflow)
        return (values * 8 + too_big.astype("int64") * 4 + negative.astype("int64") * 2
                + (~ok & ~negative).astype("int64"))

    packed = on_distinct(col, parse).astype("int64")
    return (packed // 8, (packed // 2 % 2).astype(bool), (packed % 2).astype(bool),
            (packed // 4 % 2).astype(bool))


@dataclass
class Typed:
    """The checked columns (all rows; bad rows are dropped by the caller)."""

    report_date: pd.Series
    birth_date: pd.Series
    quantity: pd.Series
    unit_price: pd.Series
    amount: pd.Series
    phone: pd.Series  # normalized digits or None
    phone_bad: pd.Series  # a value was given but it is not a Korean number
    email: pd.Series
    email_bad: pd.Series
    postal_bad: pd.Series
    birth_bad: pd.Series  # a value was given but it is not a real, plausible date (birth_date is None)
    address: pd.Series  # the address or None (empty or too long)
    address_too_long: pd.Series


def check_columns(df: pd.DataFrame, problems: Problems, today: date | None = None) -> Typed:
    """Checks that need no database: dates, numbers, lengths, a customer key on every row.

    ``today`` is the last accepted sales date, by default today in the portal's time zone
    (Asia/Seoul), so a server on UTC does not call a Seoul morning's report "in the future".
    """
    today = local_today() if today is None else today
    too_long: dict[str, pd.Series] = {}
    for column, limit in MAX_LEN.items():
        too_long[column] = on_distinct(df[column], lambda u, limit=limit: u.str.len() > limit).astype(bool)
        if column not in CONTACT_COLUMNS:
            problems.add(too_long[column], column, df[column], _("Longer than %(n)d characters.", n=limit))

    report_date = map_distinct(df["report_date"], parse_date)
    problems.add(df["report_date"] == "", "report_date", df["report_date"], _("The sales date is missing."))
    problems.add((df["report_date"] != "") & report_date.isna(), "report_date", df["report_date"],
                 _("Not a date; write it as YYYY-MM-DD (e.g. 2026-11-01)."))
    future = report_date.map(lambda d: d is not None and d > today)
    problems.add(future, "report_date", df["report_date"], _("This date is in the future."))
    too_old = report_date.map(lambda d: d is not None and d < MIN_DATE)
    problems.add(too_old, "report_date", df["report_date"],
                 _("Sales dates before %(day)s are not accepted.", day=MIN_DATE.isoformat()))

    # A contact field, not the sale's: an impossible birth date is dropped and flagged, never refused.
    birth = map_distinct(df["birth_date"], parse_date)
    implausible = birth.map(lambda d: d is not None and (d > today or d.year < 1900)).astype(bool)
    birth = birth.where(~implausible, None)
    birth_bad = (df["birth_date"] != "") & birth.isna()

    numbers = {}
    for column, label, maximum in (("quantity", _("quantity"), MAX_QUANTITY),
                                   ("unit_price", _("unit price"), MAX_UNIT_PRICE),
                                   ("amount", _("amount"), MAX_LINE_AMOUNT)):
        values, negative, nan, too_big = _integers(df[column], maximum)
        problems.add(df[column] == "", column, df[column], _("The %(what)s is missing.", what=label))
        problems.add(negative, column, df[column], _("The %(what)s cannot be negative.", what=label))
        problems.add(nan & (df[column] != ""), column, df[column],
                     _("The %(what)s must be a whole number (e.g. 12000).", what=label))
        problems.add(too_big, column, df[column],
                     _("The %(what)s is larger than the maximum of %(max)s.", what=label, max=f"{maximum:,}"))
        numbers[column] = (values, negative | nan | too_big | (df[column] == ""))
    qty, qty_bad = numbers["quantity"]
    problems.add(~qty_bad & (qty == 0), "quantity", df["quantity"], _("The quantity must be at least 1."))
    price, price_bad = numbers["unit_price"]
    amount, amount_bad = numbers["amount"]
    mismatch = ~(qty_bad | price_bad | amount_bad) & (qty * price != amount)
    if mismatch.any():
        expected = (qty * price)[mismatch]
        template = _("Quantity × unit price is %(expected)s, but the amount is %(amount)s.", expected="\x01",
                     amount="\x02")
        messages = pd.Series([template.replace("\x01", f"{e:,}").replace("\x02", f"{a:,}")
                              for e, a in zip(expected, amount[mismatch], strict=True)], index=expected.index)
        problems.add(mismatch, "amount", df["amount"], messages)

    problems.add(df["branch_code"] == "", "branch_code", df["branch_code"], _("The branch code is missing."))
    problems.add(df["product_sku"] == "", "product_sku", df["product_sku"], _("The product code is missing."))
    no_key = (df["customer_code"] == "") & (df["phone"] == "") & (df["email"] == "")
    problems.add(no_key, "customer_code", df["customer_code"],
                 _("No customer: give the customer number, phone or e-mail."))

    phone = map_distinct(df["phone"], lambda v: normalize_phone(v) if v else None).where(~too_long["phone"], None)
    email = _emails(df["email"]).where(~too_long["email"], None)
    postal_bad = ~map_distinct(df["postal_code"], postal_code_valid).astype(bool) | too_long["postal_code"]
    address = df["address"].where((df["address"] != "") & ~too_long["address"], None)
    return Typed(report_date=report_date, birth_date=birth, quantity=qty, unit_price=price, amount=amount,
                 phone=phone, phone_bad=(df["phone"] != "") & phone.isna(), email=email,
                 email_bad=(df["email"] != "") & email.isna(), postal_bad=postal_bad, birth_bad=birth_bad,
                 address=address, address_too_long=too_long["address"])


def _emails(col: pd.Series) -> pd.Series:
    """Lower-cased valid addresses or ``None``; plain ASCII addresses by a regex, the rest (IDN,
    quoted local parts …) by ``email_validator`` like the customer form."""
    return on_distinct(col, _emails_distinct).astype(object)


def _emails_distinct(col: pd.Series) -> pd.Series:
    ascii_ok = col.str.fullmatch(_EMAIL_ASCII) & ~col.str.contains("..", regex=False) & \
        (col.str.split("@").str[0].str.len() <= 64)
    out = col.str.lower().where(ascii_ok, None)
    rest = (col != "") & ~ascii_ok
    if rest.any():
        out[rest] = map_distinct(col[rest], normalize_email)
    return out.astype(object).where(out.notna(), None)
