"""KPI test data, built by hand so every figure is known: the demo's branches are set inactive (so
the company is only ours), a region ``RKX`` with branches ``KX1`` … and customers, sale lines,
scores, consents, quality issues, target lists, contacts and complaint dates in March 2030 — a
month the demo never touches. ``NOW`` (noon KST on 10 April 2030) is passed explicitly.

The month aggregates (``mon_branch_month``, area A's) are written here as the rebuild would from
the same lines, so these tests check the KPIs alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select, update

MONTH = date(2030, 3, 1)
#: 2030-04-10 12:00 KST as naive UTC.
NOW = datetime(2030, 4, 10, 3, 0)


@dataclass
class World:
    branches: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)


def kst(y: int, m: int, d: int, hh: int = 12, mm: int = 0, ss: int = 0) -> datetime:
    """A Korean wall-clock time as the naive UTC the database stores."""
    from plugins.branch_monitor.months import kst_to_utc_naive

    return kst_to_utc_naive(datetime(y, m, d, hh, mm, ss))


def make_branches(codes: list[str], region: str = "RKX") -> dict[str, int]:
    """Deactivate the demo's branches (once) and add ``codes`` under ``region``; returns code → id."""
    from portal.org.service import create_unit
    from portal.toolkit import OrgUnit, db

    if db.session.execute(select(OrgUnit.id).where(OrgUnit.code == region)).first() is None:
        db.session.execute(update(OrgUnit).where(OrgUnit.kind == "branch").values(active=False))
        create_unit(region, "KPI test region", "region", "HQ")
    out = {}
    for code in codes:
        out[code] = create_unit(code, f"KPI {code}", "branch", region).id
    db.session.flush()
    return out


def customer(w: World, key: str, branch: str, *, created: datetime | None = None) -> int:
    from portal.toolkit import Customer, db

    c = Customer(code=f"KPI-{key}", name=f"고객 {key}", branch_id=w.branches[branch],
                 created_at=created or datetime(2030, 1, 1), updated_at=created or datetime(2030, 1, 1))
    db.session.add(c)
    db.session.flush()
    w.customers[key] = c.id
    return c.id


def line(w: World, key: str, branch: str, day: date, amount: int, category: str | None = "health") -> None:
    from portal.toolkit import Category, SaleLine, db

    cat = db.session.execute(select(Category.id).where(Category.code == category)).scalar_one() if category else None
    db.session.add(SaleLine(customer_id=w.customers[key], branch_id=w.branches[branch], category_id=cat,
                            sold_at=day, quantity=1, unit_price=amount, amount=amount))


def score(w: World, key: str, segment: str | None, p_alive: float | None = None) -> None:
    """Set (or replace) the customer's score row."""
    from portal.toolkit import CustomerScore, db

    row = db.session.get(CustomerScore, w.customers[key])
    if row is None:
        row = CustomerScore(customer_id=w.customers[key], as_of=date(2030, 3, 31), frequency=1, monetary=0)
        db.session.add(row)
    row.rfm_segment, row.p_alive = segment, p_alive
    db.session.flush()


def consent(w: World, key: str, at: datetime, *, granted: bool = True, purpose: str = "marketing") -> None:
    from portal.toolkit import Consent, db

    db.session.add(Consent(customer_id=w.customers[key], channel="sms", purpose=purpose, granted=granted,
                           method="store", recorded_at=at, kind="consent"))


def issue(w: World, key: str, created: datetime, resolved: datetime | None = None) -> None:
    from portal.toolkit import QualityIssue, db

    db.session.add(QualityIssue(customer_id=w.customers[key], field="email", reason="test", created_at=created,
                                resolved_at=resolved))


def extraction(w: World, branch: str, created: datetime, keys: list[str] = (), status: str = "draft") -> None:
    from portal.toolkit import Extraction, ExtractionMember, db

    e = Extraction(name="list", channel="sms", rules={}, created_at=created, status=status,
                   branch_id=w.branches[branch], included=len(keys), excluded={})
    db.session.add(e)
    db.session.flush()
    for key in keys:
        db.session.add(ExtractionMember(extraction_id=e.id, customer_id=w.customers[key]))


def contact(w: World, key: str, at: datetime) -> None:
    from portal.toolkit import Contact, db

    db.session.add(Contact(customer_id=w.customers[key], channel="phone", purpose="service", at=at, source="test"))


def complaint(w: World, key: str, branch: str, opened: datetime, closed: datetime | None = None) -> None:
    from plugins.branch_monitor.models import MonComplaint
    from portal.toolkit import db

    db.session.add(MonComplaint(customer_id=w.customers[key], branch_id=w.branches[branch], opened_at=opened,
                                closed_at=closed))


