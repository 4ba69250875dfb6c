"""The nightly evaluation at the spec's scale: 1,000 branches, two funnel metrics and the own
baseline, in well under the job's time limit (set-based, no per-branch query)."""

from __future__ import annotations

import time
from datetime import date, timedelta

from sqlalchemy import insert, select

from tests.plugins.branch_monitor.alerts_fixtures import MONTH, clear_month, unit

DAY = date(2031, 5, 14)  # a Wednesday


def test_evaluate_a_thousand_branches(app):
    from plugins.branch_monitor.alerts.service import evaluate
    from plugins.branch_monitor.comparison.funnel import funnel_metrics
    from plugins.branch_monitor.models import MonAlert, MonBranchDay, MonKpi, MonState
    from portal.toolkit import OrgUnit, db

    with app.app_context():
        clear_month()
        region = unit("R03")
        db.session.execute(insert(OrgUnit), [
            {"code": f"S{i:04d}", "name": f"규모점 {i}", "kind": "branch", "parent_id": region.id,
             "path": region.path, "depth": region.depth + 1, "active": True} for i in range(1000)])
        ids = list(db.session.scalars(select(OrgUnit.id).where(OrgUnit.code.like("S%"))))
        metrics = list(funnel_metrics())
        db.session.execute(insert(MonKpi), [
            {"branch_id": b, "month": MONTH, "metric": m, "numerator": (b * 7) % 40 + 5, "denominator": 50 + b % 200}
            for b in ids for m in metrics])
        days = [DAY - timedelta(weeks=w) for w in range(9)]
        db.session.execute(insert(MonBranchDay), [
            {"branch_id": b, "day": d, "sales": 1_000_000 + (b * 31 + w * 17) % 200_000 - (900_000 if w == 0 and b % 50 == 0 else 0),
             "lines": 1, "customers": 1, "new_customers": 0} for b in ids for w, d in enumerate(days)])
        db.session.commit()
        started = time.perf_counter()
        result = evaluate(DAY, notify_subscribers=False)
        elapsed = time.perf_counter() - started
        assert elapsed < 5, elapsed  # about 1 s on SQLite and PostgreSQL
        assert result["states"] >= 1000 * (len(metrics) + 1)
        states = dict(db.session.execute(select(MonState.branch_id, MonState.state).where(
            MonState.metric == "sales_baseline", MonState.branch_id.in_(ids))).all())
        assert sum(1 for s in states.values() if s == "alarm") == 20  # every 50th branch dropped by 90 %
        assert db.session.scalar(select(MonAlert.id).where(MonAlert.branch_id.in_(ids)).limit(1)) is not None
        print(f"evaluate 1,000 branches: {elapsed:.2f} s, {result}")
