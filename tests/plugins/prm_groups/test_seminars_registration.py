"""PG-16 (capacity, waiting list, 48-hour seat offers passed on by the job), PG-17 (idempotent
registration), deadlines and cancelled sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.plugins.prm_groups.seminars_fixtures import add_session, invite_customers, make_programme, noon_kst


def _statuses(session_id):
    from plugins.prm_groups.seminar_models import PrmRegistration
    from portal.extensions import db

    return dict(db.session.execute(select(PrmRegistration.status, func.count()).where(
        PrmRegistration.session_id == session_id).group_by(PrmRegistration.status)).all())


def test_pg16_capacity_waitlist_and_offer_chain(app):
    from plugins.prm_groups.seminar_models import PrmRegistration
    from plugins.prm_groups.seminars import registration as r
    from plugins.prm_groups.seminars.jobs import expire_offers_job
    from portal.extensions import db
    from portal.toolkit import Message

    p = make_programme()
    s = add_session(p, capacity=30)
    invs = invite_customers(p, 35)
    now = noon_kst(1)
    regs = [r.register(inv, s, now=now) for inv in invs]
    db.session.commit()
    assert _statuses(s.id) == {"registered": 30, "waitlisted": 5}
    assert [x.waitlist_position for x in regs[30:]] == [1, 2, 3, 4, 5]
    assert all(x.waitlist_position is None for x in regs[:30])

    # A cancellation offers the seat to #1 for 48 hours, with an e-mail.
    r.cancel(regs[0], now=now)
    db.session.commit()
    first, second = (db.session.get(PrmRegistration, regs[30].id), db.session.get(PrmRegistration, regs[31].id))
    assert first.status == "offered" and first.offer_expires_at == now + timedelta(hours=48)
    assert second.status == "waitlisted"
    assert r.waitlist_rank(second) == 1
    assert db.session.scalar(select(func.count()).select_from(Message).where(
        Message.idempotency_key.like(f"prm:offer:{first.id}:%"))) == 1
    # Nobody new jumps the queue while the seat is on offer.
    assert _statuses(s.id) == {"registered": 29, "offered": 1, "waitlisted": 4, "cancelled": 1}

    # No answer within 48 h: the job expires the offer and offers the seat to #2; twice is a no-op.
    later = now + timedelta(hours=48, minutes=1)
    assert expire_offers_job(now=now + timedelta(hours=47)) == {"expired": 0, "offered": 0, "closed": 0}
    assert expire_offers_job(now=later) == {"expired": 1, "offered": 1, "closed": 0}
    assert expire_offers_job(now=later) == {"expired": 0, "offered": 0, "closed": 0}
    db.session.expire_all()
    assert db.session.get(PrmRegistration, regs[30].id).status == "expired"
    second = db.session.get(PrmRegistration, regs[31].id)
    assert second.status == "offered"
    from plugins.prm_groups.programmes import ProgrammeError

    with pytest.raises(ProgrammeError):
        r.accept_offer(db.session.get(PrmRegistration, regs[30].id), now=later)
    db.session.rollback()

    # #2 accepts within the 48 hours: registered, the session is full again.
    r.accept_offer(second, now=later + timedelta(hours=1))
    db.session.commit()
    assert db.session.get(PrmRegistration, regs[31].id).status == "registered"
    assert _statuses(s.id) == {"registered": 30, "waitlisted": 3, "cancelled": 1, "expired": 1}


def test_pg16_capacity_blank_is_unlimited(app):
    from plugins.prm_groups.seminars import registration as r
    from portal.extensions import db

    p = make_programme()
    s = add_session(p, capacity=None)
    for inv in invite_customers(p, 40):
        r.register(inv, s, now=noon_kst(1))
    db.session.commit()
    assert _statuses(s.id) == {"registered": 40}


def test_pg17_same_invitee_twice_is_one_registration(app):
    from plugins.prm_groups.seminar_models import PrmRegistration
    from plugins.prm_groups.seminars import registration as r
    from portal.extensions import db

    p = make_programme()
    s = add_session(p, capacity=2)
    inv = invite_customers(p, 1)[0]
    a = r.register(inv, s, now=noon_kst(1))
    db.session.commit()
    b = r.register(inv, s, now=noon_kst(1))
    db.session.commit()
    assert a.id == b.id and b.status == "registered"
    assert db.session.scalar(select(func.count()).select_from(PrmRegistration)
                             .where(PrmRegistration.session_id == s.id)) == 1


def test_deadline_and_cancelled_session_refuse(app):
    from plugins.prm_groups.programmes import ProgrammeError
    from plugins.prm_groups.seminars import registration as r
    from plugins.prm_groups.seminars.sessions import cancel_session
    from portal.extensions import db

    p = make_programme()
    s = add_session(p, deadline=noon_kst(10))
    inv, other = invite_customers(p, 2)
    with pytest.raises(ProgrammeError) as err:
        r.register(inv, s, now=noon_kst(11))
    assert err.value.status == 409
    reg = r.register(other, s, now=noon_kst(1))
    db.session.commit()
    assert cancel_session(s, now=noon_kst(2)) == 1
    db.session.commit()
    assert reg.status == "cancelled"
    with pytest.raises(ProgrammeError) as err:
        r.register(inv, s, now=noon_kst(2))
    assert err.value.status == 409


def test_waiting_list_ends_when_registration_closes(app):
    """Nobody can be offered a seat after the deadline: the places still waiting end as expired
    (the five-minute job), the registered keep their seats; before the deadline nothing changes."""
    from plugins.prm_groups.seminar_models import PrmRegistration
    from plugins.prm_groups.seminars import registration as r
    from plugins.prm_groups.seminars.jobs import expire_offers_job
    from portal.extensions import db

    p = make_programme()
    deadline = noon_kst(5)
    s = add_session(p, capacity=2, deadline=deadline)
    regs = [r.register(inv, s, now=noon_kst(1)) for inv in invite_customers(p, 4)]
    db.session.commit()
    assert _statuses(s.id) == {"registered": 2, "waitlisted": 2}
    assert expire_offers_job(now=deadline - timedelta(minutes=1))["closed"] == 0
    assert expire_offers_job(now=deadline + timedelta(minutes=1))["closed"] == 2
    assert expire_offers_job(now=deadline + timedelta(minutes=6))["closed"] == 0
    db.session.expire_all()
    assert _statuses(s.id) == {"registered": 2, "expired": 2}
    assert all(db.session.get(PrmRegistration, x.id).waitlist_position is None for x in regs[2:])
