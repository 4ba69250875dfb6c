"""The invitee's page without login, the public JSON actions, the .ics file and the staff API
(PG-21's ``sessions[0].starts_at`` and PG-16's capacity 0 → 422; scope 404)."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import api_token_for, bearer
from tests.plugins.prm_groups.seminars_fixtures import add_session, invite_customers, make_programme, series

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _named(inv, name="김한빛"):
    from portal.extensions import db
    from portal.toolkit import Customer

    c = db.session.get(Customer, inv.customer_id)
    c.name = name
    db.session.commit()
    return c


def test_public_page_register_cancel_without_login(app, client):
    from plugins.prm_groups.seminar_models import PrmRegistration
    from portal.extensions import db

    p = make_programme()
    s = add_session(p, capacity=1)
    inv, other = invite_customers(p, 2)
    cust = _named(inv)
    page = client.get(f"/prm/r/{inv.token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "한빛" in html and "김한빛" not in html and cust.code not in html and (cust.email or "@@") not in html
    assert page.headers["Cache-Control"] == "no-store"
    token = CSRF_RE.search(html).group(1)
    resp = client.post(f"/prm/r/{inv.token}/register", data={"session": s.id, "csrf_token": token})
    assert resp.status_code == 302
    reg = db.session.scalar(select(PrmRegistration).where(PrmRegistration.invitation_id == inv.id))
    assert reg.status == "registered"
    html = client.get(f"/prm/r/{inv.token}").get_data(as_text=True)
    assert reg.checkin_token in html  # the QR code (or its token as text) once registered
    # Without the CSRF token nothing changes.
    assert client.post(f"/prm/r/{inv.token}/cancel", data={"session": s.id}).status_code == 400
    # The other invitee (JSON, token-authenticated) gets the waiting list; the cancel offers them the seat.
    r2 = client.post(f"/api/v1/prm/r/{other.token}/register", json={"session": s.id})
    assert r2.status_code == 200 and r2.get_json()["status"] == "waitlisted" and r2.get_json()["waitlist_position"] == 1
    client.post(f"/prm/r/{inv.token}/cancel", data={"session": s.id, "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(PrmRegistration, reg.id).status == "cancelled"
    r3 = client.post(f"/api/v1/prm/r/{other.token}/accept", json={"session": s.id})
    assert r3.status_code == 200 and r3.get_json()["status"] == "registered"
    # Decline the series.
    r4 = client.post(f"/api/v1/prm/r/{other.token}/decline")
    assert r4.status_code == 200 and r4.get_json()["status"] == "declined"


def test_unknown_or_erased_token_is_404(app, client):
    from plugins.prm_groups.seminars.privacy import erase_customer
    from portal.extensions import db
    from portal.toolkit import Customer

    p = make_programme()
    add_session(p)
    inv = invite_customers(p, 1)[0]
    assert client.get("/prm/r/" + "x" * 43).status_code == 404
    assert client.get("/prm/r/short").status_code == 404
    assert client.post("/api/v1/prm/r/" + "x" * 43 + "/register", json={"session": 1}).status_code == 404
    token = inv.token
    erase_customer(db.session.get(Customer, inv.customer_id))
    db.session.commit()
    assert client.get(f"/prm/r/{token}").status_code == 404
    assert client.get(f"/prm/r/{token}/calendar.ics").status_code == 404


def test_ics_parses_back(app, client):
    p = make_programme()
    s1 = add_session(p, days_ahead=20, title="1회차")
    add_session(p, days_ahead=27, title="2회차", online_url="https://meet.example.com/x", address=None)
    inv = invite_customers(p, 1)[0]
    resp = client.get(f"/prm/r/{inv.token}/calendar.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    cal = Calendar.from_ical(resp.data)
    assert str(cal["METHOD"]) == "PUBLISH"
    events = cal.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["1회차", "2회차"]
    assert str(events[0]["UID"]).startswith(f"prm-session-{s1.id}@")
    start = events[0].decoded("DTSTART")
    assert str(start.tzinfo) == "Asia/Seoul" and start.hour == 12
    assert "테헤란로" in str(events[0]["LOCATION"]) and "meet.example.com" in str(events[1]["LOCATION"])
    assert "파트너포털" in str(events[0]["DESCRIPTION"])
    assert cal.walk("VTIMEZONE")
    again = Calendar.from_ical(client.get(f"/prm/r/{inv.token}/calendar.ics").data)
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == [str(e["UID"]) for e in events]


def test_pg21_clean_sessions_paths():
    from datetime import datetime

    from plugins.prm_groups.seminars.sessions import clean_sessions

    now = datetime(2027, 3, 1, 3, 0)
    ok = {"title": "1회차", "starts_at": "2027-03-04T19:00", "ends_at": "2027-03-04T21:00", "address": "서울"}
    cleaned, errors = clean_sessions([ok], now=now)
    assert errors == {} and cleaned[0]["starts_at"] == datetime(2027, 3, 4, 10, 0) and cleaned[0]["capacity"] is None
    _c, errors = clean_sessions([{**ok, "starts_at": "2027-02-01T19:00", "ends_at": "2027-02-01T21:00"}], now=now)
    assert "sessions[0].starts_at" in errors
    _c, errors = clean_sessions([ok, {**ok, "capacity": 0}, {**ok, "capacity": -3}], now=now)
    assert set(errors) == {"sessions[1].capacity", "sessions[2].capacity"}
    _c, errors = clean_sessions([{**ok, "ends_at": "2027-03-04T18:00", "address": None,
                                  "online_url": "http://x", "registration_deadline": "2027-03-05T00:00",
                                  "bogus": 1}], now=now)
    assert {"sessions[0].ends_at", "sessions[0].online_url", "sessions[0].registration_deadline",
            "sessions[0].bogus"} <= set(errors)
    _c, errors = clean_sessions([{**ok, "address": None}], now=now)
    assert "sessions[0].venue_branch" in errors
    assert clean_sessions("x")[1] == {"sessions": clean_sessions("x")[1]["sessions"]}


def test_staff_api_sessions_scope_and_validation(app, client):
    from portal.extensions import db

    p = make_programme()
    other = make_programme("G02", extra_customers=0)
    hq, leader = bearer(api_token_for("hq@example.com")), bearer(api_token_for("leader1@example.com"))
    store = bearer(api_token_for("store1@example.com"))
    body = {"title": "1회차", "starts_at": "2099-03-04T19:00", "ends_at": "2099-03-04T21:00", "capacity": 0,
            "venue_branch": "B001"}
    r = client.post(f"/api/v1/prm/programmes/{p.id}/sessions", json=body, headers=hq)
    assert r.status_code == 422 and "session.capacity" in r.get_json()["errors"]
    r = client.post(f"/api/v1/prm/programmes/{p.id}/sessions", json={"sessions": [{**body, "starts_at": "2001-01-01T10:00"}]},
                    headers=hq)
    assert r.status_code == 422 and "sessions[0].starts_at" in r.get_json()["errors"]
    r = client.post(f"/api/v1/prm/programmes/{p.id}/sessions", json={**body, "capacity": 30}, headers=hq)
    assert r.status_code == 201, r.get_json()
    sid = r.get_json()["items"][0]["id"]
    assert r.get_json()["items"][0]["starts_at"] == "2099-03-04T19:00:00+09:00"
    assert client.get(f"/api/v1/prm/programmes/{p.id}/sessions", headers=leader).status_code == 200
    assert client.get(f"/api/v1/prm/programmes/{other.id}/sessions", headers=leader).status_code == 404
    assert client.get(f"/api/v1/prm/sessions/{sid}", headers=store).status_code == 403
    assert client.post(f"/api/v1/prm/programmes/{p.id}/sessions", json=body, headers=leader).status_code == 403
    r = client.patch(f"/api/v1/prm/sessions/{sid}", json={"capacity": 40}, headers=hq)
    assert r.status_code == 200 and r.get_json()["capacity"] == 40
    inv = invite_customers(p, 1)[0]
    r = client.post(f"/api/v1/prm/sessions/{sid}/registrations", json={"invitation": inv.id}, headers=hq)
    assert r.status_code == 201 and r.get_json()["status"] == "registered"
    r2 = client.post(f"/api/v1/prm/sessions/{sid}/registrations", json={"customer": inv.customer_id}, headers=hq)
    assert r2.status_code == 200 and r2.get_json()["id"] == r.get_json()["id"]
    r = client.get(f"/api/v1/prm/programmes/{p.id}/registrations", headers=hq)
    assert r.status_code == 200 and r.get_json()["total"] == 1 and r.get_json()["items"][0]["customer"]["id"] == inv.customer_id
    r = client.delete(f"/api/v1/prm/sessions/{sid}", headers=hq)
    assert r.status_code == 200 and r.get_json()["notified"] == 1
    db.session.expire_all()
    assert series(p).id


@pytest.mark.browser
def test_public_page_in_chromium_on_a_phone(app):
    """Real Chromium at 390 px, no login: the invitee registers, sees the QR, fits the screen,
    no script error or CSP violation."""
    from pathlib import Path

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    from portal.extensions import db
    from tests.live_server import serve

    p = make_programme()
    add_session(p, capacity=5)
    add_session(p, capacity=None, days_ahead=37, title="2회차 온라인", address=None,
                online_url="https://meet.example.com/very/long/path/that/should/wrap/on/a/small/screen")
    inv = invite_customers(p, 1)[0]
    _named(inv)
    token = inv.token
    db.session.close()
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        errors: list[str] = []
        try:
            page = browser.new_context(base_url=base, locale="ko-KR", viewport={"width": 390, "height": 844}).new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text)
                    if msg.type == "error" and "Content Security Policy" in msg.text else None)
            page.goto(f"/prm/r/{token}")
            expect(page.get_by_test_id("prm-greeting")).to_contain_text("한빛")
            page.get_by_test_id("prm-register").first.click()
            expect(page.get_by_test_id("prm-qr")).to_be_visible()
            width = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, width: innerWidth})")
            assert width["scroll"] <= width["width"], width
            if os.environ.get("PRM_SHOT"):
                page.screenshot(path=os.environ["PRM_SHOT"], full_page=True)
        finally:
            browser.close()
    assert not errors, errors


def test_closed_session_shows_no_register_button(app, client):
    from portal.extensions import db

    p = make_programme()
    s = add_session(p, days_ahead=5)
    s.registration_deadline = s.starts_at - timedelta(days=10)  # closed already
    db.session.commit()
    inv = invite_customers(p, 1)[0]
    html = client.get(f"/prm/r/{inv.token}").get_data(as_text=True)
    assert 'data-testid="prm-register"' not in html
    r = client.post(f"/api/v1/prm/r/{inv.token}/register", json={"session": s.id})
    assert r.status_code == 409 and r.get_json()["errors"]["session"]
