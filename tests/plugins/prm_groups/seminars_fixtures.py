"""Seminar test data: a running programme for G01 (holdout drawn through the core experiment
service) with a seminar-series step and sessions, plus invitations written directly (the
invitation tests go through ``invitations.invite``)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

SEOUL = ZoneInfo("Asia/Seoul")


def noon_kst(days_ahead: int) -> datetime:
    """Noon in Seoul ``days_ahead`` days from today, as naive UTC (never depends on the hour)."""
    today = datetime.now(SEOUL).date() + timedelta(days=days_ahead)
    return datetime(today.year, today.month, today.day, 12, tzinfo=SEOUL).astimezone(UTC).replace(tzinfo=None)


def hq():
    from portal.auth.service import find_user

    return find_user("hq@example.com")


def add_customers(group: str, n: int) -> list[int]:
    """``n`` more customers of ``group``'s top partner (the test template has ~30 per group)."""
    from sqlalchemy import insert

    from portal.extensions import db
    from portal.toolkit import Customer, Partner, PartnerGroup

    grp = db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == group))
    top = db.session.scalar(select(Partner).where(Partner.group_id == grp.id, Partner.sponsor_id.is_(None)))
    tag = secrets.token_hex(3)
    db.session.execute(insert(Customer), [{"code": f"SEM-{tag}-{i:04d}", "name": f"김세미{i}", "partner_id": top.id,
                                           "email": f"sem{tag}{i}@example.com"} for i in range(n)])
    db.session.flush()
    return list(db.session.scalars(select(Customer.id).where(Customer.code.like(f"SEM-{tag}-%"))))


def make_programme(group: str = "G01", *, state: str = "running", holdout: float = 0.1, draw: bool = True,
                   rules=None, extra_customers: int = 50):
    """A programme of ``group`` in health with a message step (1) and a seminar series (2); the
    group gets ``extra_customers`` more customers first."""
    from plugins.prm_groups.models import PrmProgramme, PrmStep
    from portal.extensions import db
    from portal.toolkit import Category, Customer, Partner, PartnerGroup, create_experiment
    from portal.toolkit import draw as draw_arms

    if extra_customers:
        add_customers(group, extra_customers)
    grp = db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == group))
    top = db.session.scalar(select(Partner).where(Partner.group_id == grp.id, Partner.sponsor_id.is_(None)))
    cat = db.session.scalar(select(Category).where(Category.code == "health"))
    today = date.today()
    p = PrmProgramme(name=f"{group} health", partner_group_id=grp.id, partner_id=top.id, category_id=cat.id,
                     baseline_start=today - timedelta(days=365), baseline_end=today - timedelta(days=1),
                     run_start=today, run_end=today + timedelta(days=60), measure_start=today,
                     measure_end=today + timedelta(days=90), holdout_share=holdout, seed=42, state=state)
    db.session.add(p)
    db.session.flush()
    db.session.add_all([PrmStep(programme_id=p.id, position=1, kind="message", title="DM", channels=["email"]),
                        PrmStep(programme_id=p.id, position=2, kind="seminar_series", title="건강 세미나",
                                rules=rules, completion_min=2)])
    db.session.flush()
    if draw:
        exp = create_experiment("prm_groups", f"programme:{p.id}", seed=42, holdout_share=holdout)
        db.session.flush()
        ids = list(db.session.scalars(select(Customer.id).join(Partner, Partner.id == Customer.partner_id)
                                      .where(Partner.group_id == grp.id)))
        draw_arms(exp, ids)
        p.experiment_id = exp.id
    db.session.commit()
    return p


def series(p):
    return next(s for s in p.steps if s.kind == "seminar_series")


def add_session(p, *, capacity=30, days_ahead=30, title="1회차", deadline=None, **extra):
    from plugins.prm_groups.seminar_models import PrmSession
    from portal.extensions import db

    start = noon_kst(days_ahead)
    extra.setdefault("address", "서울 강남구 테헤란로 1")
    s = PrmSession(programme_id=p.id, step_id=series(p).id, title=title, starts_at=start,
                   ends_at=start + timedelta(hours=2), capacity=capacity, registration_deadline=deadline, **extra)
    db.session.add(s)
    db.session.commit()
    return s


def invite_customers(p, n: int):
    """``n`` invitations of the programme's treatment customers, written directly."""
    from plugins.prm_groups.seminar_models import PrmInvitation
    from portal.extensions import db
    from portal.toolkit import Customer, ExperimentAssignment

    ids = list(db.session.scalars(select(ExperimentAssignment.customer_id).where(
        ExperimentAssignment.experiment_id == p.experiment_id, ExperimentAssignment.arm == "treatment")
        .order_by(ExperimentAssignment.customer_id).limit(n)))
    owners = dict(db.session.execute(select(Customer.id, Customer.partner_id).where(Customer.id.in_(ids))).all())
    invs = [PrmInvitation(programme_id=p.id, step_id=series(p).id, customer_id=c, partner_id=owners[c],
                          token=secrets.token_urlsafe(32)) for c in ids]
    db.session.add_all(invs)
    db.session.commit()
    return invs


def consent_email(customer_ids) -> None:
    """E-mail marketing consent (web) for ``customer_ids``."""
    from portal.extensions import db
    from portal.toolkit import record_consents

    record_consents([{"customer_id": c, "channel": "email", "purpose": "marketing", "granted": True, "method": "web",
                      "source": "test"} for c in customer_ids])
    db.session.commit()
