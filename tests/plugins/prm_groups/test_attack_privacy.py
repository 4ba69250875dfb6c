"""Hostile tester on the seminar side: the invitee's link (unguessable tokens, nothing but the
invitee's given name, 404 for anything not theirs, CSRF, wrong-typed JSON), the access log of
every page and API call that shows customers' names, and the refusal of unsafe links."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import api_token_for, bearer, login, scalar
from tests.plugins.prm_groups.seminars_fixtures import add_session, invite_customers, make_programme

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _access_rows() -> int:
    return scalar("SELECT count(*) FROM access_log")


def _name(inv, name: str):
    from portal.extensions import db
    from portal.toolkit import Customer

    c = db.session.get(Customer, inv.customer_id)
    c.name = name
    db.session.commit()
    return c


def test_tokens_are_long_random_and_distinct(app, client):
    p = make_programme()
    add_session(p)
    from plugins.prm_groups.seminar_models import PrmInvitation
    from plugins.prm_groups.seminars.invitations import invite
    from portal.auth.service import find_user
    from portal.extensions import db

    invite(p, next(s for s in p.steps if s.kind == "seminar_series"), find_user("hq@example.com"))
    db.session.commit()
    tokens = list(db.session.scalars(select(PrmInvitation.token).where(PrmInvitation.programme_id == p.id)))
    assert tokens and len(set(tokens)) == len(tokens)
    assert all(len(t) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)  # ≥ 256 bits


@pytest.mark.parametrize("token", ["x" * 43, "x" * 5000, "..%2F..%2Fadmin", "%00" * 30, "' OR 1=1 --" * 4,
                                   "가" * 43, "😀" * 43, "a:b" * 20])
def test_tokens_that_are_not_an_invitation_are_404(app, client, token):
    p = make_programme()
    s = add_session(p)
    for url in (f"/prm/r/{token}", f"/prm/r/{token}/calendar.ics"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/prm/r/{token}/register", data={"session": s.id}).status_code in (400, 404)
    resp = client.post(f"/api/v1/prm/r/{token}/register", json={"session": s.id})
    assert resp.status_code == 404 and resp.is_json


def test_public_page_shows_the_given_name_only_and_escapes_it(app, client):
    p = make_programme()
    add_session(p)
    a, b, c = invite_customers(p, 3)
    _name(a, "<script>alert(1)</script> Smith")
    _name(b, "John Smith")
    _name(c, "남궁민수")
    html = client.get(f"/prm/r/{a.token}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "Smith" not in html
    html = client.get(f"/prm/r/{b.token}").get_data(as_text=True)
    assert "John" in html and "Smith" not in html
    html = client.get(f"/prm/r/{c.token}").get_data(as_text=True)
    assert "남궁민수" not in html


def test_public_page_never_shows_another_invitation(app, client):
    """The page lists the series' seats, never who else registered or was invited."""
    p = make_programme()
    s = add_session(p, capacity=5)
    a, b = invite_customers(p, 2)
    other = _name(b, "박다른")
    resp = client.post(f"/api/v1/prm/r/{b.token}/register", json={"session": s.id})
    assert resp.status_code == 200
    html = client.get(f"/prm/r/{a.token}").get_data(as_text=True)
    assert "다른" not in html and other.code not in html and b.token not in html


def test_an_invitee_cannot_act_on_another_series_session(app, client):
    p1, p2 = make_programme(), make_programme("G02")
    add_session(p1)
    foreign = add_session(p2)
    inv = invite_customers(p1, 1)[0]
    resp = client.post(f"/api/v1/prm/r/{inv.token}/register", json={"session": foreign.id})
    assert resp.status_code == 404 and resp.is_json
    page = client.get(f"/prm/r/{inv.token}")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    for sid in (foreign.id, "abc", "-1", "99999999999999999999", ""):
        assert client.post(f"/prm/r/{inv.token}/register", data={"session": sid, "csrf_token": token}).status_code == 404
    assert scalar("SELECT count(*) FROM prm_registration") == 0


@pytest.mark.parametrize("payload", ['{"session": "1"}', '{"session": [1]}', '{"session": true}', '{"session": 1.0}',
                                     '{"session": NaN}', '{"session": 1e400}', '{"session": -5}', '[]', '"x"', '{',
                                     '{"session": 99999999999999999999999999}'])
def test_public_api_wrong_types_are_4xx(app, client, payload):
    p = make_programme()
    add_session(p)
    inv = invite_customers(p, 1)[0]
    resp = client.post(f"/api/v1/prm/r/{inv.token}/register", data=payload, content_type="application/json")
    assert 400 <= resp.status_code < 500 and resp.is_json, (payload, resp.status_code, resp.get_data(as_text=True)[:200])
    assert scalar("SELECT count(*) FROM prm_registration") == 0


