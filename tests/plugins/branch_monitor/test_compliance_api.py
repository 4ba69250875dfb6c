"""The compliance, calendar and settings API: BM-11 (422 with field paths, nothing written), scope
(an R01-local HQ gets 404 for an R02 branch and sees only R01 rows), ranges and pagination."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import api_token_for, bearer

from .compliance_fixtures import clear_reports, file_report, kst, r01_hq

FEB = {"from": "2026-02-01", "to": "2026-02-28"}


@pytest.fixture
def hq(app):
    return bearer(api_token_for("hq@example.com"))


@pytest.fixture
def r01(app):
    r01_hq()
    return bearer(api_token_for("hq.r01@example.com"))


# --- BM-11


def test_bm11_deadline_hour_24_is_422_at_its_field(client, hq):
    resp = client.put("/api/v1/monitor/settings", json={"deadline_hour": 24}, headers=hq)
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"deadline_hour"}
    assert client.get("/api/v1/monitor/settings", headers=hq).json["deadline_hour"] == 10


def test_bm11_sigma_0_is_422_at_its_field(client, hq):
    resp = client.put("/api/v1/monitor/settings", json={"baseline_z_alert": 0}, headers=hq)
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"baseline_z_alert"}
    resp = client.put("/api/v1/monitor/settings", json={"baseline_z_alarm": "0"}, headers=hq)
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"baseline_z_alarm"}
    assert client.get("/api/v1/monitor/settings", headers=hq).json["baseline_z_alert"] == 2.0


def test_bm11_calendar_date_2026_02_30_is_422_at_its_path(client, hq):
    body = {"holiday_policy": "open", "overrides": [{"date": "2026-02-30", "open": True}]}
    resp = client.put("/api/v1/monitor/calendar/B001", json=body, headers=hq)
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"overrides[0].date"}
    after = client.get("/api/v1/monitor/calendar/B001?year=2026", headers=hq).json
    assert after["holiday_policy"] == "closed" and after["overrides"] == []  # nothing written


def test_settings_saved_kept_and_ordered(client, hq):
    resp = client.put("/api/v1/monitor/settings", json={"deadline_hour": 18, "baseline_z_alert": 2.5}, headers=hq)
    assert resp.status_code == 200, resp.json
    assert resp.json == {"deadline_days": 1, "deadline_hour": 18, "deadline_minute": 0, "baseline_z_alert": 2.5,
                         "baseline_z_alarm": 3.0}
    resp = client.put("/api/v1/monitor/settings", json={"baseline_z_alarm": 2.0}, headers=hq)
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"baseline_z_alarm"}
    resp = client.put("/api/v1/monitor/settings", json={"deadline": 3, "deadline_days": True}, headers=hq)
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"deadline", "deadline_days"}


def test_settings_need_a_global_manager(client, r01):
    assert client.get("/api/v1/monitor/settings", headers=r01).status_code == 200
    assert client.put("/api/v1/monitor/settings", json={"deadline_hour": 9}, headers=r01).status_code == 403
    store = bearer(api_token_for("store1@example.com"))
    assert client.get("/api/v1/monitor/settings", headers=store).status_code == 403


# --- calendars


def test_calendar_put_and_get(client, hq):
    body = {"open_weekdays": 127, "holiday_policy": "major_closed",
            "overrides": [{"date": "2026-02-17", "open": True, "note": "설 특별 영업"},
                          {"date": "2026-06-03", "open": False}]}
    resp = client.put("/api/v1/monitor/calendar/B002", json=body, headers=hq)
    assert resp.status_code == 200, resp.json
    got = client.get("/api/v1/monitor/calendar/B002?year=2026", headers=hq).json
    assert got["open_days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert got["holiday_policy"] == "major_closed"
    assert got["overrides"] == [{"date": "2026-02-17", "open": True, "note": "설 특별 영업"},
                                {"date": "2026-06-03", "open": False, "note": None}]
    election = next(h for h in got["public_holidays"] if h["date"] == "2026-06-03")
    assert election == {"date": "2026-06-03", "name": "Local Election Day", "seollal_or_chuseok": False}
    resp = client.put("/api/v1/monitor/calendar/B002", json={"overrides": [{"date": "2026-06-03", "open": None}]},
                      headers=hq)
    assert [o["date"] for o in resp.json["overrides"]] == ["2026-02-17"]


@pytest.mark.parametrize(("body", "paths"), [
    ({"open_weekdays": 128}, {"open_weekdays"}),
    ({"open_weekdays": True}, {"open_weekdays"}),
    ({"holiday_policy": "sometimes"}, {"holiday_policy"}),
    ({"overrides": [{"date": "2026-03-01"}]}, {"overrides[0].open"}),
    ({"overrides": [{"date": "2026-03-01", "open": "yes"}]}, {"overrides[0].open"}),
    ({"overrides": [{"date": "2026-03-01", "open": True}, {"date": "2026-03-01", "open": False}]},
     {"overrides[1].date"}),
    ({"overrides": "2026-03-01"}, {"overrides"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "note": "x" * 201}]}, {"overrides[0].note"}),
    ({"colour": "blue"}, {"colour"}),
])
def test_calendar_refusals(client, hq, body, paths):
    resp = client.put("/api/v1/monitor/calendar/B001", json=body, headers=hq)
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == paths


def test_r01_hq_gets_404_for_an_r02_branch_calendar(client, r01):
    assert client.get("/api/v1/monitor/calendar/B005", headers=r01).status_code == 404
    assert client.put("/api/v1/monitor/calendar/B005", json={"holiday_policy": "open"}, headers=r01).status_code == 404
    assert client.get("/api/v1/monitor/calendar/B001", headers=r01).status_code == 200
    assert client.get("/api/v1/monitor/calendar/NOPE", headers=r01).status_code == 404


def test_branch_staff_may_not_edit_calendars(client):
    store = bearer(api_token_for("store1@example.com"))
    assert client.get("/api/v1/monitor/calendar/B001", headers=store).status_code == 403


# --- compliance


def test_compliance_scope_cut_for_r01_hq(client, r01):
    resp = client.get("/api/v1/monitor/compliance", query_string=FEB, headers=r01)
    assert resp.status_code == 200, resp.json
    assert [i["branch"] for i in resp.json["items"]] == ["B001", "B002", "B003", "B004"]
    assert resp.json["total"] == 4
    assert client.get("/api/v1/monitor/compliance", query_string={**FEB, "branch": "B005"},
                      headers=r01).status_code == 404
    resp = client.get("/api/v1/monitor/compliance", query_string={**FEB, "region": "R02"}, headers=r01)
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"region"}


def test_compliance_branch_staff_see_their_own_branch(client):
    store = bearer(api_token_for("store1@example.com"))
    resp = client.get("/api/v1/monitor/compliance", query_string=FEB, headers=store)
    assert [i["branch"] for i in resp.json["items"]] == ["B001"]
    assert client.get("/api/v1/monitor/compliance", query_string={**FEB, "branch": "B002"},
                      headers=store).status_code == 404


def test_compliance_days_and_counts(client, hq):
    d = date(2026, 3, 3)
    clear_reports("B001", d, d)
    first = file_report("B001", d, kst(2026, 3, 4, 10), status="replaced")
    file_report("B001", d, kst(2026, 3, 5, 9), replaces=first)
    resp = client.get("/api/v1/monitor/compliance", headers=hq,
                      query_string={"from": "2026-03-03", "to": "2026-03-03", "branch": "B001"})
    [item] = resp.json["items"]
    assert item["days"] == [{"date": "2026-03-03", "status": "corrected", "filed_at": "2026-03-04T10:00:00+09:00",
                             "corrected_at": "2026-03-05T09:00:00+09:00", "report_id": first + 1,
                             "due": "2026-03-04T10:00:00+09:00"}]
    assert (item["on_time"], item["corrected"], item["on_time_rate"]) == (1, 1, 1.0)


@pytest.mark.parametrize(("args", "paths"), [
    ({}, {"from", "to"}),
    ({"from": "2026-02-30", "to": "2026-03-01"}, {"from"}),
    ({"from": "2026-03-10", "to": "2026-03-01"}, {"to"}),
    ({"from": "2026-01-01", "to": "2026-04-03"}, {"to"}),  # 93 days; 04-02 (92) is allowed
    ({"from": "2026-01-01", "to": "2026-04-01", "page": "x"}, {"page"}),
])
def test_compliance_range_refusals(client, hq, args, paths):
    resp = client.get("/api/v1/monitor/compliance", query_string=args, headers=hq)
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == paths


def test_compliance_paginates(client, hq):
    resp = client.get("/api/v1/monitor/compliance", query_string={**FEB, "per_page": 5}, headers=hq)
    assert len(resp.json["items"]) == 5 and resp.json["total"] == 12
    assert "page=2" in resp.json["next"]
    nxt = client.get(resp.json["next"], headers=hq).json
    assert [i["branch"] for i in nxt["items"]] == ["B006", "B007", "B008", "B009", "B010"]


def test_no_token_no_answer(client):
    assert client.get("/api/v1/monitor/compliance", query_string=FEB).status_code == 401
