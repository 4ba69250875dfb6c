"""Hand-built radar data (radar tests): fresh partner groups, one distributor each, customers and
sale lines written set-based, so the counts are exactly what a test says (the template's demo
groups G01–G05 have their own sales; the radar is then asked about these groups only)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert, select

IN_WINDOW = date(2026, 6, 15)
BEFORE_WINDOW = date(2024, 6, 15)
END = date(2026, 11, 30)


def build_groups(spec: dict[str, tuple[int, int]], *, category: str = "health",
                 other: str = "home", idle: int = 3) -> dict[str, int]:
    """``{code: (active, buyers)}`` → groups ``code`` with ``active`` customers who bought in
    ``other`` inside the window, ``buyers`` of them also in ``category``; plus ``idle`` customers
    per group whose only line (in ``category``) is before the window. Returns ``{code: group id}``."""
    from portal.extensions import db
    from portal.toolkit import Category, Customer, Partner, PartnerGroup, SaleLine

    cats = dict(db.session.execute(select(Category.code, Category.id)).all())
    ids: dict[str, int] = {}
    for code, (active, buyers) in spec.items():
        grp = PartnerGroup(code=code, name=f"Radar {code}")
        db.session.add(grp)
        db.session.flush()
        top = Partner(group_id=grp.id, code=f"{code}-0001", name=f"Leader {code}", level="leader")
        db.session.add(top)
        db.session.flush()
        ids[code] = grp.id
        rows = [{"code": f"RC-{code}-{i:05d}", "name": f"Radar {code} {i}", "partner_id": top.id}
                for i in range(active + idle)]
        db.session.execute(insert(Customer), rows)
        cust = list(db.session.execute(select(Customer.id).where(Customer.partner_id == top.id)
                                       .order_by(Customer.id)).scalars())
        lines = [{"customer_id": c, "partner_id": top.id, "category_id": cats[other], "sold_at": IN_WINDOW,
                  "amount": 10000} for c in cust[:active]]
        lines += [{"customer_id": c, "partner_id": top.id, "category_id": cats[category], "sold_at": IN_WINDOW,
                   "amount": 30000} for c in cust[:buyers]]
        # a second line in the category for some buyers: counted once
        lines += [{"customer_id": c, "partner_id": top.id, "category_id": cats[category], "sold_at": END,
                   "amount": 5000} for c in cust[:buyers // 2]]
        lines += [{"customer_id": c, "partner_id": top.id, "category_id": cats[category], "sold_at": BEFORE_WINDOW,
                   "amount": 5000} for c in cust[active:]]
        db.session.execute(insert(SaleLine), lines)
    db.session.commit()
    return ids
