"""``/api/v1/monitor/branches``: scope (BM-10: an R01 HQ gets 404 for an R02 branch, Branch Staff
their own scorecard with percentile bands), BM-6 (``change`` null, never Infinity), 422 at the
field for bad input, paging, bearer tokens only."""

from __future__ import annotations

import json

import pytest

from tests.plugins.branch_monitor.monitor_fixtures import (
    BRANCHES,
    R01,
    R01_LOCAL,
    put_alert,
    put_state,
    r01_hq,
    seed_kpis,
    token_headers,
)

URL = "/api/v1/monitor/branches"


@pytest.fixture
def api(app):
    with app.app_context():
        seed_kpis()
        put_state("B004", "at_risk_contact_rate", "alarm")
        put_alert("B004", "at_risk_contact_rate", "alarm")
        r01_hq()
        headers = {e: token_headers(e) for e in ("hq@example.com", R01_LOCAL, "store1@example.com",
                                                 "ibo1@example.com")}
    client = app.test_client()

    def get(url: str, who: str = "hq@example.com"):
        return client.get(url, headers=headers[who])

    return get


def test_list_for_hq_with_kpis_care_index_and_state(api):
    resp = api(f"{URL}?month=2026-03")
    body = resp.get_json()
    assert resp.status_code == 200 and body["total"] == 12 and body["month"] == "2026-03"
    assert [i["code"] for i in body["items"]][:2] == ["B004", "B001"]
    b004 = body["items"][0]
    assert b004["state"] == "alarm" and b004["open_alerts"] == 1 and b004["care_index"] == 53.0
    assert b004["kpis"]["at_risk_contact_rate"]["numerator"] == 12 and b004["kpis"]["at_risk_contact_rate"]["denominator"] == 50
    assert b004["region"] == {"code": "R01", "name": "수도권 지역본부"}


def test_bm6_change_from_zero_is_null(api):
    resp = api(f"{URL}?month=2026-03&q=B00")
    raw = resp.get_data(as_text=True)
    assert "Infinity" not in raw and "NaN" not in raw
    items = {i["code"]: i for i in json.loads(raw)["items"]}
    assert items["B001"]["kpis"]["sales"] == {"value": 1200000.0, "previous": 0.0, "change": None, "numerator": None,
                                              "denominator": None, "detail": None}
    assert items["B002"]["kpis"]["sales"]["change"] == pytest.approx(0.2)
    card = api(f"{URL}/B001?month=2026-03").get_json()
    assert card["kpis"]["sales"]["change"] is None and card["kpis"]["sales"]["value"] == 1200000.0


def test_paging_region_and_filters(api):
    body = api(f"{URL}?month=2026-03&per_page=5&page=2").get_json()
    assert [i["code"] for i in body["items"]] == ["B006", "B007", "B008", "B009", "B010"]
    assert "page=3" in body["next"] and "month=2026-03" in body["next"]
    assert [i["code"] for i in api(f"{URL}?month=2026-03&region=R03").get_json()["items"]] == [
        "B009", "B010", "B011", "B012"]
    assert [i["code"] for i in api(f"{URL}?month=2026-03&state=alarm").get_json()["items"]] == ["B004"]
    assert [i["code"] for i in api(f"{URL}?month=2026-03&sort=-code&per_page=2").get_json()["items"]] == [
        "B012", "B011"]


def test_bad_input_is_422_at_its_field(api):
    for query, field in (("month=2026-13", "month"), ("month=26-03", "month"), ("month=2026-03&sort=sales", "sort"),
                         ("month=2026-03&state=red", "state"), ("month=2026-03&q=" + "x" * 61, "q"),
                         ("month=2026-03&page=0", "page"), ("month=2026-03&page=abc", "page")):
        resp = api(f"{URL}?{query}")
        body = resp.get_json()
        assert resp.status_code == 422 and field in body["errors"] and body["fields"] == body["errors"], query
    resp = api(f"{URL}/B001?month=2026-02-30")
    assert resp.status_code == 422 and "month" in resp.get_json()["errors"]


def test_bm10_region_hq_gets_its_region_and_404_elsewhere(api):
    body = api(f"{URL}?month=2026-03", R01_LOCAL).get_json()
    assert sorted(i["code"] for i in body["items"]) == list(R01) and body["total"] == 4
    assert api(f"{URL}/B005?month=2026-03", R01_LOCAL).status_code == 404  # BM-10
    assert api(f"{URL}/B999?month=2026-03", R01_LOCAL).status_code == 404
    assert api(f"{URL}?month=2026-03&region=R02", R01_LOCAL).status_code == 404
    assert api(f"{URL}/B002?month=2026-03", R01_LOCAL).get_json()["code"] == "B002"


def test_bm10_branch_staff_get_their_own_scorecard_with_bands(api):
    assert api(f"{URL}?month=2026-03", "store1@example.com").status_code == 403
    assert api(f"{URL}/B002?month=2026-03", "store1@example.com").status_code == 404
    resp = api(f"{URL}/B001?month=2026-03", "store1@example.com")
    raw = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert not [c for c, n in BRANCHES.items() if c != "B001" and (c in raw or n in raw)]
    card = json.loads(raw)
    bands = card["kpis"]["care_index"]["percentile_bands"]
    assert bands == {"n": 12, "p10": pytest.approx(51.1), "p25": pytest.approx(52.75), "p50": pytest.approx(55.5),
                     "p75": pytest.approx(58.25), "p90": pytest.approx(59.9), "value": 50.0, "percentile": 4.2}
    # HQ's scorecard has no bands (it may compare branches by name)
    assert "percentile_bands" not in api(f"{URL}/B001?month=2026-03").get_json()["kpis"]["care_index"]


def test_scorecard_document(api):
    card = api(f"{URL}/B004?month=2026-03").get_json()
    assert card["code"] == "B004" and card["state"] == "alarm" and card["month"] == "2026-03"
    assert [a["to_state"] for a in card["open_alerts"]] == ["alarm"]
    rate = card["kpis"]["at_risk_contact_rate"]
    assert rate["value"] == 0.24 and len(rate["trend"]) == 12 and rate["trend"][-1] == {"month": "2026-03", "value": 0.24}
    assert rate["funnel"]["n"] == 50 and rate["funnel"]["state"] in ("alert", "alarm")
    assert card["baseline"]["status"] in ("ok", "alert", "alarm", "insufficient")


def test_permissions_and_tokens(api, app):
    assert api(f"{URL}?month=2026-03", "ibo1@example.com").status_code == 403
    assert api(f"{URL}/B001?month=2026-03", "ibo1@example.com").status_code == 403
    anon = app.test_client().get(f"{URL}?month=2026-03")
    assert anon.status_code == 401 and anon.get_json()["error"] == "unauthorized"