def month_row(w: World, branch: str, month: date, sales: int, customers: int, new: int, days: int) -> None:
    from plugins.branch_monitor.models import MonBranchMonth
    from portal.toolkit import db

    db.session.add(MonBranchMonth(branch_id=w.branches[branch], month=month, sales=sales, lines=0,
                                  customers=customers, new_customers=new, sale_days=days))


def march_world() -> World:
    """Branches KX1 (everything), KX2 (one new customer, consent on the window's last second) and
    KX3 (nothing at all). The expected figures are in ``test_kpis_metrics.py``."""
    from portal.toolkit import db

    w = World(branches=make_branches(["KX1", "KX2", "KX3"]))
    for i in range(1, 11):
        customer(w, f"c{i}", "KX1")
    customer(w, "d1", "KX2")

    # Sales: c1 bought in February (returning), c2 and c3 are new in March; d1 new at KX2.
    line(w, "c1", "KX1", date(2030, 2, 20), 7_000)
    line(w, "c1", "KX1", date(2030, 3, 2), 10_000, "health")
    line(w, "c1", "KX1", date(2030, 3, 2), 5_000, "beauty")
    line(w, "c1", "KX1", date(2030, 3, 9), 20_000, "health")
    line(w, "c2", "KX1", date(2030, 3, 2), 15_000, "beauty")
    line(w, "c3", "KX1", date(2030, 3, 31), 5_000, "health")
    line(w, "d1", "KX2", date(2030, 3, 15), 40_000, "beauty")
    month_row(w, "KX1", MONTH, 55_000, 3, 2, 3)
    month_row(w, "KX2", MONTH, 40_000, 1, 1, 1)

    # Scores: c1–c5 active (0.5 counts), c6 not; c6–c9 at risk / cannot lose.
    for key, seg, p in (("c1", "champions", 0.9), ("c2", "at_risk", 0.8), ("c3", "cannot_lose", 0.7),
                        ("c4", "loyal", 0.6), ("c5", "hibernating", 0.5), ("c6", "at_risk", 0.49),
                        ("c7", "at_risk", 0.2), ("c8", "cannot_lose", 0.1), ("c9", "at_risk", 0.1),
                        ("c10", "hibernating", 0.1), ("d1", "new_customers", 0.9)):
        score(w, key, seg, p)

    # At risk (c2, c3, c6, c7, c8, c9 = 6): c6 called in March, c7 on a January list, c2 on a list
    # made in the window's first second; c8 only on a cancelled list, c9 called before the window.
    contact(w, "c6", kst(2030, 3, 20))
    extraction(w, "KX1", kst(2030, 1, 5), ["c7"])
    extraction(w, "KX1", kst(2030, 1, 1, 0, 0, 0), ["c2"])
    extraction(w, "KX1", kst(2030, 3, 10), ["c8"], status="cancelled")
    contact(w, "c9", kst(2029, 12, 31, 23, 59, 59))
    # Target lists made by KX1 in March: two (plus the cancelled one, not counted).
    extraction(w, "KX1", kst(2030, 3, 1, 0, 0, 0), [])
    extraction(w, "KX1", kst(2030, 3, 31, 23, 59, 59), [], status="used")
    extraction(w, "KX1", kst(2030, 4, 1, 0, 0, 0), [])  # April's

    # Consent: c2 yes (day 30), c3 on day 31 (too late) and a service consent; d1 on the last second.
    consent(w, "c2", kst(2030, 4, 1, 23, 59, 59))
    consent(w, "c3", kst(2030, 5, 1, 0, 0, 0))
    consent(w, "c3", kst(2030, 3, 31), purpose="service")
    consent(w, "d1", kst(2030, 4, 14, 23, 59, 59))

    # Data quality (KX1): open at the month's end = c1 (Feb, open) and c4 (resolved in April);
    # resolved in March after 10, 4 and 28 days (median 10); c5's opened in April.
    issue(w, "c1", kst(2030, 2, 1))
    issue(w, "c4", kst(2030, 3, 1), kst(2030, 4, 5))
    issue(w, "c5", kst(2030, 4, 2))
    issue(w, "c2", kst(2030, 3, 5), kst(2030, 3, 15))
    issue(w, "c3", kst(2030, 3, 10, 0), kst(2030, 3, 14, 0))
    issue(w, "c6", kst(2030, 2, 20), kst(2030, 3, 20))

    # Complaints (KX1) at the month's end (2030-04-01 00:00 KST): c1 open since 1 March and c4
    # closed only in April count; c2 (opened 20 March: under 14 days) and c3 (closed in March) not.
    complaint(w, "c1", "KX1", kst(2030, 3, 1))
    complaint(w, "c4", "KX1", kst(2030, 2, 1), kst(2030, 4, 5))
    complaint(w, "c2", "KX1", kst(2030, 3, 20))
    complaint(w, "c3", "KX1", kst(2030, 2, 1), kst(2030, 3, 10))
    db.session.flush()
    return w
