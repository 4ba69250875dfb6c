"""Each branch against its own history: same weekday, 8 weeks, robust z, ≥ 6 weeks (BM-8)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from plugins.branch_monitor.comparison.baseline import judge
from tests.plugins.branch_monitor.alerts_fixtures import set_sales, unit, wipe_sales

DAY = date(2031, 4, 16)  # a Wednesday; its 8 previous Wednesdays hold no Korean public holiday


def weeks_before(n: int) -> list[date]:
    return [DAY - timedelta(weeks=w) for w in range(1, n + 1)]


def test_bm8_four_weeks_of_history_is_insufficient(app):
    """BM-8: a branch with 4 weeks of history → "insufficient history (< 6 weeks)", no z."""
    from plugins.branch_monitor.comparison.baseline import own_baseline

    with app.app_context():
        wipe_sales("B001")
        set_sales("B001", {d: 1_000_000 for d in weeks_before(4)} | {DAY: 10_000})
        b = own_baseline(unit("B001").id, DAY)
        assert (b.status, b.weeks, b.z) == ("insufficient", 4, None)


def test_six_weeks_judge_a_drop_by_robust_z(app):
    from plugins.branch_monitor.comparison.baseline import baselines, own_baseline

    with app.app_context():
        wipe_sales("B001")
        history = [1_000_000, 1_100_000, 900_000, 1_050_000, 950_000, 1_000_000]
        set_sales("B001", dict(zip(weeks_before(6), history, strict=True)) | {DAY: 400_000})
        b = own_baseline(unit("B001").id, DAY)
        assert b.weeks == 6 and b.median == 1_000_000
        # MAD = median(|h − 1,000,000|) = 50,000; scale 1.4826 · 50,000
        assert b.mad == pytest.approx(1.482602218505602 * 50_000)
        assert b.z == pytest.approx(-600_000 / (1.482602218505602 * 50_000))
        assert b.status == "alarm"
        # the batch form judges every branch of the day at once and agrees
        assert baselines(DAY)[unit("B001").id] == b


def test_open_day_without_sales_counts_as_zero_history_starts_at_first_sales(app):
    from plugins.branch_monitor.comparison.baseline import own_baseline

    with app.app_context():
        wipe_sales("B001")
        days = weeks_before(8)
        # sales on 7 of the 8 Wednesdays; the missing one (open, no sales) counts as 0
        set_sales("B001", {d: 1_000_000 for d in days if d != days[2]} | {DAY: 1_000_000})
        b = own_baseline(unit("B001").id, DAY)
        assert b.weeks == 8 and dict(b.history)[days[2]] == 0.0 and b.status == "ok"
        # a branch whose first sales were 5 weeks ago has 5 weeks, not 8 with zeros
        wipe_sales("B001")
        set_sales("B001", {d: 1_000_000 for d in weeks_before(5)})
        assert own_baseline(unit("B001").id, DAY).weeks == 5


def test_closed_day_is_not_judged(app):
    from plugins.branch_monitor.comparison.baseline import own_baseline

    with app.app_context():
        sunday = date(2031, 4, 20)
        wipe_sales("B001")
        set_sales("B001", {sunday - timedelta(weeks=w): 500_000 for w in range(1, 9)})
        b = own_baseline(unit("B001").id, sunday)
        assert b.status == "closed" and b.weeks == 0  # closed Sundays are left out, not zeros


def test_mad_zero_has_a_rule_not_a_division_by_zero():
    # half the weeks identical: MAD 0 → the mean absolute deviation (× 1.2533) is the scale
    status, median, scale, z = judge(700, [1000, 1000, 1000, 1000, 1000, 1000, 1400, 600])
    assert median == 1000 and scale == pytest.approx(1.2533 * 100) and z == pytest.approx(-300 / 125.33)
    assert status == "alert"
    # every week identical: equal → ok with z 0; a drop → alarm without a z (∞ is not stored)
    assert judge(1000, [1000] * 6) == ("ok", 1000.0, 0.0, 0.0)
    assert judge(999, [1000] * 6) == ("alarm", 1000.0, 0.0, None)
    assert judge(1001, [1000] * 6)[0] == "ok"


def test_thresholds_are_strict():
    """A z exactly at the threshold does not flag (metabase#10899); just beyond it does."""
    import numpy as np
    from scipy.stats import median_abs_deviation

    hist = [100, 110, 90, 110, 90, 100, 120, 80]  # median 100, MAD 10
    scale = float(median_abs_deviation(np.asarray(hist, dtype=float), scale="normal"))
    assert scale == pytest.approx(14.826, abs=1e-3)
    z = (70.0 - 100.0) / scale
    assert judge(70, hist, z_alert=-z, z_alarm=10)[0] == "ok"
    assert judge(69.9, hist, z_alert=-z, z_alarm=10)[0] == "alert"
    assert judge(70, hist, z_alert=1, z_alarm=-z)[0] == "alert"
    assert judge(69.9, hist, z_alert=1, z_alarm=-z)[0] == "alarm"


def test_a_closed_history_day_is_left_out_not_a_zero(app):
    """HQ closed B001 on one of the eight Wednesdays: that week is left out (7 weeks), not a 0 that
    would drag the median down."""
    from plugins.branch_monitor.calendar.service import set_override
    from plugins.branch_monitor.comparison.baseline import own_baseline
    from portal.toolkit import db
    from tests.plugins.branch_monitor.alerts_fixtures import user

    with app.app_context():
        wipe_sales("B001")
        days = weeks_before(8)
        set_sales("B001", {d: 1_000_000 for d in days if d != days[3]} | {DAY: 1_000_000})
        set_override(user("hq@example.com"), unit("B001"), days[3], False, "내부 공사")
        db.session.commit()
        b = own_baseline(unit("B001").id, DAY)
        assert b.weeks == 7 and days[3] not in dict(b.history) and b.status == "ok"


def test_evaluation_queries_do_not_grow_with_branches(app):
    """The nightly judgement of every branch is a fixed number of statements (no per-branch query):
    counted for the demo's branches, then again with 40 more branches."""
    from sqlalchemy import event

    from plugins.branch_monitor.alerts.service import evaluate
    from portal.toolkit import OrgUnit, db

    def count(day: date) -> int:
        seen: list[str] = []

        def hook(conn, cursor, statement, *args):  # noqa: ANN001
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", hook)
        try:
            evaluate(day)
        finally:
            event.remove(db.engine, "before_cursor_execute", hook)
        return len(seen)

    with app.app_context():
        first = count(DAY)
        region = unit("R01")
        for i in range(40):
            db.session.add(OrgUnit(code=f"T{i:03d}", name=f"시험점 {i}", kind="branch", parent_id=region.id,
                                   path=region.path, depth=region.depth + 1))
        db.session.commit()
        second = count(DAY + timedelta(days=1))
        assert second <= first + 2, (first, second)
        assert first < 40


def test_last_open_day_instead_of_a_closed_one(app):
    """A page showing "yesterday" on a Monday asks for Sunday: with ``last_open`` it gets Saturday."""
    from plugins.branch_monitor.comparison.baseline import own_baseline

    with app.app_context():
        saturday, sunday = date(2031, 4, 19), date(2031, 4, 20)
        wipe_sales("B001")
        set_sales("B001", {saturday - timedelta(weeks=w): 800_000 for w in range(0, 9)})
        assert own_baseline(unit("B001").id, sunday).status == "closed"
        b = own_baseline(unit("B001").id, sunday, last_open=True)
        # 7 weeks, not 8: Saturday 2031-03-01 (Independence Day) is closed under the default calendar
        assert (b.day, b.status, b.weeks, b.value) == (saturday, "ok", 7, 800_000)
        assert date(2031, 3, 1) not in dict(b.history)
