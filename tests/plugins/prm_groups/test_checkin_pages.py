"""The staff check-in pages: session list, scan form, tri-state marks, reason after 7 days, the
rest no-show, CSV export (logged), the ticket link, scope (404) and the camera policy."""

from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import csrf_token, login, scalar
from tests.plugins.prm_groups.checkin_fixtures import make_series, noon


def _live_series(**kw):
    from portal.toolkit import utcnow

    now = utcnow()
    return make_series(starts=[now - timedelta(hours=1), now + timedelta(days=7)], **kw)


def test_branch_staff_checks_in_on_the_session_page(app):
    s = _live_series(venue="B001")
    client = app.test_client()
    login(client, "store1@example.com")
    sid = s.sessions[0].id
    index = client.get("/prm/checkin/")
    assert index.status_code == 200 and s.sessions[0].title in index.get_data(as_text=True)
    page = client.get(f"/prm/checkin/{sid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="token-input"' in html
    assert page.headers["Permissions-Policy"].startswith("camera=(self)")
    assert html.count('data-testid="sheet-row"') == 4
    assert 'data-testid="series-completion"' in html and "총 2회" in html
    token = csrf_token(client, f"/prm/checkin/{sid}")
    reg = s.registrations[0][0]
    ok = client.post(f"/prm/checkin/{sid}/scan", data={"token": f"https://x.example/prm/checkin/t/{reg.checkin_token}",
                                                       "csrf_token": token})
    assert ok.status_code == 302
    after = client.get(f"/prm/checkin/{sid}").get_data(as_text=True)
    assert "Checked in" in after or "체크인" in after
    again = client.post(f"/prm/checkin/{sid}/scan", data={"token": reg.checkin_token, "csrf_token": token})
    assert again.status_code == 409 and 'data-reason="already_checked_in"' in again.get_data(as_text=True)
    bad = client.post(f"/prm/checkin/{sid}/scan", data={"token": "<script>", "csrf_token": token})
    assert bad.status_code == 422 and "<script>" not in bad.get_data(as_text=True).split('id="prm-token"')[1][:200]
    mark = client.post(f"/prm/checkin/{sid}/mark/{s.registrations[0][1].id}",
                       data={"attendance": "no_show", "csrf_token": token})
    assert mark.status_code == 302
    assert scalar("SELECT attendance FROM prm_registration WHERE id = :i", i=s.registrations[0][1].id) == "no_show"
    csv = client.get(f"/prm/checkin/{sid}/export.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert text.count("\n") == 5 and "attended" in text and "no_show" in text
    assert scalar("SELECT count(*) FROM access_log WHERE action = 'export' AND object_type = 'prm_session'") == 1


def test_scope_and_ticket_link(app):
    s = _live_series(venue="B001")
    sid = s.sessions[0].id
    reg = s.registrations[0][0]
    client = app.test_client()
    # not logged in: the ticket link shows a neutral page, no name, no session
    public = client.get(f"/prm/checkin/t/{reg.checkin_token}")
    assert public.status_code == 200 and s.customers[0].name not in public.get_data(as_text=True)
    assert s.sessions[0].title not in public.get_data(as_text=True)
    login(client, "store2@example.com")
    assert client.get(f"/prm/checkin/{sid}").status_code == 404
    assert client.get(f"/prm/checkin/{sid}/export.csv").status_code == 404
    assert s.sessions[0].title not in client.get("/prm/checkin/?when=all").get_data(as_text=True)
    assert client.get(f"/prm/checkin/t/{reg.checkin_token}").status_code == 200  # neutral page, no redirect
    client = app.test_client()
    login(client, "leader1@example.com")
    link = client.get(f"/prm/checkin/t/{reg.checkin_token}")
    assert link.status_code == 302 and f"/prm/checkin/{sid}?token=" in link.headers["Location"]
    assert reg.checkin_token in client.get(link.headers["Location"]).get_data(as_text=True)
    assert scalar("SELECT attendance FROM prm_registration WHERE id = :i", i=reg.id) == "not_marked"  # GET changes nothing
    client = app.test_client()
    login(client, "ibo1@example.com")
    assert client.get("/prm/checkin/").status_code == 403


def test_late_edit_needs_hq_and_reason_on_the_page(app):
    day = date.today() - timedelta(days=12)
    s = make_series(starts=[noon(day)])
    sid = s.sessions[0].id
    reg = s.registrations[0][0]
    client = app.test_client()
    login(client, "store1@example.com")
    html = client.get(f"/prm/checkin/{sid}").get_data(as_text=True)
    assert 'data-testid="late-notice"' in html and 'name="reason"' in html
    token = csrf_token(client, f"/prm/checkin/{sid}")
    refused = client.post(f"/prm/checkin/{sid}/mark/{reg.id}", data={"attendance": "attended", "reason": "x",
                                                                     "csrf_token": token})
    assert refused.status_code == 403
    client = app.test_client()
    login(client, "hq@example.com")
    token = csrf_token(client, f"/prm/checkin/{sid}")
    no_reason = client.post(f"/prm/checkin/{sid}/mark/{reg.id}", data={"attendance": "attended", "csrf_token": token})
    assert no_reason.status_code == 422
    ok = client.post(f"/prm/checkin/{sid}/mark/{reg.id}", data={"attendance": "attended", "reason": "명단 누락",
                                                                "csrf_token": token})
    assert ok.status_code == 302
    rest = client.post(f"/prm/checkin/{sid}/no-shows", data={"reason": "세션 종료 정리", "csrf_token": token})
    assert rest.status_code == 302
    assert scalar("SELECT count(*) FROM prm_registration WHERE session_id = :s AND attendance = 'no_show'", s=sid) == 3
    assert scalar("SELECT count(*) FROM audit_event WHERE action LIKE 'prm.attendance%'") == 2


def test_empty_states(app):
    client = app.test_client()
    login(client, "hq@example.com")
    html = client.get("/prm/checkin/?when=upcoming").get_data(as_text=True)
    assert 'class="empty"' in html


def test_other_branches_customers_are_masked_for_branch_staff(app):
    """A seminar at B001 may seat customers of other branches: B001's staff see their names masked
    and no customer number (sheet, API, export, the scan message); a search cannot confirm them."""
    from portal.extensions import db
    from portal.models import Customer, OrgUnit
    from tests.conftest import api_token_for, bearer

    s = _live_series(venue="B001", customers=12)
    b001 = db.session.scalar(db.select(OrgUnit.id).where(OrgUnit.code == "B001"))
    outside = [(i, c) for i, c in enumerate(s.customers) if c.branch_id != b001]
    inside = [(i, c) for i, c in enumerate(s.customers) if c.branch_id == b001]
    assert outside, "the fixture needs a customer of another branch"
    i, stranger = outside[0]
    assert db.session.get(Customer, stranger.id).name
    client = app.test_client()
    login(client, "store1@example.com")
    sid = s.sessions[0].id
    html = client.get(f"/prm/checkin/{sid}").get_data(as_text=True)
    assert stranger.name not in html and stranger.code not in html
    assert stranger.name[0] + "*" in html
    for _j, c in inside:
        assert c.name in html
    assert stranger.code not in client.get(f"/prm/checkin/{sid}/export.csv").get_data(as_text=True)
    api = bearer(api_token_for("store1@example.com"))
    found = client.get(f"/api/v1/prm/sessions/{sid}/attendance", query_string={"q": stranger.name},
                       headers=api).get_json()
    assert found["items"] == []
    every = client.get(f"/api/v1/prm/sessions/{sid}/attendance", headers=api).get_json()["items"]
    mine = next(x for x in every if x["registration_id"] == s.registrations[0][i].id)
    assert mine["masked"] is True and mine["code"] is None and mine["name"] != stranger.name
    scan = client.post(f"/api/v1/prm/sessions/{sid}/checkin", json={"token": s.registrations[0][i].checkin_token},
                       headers=api).get_json()
    assert scan["name"] != stranger.name and scan["name"].startswith(stranger.name[0])
    hq = client.get(f"/api/v1/prm/sessions/{sid}/attendance", headers=bearer(api_token_for("hq@example.com")))
    assert stranger.name in {x["name"] for x in hq.get_json()["items"]}
