"""KPIs and the customer-care index: every metric of a hand-built March 2030 (``kpis_fixtures``)
with exact figures, empty denominators, the care index against the company, BM-6 and the
set-based computation (statement count constant from 3 to 12 branches)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from tests.plugins.branch_monitor.kpis_fixtures import MONTH, NOW, make_branches, march_world


def _compute(w):
    from plugins.branch_monitor.kpis.service import compute_month, kpis_for

    compute_month(MONTH, now=NOW)
    return kpis_for(list(w.branches.values()), MONTH)


def _v(k, metric):
    row = k[metric]
    return row["value"], row["numerator"], row["denominator"]


def test_sales_customers_and_ticket(app):
    w = march_world()
    k = _compute(w)[w.branches["KX1"]]
    assert _v(k, "sales") == (55_000, 55_000, None)
    assert _v(k, "sale_days")[0] == 3
    assert _v(k, "customers")[0] == 3
    assert _v(k, "new_customers") == (2, 2, 3)
    assert _v(k, "returning_customers") == (1, 1, 3)
    # Four purchases (customer-days): c1 on 2 and 9 March, c2 on 2 March, c3 on 31 March.
    assert _v(k, "avg_ticket") == (13_750.0, 55_000, 4)
    assert _v(k, "active_customers") == (5, 5, 10)  # P(alive) 0.9 … 0.5 counts, 0.49 does not
    mix = k["category_mix"]
    assert mix["value"] == 2
    assert mix["detail"]["amounts"] == {"beauty": 20_000, "health": 35_000}
    assert mix["detail"]["shares"] == {"beauty": 0.3636, "health": 0.6364}


def test_care_components(app):
    w = march_world()
    k = _compute(w)
    one, two = k[w.branches["KX1"]], k[w.branches["KX2"]]
    # At risk c2, c3, c6, c7, c8, c9: contacted c6 (call), c7 (January list), c2 (list at the window's first
    # second); not c8 (cancelled list) nor c9 (called one second before the 90 days).
    assert _v(one, "at_risk_contact_rate") == (0.5, 3, 6)
    # New c2 (consent on day 30) and c3 (day 31 and a service consent only): 1 / 2; d1 on the last second.
    assert _v(one, "consent_capture_rate") == (0.5, 1, 2)
    assert _v(two, "consent_capture_rate") == (1.0, 1, 1)
    assert _v(one, "dq_backlog") == (2, 2, 10)
    assert _v(one, "dq_days_to_fix") == (10.0, 42.0, 3)  # median of 10, 4 and 28 days; their sum
    assert _v(one, "complaints_open_14d") == (2, 2, 10)
    assert _v(one, "campaign_use")[0] == 2
    assert _v(one, "ks_overdue_actions")[0] == 0  # knowledge_share active, nothing overdue


def test_empty_branch_gives_null_rates_not_errors(app):
    w = march_world()
    three = _compute(w)[w.branches["KX3"]]
    assert _v(three, "at_risk_contact_rate") == (None, 0, 0)
    assert _v(three, "consent_capture_rate") == (None, 0, 0)
    assert _v(three, "avg_ticket") == (None, 0, 0)
    assert _v(three, "dq_days_to_fix") == (None, None, 0)
    assert _v(three, "sales")[0] == 0
    assert three["category_mix"]["detail"] == {"shares": {}, "amounts": {}}
    # Only target lists and action items to judge it by: no index rather than a flattering one.
    assert three["care_index"]["value"] is None


def test_care_index_scored_against_the_company(app):
    from plugins.branch_monitor.kpis.service import care_score

    w = march_world()
    k = _compute(w)
    one = k[w.branches["KX1"]]["care_index"]
    comps = one["detail"]["components"]
    assert {n: c["score"] for n, c in comps.items()} == {
        "at_risk_contact_rate": 50.0,  # 0.5 = the company's 3/6
        "consent_capture_rate": 37.5,  # 0.5 against 2/3
        "dq_backlog": 45.0,  # 2/10 against 2/11 per customer
        "complaints_open_14d": 45.0,
        "dq_days_to_fix": 50.0,  # the company's median, 10 days
        "ks_overdue_actions": 100.0,  # none anywhere
        "campaign_use": 100.0,  # 2 lists against 2/3 per branch: capped at twice
    }
    assert one["value"] == 53.5
    # KX2: no at-risk customers, no fixes: the other components' weights (0.65) renormalised.
    assert k[w.branches["KX2"]]["care_index"]["value"] == 84.6
    assert care_score(None, 0.4, "high") is None
    assert care_score(0.3, 0, "high") is None
    assert care_score(0, 0, "low") == 100.0
    assert care_score(0.8, 0.4, "low") == 0.0


def test_company_rate(app):
    from plugins.branch_monitor.kpis.service import company_rate

    march_world()
    from plugins.branch_monitor.kpis.service import compute_month

    compute_month(MONTH, now=NOW)
    assert company_rate("at_risk_contact_rate", MONTH) == 0.5
    assert company_rate("consent_capture_rate", MONTH) == pytest.approx(2 / 3)
    assert company_rate("care_index", MONTH) is None  # no denominators
    assert company_rate("at_risk_contact_rate", date(2030, 7, 1)) is None  # nothing computed


def test_bm6_previous_month_zero_is_na(app):
    """BM-6: previous month sales 0, this month 1,200,000 → "N/A", never ∞ or an error."""
    from flask_babel import force_locale

    from plugins.branch_monitor.kpis.service import change, compute_month, format_change, kpis_for
    from tests.plugins.branch_monitor.kpis_fixtures import World, month_row

    w = World(branches=make_branches(["KX6"]))
    month_row(w, "KX6", MONTH, 1_200_000, 10, 2, 5)
    compute_month(date(2030, 2, 1), now=NOW)
    compute_month(MONTH, now=NOW)
    b = w.branches["KX6"]
    previous = kpis_for([b], date(2030, 2, 1))[b]["sales"]["value"]
    current = kpis_for([b], MONTH)[b]["sales"]["value"]
    assert (previous, current) == (0, 1_200_000)
    assert change(current, previous) is None
    assert change(current, None) is None
    assert change(1_200_000, 1_000_000) == pytest.approx(0.2)
    with app.test_request_context("/"):
        with force_locale("en"):
            assert format_change(change(current, previous)) == "N/A"
            assert format_change(0.2) == "+20.0%"
            assert format_change(-0.125) == "-12.5%"
        with force_locale("ko"):
            assert format_change(None) == "해당 없음"
        assert app.jinja_env.filters["bm_change"] is format_change


def test_subset_writes_only_its_rows_and_keeps_the_company(app):
    from plugins.branch_monitor.kpis.service import compute_month, kpis_for

    w = march_world()
    compute_month(MONTH, now=NOW)
    one, two = w.branches["KX1"], w.branches["KX2"]
    before = kpis_for([two], MONTH)[two]
    assert compute_month(MONTH, [one], now=NOW) == 16  # 16 metrics (no RFM snapshot of March)
    k = kpis_for([one, two], MONTH)
    assert k[two] == before
    assert k[one]["care_index"]["value"] == 53.5  # still scored against all three branches


@pytest.mark.parametrize("more", [9])
def test_set_based_statement_count_constant(app, more):
    """No per-branch query: computing a month runs as many statements for 12 branches as for 3."""
    from plugins.branch_monitor.kpis.service import compute_month
    from portal.toolkit import db

    w = march_world()
    db.session.commit()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def run() -> list[str]:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            compute_month(MONTH, now=NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return list(statements)

    three = run()
    make_branches([f"KY{i}" for i in range(more)])
    db.session.commit()
    assert len(w.branches) + more == 12
    twelve = run()
    assert len(three) == len(twelve), "\n---\n".join(s[:120] for s in twelve)
    assert len(three) <= 20, three


def test_new_customer_counts_at_the_branch_of_the_first_day(app):
    """Bought first at KN2 on 5 March, then at KN1 on 10 March: new at KN2 only; a customer who
    bought in February is new nowhere; two branches on the same first day both count them."""
    from plugins.branch_monitor.kpis.service import compute_month, kpis_for
    from tests.plugins.branch_monitor.kpis_fixtures import World, consent, customer, kst, line

    w = World(branches=make_branches(["KN1", "KN2"]))
    for key in ("n1", "n2", "n3"):
        customer(w, key, "KN1")
    line(w, "n1", "KN2", date(2030, 3, 5), 1_000)
    line(w, "n1", "KN1", date(2030, 3, 10), 1_000)
    line(w, "n2", "KN1", date(2030, 2, 28), 1_000)
    line(w, "n2", "KN2", date(2030, 3, 3), 1_000)
    line(w, "n3", "KN1", date(2030, 3, 7), 1_000)
    line(w, "n3", "KN2", date(2030, 3, 7), 1_000)
    consent(w, "n1", kst(2030, 3, 5))
    consent(w, "n3", kst(2030, 3, 6), granted=False)
    compute_month(MONTH, now=NOW)
    k = kpis_for(list(w.branches.values()), MONTH)
    assert _v(k[w.branches["KN1"]], "consent_capture_rate") == (0.0, 0, 1)  # n3
    assert _v(k[w.branches["KN2"]], "consent_capture_rate") == (0.5, 1, 2)  # n1 (consented), n3
