"""Plain-insert fixtures for the partner view's tests: a programme with a message step and a
seminar series of two sessions, invitations of chosen customers and their registrations. The
programmes/seminars services land in parallel, so these write the rows directly."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from itertools import count
from typing import Any

from sqlalchemy import select

_seq = count(1)


def group(code: str) -> Any:
    from portal.toolkit import PartnerGroup, db

    return db.session.execute(select(PartnerGroup).where(PartnerGroup.code == code)).scalar_one()


def partner(code: str) -> Any:
    from portal.toolkit import Partner, db

    return db.session.execute(select(Partner).where(Partner.code == code)).scalar_one()


def subtree_ids(code: str) -> list[int]:
    """Partner ids of ``code`` and its downline."""
    from portal.toolkit import Partner, db

    root = partner(code)
    return list(db.session.execute(select(Partner.id).where(Partner.path.startswith(root.path))).scalars())


def customers_of(partner_ids: list[int], n: int) -> list[Any]:
    """``n`` customers whose distributor is one of ``partner_ids`` (by id, stable)."""
    from portal.toolkit import Customer, db

    return list(db.session.execute(select(Customer).where(Customer.partner_id.in_(partner_ids))
                                   .order_by(Customer.id).limit(n)).scalars())


def group_partner_ids(group_code: str, exclude: list[int] | None = None) -> list[int]:
    from portal.toolkit import Partner, db

    stmt = select(Partner.id).where(Partner.group_id == group(group_code).id)
    if exclude:
        stmt = stmt.where(Partner.id.not_in(exclude))
    return list(db.session.execute(stmt).scalars())


def programme(group_code: str, name: str, state: str = "running", category: str = "health") -> Any:
    """A programme of ``group_code`` with step 1 (message) and step 2 (a seminar series with two
    sessions at noon KST, 03:00 UTC); returns it with ``.series`` and ``.sessions`` set."""
    from plugins.prm_groups.models import PrmProgramme, PrmStep
    from plugins.prm_groups.seminar_models import PrmSession
    from portal.toolkit import Category, Partner, db

    g = group(group_code)
    top = db.session.execute(select(Partner).where(Partner.group_id == g.id, Partner.sponsor_id.is_(None))).scalar_one()
    cat = db.session.execute(select(Category).where(Category.code == category)).scalar_one()
    p = PrmProgramme(name=name, partner_group_id=g.id, partner_id=top.id, category_id=cat.id,
                     baseline_start=date(2026, 1, 1), baseline_end=date(2026, 6, 30),
                     run_start=date(2027, 1, 4), run_end=date(2027, 2, 28),
                     measure_start=date(2027, 1, 4), measure_end=date(2027, 3, 30), state=state,
                     seed=42, objective="건강식품 구매율 +3 pp")
    db.session.add(p)
    db.session.flush()
    db.session.add(PrmStep(programme_id=p.id, position=1, kind="message", title="리더 메시지", channels=["email"]))
    series = PrmStep(programme_id=p.id, position=2, kind="seminar_series", title="건강 세미나", offset_days=14,
                     completion_min=1)
    db.session.add(series)
    db.session.flush()
    sessions = [PrmSession(programme_id=p.id, step_id=series.id, position=i, title=f"세미나 {i}",
                           starts_at=datetime(2027, 1, 10 + 7 * i, 3, 0), ends_at=datetime(2027, 1, 10 + 7 * i, 5, 0),
                           capacity=30) for i in (1, 2)]
    db.session.add_all(sessions)
    db.session.flush()
    p.series, p.sessions = series, sessions
    return p


def invite(p: Any, customers: list[Any], status: str = "invited") -> list[Any]:
    """One invitation per customer for ``p``'s series, placed at the customer's distributor."""
    from plugins.prm_groups.seminar_models import PrmInvitation
    from portal.toolkit import db

    rows = [PrmInvitation(programme_id=p.id, step_id=p.series.id, customer_id=c.id, partner_id=c.partner_id,
                          token=secrets.token_urlsafe(24), status=status) for c in customers]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def register(inv: Any, session: Any, status: str = "registered", attendance: str = "not_marked") -> Any:
    from plugins.prm_groups.seminar_models import PrmRegistration
    from portal.toolkit import db

    inv.status = "registered" if status == "registered" else inv.status
    reg = PrmRegistration(session_id=session.id, invitation_id=inv.id, customer_id=inv.customer_id, status=status,
                          attendance=attendance, checkin_token=f"t{next(_seq)}-{secrets.token_hex(8)}",
                          waitlist_position=next(_seq) if status == "waitlisted" else None)
    db.session.add(reg)
    db.session.flush()
    return reg


def partner_code(partner_id: int) -> str:
    from portal.toolkit import Partner, db

    return db.session.get(Partner, partner_id).code
