"""Staff seminar pages: the series, a session's registrations, create (422 with the field
marked), edit, cancel, invite; another group's programme is 404 for a leader; the invitee's
merge and export."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import post_form
from tests.plugins.prm_groups.seminars_fixtures import (
    add_session,
    consent_email,
    invite_customers,
    make_programme,
    noon_kst,
)


def test_staff_pages(app, client, login_as):
    from plugins.prm_groups.seminar_models import PrmInvitation, PrmSession
    from plugins.prm_groups.seminars import registration as r
    from portal.extensions import db

    p = make_programme()
    s = add_session(p, capacity=1)
    a, b = invite_customers(p, 2)
    r.register(a, s, now=noon_kst(1))
    r.register(b, s, now=noon_kst(1))
    db.session.commit()
    login_as("hq@example.com")
    page = client.get(f"/prm/programmes/{p.id}/seminars")
    assert page.status_code == 200 and "1회차" in page.get_data(as_text=True)
    page = client.get(f"/prm/programmes/{p.id}/seminars/{s.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count('data-testid="prm-registration-row"') == 2
    assert client.get(f"/prm/programmes/{p.id}/seminars/{s.id}?status=waitlisted").get_data(as_text=True).count(
        'data-testid="prm-registration-row"') == 1
    bad = post_form(client, f"/prm/programmes/{p.id}/seminars/new",
                    {"title": "2회차", "starts_at": "2001-01-01T10:00", "ends_at": "2001-01-01T12:00",
                     "capacity": "0", "address": "서울"}, form_page=f"/prm/programmes/{p.id}/seminars/new")
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    ok = post_form(client, f"/prm/programmes/{p.id}/seminars/new",
                   {"title": "2회차", "starts_at": "2099-01-01T19:00", "ends_at": "2099-01-01T21:00",
                    "capacity": "", "venue_branch": "B001"}, form_page=f"/prm/programmes/{p.id}/seminars/new")
    assert ok.status_code == 302
    new = db.session.scalar(select(PrmSession).where(PrmSession.title == "2회차"))
    assert new.capacity is None and new.venue is not None
    edit = post_form(client, f"/prm/programmes/{p.id}/seminars/{s.id}/edit",
                     {"title": "1회차", "starts_at": "2099-01-01T19:00", "ends_at": "2099-01-01T21:00",
                      "capacity": "2", "address": "서울"}, form_page=f"/prm/programmes/{p.id}/seminars/{s.id}/edit")
    assert edit.status_code == 302
    db.session.expire_all()
    assert db.session.get(PrmSession, s.id).capacity == 2
    # The raised capacity offered the free seat to the one waiting.
    from plugins.prm_groups.seminar_models import PrmRegistration

    assert db.session.scalar(select(PrmRegistration.status).where(PrmRegistration.invitation_id == b.id)) == "offered"
    consent_email([c.customer_id for c in [a, b]])
    inv = post_form(client, f"/prm/programmes/{p.id}/seminars/invite", {})
    assert inv.status_code == 302
    assert db.session.scalar(select(db.func.count()).select_from(PrmInvitation)
                             .where(PrmInvitation.programme_id == p.id)) >= 2
    cancel = post_form(client, f"/prm/programmes/{p.id}/seminars/{s.id}/cancel", {})
    assert cancel.status_code == 302
    db.session.expire_all()
    assert db.session.get(PrmSession, s.id).cancelled_at is not None


def test_leader_scope_and_branch_staff(app, client, login_as):
    p1 = make_programme("G01", extra_customers=0)
    p2 = make_programme("G02", extra_customers=0)
    s2 = add_session(p2)
    login_as("leader1@example.com")
    assert client.get(f"/prm/programmes/{p1.id}/seminars").status_code == 200
    assert client.get(f"/prm/programmes/{p2.id}/seminars").status_code == 404
    assert client.get(f"/prm/programmes/{p2.id}/seminars/{s2.id}").status_code == 404
    assert client.get(f"/prm/programmes/{p1.id}/seminars/new").status_code == 403


def test_merge_and_export(app):
    from plugins.prm_groups.seminar_models import PrmInvitation, PrmRegistration
    from plugins.prm_groups.seminars import registration as r
    from plugins.prm_groups.seminars.privacy import export_customer, on_customers_merged
    from portal.extensions import db
    from portal.toolkit import Customer

    p = make_programme()
    s1, s2 = add_session(p, title="A"), add_session(p, title="B", days_ahead=31)
    keep, dup = invite_customers(p, 2)
    r.register(keep, s1, now=noon_kst(1))
    r.register(dup, s1, now=noon_kst(1))
    r.register(dup, s2, now=noon_kst(1))
    db.session.commit()
    survivor = db.session.get(Customer, keep.customer_id)
    on_customers_merged(survivor, dup.customer_id)
    db.session.commit()
    regs = {x.session_id: x for x in db.session.scalars(select(PrmRegistration).where(
        PrmRegistration.customer_id == survivor.id))}
    assert set(regs) == {s1.id, s2.id} and regs[s2.id].invitation_id == keep.id
    dup = db.session.get(PrmInvitation, dup.id)
    assert dup.status == "declined" and ":" in dup.token
    data = export_customer(survivor)
    assert data["name"] == "prm_groups" and len(data["data"]["seminar_registrations"]) == 2
    assert "token" not in str(data["data"]).lower()
