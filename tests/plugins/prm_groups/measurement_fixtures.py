"""Hand-made outcomes for the measurement tests: a fresh category nobody has bought in, a programme
of a demo group placed at its top partner, a holdout drawn by the core on an explicit id list, and
sale lines bulk-inserted for chosen customers. Windows lie in 2026 before the test date; the fresh
category keeps the demo's own sales out of every count."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select

BASELINE = (date(2026, 1, 1), date(2026, 3, 31))
RUN = (date(2026, 6, 1), date(2026, 7, 31))
MEASURE = (date(2026, 6, 1), date(2026, 8, 30))
IN_BASELINE, IN_MEASURE = date(2026, 2, 10), date(2026, 7, 15)


def category(code: str = "prmtest"):
    from portal.toolkit import Category, db

    cat = Category(code=code, name_ko="측정용", name_en="Measurement test")
    db.session.add(cat)
    db.session.flush()
    return cat


def group(code: str = "G01"):
    from portal.toolkit import PartnerGroup, db

    return db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == code))


def programme(cat, group_code: str = "G01", state: str = "running", design=("holdout", "did_vs_groups"),
              metric: str = "category_purchase_rate", holdout_share: float = 0.1, **kw: Any):
    from plugins.prm_groups.models import PrmProgramme
    from portal.toolkit import Partner, db

    g = group(group_code)
    top = db.session.scalar(select(Partner.id).where(Partner.group_id == g.id, Partner.sponsor_id.is_(None))
                            .order_by(Partner.id).limit(1))
    p = PrmProgramme(name=kw.pop("name", f"{group_code} 측정"), partner_group_id=g.id, partner_id=top,
                     category_id=cat.id, objective_metric=metric, baseline_start=BASELINE[0],
                     baseline_end=BASELINE[1], run_start=RUN[0], run_end=RUN[1], measure_start=MEASURE[0],
                     measure_end=MEASURE[1], design=list(design), holdout_share=holdout_share, seed=42,
                     target_mde=0.03, state=state, **kw)
    db.session.add(p)
    db.session.flush()
    return p


def customer_ids(group_code: str | None = None, n: int | None = None, exclude_group: str | None = None) -> list[int]:
    from portal.toolkit import Customer, Partner, db

    q = select(Customer.id).where(Customer.pseudonymized_at.is_(None)).order_by(Customer.id)
    if group_code or exclude_group:
        q = q.join(Partner, Customer.partner_id == Partner.id)
    if group_code:
        q = q.where(Partner.group_id == group(group_code).id)
    if exclude_group:
        q = q.where(Partner.group_id != group(exclude_group).id)
    ids = list(db.session.scalars(q))
    return ids[:n] if n else ids


def draw_holdout(p, ids: list[int], share: float = 0.5) -> dict[str, list[int]]:
    """The core draws the programme's holdout among ``ids``; returns the ids per arm (sorted)."""
    from portal.toolkit import ExperimentAssignment, create_experiment, db, draw

    exp = create_experiment("prm_groups", f"programme:{p.id}", seed=p.seed, holdout_share=share)
    draw(exp, ids)
    p.experiment_id = exp.id
    db.session.flush()
    arms: dict[str, list[int]] = {"treatment": [], "holdout": []}
    for cid, arm in db.session.execute(select(ExperimentAssignment.customer_id, ExperimentAssignment.arm)
                                       .where(ExperimentAssignment.experiment_id == exp.id)
                                       .order_by(ExperimentAssignment.customer_id)):
        arms.setdefault(arm, []).append(cid)
    return arms


def buy(ids: list[int], day: date, cat, amount: int = 30000) -> None:
    from portal.toolkit import SaleLine, db

    if ids:
        db.session.execute(insert(SaleLine), [{"customer_id": c, "category_id": cat.id, "sold_at": day, "quantity": 1,
                                               "unit_price": amount, "amount": amount} for c in ids])


def new_customers(n: int, group_code: str = "G01", prefix: str | None = None) -> list[int]:
    """``n`` customers of a distributor of the group, bulk-inserted (the seeded template has only a
    few hundred); returns their ids in order."""
    from portal.toolkit import Customer, Partner, db

    g = group(group_code)
    partner = db.session.scalar(select(Partner.id).where(Partner.group_id == g.id).order_by(Partner.id.desc()).limit(1))
    tag = prefix or f"M{group_code}"
    db.session.execute(insert(Customer), [{"code": f"{tag}-{i:06d}", "name": f"측정고객{i}", "partner_id": partner}
                                          for i in range(n)])
    return list(db.session.scalars(select(Customer.id).where(Customer.code.like(f"{tag}-%")).order_by(Customer.id)))
