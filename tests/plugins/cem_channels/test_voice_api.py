"""The message-set API (H4a), ``/api/v1/message-sets``: bearer tokens; list / create / read /
PATCH / DELETE and the preview; 422 naming the fields (with the render and lint problems, CE-21,
CE-31), 404 outside the scope, 403 on HQ's shared set for branch staff, 409 when a campaign uses
the set; nothing is written by a refused request."""

from __future__ import annotations

import pytest

from tests.conftest import api_token_for, bearer, scalar
from tests.plugins.cem_channels.voice_fixtures import MASTER, RENDITIONS, make_set, unit_id

URL = "/api/v1/message-sets"


@pytest.fixture
def api(unconfigured_app):
    client = unconfigured_app.test_client()
    client.hq = bearer(api_token_for("hq@example.com"))
    client.store = bearer(api_token_for("store1@example.com"))
    return client


def _body(**overrides):
    return {"name": "API 세트", "category": "건강식품", "master": dict(MASTER), "renditions": RENDITIONS, **overrides}


def test_needs_a_bearer_token_and_the_permission(api):
    assert api.get(URL).status_code == 401
    assert api.get(URL, headers=bearer(api_token_for("reviewer@example.com"))).status_code == 403


def test_crud(api):
    resp = api.post(URL, json=_body(), headers=api.store)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["org_unit_id"] == unit_id("B001") and created["editable"] is True
    assert created["master"]["price"] == 39000 and set(created["renditions"]) == {"email", "sms", "kakao"}
    sid = created["id"]
    listed = api.get(URL, headers=api.store).get_json()
    assert [i["id"] for i in listed["items"]] == [sid] and listed["total"] == 1
    assert api.get(f"{URL}?q=없는이름", headers=api.store).get_json()["items"] == []
    one = api.get(f"{URL}/{sid}", headers=api.store).get_json()
    assert one["approvable"] is True and one["used_by"] == 0
    patched = api.patch(f"{URL}/{sid}", json={"master": {**MASTER, "price": 37000}}, headers=api.store)
    assert patched.status_code == 200 and patched.get_json()["master"]["price"] == 37000
    assert patched.get_json()["revision"] != created["revision"]
    assert patched.get_json()["name"] == "API 세트"  # a missing field keeps its value
    assert api.delete(f"{URL}/{sid}", headers=api.store).status_code == 204
    assert api.get(f"{URL}/{sid}", headers=api.store).status_code == 404
    assert scalar("SELECT COUNT(*) FROM audit_event WHERE action LIKE 'cem.message_set_%'") == 3


def test_validation_names_the_fields_and_writes_nothing(api):
    resp = api.post(URL, json={"name": "", "master": {"price": "abc", "colour": "red"},
                               "renditions": {"fax": {"body": "x"}, "email": {"body": "x"}}, "owner": 1},
                    headers=api.hq)
    assert resp.status_code == 422
    fields = resp.get_json()["fields"]
    assert {"name", "master.colour", "renditions.fax", "renditions.email.subject", "owner"} <= set(fields)
    assert api.post(URL, data="not json", headers=api.hq).status_code == 422
    assert api.post(URL, json=[1], headers=api.hq).status_code == 422
    # CE-21 and CE-31: the problems name rendition, field and line
    resp = api.post(URL, json=_body(renditions={"sms": {"body": "{{ ''.__class__.__mro__ }}"},
                                                "kakao": {"body": "a\n{{ custmer.name }}"},
                                                "push": {"body": "단 ₩35,000"}}), headers=api.hq)
    assert resp.status_code == 422
    body = resp.get_json()
    assert {"renditions.sms.body", "renditions.kakao.body", "renditions.push.body"} <= set(body["fields"])
    codes = {(p["rendition"], p["code"], p["line"]) for p in body["problems"]}
    assert ("sms", "render_security", 1) in codes and ("kakao", "render_undefined", 2) in codes
    assert ("push", "price_differs", 1) in codes
    resp = api.post(URL, json=_body(master={**MASTER, "valid_from": "2026-07-01"}), headers=api.hq)
    assert resp.status_code == 422 and "master.valid_until" in resp.get_json()["fields"]
    for price in (10**30, "9" * 40, -5, True, 1.5):
        resp = api.post(URL, json=_body(master={**MASTER, "price": price}), headers=api.hq)
        assert resp.status_code == 422 and "master.price" in resp.get_json()["fields"], price
    assert api.post(URL, json=_body(renditions=[]), headers=api.hq).status_code == 422
    assert scalar("SELECT COUNT(*) FROM cem_message_set") == 0