def test_get_never_changes_anything_on_the_public_side(app, client):
    p = make_programme()
    s = add_session(p)
    inv = invite_customers(p, 1)[0]
    for url in (f"/prm/r/{inv.token}/register?session={s.id}", f"/prm/r/{inv.token}/decline",
                f"/api/v1/prm/r/{inv.token}/register?session={s.id}"):
        assert client.get(url).status_code in (404, 405), url
    assert scalar("SELECT count(*) FROM prm_registration") == 0
    assert scalar("SELECT status FROM prm_invitation WHERE id = :i", i=inv.id) == "invited"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)",
                                 "data:text/html,<script>alert(1)</script>", "http://evil.example/",
                                 "//evil.example/", "https://", "https://exa mple.com/" + "a" * 3000])
def test_unsafe_online_links_are_refused(app, url):
    from tests.plugins.prm_groups.programmes_fixtures import body

    with app.app_context():
        hq = bearer(api_token_for("hq@example.com"))
    sess = {"title": "1회", "starts_at": "2027-01-25T12:00", "ends_at": "2027-01-25T14:00", "address": None,
            "online_url": url, "capacity": 30}
    resp = app.test_client().post("/api/v1/prm/programmes", json=body(sessions=[sess]), headers=hq)
    assert resp.status_code == 422 and "sessions[0].online_url" in resp.get_json()["errors"], resp.get_json()


def test_seminar_registrations_page_and_api_are_access_logged(app, client):
    """Names and customer codes of registrants are personal data: each view is in the access log."""
    p = make_programme()
    s = add_session(p)
    inv = invite_customers(p, 1)[0]
    client.post(f"/api/v1/prm/r/{inv.token}/register", json={"session": s.id})
    before = _access_rows()
    login(client, "hq@example.com")
    resp = client.get(f"/prm/programmes/{p.id}/seminars/{s.id}")
    assert resp.status_code == 200
    assert _access_rows() == before + 1
    headers = bearer(api_token_for("hq@example.com"))
    resp = client.get(f"/api/v1/prm/programmes/{p.id}/registrations", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["items"][0]["customer"]
    assert _access_rows() == before + 2


def test_leader_never_sees_the_holdout(app, client):
    """Results and registrations for the group's leader: counts, never the holdout's customers."""
    from plugins.prm_groups.seminar_models import PrmInvitation
    from portal.extensions import db
    from portal.toolkit import Customer, ExperimentAssignment

    p = make_programme()
    add_session(p)
    invite_customers(p, 2)
    holdout = list(db.session.execute(select(Customer.code, Customer.name).join(
        ExperimentAssignment, ExperimentAssignment.customer_id == Customer.id).where(
        ExperimentAssignment.experiment_id == p.experiment_id, ExperimentAssignment.arm == "holdout")))
    assert holdout
    assert not db.session.scalar(select(PrmInvitation.id).join(ExperimentAssignment, (
        ExperimentAssignment.customer_id == PrmInvitation.customer_id) & (
        ExperimentAssignment.experiment_id == p.experiment_id)).where(ExperimentAssignment.arm == "holdout"))
    headers = bearer(api_token_for("leader1@example.com"))
    texts = [client.get(f"/api/v1/prm/programmes/{p.id}{sfx}", headers=headers).get_data(as_text=True)
             for sfx in ("", "/results", "/registrations", "/sessions")]
    login(client, "leader1@example.com")
    texts += [client.get(url).get_data(as_text=True) for url in (
        f"/prm/programmes/{p.id}", f"/prm/programmes/{p.id}/results", f"/prm/programmes/{p.id}/seminars", "/prm/my/",
        "/prm/my/invitations")]
    for code in (row[0] for row in holdout):
        assert not any(code in t for t in texts), code


def test_attendance_export_neutralises_formulas_and_is_logged(app, client):
    p = make_programme()
    s = add_session(p)
    inv = invite_customers(p, 1)[0]
    _name(inv, "=HYPERLINK(\"http://evil.example\",\"x\")")
    assert client.post(f"/api/v1/prm/r/{inv.token}/register", json={"session": s.id}).status_code == 200
    login(client, "hq@example.com")
    before = _access_rows()
    resp = client.get(f"/prm/checkin/{s.id}/export.csv")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "HYPERLINK" in text and not re.search(r"(^|,)\"?=HYPERLINK", text, re.M)
    assert _access_rows() == before + 1


@pytest.mark.parametrize(("full", "shown"), [("김한빛", "한빛"), ("남궁민수", "민수"), ("황보영", "보영"), ("제갈공명", "공명"),
                                            ("선우진아", "진아"), ("John Smith", "John"), ("", "")])
def test_given_name_never_shows_any_part_of_the_family_name(full, shown):
    """Four syllables starting with a two-syllable family name (남궁, 황보, 제갈, 선우 …) greet by the
    last two; three syllables are read as one-syllable family name + given name (황 보영)."""
    from plugins.prm_groups.seminars.public import given_name

    assert given_name(full) == shown
