"""Hostile tester, odds and ends: mass assignment through the API (state, ids, the draw), an
approval naming another programme's revision, template injection in the leader's text, the
radar for a leader, and wrong-typed bodies on the content, session and results endpoints."""

from __future__ import annotations

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.prm_groups.programmes_fixtures import body, programme

URL = "/api/v1/prm/programmes"


@pytest.fixture
def tokens(app):
    with app.app_context():
        return {who: bearer(api_token_for(f"{who}@example.com")) for who in ("hq", "leader1", "ibo1", "store1")}


@pytest.mark.parametrize("extra", [{"state": "running"}, {"id": 1}, {"partner_id": 1}, {"experiment_id": 1},
                                   {"created_by_id": 1}, {"approved_at": "2026-01-01"}, {"partner_group_id": 2}])
def test_no_mass_assignment(app, tokens, extra):
    client = app.test_client()
    resp = client.post(URL, json={**body(), **extra}, headers=tokens["hq"])
    assert resp.status_code == 422 and next(iter(extra)) in resp.get_json()["errors"], resp.get_json()
    with app.app_context():
        pid = programme().id
    resp = client.patch(f"{URL}/{pid}", json=extra, headers=tokens["hq"])
    assert resp.status_code == 422, resp.get_json()
    with app.app_context():
        assert scalar("SELECT state FROM prm_programme WHERE id = :p", p=pid) == "draft"


def _content_step(email_body: str) -> dict:
    return {"kind": "message", "title": "리더 메시지", "channels": ["email"], "offset_days": 0,
            "content": {"signer": "김한빛", "email": {"subject": "안내", "body": email_body}}}


def test_approval_names_only_this_programmes_revision(app, tokens):
    client = app.test_client()
    ids = []
    for text in ("첫 번째 본문", "두 번째 본문"):
        resp = client.post(URL, json=body(steps=[_content_step(text)]), headers=tokens["hq"])
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["id"])
        assert client.post(f"{URL}/{ids[-1]}/transitions", json={"transition": "submit"},
                           headers=tokens["hq"]).status_code == 200
    other = client.get(f"{URL}/{ids[1]}", headers=tokens["leader1"]).get_json()["revision"]
    for rev in (other, "0" * 64, "x" * 10_000, "'; DROP TABLE prm_programme; --"):
        resp = client.post(f"{URL}/{ids[0]}/transitions", json={"transition": "approve", "revision": rev},
                           headers=tokens["leader1"])
        assert resp.status_code in (409, 422), (rev[:20], resp.status_code)
    with app.app_context():
        assert scalar("SELECT state FROM prm_programme WHERE id = :p", p=ids[0]) == "leader_review"


@pytest.mark.parametrize("text", ["{{ config.SECRET_KEY }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                                  "{% for x in range(10**9) %}x{% endfor %}", "{{ self._TemplateReference__context }}",
                                  "{{ cycler.__init__.__globals__.os.environ }}", "{{ signer.__class__ }}"])
def test_template_injection_in_the_text_is_refused_or_inert(app, tokens, text):
    client = app.test_client()
    resp = client.post(URL, json=body(steps=[_content_step("안녕하세요 " + text)]), headers=tokens["hq"])
    if resp.status_code == 422:
        return
    assert resp.status_code == 201, resp.get_json()
    pid = resp.get_json()["id"]
    preview = client.get(f"{URL}/{pid}/preview", headers=tokens["hq"])
    assert preview.status_code in (200, 409, 422)
    out = preview.get_data(as_text=True)
    assert app.config["SECRET_KEY"] not in out and "subclasses" not in out.replace(text, "") and "environ(" not in out


def test_radar_is_not_for_leaders_distributors_or_branches(app, tokens):
    client = app.test_client()
    for who in ("leader1", "ibo1", "store1"):
        resp = client.get("/api/v1/prm/radar?group=G02", headers=tokens[who])
        assert resp.status_code in (403, 404), (who, resp.status_code)


@pytest.mark.parametrize("data", [{"step": "1", "content": None}, {"step": [1], "content": {}}, {"step": True},
                                  {"step": 1, "content": "x"}, {"step": 1, "content": {"signer": ["x"]}},
                                  {"step": 1, "content": {"signer": "김", "email": {"subject": 1, "body": None}}},
                                  {"step": 99999999999999999999, "content": {}}, {"step": 1.5}, [], {"evil": 1}])
def test_content_bodies_of_the_wrong_type(app, tokens, data):
    with app.app_context():
        pid = programme().id
        before = scalar("SELECT count(*) FROM prm_content_revision")
    resp = app.test_client().post(f"{URL}/{pid}/content", json=data, headers=tokens["hq"])
    assert resp.status_code == 422, (data, resp.status_code, resp.get_data(as_text=True)[:300])
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_content_revision") == before


@pytest.mark.parametrize("args", ["step=abc", "step=99999999999999999999", "to=abc", "from=-1", "to=99999999999999999999",
                                  "step=%00", "from=1e3"])
