"""The check-in JSON API: scan, mark, the rest no-show, the sheet — scoped (404 outside), field
paths on refusals, nothing written on a refusal."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.prm_groups.checkin_fixtures import make_series


def _live_series(**kw):
    """A session that started an hour ago (relative to the real clock: the API uses "now")."""
    from portal.toolkit import utcnow

    now = utcnow()
    return make_series(starts=[now - timedelta(hours=1), now + timedelta(days=7)], **kw)


def test_checkin_api_scan_twice_and_wrong_session(app):
    s = _live_series()
    client = app.test_client()
    h = bearer(api_token_for("hq@example.com"))
    sid, sid2 = s.sessions[0].id, s.sessions[1].id
    token = s.registrations[0][0].checkin_token
    r = client.post(f"/api/v1/prm/sessions/{sid}/checkin", json={"token": token}, headers=h)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["registration"]["attendance"] == "attended" and body["name"] == s.customers[0].name
    again = client.post(f"/api/v1/prm/sessions/{sid}/checkin", json={"token": token}, headers=h)
    assert again.status_code == 409
    assert again.get_json()["reason"] == "already_checked_in"
    assert again.get_json()["message"] == f"Already checked in at {body['time']}."
    wrong = client.post(f"/api/v1/prm/sessions/{sid2}/checkin", json={"token": s.registrations[0][1].checkin_token},
                        headers=h)
    assert wrong.status_code == 422 and wrong.get_json()["reason"] == "wrong_session"
    assert "token" in wrong.get_json()["errors"]
    unknown = client.post(f"/api/v1/prm/sessions/{sid}/checkin", json={"token": "nope-nope-nope"}, headers=h)
    assert unknown.status_code == 422 and unknown.get_json()["message"] == "Unknown ticket."
    extra = client.post(f"/api/v1/prm/sessions/{sid}/checkin", json={"token": token, "attendance": "x"}, headers=h)
    assert extra.status_code == 422 and "attendance" in extra.get_json()["errors"]
    assert client.post(f"/api/v1/prm/sessions/{sid}/checkin", data="[", headers=h).status_code == 422


def test_checkin_api_scope(app):
    """Another group's leader and another branch's staff: 404; a distributor: 403; no token: 401."""
    s = _live_series()
    client = app.test_client()
    sid = s.sessions[0].id
    reg = s.registrations[0][0]
    body = {"token": reg.checkin_token}
    other = make_series(group_code="G02", venue="B002")
    g2 = other.sessions[0].id
    leader = bearer(api_token_for("leader1@example.com"))
    assert client.post(f"/api/v1/prm/sessions/{g2}/checkin", json=body, headers=leader).status_code == 404
    assert client.get(f"/api/v1/prm/sessions/{g2}/attendance", headers=leader).status_code == 404
    store2 = bearer(api_token_for("store2@example.com"))
    assert client.post(f"/api/v1/prm/sessions/{sid}/checkin", json=body, headers=store2).status_code == 404
    assert client.patch(f"/api/v1/prm/registrations/{reg.id}/attendance", json={"attendance": "attended"},
                        headers=store2).status_code == 404
    ibo = bearer(api_token_for("ibo1@example.com"))
    assert client.post(f"/api/v1/prm/sessions/{sid}/checkin", json=body, headers=ibo).status_code == 403
    assert client.post(f"/api/v1/prm/sessions/{sid}/checkin", json=body).status_code == 401
    for bad in ("0", "abc", "99999999999999999999", "-1"):
        assert client.get(f"/api/v1/prm/sessions/{bad}/attendance", headers=leader).status_code == 404
    assert scalar("SELECT count(*) FROM prm_registration WHERE attendance = 'attended'") == 0
    store1 = bearer(api_token_for("store1@example.com"))
    assert client.post(f"/api/v1/prm/sessions/{sid}/checkin", json=body, headers=store1).status_code == 200


def test_attendance_api_mark_rest_and_sheet(app):
    s = _live_series()
    client = app.test_client()
    h = bearer(api_token_for("leader1@example.com"))
    sid = s.sessions[0].id
    reg = s.registrations[0][1]
    r = client.patch(f"/api/v1/prm/registrations/{reg.id}/attendance", json={"attendance": "attended"}, headers=h)
    assert r.status_code == 200 and r.get_json()["changed"] is True
    bad = client.patch(f"/api/v1/prm/registrations/{reg.id}/attendance", json={"attendance": "yes"}, headers=h)
    assert bad.status_code == 422 and "attendance" in bad.get_json()["errors"]
    future = s.registrations[1][0]
    early = client.patch(f"/api/v1/prm/registrations/{future.id}/attendance", json={"attendance": "attended"},
                         headers=h)
    assert early.status_code == 409 and early.get_json()["reason"] == "too_early"
    rest = client.post(f"/api/v1/prm/sessions/{sid}/no-shows", json={}, headers=h)
    assert rest.status_code == 409  # the session is still running
    sheet = client.get(f"/api/v1/prm/sessions/{sid}/attendance", headers=h)
    assert sheet.status_code == 200
    data = sheet.get_json()
    assert data["counts"]["attended"] == 1 and data["counts"]["not_marked"] == 3 and data["counts"]["no_show"] == 0
    assert {i["attendance"] for i in data["items"]} == {"attended", "not_marked"}
    only = client.get(f"/api/v1/prm/sessions/{sid}/attendance?attendance=not_marked", headers=h).get_json()
    assert len(only["items"]) == 3
    assert client.get(f"/api/v1/prm/sessions/{sid}/attendance?attendance=zzz", headers=h).status_code == 422
    name = s.customers[2].name
    found = client.get(f"/api/v1/prm/sessions/{sid}/attendance", query_string={"q": name}, headers=h).get_json()
    assert name in {i["name"] for i in found["items"]}
    assert client.get(f"/api/v1/prm/sessions/{sid}/attendance?q=%25%25", headers=h).get_json()["items"] == []
    assert scalar("SELECT count(*) FROM access_log WHERE object_type = 'prm_session'") >= 2
