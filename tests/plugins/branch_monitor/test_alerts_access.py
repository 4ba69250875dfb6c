"""Alerts through the pages and the API: scope (an R01-local HQ never sees or acknowledges an R02
alert: 404), acknowledgement with a note (422 for a bad one, 409 the second time), subscriptions."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import api_token_for, bearer, csrf_token, login
from tests.plugins.branch_monitor.alerts_fixtures import METRIC, hq_local, unit

DAY = date(2031, 5, 12)


def make_alert(code: str, to_state: str = "alarm") -> int:
    from plugins.branch_monitor.models import MonAlert
    from portal.toolkit import db

    a = MonAlert(branch_id=unit(code).id, metric=METRIC, day=DAY, from_state="ok", to_state=to_state, value=0.1,
                 detail={"numerator": 5, "denominator": 50, "company_rate": 0.4})
    db.session.add(a)
    db.session.commit()
    return a.id


@pytest.fixture
def world(app):
    with app.app_context():
        hq_local("R01")
        yield {"b001": make_alert("B001"), "b005": make_alert("B005"), "rec": make_alert("B002", "ok"),
               "local": bearer(api_token_for("hq-r01@example.com")), "hq": bearer(api_token_for("hq@example.com")),
               "store": bearer(api_token_for("store1@example.com"))}


def test_api_lists_only_alerts_in_scope(app, world):
    client = app.test_client()
    resp = client.get("/api/v1/monitor/alerts?state=open", headers=world["local"])
    assert resp.status_code == 200
    ids = {a["id"] for a in resp.json["items"]}
    assert world["b001"] in ids and world["b005"] not in ids and world["rec"] not in ids  # a recovery is not open
    every = {a["id"] for a in client.get("/api/v1/monitor/alerts?state=all", headers=world["hq"]).json["items"]}
    assert {world["b001"], world["b005"], world["rec"]} <= every
    assert client.get("/api/v1/monitor/alerts", headers=world["store"]).status_code == 403
    bad = client.get("/api/v1/monitor/alerts?state=closed&metric=nope", headers=world["hq"])
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"state", "metric"}
    assert client.get("/api/v1/monitor/alerts").status_code == 401


def test_api_ack_scope_note_and_twice(app, world):
    client = app.test_client()
    url = f"/api/v1/monitor/alerts/{world['b005']}/ack"
    # R01-local HQ: an R02 alert is a 404, the same as a missing one
    out = client.post(url, json={"note": "확인"}, headers=world["local"])
    assert out.status_code == 404 and out.json["error"] == "not_found"
    assert client.post("/api/v1/monitor/alerts/99999999/ack", json={"note": "x"}, headers=world["local"]).status_code == 404
    assert client.post("/api/v1/monitor/alerts/abc/ack", json={"note": "x"}, headers=world["local"]).status_code == 404
    own = f"/api/v1/monitor/alerts/{world['b001']}/ack"
    for body, field in (({"note": ""}, "note"), ({"note": "   "}, "note"), ({"note": "x" * 501}, "note"),
                        ({}, "note"), ({"note": 5}, "note"), ({"note": "a\u0000b"}, "note")):
        resp = client.post(own, json=body, headers=world["local"])
        assert resp.status_code == 422 and field in resp.json["errors"], (body, resp.json)
    assert client.post(own, data="nope", headers=world["local"]).status_code == 422
    ok = client.post(own, json={"note": "지점장과 통화: 다음 주 연락 재개"}, headers=world["local"])
    assert ok.status_code == 200 and ok.json["acknowledged"] is True and ok.json["ack_note"].startswith("지점장")
    again = client.post(own, json={"note": "다시"}, headers=world["hq"])
    assert again.status_code == 409 and again.json["error"] == "conflict"
    assert client.post(own, json={"note": "x"}, headers=world["store"]).status_code == 403
    with app.app_context():
        from plugins.branch_monitor.models import MonAlert
        from portal.toolkit import db

        assert db.session.get(MonAlert, world["b001"]).ack_note == "지점장과 통화: 다음 주 연락 재개"
        assert db.session.get(MonAlert, world["b005"]).ack_at is None


def test_api_subscriptions_crud_and_scope(app, world):
    client = app.test_client()
    base = "/api/v1/monitor/alerts/subscriptions"
    made = client.post(base, json={"org_unit": "R01", "metric": METRIC, "immediate": True, "digest": False},
                       headers=world["local"])
    assert made.status_code == 201 and made.json["org_unit"] == "R01" and made.json["digest"] is False
    same = client.post(base, json={"org_unit": "R01", "metric": METRIC, "digest": True}, headers=world["local"])
    assert same.status_code == 200 and same.json["id"] == made.json["id"] and same.json["digest"] is True
    # R02 and its branches are outside the R01-local HQ's scope: the same 422 as an unknown code
    for code in ("R02", "B005", "NOPE"):
        resp = client.post(base, json={"org_unit": code}, headers=world["local"])
        assert resp.status_code == 422 and "org_unit" in resp.json["errors"]
    bad = client.post(base, json={"metric": "sales", "immediate": "maybe"}, headers=world["local"])
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"metric", "immediate"}
    none = client.post(base, json={"immediate": False, "digest": False}, headers=world["local"])
    assert none.status_code == 422
    listed = client.get(base, headers=world["local"]).json["items"]
    assert [s["id"] for s in listed] == [made.json["id"]]
    assert client.get(base, headers=world["hq"]).json["items"] == []
    # someone else's subscription is a 404
    assert client.delete(f"{base}/{made.json['id']}", headers=world["hq"]).status_code == 404
    assert client.delete(f"{base}/{made.json['id']}", headers=world["local"]).status_code == 204
    assert client.delete(f"{base}/{made.json['id']}", headers=world["local"]).status_code == 404


def _client(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def test_pages_list_and_ack_from_another_page(app, world):
    local = _client(app, "hq-r01@example.com")
    page = local.get("/monitor/alerts/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="bm-alert-row"' in html
    assert "B001" in html and "B005" not in html and 'data-testid="ack-form"' in html
    assert 'style="' not in html
    assert "50명 중 5명, 전사 40.0 %" in html  # what the value was judged against
    assert local.get("/monitor/alerts/?state=bogus").status_code == 422
    token = csrf_token(local, "/monitor/alerts/")
    # out of scope: 404, nothing written
    assert local.post(f"/monitor/alerts/{world['b005']}/ack",
                      data={"note": "x", "csrf_token": token}).status_code == 404
    # acknowledged from the scorecard: back to it; an off-site next falls back to the list
    back = local.post(f"/monitor/alerts/{world['b001']}/ack",
                      data={"note": "확인했습니다", "next": "/monitor/branches/B001?month=2031-05", "csrf_token": token})
    assert back.status_code == 303 and back.headers["Location"].endswith("/monitor/branches/B001?month=2031-05")
    twice = local.post(f"/monitor/alerts/{world['b001']}/ack",
                       data={"note": "again", "next": "https://evil.example/", "csrf_token": token})
    assert twice.status_code == 303 and twice.headers["Location"].endswith("/monitor/alerts/")
    acked = local.get("/monitor/alerts/?state=acknowledged").get_data(as_text=True)
    assert "확인했습니다" in acked
    store = _client(app, "store1@example.com")
    assert store.get("/monitor/alerts/").status_code == 403


def test_subscription_pages(app, world):
    local = _client(app, "hq-r01@example.com")
    page = local.get("/monitor/alerts/subscriptions")
    assert page.status_code == 200 and 'data-testid="bm-subscribe-form"' in page.get_data(as_text=True)
    token = csrf_token(local, "/monitor/alerts/subscriptions")
    made = local.post("/monitor/alerts/subscriptions", data={"org_unit": "B001", "metric": METRIC,
                                                             "immediate": "1", "csrf_token": token})
    assert made.status_code == 303
    assert local.post("/monitor/alerts/subscriptions", data={"org_unit": "B005", "immediate": "1",
                                                             "csrf_token": token}).status_code == 422
    html = local.get("/monitor/alerts/subscriptions").get_data(as_text=True)
    assert 'data-testid="bm-subscription-row"' in html and "B001" in html
    with app.app_context():
        from sqlalchemy import select

        from plugins.branch_monitor.models import MonSubscription
        from portal.toolkit import db

        sid = db.session.scalar(select(MonSubscription.id))
    hq = _client(app, "hq@example.com")
    assert hq.post(f"/monitor/alerts/subscriptions/{sid}/delete",
                   data={"csrf_token": csrf_token(hq, "/monitor/alerts/subscriptions")}).status_code == 404
    assert local.post(f"/monitor/alerts/subscriptions/{sid}/delete", data={"csrf_token": token}).status_code == 303
