"""Fixtures of the comparison and alerts tests (area D): branches and users of the demo data, an
HQ Staff user local on R01, KPI rows and day sales written straight into the add-on's own tables."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select, text

PASSWORD = "demo-pass-2026"
METRIC = "at_risk_contact_rate"
#: A month no demo data touches: KPI rows of the tests are the only ones.
MONTH = date(2031, 5, 1)


def unit(code: str) -> Any:
    from portal.toolkit import OrgUnit, db

    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def user(email: str) -> Any:
    from portal.toolkit import User, db

    return db.session.scalar(select(User).where(User.email == email))


def hq_local(region: str = "R01", email: str | None = None) -> Any:
    """A new HQ Staff user granted the role locally on ``region`` only (password as the demo's)."""
    from portal.toolkit import HQ_STAFF, db
    from portal.users.service import create_user, grant_local

    u = create_user(email or f"hq-{region.lower()}@example.com", f"본사 {region}", PASSWORD)
    grant_local(u, HQ_STAFF, unit(region))
    db.session.commit()
    return u


def set_kpi(code: str, numerator: float, denominator: int, *, metric: str = METRIC, month: date = MONTH) -> None:
    """Write (replace) one branch's KPI row of ``month`` — what the KPI area's job would write."""
    from plugins.branch_monitor.models import MonKpi
    from portal.toolkit import db

    b = unit(code)
    db.session.execute(delete(MonKpi).where(MonKpi.branch_id == b.id, MonKpi.month == month, MonKpi.metric == metric))
    db.session.add(MonKpi(branch_id=b.id, month=month, metric=metric, numerator=numerator, denominator=denominator,
                          value=numerator / denominator if denominator else None))
    db.session.commit()


def clear_month(month: date = MONTH) -> None:
    from plugins.branch_monitor.models import MonKpi
    from portal.toolkit import db

    db.session.execute(delete(MonKpi).where(MonKpi.month == month))
    db.session.commit()


def set_sales(code: str, sales: dict[date, int]) -> None:
    """Write (replace) one branch's day sales — what the aggregates area keeps from the reports."""
    from plugins.branch_monitor.models import MonBranchDay
    from portal.toolkit import db

    b = unit(code)
    if sales:
        db.session.execute(delete(MonBranchDay).where(MonBranchDay.branch_id == b.id,
                                                      MonBranchDay.day.in_(list(sales))))
    db.session.add_all([MonBranchDay(branch_id=b.id, day=d, sales=s, lines=1, customers=1) for d, s in sales.items()])
    db.session.commit()


def wipe_sales(code: str) -> None:
    from plugins.branch_monitor.models import MonBranchDay
    from portal.toolkit import db

    db.session.execute(delete(MonBranchDay).where(MonBranchDay.branch_id == unit(code).id))
    db.session.commit()


def subscribe(u: Any, org_unit: str | None = None, metric: str | None = METRIC, *, immediate: bool = True,
              digest: bool = True) -> Any:
    from plugins.branch_monitor.alerts.service import subscribe as service_subscribe
    from portal.toolkit import db

    sub, _ = service_subscribe(u, {"org_unit": org_unit, "metric": metric, "immediate": immediate, "digest": digest})
    db.session.commit()
    return sub


def notifications(u: Any, kind: str = "bm.alert") -> list[tuple[str, str]]:
    """(dedupe key, text) of the user's notifications of ``kind``, oldest first."""
    from portal.toolkit import db

    return [tuple(r) for r in db.session.execute(text(
        "SELECT dedupe_key, text FROM notification WHERE user_id = :u AND kind = :k ORDER BY id"),
        {"u": u.id, "k": kind})]