def test_scope(api):
    other = make_set("다른 지점", place="unit:B002")
    shared = make_set("본사 공용")
    assert api.get(f"{URL}/{other}", headers=api.store).status_code == 404
    assert api.patch(f"{URL}/{other}", json={"name": "x"}, headers=api.store).status_code == 404
    assert api.delete(f"{URL}/{other}", headers=api.store).status_code == 404
    assert api.post(f"{URL}/{other}/preview", json={}, headers=api.store).status_code == 404
    assert api.get(f"{URL}/abc", headers=api.store).status_code == 404
    assert api.get(f"{URL}/{shared}", headers=api.store).get_json()["editable"] is False
    assert api.patch(f"{URL}/{shared}", json={"name": "x"}, headers=api.store).status_code == 403
    assert api.delete(f"{URL}/{shared}", headers=api.store).status_code == 403
    assert [i["name"] for i in api.get(URL, headers=api.store).get_json()["items"]] == ["본사 공용"]
    assert len(api.get(URL, headers=api.hq).get_json()["items"]) == 2
    # HQ may not place a set in a branch it does not choose from; store staff cannot pick HQ
    resp = api.post(URL, json=_body(place="hq"), headers=api.store)
    assert resp.status_code == 422 and "place" in resp.get_json()["fields"]


def test_preview(api):
    body = "{{ customer.name }}님, 건강식품 세미나(6/12 19시 강남점)에 초대합니다."
    sid = make_set(master={**MASTER, "valid_from": "2026-06-12", "valid_until": "2026-06-12"},
                   renditions={"sms": {"body": body}, "kakao": {"body": "{{ offer }} 😀"}})
    resp = api.post(f"{URL}/{sid}/preview", json={}, headers=api.hq)
    assert resp.status_code == 200
    out = {r["channel"]: r for r in resp.get_json()["renditions"]}
    assert out["sms"]["sms_class"] == "lms" and out["sms"]["size"] == 100
    assert out["sms"]["body"].startswith("(광고)파트너포털") and out["sms"]["body"].endswith("무료수신거부 080-123-4567")
    assert out["kakao"]["problems"] == [] and "😀" in out["kakao"]["body"]
    service = api.post(f"{URL}/{sid}/preview", json={"purpose": "service"}, headers=api.hq).get_json()
    assert {r["channel"]: r for r in service["renditions"]}["sms"]["sms_class"] == "sms"
    # CE-1: a malformed label in a marketing SMS is a law problem in the preview
    bad = make_set("라벨", renditions={"sms": {"body": "[광고] {{ offer }}"}})
    sms = api.post(f"{URL}/{bad}/preview", json={}, headers=api.hq).get_json()["renditions"][0]
    assert [p["code"] for p in sms["problems"]] == ["law"] and "정확히 \"(광고)\"" in sms["problems"][0]["message"]
    mine = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001' "
                  "AND c.pseudonymized_at IS NULL ORDER BY c.id")
    theirs = scalar("SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B002' "
                    "ORDER BY c.id")
    name = scalar("SELECT name FROM customer WHERE id = :i", i=mine)
    resp = api.post(f"{URL}/{sid}/preview", json={"customer_id": mine}, headers=api.store)
    assert resp.status_code == 200 and resp.get_json()["customer"]["id"] == mine
    assert name in {r["channel"]: r for r in resp.get_json()["renditions"]}["sms"]["body"]
    assert api.post(f"{URL}/{sid}/preview", json={"customer_id": theirs}, headers=api.store).status_code == 404
    resp = api.post(f"{URL}/{sid}/preview", json={"customer_id": "1", "purpose": "x", "lang": "en"}, headers=api.hq)
    assert resp.status_code == 422 and set(resp.get_json()["fields"]) == {"customer_id", "purpose", "lang"}


def test_banned_term_blocks_approval(api):
    from plugins.cem_channels.voice_models import CemBannedTerm
    from portal.extensions import db

    db.session.add(CemBannedTerm(category="건강식품", term="완치"))
    db.session.commit()
    sid = make_set(renditions={"kakao": {"body": "관절염 완치!"}})
    one = api.get(f"{URL}/{sid}", headers=api.hq).get_json()
    assert one["approvable"] is False
    hit = next(p for p in one["problems"] if p["code"] == "banned_term")
    assert (hit["rendition"], hit["text"], hit["start"], hit["end"]) == ("kakao", "완치", 4, 6)


def test_delete_refused_while_a_campaign_uses_the_set(api):
    from plugins.cem_channels.campaign_models import CemCampaign, CemCampaignVariant
    from portal.extensions import db

    sid = make_set()
    campaign = CemCampaign(name="A/B", purpose="marketing")
    db.session.add(campaign)
    db.session.flush()
    db.session.add(CemCampaignVariant(campaign_id=campaign.id, code="A", message_set_id=sid, is_default=True))
    db.session.commit()
    resp = api.delete(f"{URL}/{sid}", headers=api.hq)
    assert resp.status_code == 409 and resp.get_json()["error"] == "conflict"
    assert scalar("SELECT COUNT(*) FROM cem_message_set") == 1
