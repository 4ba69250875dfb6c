"""The last seat under concurrency (PostgreSQL: the session row lock): eight invitees register
at the same instant for one seat → one registered, seven waiting with distinct positions 1–7;
two job runs at once expire an offer once and offer the seat once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.dbs import BACKEND
from tests.plugins.prm_groups.seminars_fixtures import add_session, invite_customers, make_programme, noon_kst

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="row locks are PostgreSQL's; SQLite has one writer")


def _race(app, fn, n):
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i):
        from portal.extensions import db

        with app.app_context():
            try:
                barrier.wait(timeout=20)
                fn(i)
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 — reported below
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_last_seat_goes_to_one(app):
    from plugins.prm_groups.seminar_models import PrmInvitation, PrmRegistration, PrmSession
    from plugins.prm_groups.seminars import registration as r
    from portal.extensions import db

    p = make_programme()
    s = add_session(p, capacity=1)
    ids = [i.id for i in invite_customers(p, 8)]
    sid = s.id
    now = noon_kst(1)
    db.session.commit()

    def register(i):
        r.register(db.session.get(PrmInvitation, ids[i]), db.session.get(PrmSession, sid), now=now)

    _race(app, register, 8)
    db.session.expire_all()
    rows = db.session.execute(select(PrmRegistration.status, PrmRegistration.waitlist_position)
                              .where(PrmRegistration.session_id == sid)).all()
    assert sorted(st for st, _ in rows) == ["registered"] + ["waitlisted"] * 7
    assert sorted(pos for st, pos in rows if st == "waitlisted") == list(range(1, 8))

    # Free the seat, let the offer run out, expire it from two consumers at once.
    first = db.session.scalar(select(PrmRegistration).where(PrmRegistration.session_id == sid,
                                                            PrmRegistration.status == "registered"))
    r.cancel(first, now=now)
    db.session.commit()
    later = now + timedelta(hours=49)
    results = []
    _race(app, lambda i: results.append(r.expire_offers(now=later)), 2)
    assert sum(x["expired"] for x in results) == 1 and sum(x["offered"] for x in results) == 1
    db.session.expire_all()
    statuses = [st for (st,) in db.session.execute(select(PrmRegistration.status)
                                                    .where(PrmRegistration.session_id == sid))]
    assert statuses.count("offered") == 1 and statuses.count("expired") == 1
