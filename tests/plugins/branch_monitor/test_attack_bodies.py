"""Hostile JSON bodies on every write of the add-on's API (calendar PUT, settings PUT, alert
acknowledgement, subscription POST/DELETE): not an object, arrays, nested junk, huge strings,
lone surrogates, NUL, numbers as strings, booleans as ints, negative / huge / non-finite numbers,
``null`` — each answers a JSON 4xx (422 with the field path where there is a field), never a 500,
and writes nothing: the add-on's tables, the add-on's settings and the audit trail are the same
before and after (a valid part of a body with one bad part is not written either)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from tests.plugins.branch_monitor.attack_fixtures import headers

TABLES = ("mon_branch", "mon_calendar_override", "mon_alert", "mon_subscription")
NESTED = json.loads("[" * 200 + "]" * 200)
HUGE = "가" * 200_000


def snapshot() -> dict[str, Any]:
    """Everything an API write could touch, as plain values."""
    from portal.toolkit import db

    out: dict[str, Any] = {}
    for table in TABLES:
        rows = db.session.execute(text(f"SELECT * FROM {table}")).mappings().all()  # noqa: S608 - fixed names
        out[table] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)
    out["settings"] = str(db.session.execute(text(
        "SELECT settings FROM plugin_state WHERE name = 'branch_monitor'")).scalar())
    out["audit"] = db.session.execute(text("SELECT count(*) FROM audit_event")).scalar()
    db.session.rollback()
    return out


def _alert(code: str = "B001") -> int:
    from plugins.branch_monitor.models import MonAlert
    from portal.toolkit import OrgUnit, db

    branch = db.session.scalar(text("SELECT id FROM org_unit WHERE code = :c").bindparams(c=code))
    assert db.session.get(OrgUnit, branch) is not None
    a = MonAlert(branch_id=branch, metric="at_risk_contact_rate", day=date(2031, 5, 12), from_state="ok",
                 to_state="alarm", value=0.1, detail={"numerator": 5, "denominator": 50, "company_rate": 0.4})
    db.session.add(a)
    db.session.commit()
    return a.id


def _sub(who_email: str) -> int:
    from plugins.branch_monitor.alerts.service import subscribe
    from portal.toolkit import User, db

    user = db.session.scalar(db.select(User).where(User.email == who_email))
    sub, _ = subscribe(user, {"org_unit": "R01", "metric": None, "immediate": True, "digest": True})
    db.session.commit()
    return sub.id


#: Bodies that are no JSON object at all (raw bytes sent as application/json).
NOT_OBJECTS = ["[]", "[{}]", '"text"', "1", "null", "true", "{", "", "\x00", '{"a": 1} trailing',
               json.dumps(NESTED), "NaN", '{"note": "x"}' * 2]

#: (body, field paths that must be named) for every write. A path "" means the body as a whole.
CALENDAR = [
    ({"open_weekdays": "63"}, {"open_weekdays"}),
    ({"open_weekdays": True}, {"open_weekdays"}),
    ({"open_weekdays": -1}, {"open_weekdays"}),
    ({"open_weekdays": 128}, {"open_weekdays"}),
    ({"open_weekdays": 2**70}, {"open_weekdays"}),
    ({"open_weekdays": 63.0}, {"open_weekdays"}),
    ({"open_weekdays": 1e400}, {"open_weekdays"}),
    ({"open_weekdays": None}, {"open_weekdays"}),
    ({"open_weekdays": [63]}, {"open_weekdays"}),
    ({"holiday_policy": None}, {"holiday_policy"}),
    ({"holiday_policy": ["closed"]}, {"holiday_policy"}),
    ({"holiday_policy": {"closed": 1}}, {"holiday_policy"}),
    ({"holiday_policy": HUGE}, {"holiday_policy"}),
    ({"holiday_policy": "closed\ud800"}, {"holiday_policy"}),
    ({"holiday_policy": "clo\u0000sed"}, {"holiday_policy"}),
    ({"overrides": {"date": "2026-03-01", "open": True}}, {"overrides"}),
    ({"overrides": "2026-03-01"}, {"overrides"}),
    ({"overrides": [1]}, {"overrides[0]"}),
    ({"overrides": [None]}, {"overrides[0]"}),
    ({"overrides": [[]]}, {"overrides[0]"}),
    ({"overrides": [{}]}, {"overrides[0].date", "overrides[0].open"}),
    ({"overrides": [{"date": None, "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": 20260301, "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": "2026-02-29", "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": "0001-01-01", "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": "9999-12-31", "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": "2026-3-1", "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": "２０２６-03-01", "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": "2026-03-01T00:00", "open": True}]}, {"overrides[0].date"}),
    ({"overrides": [{"date": "2026-03-01", "open": 1}]}, {"overrides[0].open"}),
    ({"overrides": [{"date": "2026-03-01", "open": "true"}]}, {"overrides[0].open"}),
    ({"overrides": [{"date": "2026-03-01", "open": [True]}]}, {"overrides[0].open"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "note": "x" * 201}]}, {"overrides[0].note"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "note": ["x"]}]}, {"overrides[0].note"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "note": 5}]}, {"overrides[0].note"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "note": "a\u0000b"}]}, {"overrides[0].note"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "note": "\ud800"}]}, {"overrides[0].note"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "note": {"$gt": ""}}]}, {"overrides[0].note"}),
    ({"overrides": [{"date": "2026-03-01", "open": True, "branch_id": 5}]}, {"overrides[0].branch_id"}),
    ({"overrides": [{"date": "2026-03-01", "open": True}] * 2}, {"overrides[1].date"}),
    ({"overrides": [{"date": f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}", "open": True} for i in range(401)]},
     {"overrides"}),
    ({"overrides": NESTED}, {"overrides[0]"}),
    ({"branch_id": 5}, {"branch_id"}),
    ({"open_weekdays": 1, "updated_by_id": 1}, {"updated_by_id"}),
    # a valid part with a bad part: nothing of the valid part is written
    ({"open_weekdays": 1, "holiday_policy": "open",
      "overrides": [{"date": "2026-03-01", "open": False}, {"date": "2026-02-30", "open": True}]},
     {"overrides[1].date"}),
    ({"open_weekdays": 1, "overrides": [{"date": "2026-03-01", "open": False, "note": "ok"}],
      "holiday_policy": "sometimes"}, {"holiday_policy"}),
]

SETTINGS = [
    ({"deadline_hour": 24}, {"deadline_hour"}),
    ({"deadline_hour": -1}, {"deadline_hour"}),
    ({"deadline_hour": "24"}, {"deadline_hour"}),
    ({"deadline_hour": 10.5}, {"deadline_hour"}),
    ({"deadline_hour": True}, {"deadline_hour"}),
    ({"deadline_hour": None}, {"deadline_hour"}),
    ({"deadline_hour": [10]}, {"deadline_hour"}),
    ({"deadline_hour": {"v": 10}}, {"deadline_hour"}),
    ({"deadline_hour": 2**64}, {"deadline_hour"}),
    ({"deadline_hour": 1e400}, {"deadline_hour"}),
    ({"deadline_hour": "1e400"}, {"deadline_hour"}),
    ({"deadline_hour": HUGE}, {"deadline_hour"}),
    ({"deadline_hour": "1\u0000"}, {"deadline_hour"}),
    ({"deadline_days": 8}, {"deadline_days"}),
    ({"deadline_minute": 60}, {"deadline_minute"}),
    ({"baseline_z_alert": 0}, {"baseline_z_alert"}),
    ({"baseline_z_alert": -0.0}, {"baseline_z_alert"}),
    ({"baseline_z_alert": "NaN"}, {"baseline_z_alert"}),
    ({"baseline_z_alert": "-inf"}, {"baseline_z_alert"}),
    ({"baseline_z_alarm": 1e400}, {"baseline_z_alarm"}),
    ({"baseline_z_alarm": 21}, {"baseline_z_alarm"}),
    ({"baseline_z_alarm": False}, {"baseline_z_alarm"}),
    ({"baseline_z_alert": 2.5, "baseline_z_alarm": 2.5}, {"baseline_z_alarm"}),
    ({"deadline": 3}, {"deadline"}),
    ({"installed": False}, {"installed"}),
    # a valid part with a bad part: nothing is written
    ({"deadline_hour": 18, "baseline_z_alert": 0}, {"baseline_z_alert"}),
    ({"deadline_hour": 18, "deadline_minute": "sixty"}, {"deadline_minute"}),
]

ACK = [
    ({}, {"note"}),
    ({"note": None}, {"note"}),
    ({"note": ""}, {"note"}),
    ({"note": " \t\n "}, {"note"}),
    ({"note": 5}, {"note"}),
    ({"note": True}, {"note"}),
    ({"note": ["확인"]}, {"note"}),
    ({"note": {"text": "확인"}}, {"note"}),
    ({"note": "x" * 501}, {"note"}),
    ({"note": HUGE}, {"note"}),
    ({"note": "a\u0000b"}, {"note"}),
    ({"note": "\ud800"}, {"note"}),
    ({"note": "ok", "extra": "\ud800"}, {"extra"}),
]

SUBSCRIBE = [
    ({"org_unit": 5}, {"org_unit"}),
    ({"org_unit": ["R01"]}, {"org_unit"}),
    ({"org_unit": {"code": "R01"}}, {"org_unit"}),
    ({"org_unit": True}, {"org_unit"}),
    ({"org_unit": "R02"}, {"org_unit"}),  # out of the R01-local HQ's scope: the same as unknown
    ({"org_unit": "B005"}, {"org_unit"}),
    ({"org_unit": "R99"}, {"org_unit"}),
    ({"org_unit": "r01"}, {"org_unit"}),
    ({"org_unit": HUGE}, {"org_unit"}),
    ({"org_unit": "R01\u0000"}, {"org_unit"}),
    ({"org_unit": "\ud800"}, {"org_unit"}),
    ({"metric": 5}, {"metric"}),
    ({"metric": ["sales"]}, {"metric"}),
    ({"metric": "nope"}, {"metric"}),
    ({"metric": HUGE}, {"metric"}),
    ({"immediate": 1}, {"immediate"}),
    ({"immediate": "maybe"}, {"immediate"}),
    ({"immediate": None}, {"immediate"}),
    ({"immediate": [True]}, {"immediate"}),
    ({"digest": {"on": True}}, {"digest"}),
    ({"immediate": False, "digest": False}, {"immediate"}),
    ({"org_unit": "R01", "metric": "at_risk_contact_rate", "immediate": True, "digest": 2}, {"digest"}),
]


def _names(resp) -> set[str]:
    body = resp.get_json(silent=True) or {}
    return set(body.get("errors") or {})


def _send(client, method: str, url: str, hdrs: dict, body: Any):
    return client.open(url, method=method, data=json.dumps(body, allow_nan=True), headers=hdrs,
                       content_type="application/json")


def _check(app, method: str, url: str, hdrs: dict, cases: list[tuple[Any, set[str]]]) -> list[Any]:
    client = app.test_client()
    failures: list[Any] = []
    with app.app_context():
        before = snapshot()
    for raw in NOT_OBJECTS:
        resp = client.open(url, method=method, data=raw, headers=hdrs, content_type="application/json")
        if resp.status_code not in (400, 422) or not resp.is_json:
            failures.append((raw[:40], resp.status_code))
    for body, paths in cases:
        resp = _send(client, method, url, hdrs, body)
        if resp.status_code != 422 or not resp.is_json or not paths <= _names(resp):
            failures.append((json.dumps(body, allow_nan=True)[:120], resp.status_code, _names(resp)))
    with app.app_context():
        after = snapshot()
    if after != before:
        failures.append(("written", {k: (before[k], after[k]) for k in before if before[k] != after[k]}))
    return failures


def test_calendar_put_refuses_every_hostile_body_and_writes_nothing(app):
    failures = _check(app, "PUT", "/api/v1/monitor/calendar/B001", headers(app, "hq"), CALENDAR)
    assert not failures, failures


def test_settings_put_refuses_every_hostile_body_and_writes_nothing(app):
    failures = _check(app, "PUT", "/api/v1/monitor/settings", headers(app, "hq"), SETTINGS)
    assert not failures, failures


def test_acknowledge_refuses_every_hostile_body_and_writes_nothing(app):
    with app.app_context():
        alert = _alert("B001")
    failures = _check(app, "POST", f"/api/v1/monitor/alerts/{alert}/ack", headers(app, "hq_r01"), ACK)
    assert not failures, failures
    # a good body still works afterwards: the refusals left no lock or half-state behind
    ok = app.test_client().post(f"/api/v1/monitor/alerts/{alert}/ack", json={"note": "확인"},
                                headers=headers(app, "hq_r01"))
    assert ok.status_code == 200, ok.get_json()


def test_subscribe_refuses_every_hostile_body_and_writes_nothing(app):
    failures = _check(app, "POST", "/api/v1/monitor/alerts/subscriptions", headers(app, "hq_r01"), SUBSCRIBE)
    assert not failures, failures


@pytest.mark.parametrize("sub_id", ["0", "-1", str(2**31), str(2**63), "1e3", "abc", "%00"])
def test_unsubscribe_with_a_junk_id_is_a_json_404_and_removes_nothing(app, sub_id):
    hdrs = headers(app, "hq_r01")
    with app.app_context():
        _sub("hq.r01@example.com")
        before = snapshot()
    resp = app.test_client().delete(f"/api/v1/monitor/alerts/subscriptions/{sub_id}", headers=hdrs)
    assert resp.status_code == 404 and resp.is_json, (resp.status_code, resp.get_data(as_text=True)[:200])
    with app.app_context():
        assert snapshot() == before


def test_someone_elses_subscription_is_a_404_and_stays(app):
    headers(app, "hq_r01")  # makes the R01-local HQ user
    with app.app_context():
        sid = _sub("hq.r01@example.com")
        before = snapshot()
    for who in ("hq", "admin", "store1", "reviewer"):
        resp = app.test_client().delete(f"/api/v1/monitor/alerts/subscriptions/{sid}", headers=headers(app, who))
        assert resp.status_code in (403, 404) and resp.is_json, (who, resp.status_code)
    with app.app_context():
        assert snapshot() == before


def test_writes_with_a_wrong_content_type_write_nothing(app):
    """A form-encoded or text body on a JSON write is refused (never read as an empty object)."""
    hdrs = headers(app, "hq")
    with app.app_context():
        alert = _alert("B001")
        before = snapshot()
    client = app.test_client()
    for method, url, form in (("PUT", "/api/v1/monitor/settings", {"deadline_hour": "9"}),
                              ("PUT", "/api/v1/monitor/calendar/B001", {"open_weekdays": "1"}),
                              ("POST", f"/api/v1/monitor/alerts/{alert}/ack", {"note": "x"}),
                              ("POST", "/api/v1/monitor/alerts/subscriptions", {"org_unit": "R01"})):
        resp = client.open(url, method=method, data=form, headers=hdrs)
        assert resp.status_code in (400, 415, 422) and resp.is_json, (url, resp.status_code)
        resp = client.open(url, method=method, data="deadline_hour=9", headers={**hdrs, "Content-Type": "text/plain"})
        assert resp.status_code in (400, 415, 422) and resp.is_json, (url, resp.status_code)
    with app.app_context():
        assert snapshot() == before


def test_an_infinite_alert_threshold_is_refused_at_its_own_field(app):
    resp = app.test_client().put("/api/v1/monitor/settings", json={"baseline_z_alert": "Infinity"},
                                 headers=headers(app, "hq"))
    assert resp.status_code == 422 and "baseline_z_alert" in resp.get_json()["errors"], resp.get_json()


@pytest.mark.parametrize("year", ["abc", "1999", "2101"])
def test_a_bad_year_on_the_calendar_put_writes_nothing(app, year):
    hdrs = headers(app, "hq")
    with app.app_context():
        before = snapshot()
    resp = app.test_client().put(f"/api/v1/monitor/calendar/B001?year={year}", headers=hdrs, json={
        "open_weekdays": 31, "overrides": [{"date": "2026-03-01", "open": True}, {"date": "2026-03-02", "open": False}]})
    with app.app_context():
        after = snapshot()
    assert resp.status_code == 422 and "year" in resp.get_json()["errors"], resp.get_json()
    assert after == before, "a refused PUT wrote the calendar"
