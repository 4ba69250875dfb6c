"""RFM: recency, frequency and monetary scores 1–5 and the customary segment names.

Why scores rather than raw values: a store and HQ read "R 5, F 2" the same way whatever the
branch's size, and the segments (champions, at risk …) are a fixed table over the scores, so
they mean the same thing in every report. See docs/analytics.md ("## RFM").

Scoring rule, one for all three measures: a customer's score is
``1 + floor(5 × share of customers doing strictly worse)``. So "F 4" reads "buys more often than
at least 60 % (and fewer than 80 %) of the customers". Ties get the same score, whatever the row
order (deterministic), and a big tie group — the many one-time buyers — all land on the score of
its lowest member (F 1) instead of being split arbitrarily across quintiles.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from flask_babel import lazy_gettext as _l
from numpy.typing import ArrayLike, NDArray

__all__ = ["SEGMENTS", "SEGMENT_GRID", "SEGMENT_HINTS", "SEGMENT_LABELS", "fm_score", "rfm_table", "score"]

#: Segment names, best first (the order of the UI's tables and charts).
SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
)

SEGMENT_LABELS = {
    "champions": _l("Champions"),
    "loyal": _l("Loyal"),
    "potential_loyalist": _l("Potential loyalists"),
    "new_customers": _l("New customers"),
    "promising": _l("Promising"),
    "need_attention": _l("Need attention"),
    "about_to_sleep": _l("About to sleep"),
    "at_risk": _l("At risk"),
    "cannot_lose": _l("Cannot lose them"),
    "hibernating": _l("Hibernating"),
    "lost": _l("Lost"),
}

SEGMENT_HINTS = {
    "champions": _l("Bought recently, buy often and spend the most."),
    "loyal": _l("Buy regularly and spend well."),
    "potential_loyalist": _l("Recent customers with average frequency and spend."),
    "new_customers": _l("Bought very recently, for the first time or rarely."),
    "promising": _l("Recent, but have not bought much yet."),
    "need_attention": _l("Average recency, frequency and spend."),
    "about_to_sleep": _l("Below average, and slipping away."),
    "at_risk": _l("Used to buy often and spend well, but not lately."),
    "cannot_lose": _l("Were among the best customers, have not come back for long."),
    "hibernating": _l("Last bought long ago, bought little."),
    "lost": _l("Lowest recency, frequency and spend."),
}

#: The segment of each (R, FM) pair: ``SEGMENT_GRID[r - 1][fm - 1]``, FM = ``fm_score(f, m)``.
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    # FM = 1           FM = 2                FM = 3                FM = 4        FM = 5
    ("lost", "hibernating", "at_risk", "at_risk", "cannot_lose"),  # R = 1
    ("hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"),  # R = 2
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),  # R = 3
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),  # R = 4
    ("new_customers", "potential_loyalist", "potential_loyalist", "champions", "champions"),  # R = 5
)

_GRID = np.array(SEGMENT_GRID, dtype=object)
COLUMNS = ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_segment"]


def score(values: ArrayLike, *, higher_is_better: bool = True) -> NDArray[np.int64]:
    """Scores 1–5: ``1 + floor(5 × share of values strictly worse)`` (see the module docstring)."""
    v = np.asarray(values)
    n = v.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    ordered = np.sort(v, kind="stable")
    if higher_is_better:
        worse = np.searchsorted(ordered, v, side="left")  # how many are smaller
    else:
        worse = n - np.searchsorted(ordered, v, side="right")  # how many are larger
    return (1 + (5 * worse.astype(np.int64)) // n).astype(np.int64)


def fm_score(f_score: ArrayLike, m_score: ArrayLike) -> NDArray[np.int64]:
    """The mean of F and M rounded half up (F 2, M 3 → FM 3): the segment table's second axis."""
    return (np.asarray(f_score, dtype=np.int64) + np.asarray(m_score, dtype=np.int64) + 1) // 2


def rfm_table(daily: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One row per customer with purchases on or before ``as_of``: RFM values, scores, segment.

    ``daily`` holds ``customer_id``, ``day`` and ``amount`` (KRW), ideally one row per customer
    and day (several rows of one day are summed: same-day purchases are one visit). Returns a
    frame indexed by ``customer_id`` (sorted) with ``recency_days`` (days from the last purchase
    to ``as_of``), ``frequency`` (distinct purchase days), ``monetary`` (total KRW), ``r_score``,
    ``f_score``, ``m_score`` and ``rfm_segment``. Set-based: no Python loop over customers.
    """
    missing = [c for c in ("customer_id", "day", "amount") if c not in daily.columns]
    if missing:
        raise ValueError(f"daily totals have no column(s) {missing}")
    if pd.api.types.is_numeric_dtype(daily["day"].dtype):
        raise ValueError("column 'day' must hold dates, not numbers")
    days = pd.to_datetime(daily["day"]).to_numpy(dtype="datetime64[D]").astype(np.int64)
    cutoff = np.datetime64(as_of, "D").astype(np.int64)
    keep = days <= cutoff
    ids = daily["customer_id"].to_numpy()[keep]
    days = days[keep]
    amounts = np.rint(daily["amount"].to_numpy(dtype=np.float64)[keep]).astype(np.int64)
    if ids.size == 0:
        empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in COLUMNS[:-1]})
        empty["rfm_segment"] = pd.Series(dtype=object)
        return empty.rename_axis("customer_id")

    codes, uniques = pd.factorize(ids, sort=True)
    n = len(uniques)
    # Distinct (customer, day) pairs: one int64 key each, deduplicated by a sort.
    day0 = int(days.min())
    span = int(days.max()) - day0 + 1
    keys = np.sort(codes.astype(np.int64) * span + (days - day0))  # by customer, then day
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # not np.unique: its hash path is 5× slower here
    owner = keys // span
    frequency = np.bincount(owner, minlength=n)
    last = keys[np.flatnonzero(np.r_[owner[1:] != owner[:-1], True])] % span + day0  # each customer's last key
    monetary = np.bincount(codes, weights=amounts, minlength=n)  # float64: exact below 2**53 KRW

    recency = cutoff - last
    r = score(recency, higher_is_better=False)
    f = score(frequency)
    m = score(monetary)
    segment = _GRID[r - 1, fm_score(f, m) - 1]
    return pd.DataFrame(
        {
            "recency_days": recency.astype(np.int64),
            "frequency": frequency.astype(np.int64),
            "monetary": np.rint(monetary).astype(np.int64),
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm_segment": segment,
        },
        index=pd.Index(uniques, name="customer_id"),
    )
