"""RFM scores and segments (portal.analytics.rfm) on a hand-checked fixture. Pure pandas: no app.

The scoring rule: score = 1 + floor(5 × (customers strictly worse) / n). With the fixture's
n = 10 customers that is 1 + floor(worse / 2): 0–1 worse → 1, 2–3 → 2, 4–5 → 3, 6–7 → 4, 8–9 → 5.
The segment comes from R and FM = round-half-up((F + M) / 2) through ``SEGMENT_GRID``.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from portal.analytics import rfm
from portal.analytics.rfm import SEGMENT_GRID, SEGMENT_HINTS, SEGMENT_LABELS, SEGMENTS, rfm_table

AS_OF = date(2026, 1, 31)

# customer: (recency in days, purchase days, total KRW) — and the scores worked out by hand.
#
# R (smaller recency is better; "worse" = customers with a LARGER recency):
#   c1 1d: 9 worse → 5 | c2, c3 3d (a tie): 7 worse → 4 both | c4 10d: 6 → 4 | c5 30d: 5 → 3
#   c6 60d: 4 → 3 | c7 120d: 3 → 2 | c8 200d: 2 → 2 | c9 300d: 1 → 1 | c10 400d: 0 → 1
# F ("worse" = fewer purchase days):
#   1 day (c3, c8, c10): 0 worse → 1 | 2 days (c5, c6): 3 → 2 | 3 (c7): 5 → 3 | 4 (c4): 6 → 4
#   5 (c2, c9): 7 → 4 | 6 (c1): 9 → 5
# M (ascending: c10 5k, c8 10k, c3 20k, c5 80k, c6 150k, c4 300k, c2 450k, c7 500k, c1 600k, c9 700k):
#   worse = position → 1, 1, 2, 2, 3, 3, 4, 4, 5, 5
# FM = (F + M + 1) // 2 and the segment = SEGMENT_GRID[R - 1][FM - 1]:
#   c1 R5 F5 M5 FM5 champions | c2 R4 F4 M4 FM4 loyal | c3 R4 F1 M2 FM2 potential_loyalist
#   c4 R4 F4 M3 FM4 loyal | c5 R3 F2 M2 FM2 about_to_sleep | c6 R3 F2 M3 FM3 need_attention
#   c7 R2 F3 M4 FM4 at_risk | c8 R2 F1 M1 FM1 hibernating | c9 R1 F4 M5 FM5 cannot_lose
#   c10 R1 F1 M1 FM1 lost
FIXTURE = {
    1: (1, 6, 600_000, 5, 5, 5, "champions"),
    2: (3, 5, 450_000, 4, 4, 4, "loyal"),
    3: (3, 1, 20_000, 4, 1, 2, "potential_loyalist"),
    4: (10, 4, 300_000, 4, 4, 3, "loyal"),
    5: (30, 2, 80_000, 3, 2, 2, "about_to_sleep"),
    6: (60, 2, 150_000, 3, 2, 3, "need_attention"),
    7: (120, 3, 500_000, 2, 3, 4, "at_risk"),
    8: (200, 1, 10_000, 2, 1, 1, "hibernating"),
    9: (300, 5, 700_000, 1, 4, 5, "cannot_lose"),
    10: (400, 1, 5_000, 1, 1, 1, "lost"),
}


def daily_rows() -> pd.DataFrame:
    """Per-day rows: the last purchase `recency` days before AS_OF, earlier ones a week apart;
    the first day carries the remainder of the total. Plus two traps: customer 1's last day is
    split over two rows (still ONE purchase day), customer 8 buys after AS_OF (ignored)."""
    rows = []
    for cid, (recency, days, total, *_scores) in FIXTURE.items():
        last = AS_OF - timedelta(days=recency)
        each = total // days
        for k in range(days):
            amount = each + (total - each * days if k == days - 1 else 0)
            rows.append((cid, last - timedelta(days=7 * k), amount))
    cid, day, amount = rows[0]
    rows[0] = (cid, day, amount - 1_000)
    rows.append((cid, day, 1_000))
    rows.append((8, AS_OF + timedelta(days=1), 999_999))
    return pd.DataFrame(rows, columns=["customer_id", "day", "amount"]).assign(day=lambda f: pd.to_datetime(f["day"]))


def test_hand_checked_scores_and_segments() -> None:
    table = rfm_table(daily_rows(), AS_OF)
    assert list(table.index) == list(FIXTURE)  # sorted by customer id
    assert list(table.columns) == ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                                   "rfm_segment"]
    got = {cid: tuple(row) for cid, row in zip(table.index, table.itertuples(index=False), strict=True)}
    assert got == FIXTURE


def test_row_order_does_not_change_anything() -> None:
    rows = daily_rows()
    shuffled = rows.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(rfm_table(shuffled, AS_OF), rfm_table(rows, AS_OF))


def test_as_of_cuts_later_purchases_and_moves_recency() -> None:
    earlier = AS_OF - timedelta(days=50)
    table = rfm_table(daily_rows(), earlier)
    # Customer 6's last purchase (60 days before AS_OF) is 10 days before the earlier day; its
    # 2nd purchase day (67 days before) stays; customer 1 (every purchase within 36 days of
    # AS_OF) has nothing left and drops out; customer 9 keeps all 5 days, 250 days ago.
    assert table.loc[6, "recency_days"] == 10 and table.loc[6, "frequency"] == 2
    assert 1 not in table.index and 2 not in table.index
    assert table.loc[9, "recency_days"] == 250 and table.loc[9, "frequency"] == 5
    assert (table["recency_days"] >= 0).all()


def test_score_rule_ties_and_direction() -> None:
    # 10 distinct values: 1 + floor(worse / 2).
    assert list(rfm.score(np.arange(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert list(rfm.score(np.arange(10), higher_is_better=False)) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # A big tie takes the score of its lowest member: six one-time buyers are all F 1, not F 1..3.
    assert list(rfm.score([1, 1, 1, 1, 1, 1, 2, 2, 3, 9])) == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert list(rfm.score([7, 7, 7])) == [1, 1, 1]  # all equal: nobody is better than anybody
    assert rfm.score([]).size == 0
    assert list(rfm.fm_score([1, 2, 2, 5], [1, 3, 2, 4])) == [1, 3, 2, 5]  # half rounds up


def test_segment_table_is_complete() -> None:
    assert len(SEGMENTS) == 11 and len(set(SEGMENTS)) == 11
    cells = {name for row in SEGMENT_GRID for name in row}
    assert cells == set(SEGMENTS)  # every segment is reachable, and nothing else is
    assert all(len(row) == 5 for row in SEGMENT_GRID) and len(SEGMENT_GRID) == 5
    assert set(SEGMENT_LABELS) == set(SEGMENTS) == set(SEGMENT_HINTS)
    assert SEGMENT_GRID[4][4] == "champions" and SEGMENT_GRID[0][0] == "lost"
    assert SEGMENT_GRID[4][0] == "new_customers" and SEGMENT_GRID[0][4] == "cannot_lose"


def test_empty_and_bad_input() -> None:
    empty = rfm_table(pd.DataFrame({"customer_id": [], "day": pd.to_datetime([]), "amount": []}), AS_OF)
    assert empty.empty and "rfm_segment" in empty.columns
    with pytest.raises(ValueError, match="amount"):
        rfm_table(pd.DataFrame({"customer_id": [1], "day": [AS_OF]}), AS_OF)
    with pytest.raises(ValueError, match="dates"):
        rfm_table(pd.DataFrame({"customer_id": [1], "day": [20260101], "amount": [5]}), AS_OF)


def test_quintiles_on_distinct_values_are_fifths() -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    frame = pd.DataFrame({
        "customer_id": np.arange(n),
        "day": pd.to_datetime(AS_OF) - pd.to_timedelta(rng.permutation(n) % 3650, unit="D"),
        "amount": rng.permutation(n) * 10 + 1,
    })
    table = rfm_table(frame, AS_OF)
    counts = table["m_score"].value_counts().sort_index()
    assert list(counts) == [n // 5] * 5  # distinct amounts: exact fifths
    assert table.loc[table["monetary"].idxmax(), "m_score"] == 5
    assert table.loc[table["recency_days"].idxmin(), "r_score"] == 5
