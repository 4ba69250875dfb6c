"""Attacks on the campaign features (issue 15, review H9): each test is a defect found by a real
request through the test client, kept so it stays fixed."""

from __future__ import annotations

from portal.toolkit import db
from tests.conftest import api_token_for, bearer
from tests.plugins.cem_channels.campaign_fixtures import (
    branch_customer_ids,
    campaign_data,
    grant_marketing,
    make_message_set,
    noon_kst,
    users,
)

API = "/api/v1/campaigns"
SETS = "/api/v1/message-sets"


def _tokens() -> dict[str, dict[str, str]]:
    return {w: bearer(api_token_for(f"{w}@example.com")) for w in ("hq", "reviewer", "store1", "store2")}


def test_editing_an_approved_campaigns_message_set_withdraws_the_approval(app):
    """Four-eyes bypass: the author changes the text of the message set an approved (scheduled)
    campaign sends; the campaign must go back to approval, not send the unapproved text."""
    client = app.test_client()
    t = _tokens()
    grant_marketing(branch_customer_ids("B001"))
    u = users()
    ms = make_message_set(owner=u.store1)
    cid = client.post(API, json=campaign_data(ms), headers=t["store1"]).get_json()["id"]
    assert client.post(f"{API}/{cid}/submit", headers=t["store1"]).status_code == 200
    revision = client.get(f"{API}/{cid}", headers=t["reviewer"]).get_json()["revision"]
    assert client.post(f"{API}/{cid}/approve", json={"revision": revision}, headers=t["reviewer"]).status_code == 200
    resp = client.post(f"{API}/{cid}/schedule", json={"start_at": noon_kst(1).isoformat() + "Z"},
                       headers=t["store1"])
    assert resp.status_code == 200 and resp.get_json()["state"] == "scheduled"

    current = client.get(f"{SETS}/{ms.id}", headers=t["store1"]).get_json()
    resp = client.patch(f"{SETS}/{ms.id}", json={"name": current["name"] + " 변경"}, headers=t["store1"])
    assert resp.status_code == 200, resp.get_json()
    body = client.get(f"{API}/{cid}", headers=t["store1"]).get_json()
    assert body["state"] == "pending_approval", body["state"]


def test_a_message_set_a_campaign_is_sending_cannot_change(app):
    """Later steps render from the set when they are queued: changing it while the campaign sends
    would send text nobody approved (409, nothing written)."""
    from plugins.cem_channels.campaign_models import CemCampaign
    from plugins.cem_channels.voice_models import CemMessageSet
    from portal.toolkit import system_transition

    client = app.test_client()
    t = _tokens()
    grant_marketing(branch_customer_ids("B001"))
    u = users()
    ms = make_message_set(owner=u.store1)
    cid = client.post(API, json=campaign_data(ms), headers=t["store1"]).get_json()["id"]
    client.post(f"{API}/{cid}/submit", headers=t["store1"])
    revision = client.get(f"{API}/{cid}", headers=t["reviewer"]).get_json()["revision"]
    client.post(f"{API}/{cid}/approve", json={"revision": revision}, headers=t["reviewer"])
    client.post(f"{API}/{cid}/schedule", json={"start_at": noon_kst(1).isoformat() + "Z"}, headers=t["store1"])
    system_transition(db.session.get(CemCampaign, cid), "start")
    db.session.commit()
    name = ms.name
    resp = client.patch(f"{SETS}/{ms.id}", json={"name": name + " 변경"}, headers=t["store1"])
    assert resp.status_code == 409 and resp.get_json()["error"] == "conflict", resp.get_json()
    db.session.expire_all()
    assert db.session.get(CemMessageSet, ms.id).name == name
    assert client.get(f"{API}/{cid}", headers=t["store1"]).get_json()["state"] == "sending"


def test_a_delivery_report_time_off_the_calendar_is_a_bad_row_not_a_503(app):
    """``0001-01-01T00:00:00+14:00`` overflowed converting to UTC: the whole request answered 503
    and the provider would retry it for ever; it is one rejected row."""
    app.config["PORTAL_CEM_PROVIDER_KEY"] = "k3y"
    client = app.test_client()
    for at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        resp = client.post("/c/delivery-reports", json=[{"provider_id": "x", "status": "delivered", "at": at}],
                           headers={"Authorization": "Bearer k3y"})
        assert resp.status_code == 200, resp.get_json()
        errors = resp.get_json()["errors"]
        assert [e["index"] for e in errors] == [0] and list(errors[0]["errors"]) == ["at"], errors


def test_composer_with_a_huge_message_set_id_is_a_422_not_a_500(app):
    """The composer re-rendered after a refusal looked step 1's set up with the raw number:
    ``99999999999999999999`` overflowed the database driver (500)."""
    from plugins.cem_channels.campaign_models import CemCampaign
    from tests.conftest import csrf_token, login
    from tests.plugins.cem_channels.test_pages_campaigns import _composer_form

    ms = make_message_set()
    client = app.test_client()
    login(client, "store1@example.com")
    token = csrf_token(client, "/campaigns/new")
    for bad in ("99999999999999999999", "9223372036854775808", "-5", "0"):
        resp = client.post("/campaigns/new", data={**_composer_form(ms.id), "steps-0-message_set_id": bad,
                                                   "csrf_token": token})
        assert resp.status_code == 422, (bad, resp.status_code)
    assert db.session.scalar(db.select(db.func.count()).select_from(CemCampaign)) == 0


def test_an_approver_who_changed_the_content_cannot_approve_it(app):
    """Four-eyes bypass: HQ (compose and approve) edited store1's campaign waiting for approval
    and approved its own text (200). Whoever changed the content is an author too (403); an
    approver who changed nothing still approves."""
    client = app.test_client()
    t = _tokens()
    grant_marketing(branch_customer_ids("B001"))
    ms = make_message_set()
    cid = client.post(API, json=campaign_data(ms), headers=t["store1"]).get_json()["id"]
    assert client.post(f"{API}/{cid}/submit", headers=t["store1"]).status_code == 200
    resp = client.patch(f"{API}/{cid}", json={"holdout_share": 0.5}, headers=t["hq"])
    assert resp.status_code == 200 and resp.get_json()["state"] == "pending_approval"
    revision = client.get(f"{API}/{cid}", headers=t["hq"]).get_json()["revision"]
    resp = client.post(f"{API}/{cid}/approve", json={"revision": revision}, headers=t["hq"])
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden", resp.get_json()
    assert client.get(f"{API}/{cid}", headers=t["hq"]).get_json()["state"] == "pending_approval"
    resp = client.post(f"{API}/{cid}/approve", json={"revision": revision}, headers=t["reviewer"])
    assert resp.status_code == 200 and resp.get_json()["state"] == "approved"
