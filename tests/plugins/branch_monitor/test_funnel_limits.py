"""Funnel plots: exact binomial limits around the company rate (BM-5) and the funnel's data."""

from __future__ import annotations

import pytest

from plugins.branch_monitor.comparison.funnel import classify, curves, limits
from tests.plugins.branch_monitor.alerts_fixtures import METRIC, MONTH, clear_month, set_kpi, unit


def test_bm5_exact_binomial_limits_and_states():
    """BM-5: company 40 %; X 12/50 (24 %) below the 95 % lower limit 26 % → alert, not alarm (99.8 %
    lower limit 20 %); Y 165/500 (33 %) below the 99.8 % lower limit 33.2 % → alarm."""
    x = limits(0.40, 50)
    assert x.lo95 == pytest.approx(0.26) and x.lo998 == pytest.approx(0.20)
    assert classify(12, 50, 0.40, "high") == "alert"
    y = limits(0.40, 500)
    assert y.lo998 == pytest.approx(0.332)
    assert classify(165, 500, 0.40, "high") == "alarm"


def test_on_the_limit_is_inside_it():
    """metabase#10899 "fires at equal": 13/50 is exactly the 95 % limit (26 %) → ok; 10/50 exactly
    the 99.8 % limit (20 %) → alert, not alarm; one below each flags."""
    assert classify(13, 50, 0.40) == "ok"
    assert classify(10, 50, 0.40) == "alert"
    assert classify(9, 50, 0.40) == "alarm"


def test_only_the_bad_side_flags():
    assert classify(45, 50, 0.40, "high") == "ok"  # far above: good, not an alarm
    assert classify(45, 50, 0.40, "low") == "alarm"
    assert classify(2, 50, 0.40, "low") == "ok"
    assert classify(45, 50, 0.40, None) == "alarm" and classify(2, 50, 0.40, None) == "alarm"


def test_no_denominator_or_no_company_rate_is_insufficient():
    assert classify(0, 0, 0.4) == "insufficient"
    assert classify(3, 10, None) == "insufficient"
    assert limits(0.4, 0).lo95 == 0.0


def test_curves_narrow_as_n_grows():
    c = curves(0.4, 500)
    assert c[0]["n"] == 1 and c[-1]["n"] == 500
    assert c[-1]["lo95"] > c[len(c) // 2]["lo95"] - 0.2
    assert all(p["lo998"] <= p["lo95"] <= 0.4 <= p["hi95"] <= p["hi998"] for p in c)


def test_funnel_data_for_the_pages(app):
    """The company rate is all branches' Σ numerator / Σ denominator; points carry x = n, y = rate."""
    from plugins.branch_monitor.comparison.funnel import funnel

    with app.app_context():
        clear_month()
        set_kpi("B001", 12, 50)
        set_kpi("B002", 165, 500)
        set_kpi("B005", 223, 450)  # 400 / 1000 in all: the company rate is 40 %
        data = funnel(METRIC, MONTH, [unit("B001").id, unit("B002").id])
        assert data["company_rate"] == pytest.approx(0.40)
        states = {p["branch_id"]: (p["x"], p["y"], p["state"]) for p in data["points"]}
        assert states[unit("B001").id] == (50, pytest.approx(0.24), "alert")
        assert states[unit("B002").id] == (500, pytest.approx(0.33), "alarm")
        assert unit("B005").id not in states  # outside the asked branches, still in the company rate
        assert data["x_max"] == 500 and data["curves"][-1]["n"] == 500
        assert data["counts"]["alarm"] == 1 and data["counts"]["alert"] == 1
        assert data["dispersion"] is not None and data["dispersion"] > 1
