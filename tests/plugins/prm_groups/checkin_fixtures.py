"""Check-in test data: a G01 programme in 건강식품 with a seminar series of sessions at branch B001,
invitations and confirmed seats for some of the group's customers — written directly (the
registration service is another area's; these tests are about check-in and attendance)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Category, Customer, OrgUnit, Partner, PartnerGroup
from portal.toolkit import utcnow

NOON_KST_AS_UTC = 3  # 12:00 KST = 03:00 UTC


@dataclass
class Series:
    programme: object
    step: object
    sessions: list = field(default_factory=list)
    invitations: list = field(default_factory=list)
    #: registrations[session index][customer index]
    registrations: list = field(default_factory=list)
    customers: list = field(default_factory=list)


def group(code: str = "G01") -> PartnerGroup:
    return db.session.scalar(select(PartnerGroup).where(PartnerGroup.code == code))


def top_partner(g: PartnerGroup) -> Partner:
    return db.session.scalar(select(Partner).where(Partner.group_id == g.id, Partner.sponsor_id.is_(None))
                             .order_by(Partner.id))


def branch(code: str = "B001") -> OrgUnit:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def noon(day: date) -> datetime:
    """12:00 KST on ``day`` as naive UTC (tests never depend on the time of day)."""
    return datetime(day.year, day.month, day.day, NOON_KST_AS_UTC)


def make_series(*, group_code: str = "G01", starts: list[datetime] | None = None, hours: int = 2,
                venue: str | None = "B001", completion_min: int | None = 2, customers: int = 4,
                seats: list[list[int]] | None = None, state: str = "running") -> Series:
    """A programme with one seminar_series step, sessions at ``starts`` (naive UTC; default three
    sessions a week apart ending yesterday … in 2 weeks), ``customers`` invited customers of the
    group and confirmed seats ``seats[session] = [customer indexes]`` (default: everyone at every
    session)."""
    from plugins.prm_groups.models import PrmProgramme, PrmStep
    from plugins.prm_groups.seminar_models import PrmInvitation, PrmRegistration, PrmSession

    g = group(group_code)
    health = db.session.scalar(select(Category).where(Category.code == "health"))
    today = date.today()
    programme = PrmProgramme(name=f"{group_code} 건강식품 지원", partner_group_id=g.id, partner_id=top_partner(g).id,
                             category_id=health.id, baseline_start=today - timedelta(days=400),
                             baseline_end=today - timedelta(days=40), run_start=today - timedelta(days=30),
                             run_end=today + timedelta(days=30), measure_start=today - timedelta(days=30),
                             measure_end=today + timedelta(days=60), state=state)
    db.session.add(programme)
    db.session.flush()
    step = PrmStep(programme_id=programme.id, position=2, kind="seminar_series", title="건강 세미나",
                   completion_min=completion_min)
    db.session.add(step)
    db.session.flush()
    if starts is None:
        base = utcnow() - timedelta(hours=1)
        starts = [base, base + timedelta(days=7), base + timedelta(days=14)]
    unit = branch(venue) if venue else None
    series = Series(programme, step)
    for i, at in enumerate(starts, start=1):
        s = PrmSession(programme_id=programme.id, step_id=step.id, position=i, title=f"세미나 {i}회", starts_at=at,
                       ends_at=at + timedelta(hours=hours), venue_branch_id=unit.id if unit else None,
                       address=None if unit else "서울시 중구 세종대로 1", capacity=30)
        db.session.add(s)
        series.sessions.append(s)
    db.session.flush()
    people = db.session.scalars(select(Customer).join(Partner, Partner.id == Customer.partner_id)
                                .where(Partner.group_id == g.id).order_by(Customer.id).limit(customers)).all()
    series.customers = list(people)
    for c in people:
        inv = PrmInvitation(programme_id=programme.id, step_id=step.id, customer_id=c.id, partner_id=c.partner_id,
                            token=secrets.token_urlsafe(24), status="registered")
        db.session.add(inv)
        series.invitations.append(inv)
    db.session.flush()
    seats = seats if seats is not None else [list(range(len(people)))] * len(series.sessions)
    for s, who in zip(series.sessions, seats, strict=False):
        row = {}
        for idx in who:
            inv = series.invitations[idx]
            reg = PrmRegistration(session_id=s.id, invitation_id=inv.id, customer_id=inv.customer_id,
                                  status="registered", checkin_token=secrets.token_urlsafe(24))
            db.session.add(reg)
            row[idx] = reg
        series.registrations.append(row)
    db.session.commit()
    return series


def user(email: str):
    from portal.auth.service import find_user

    return find_user(email)