def test_content_diff_parameters(app, tokens, args):
    with app.app_context():
        pid = programme(steps=[_content_step("본문")]).id
    resp = app.test_client().get(f"{URL}/{pid}/content/diff?{args}", headers=tokens["hq"])
    assert resp.status_code in (200, 400, 422), (args, resp.status_code)  # 400: the core refuses NUL


@pytest.mark.parametrize("data", [[], "x", {"title": ["x"]}, {"capacity": "30"}, {"capacity": 10**30},
                                  {"capacity": float("inf")}, {"starts_at": 5}, {"starts_at": "2027-13-01T12:00"},
                                  {"venue_branch": {"id": 1}}, {"online_url": "javascript:alert(1)"}, {"nope": 1},
                                  {"registration_deadline": "yesterday"}])
def test_session_bodies_of_the_wrong_type(app, tokens, data):
    import json

    from tests.plugins.prm_groups.seminars_fixtures import add_session, make_programme

    with app.app_context():
        p = make_programme()
        s = add_session(p)
        pid, sid = p.id, s.id
        before = scalar("SELECT count(*) FROM prm_session")
    client = app.test_client()
    raw = json.dumps(data, allow_nan=True)
    resp = client.post(f"{URL}/{pid}/sessions", data=raw, content_type="application/json", headers=tokens["hq"])
    assert data == {"capacity": "30"} or 400 <= resp.status_code < 500 and resp.status_code != 404, (data, resp.status_code,
                                                                        resp.get_data(as_text=True)[:200])
    resp = client.patch(f"/api/v1/prm/sessions/{sid}", data=raw, content_type="application/json",
                        headers=tokens["hq"])
    if data == {"capacity": "30"}:  # a number in text is read as one (the page's form shares the cleaner)
        assert resp.status_code == 200
        return
    assert 400 <= resp.status_code < 500, (data, resp.status_code, resp.get_data(as_text=True)[:200])
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_session") == before


@pytest.mark.parametrize("who", ["leader1", "ibo1", "store1"])
def test_only_hq_freezes_an_interim_result(app, tokens, who):
    from tests.plugins.prm_groups.seminars_fixtures import make_programme

    with app.app_context():
        pid = make_programme().id
        before = scalar("SELECT count(*) FROM prm_result")
    resp = app.test_client().post(f"{URL}/{pid}/results/interim", json={}, headers=tokens[who])
    assert resp.status_code in (403, 404)
    with app.app_context():
        assert scalar("SELECT count(*) FROM prm_result") == before


@pytest.mark.parametrize("who", ["hq", "admin", "ibo1", "store1"])
def test_only_the_groups_leader_approves(app, tokens, who):
    """HQ, the site admin, a distributor of the group and branch staff cannot approve."""
    client = app.test_client()
    resp = client.post(URL, json=body(steps=[_content_step("본문")]), headers=tokens["hq"])
    pid = resp.get_json()["id"]
    assert client.post(f"{URL}/{pid}/transitions", json={"transition": "submit"}, headers=tokens["hq"]).status_code == 200
    rev = client.get(f"{URL}/{pid}", headers=tokens["hq"]).get_json()["revision"]
    with app.app_context():
        headers = tokens.get(who) or bearer(api_token_for(f"{who}@example.com"))
    resp = client.post(f"{URL}/{pid}/transitions", json={"transition": "approve", "revision": rev}, headers=headers)
    assert resp.status_code in (403, 404), (who, resp.status_code)
    with app.app_context():
        assert scalar("SELECT state FROM prm_programme WHERE id = :p", p=pid) == "leader_review"
        assert scalar("SELECT count(*) FROM prm_content_revision WHERE programme_id = :p AND approved_at IS NOT NULL",
                      p=pid) == 0


@pytest.mark.parametrize("subject", ["안내\r\nBcc: evil@example.com", "안내\nX-Evil: 1", "안내\r드림"])
def test_an_email_subject_is_one_line(app, tokens, subject):
    """A subject with a line break is refused (422 with its path): the leader approves the subject
    exactly as it is sent, and no header can be smuggled in."""
    step = _content_step("본문")
    step["content"]["email"]["subject"] = subject
    resp = app.test_client().post(URL, json=body(steps=[step]), headers=tokens["hq"])
    assert resp.status_code == 422, resp.get_json()
    assert "steps[0].content.email.subject" in resp.get_json()["errors"]


def test_session_text_cannot_inject_calendar_lines(app, client):
    from icalendar import Calendar

    from tests.plugins.prm_groups.seminars_fixtures import add_session, invite_customers, make_programme

    p = make_programme()
    add_session(p, title="1회\r\nBEGIN:VEVENT\r\nSUMMARY:evil", address="서울\nATTACH:http://evil.example")
    inv = invite_customers(p, 1)[0]
    resp = client.get(f"/prm/r/{inv.token}/calendar.ics")
    assert resp.status_code == 200
    cal = Calendar.from_ical(resp.get_data())
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    assert len(events) == 1 and not events[0].get("ATTACH")
    assert b"\r\nBEGIN:VEVENT\r\nSUMMARY:evil" not in resp.get_data()
