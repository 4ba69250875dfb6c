"""/api/v1/campaigns end to end with bearer tokens: draft, edit, preview, four-eyes approval,
schedule, the system's start, pause / resume / cancel, results; errors as JSON with field names,
404 outside the caller's scope, never a 500."""

from __future__ import annotations

from portal.toolkit import db
from tests.conftest import api_token_for, bearer
from tests.plugins.cem_channels.campaign_fixtures import (
    branch_customer_ids,
    campaign_data,
    grant_marketing,
    make_message_set,
    noon_kst,
)

API = "/api/v1/campaigns"


def _tokens() -> dict[str, dict[str, str]]:
    return {who: bearer(api_token_for(f"{who}@example.com")) for who in ("hq", "reviewer", "store1", "store2")}


def test_campaign_life_through_the_api(app):
    from portal.toolkit import system_transition

    client = app.test_client()
    t = _tokens()
    ids = branch_customer_ids("B001")
    grant_marketing(ids)
    ms = make_message_set()

    resp = client.post(API, json=campaign_data(ms), headers=t["store1"])
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    cid = body["id"]
    assert body["state"] == "draft" and resp.headers["Location"].endswith(f"/{cid}")
    assert body["counts"]["messages"]["total"] == 0

    resp = client.patch(f"{API}/{cid}", json={"name": "6월 비타민 문자 (수정)", "cap_per_day": 1}, headers=t["store1"])
    assert resp.status_code == 200 and resp.get_json()["caps"]["per_day"] == 1

    preview = client.get(f"{API}/{cid}/audience", headers=t["store1"]).get_json()
    assert preview["matched"] == len(ids) and 0 < preview["eligible"] <= len(ids)
    assert set(preview["arms"]) == {"global_control", "holdout", "treatment"}

    listing = client.get(f"{API}?state=draft&q=비타민", headers=t["store1"]).get_json()
    assert [c["id"] for c in listing["items"]] == [cid] and listing["total"] == 1
    assert client.get(API, headers=t["store2"]).get_json()["total"] == 0

    assert client.post(f"{API}/{cid}/submit", headers=t["store1"]).get_json()["state"] == "pending_approval"
    revision = client.get(f"{API}/{cid}", headers=t["reviewer"]).get_json()["revision"]
    resp = client.post(f"{API}/{cid}/approve", json={"revision": revision, "comment": "좋습니다"}, headers=t["reviewer"])
    assert resp.status_code == 200 and resp.get_json()["state"] == "approved"

    start = noon_kst(1).isoformat() + "Z"
    resp = client.post(f"{API}/{cid}/schedule", json={"start_at": start}, headers=t["store1"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "scheduled" and resp.get_json()["start_at"] == start

    from plugins.cem_channels.campaign_models import CemCampaign

    system_transition(db.session.get(CemCampaign, cid), "start")  # what the tick job does
    db.session.commit()
    assert client.post(f"{API}/{cid}/pause", headers=t["store1"]).get_json()["counts"]["messages"]["paused"] is True
    assert client.post(f"{API}/{cid}/resume", json={}, headers=t["store1"]).get_json()["state"] == "sending"
    resp = client.get(f"{API}/{cid}/results", headers=t["store1"])
    assert resp.status_code == 200 and resp.get_json()["campaign_id"] == cid
    resp = client.post(f"{API}/{cid}/cancel", json={"comment": "행사 취소"}, headers=t["store1"])
    assert resp.get_json()["state"] == "cancelled"


def test_errors_name_fields_and_write_nothing(app):
    from plugins.cem_channels.campaign_models import CemCampaign

    client = app.test_client()
    t = _tokens()
    ms = make_message_set()
    resp = client.post(API, json=campaign_data(ms, steps=[{"channel": "fax", "message_set_id": ms.id}],
                                               cap_per_day=0, admin=True), headers=t["hq"])
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "validation_failed" and {"steps[0].channel", "cap_per_day", "admin"} <= set(body["fields"])
    for bad in (b"not json", b"[1, 2]", b'"text"'):
        resp = client.post(API, data=bad, content_type="application/json", headers=t["hq"])
        assert resp.status_code == 422 and resp.get_json()["error"] == "validation_failed"
    assert db.session.scalar(db.select(db.func.count()).select_from(CemCampaign)) == 0
    assert client.post(API, json=campaign_data(ms)).status_code == 401  # no token


def test_scope_four_eyes_and_states(app):
    client = app.test_client()
    t = _tokens()
    grant_marketing(branch_customer_ids("B001"))
    ms = make_message_set()
    cid = client.post(API, json=campaign_data(ms), headers=t["store1"]).get_json()["id"]
    hq_cid = client.post(API, json=campaign_data(ms), headers=t["hq"]).get_json()["id"]

    # another branch: 404 on every route, as for a campaign that does not exist
    for method, path in (("get", ""), ("patch", ""), ("get", "/audience"), ("get", "/results"), ("post", "/cancel")):
        resp = getattr(client, method)(f"{API}/{cid}{path}", json={}, headers=t["store2"])
        assert resp.status_code == 404 and resp.get_json()["error"] == "not_found", (method, path)
    for ident in ("0", "abc", "99999999999", "-1"):
        assert client.get(f"{API}/{ident}", headers=t["hq"]).status_code == 404

    # wrong state: 409 with the reason
    resp = client.post(f"{API}/{cid}/pause", headers=t["store1"])
    assert resp.status_code == 409 and resp.get_json()["error"] == "conflict" and "state" in resp.get_json()["fields"]
    assert client.post(f"{API}/{cid}/launch", headers=t["store1"]).status_code == 404
    assert client.post(f"{API}/{cid}/submit", json={"force": True}, headers=t["store1"]).status_code == 422

    # four-eyes: the author cannot approve their own campaign
    client.post(f"{API}/{hq_cid}/submit", headers=t["hq"])
    revision = client.get(f"{API}/{hq_cid}", headers=t["hq"]).get_json()["revision"]
    resp = client.post(f"{API}/{hq_cid}/approve", json={"revision": revision}, headers=t["hq"])
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
    assert client.post(f"{API}/{hq_cid}/approve", json={}, headers=t["reviewer"]).status_code == 422
    assert client.post(f"{API}/{hq_cid}/approve", json={"revision": "0" * 64}, headers=t["reviewer"]).status_code == 409
    # branch staff hold no approval permission
    resp = client.post(f"{API}/{cid}/approve", json={"revision": revision}, headers=t["store1"])
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden" and resp.get_json()["fields"] == {}
    assert client.post(f"{API}/{hq_cid}/approve", json={"revision": revision}, headers=t["reviewer"]).status_code == 200

    # scheduling refusals (CE-2, CE-29)
    app.config["PORTAL_OPTOUT_080"] = None
    resp = client.post(f"{API}/{hq_cid}/schedule", json={"start_at": noon_kst(1).isoformat() + "Z"}, headers=t["hq"])
    assert resp.status_code == 422 and resp.get_json()["message"] == "080 opt-out number not configured"
    app.config["PORTAL_OPTOUT_080"] = "080-123-4567"
    resp = client.post(f"{API}/{hq_cid}/schedule", json={"start_at": "2020-01-01T00:00:00Z"}, headers=t["hq"])
    assert resp.status_code == 422 and "start_at" in resp.get_json()["fields"]
    for bad in (12, "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00", "2026-13-01T00:00:00", "x" * 500):
        resp = client.post(f"{API}/{hq_cid}/schedule", json={"start_at": bad}, headers=t["hq"])
        assert resp.status_code == 422 and "start_at" in resp.get_json()["fields"], bad


def test_no_recipients_is_409(app):
    client = app.test_client()
    t = _tokens()
    ms = make_message_set()
    # B002's customers: outside store1's scope, so nobody (CE-26, CE-29)
    cid = client.post(API, json=campaign_data(ms, rules={"all": [{"field": "branch", "op": "in", "value": ["B002"]}]}),
                      headers=t["store1"]).get_json()["id"]
    assert client.get(f"{API}/{cid}/audience", headers=t["store1"]).get_json()["matched"] == 0
    client.post(f"{API}/{cid}/submit", headers=t["store1"])
    revision = client.get(f"{API}/{cid}", headers=t["reviewer"]).get_json()["revision"]
    assert client.post(f"{API}/{cid}/approve", json={"revision": revision}, headers=t["reviewer"]).status_code == 200
    resp = client.post(f"{API}/{cid}/schedule", json={"start_at": noon_kst(1).isoformat() + "Z"}, headers=t["store1"])
    assert resp.status_code == 409 and resp.get_json()["message"] == "no recipients"


def test_list_parameters_are_checked(app):
    client = app.test_client()
    t = _tokens()
    assert client.get(f"{API}?state=lost", headers=t["hq"]).status_code == 422
    assert client.get(f"{API}?sort=random", headers=t["hq"]).status_code == 422
    assert client.get(f"{API}?page=x", headers=t["hq"]).status_code == 400
    ms = make_message_set()
    for i in range(3):
        client.post(API, json=campaign_data(ms, name=f"캠페인 {i}"), headers=t["hq"])
    page = client.get(f"{API}?per_page=2&sort=name", headers=t["hq"]).get_json()
    assert [c["name"] for c in page["items"]] == ["캠페인 0", "캠페인 1"] and page["total"] == 3 and "next" in page
    assert client.get(page["next"], headers=t["hq"]).get_json()["items"][0]["name"] == "캠페인 2"
