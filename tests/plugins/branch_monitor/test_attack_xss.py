"""Stored XSS and formula injection through what people type: a branch and a region named with
``<script>`` and ``"><img onerror>``, an override note, an acknowledgement note and a
subscription (its unit's name) — every page that shows them (the monitor with its funnel SVG and
its ``<title>``s, the region drill-down, the scorecard and its charts, the compliance grid, the
calendar pages, the alerts and subscriptions pages, the dashboard box) escapes them; the JSON
API returns them as data; the export neutralises a ``=cmd|…`` branch name in CSV and XLSX."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import text

from tests.conftest import csrf_token
from tests.plugins.branch_monitor.attack_fixtures import client_of, headers
from tests.plugins.branch_monitor.monitor_fixtures import put_alert, put_state, seed_kpis

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SVG = "</title><svg onload=alert(3)>"
PAYLOAD = f"{SCRIPT}{IMG}"
RAW = ("<script>alert(", "<img src=x", "<svg onload", "</title><svg", "\"><img")
FORMULA = "=cmd|' /C calc'!A0"


def _rename(code: str, name: str) -> None:
    from portal.toolkit import db

    db.session.execute(text("UPDATE org_unit SET name = :n WHERE code = :c"), {"n": name, "c": code})
    db.session.commit()


def _raw(html: str) -> list[str]:
    """The payload's markup as it would run: anything found unescaped."""
    return [r for r in RAW if r in html]


def _world(app) -> dict[str, int]:
    headers(app, "hq_r01")
    with app.app_context():
        seed_kpis()
        put_state("B001", "at_risk_contact_rate", "alarm")
        put_state("B002", "at_risk_contact_rate", "alert")
        ids = {"open": put_alert("B001", "at_risk_contact_rate", "alarm"),
               "acked": put_alert("B002", "at_risk_contact_rate", "alert")}
        _rename("B001", f"강남{PAYLOAD}"[:120])
        _rename("B002", f"분당{SVG}")
        _rename("R01", f"수도권{IMG}")
    return ids


def test_markup_in_names_and_notes_is_escaped_on_every_page(app):
    ids = _world(app)
    client = client_of(app, "hq_r01")
    token = csrf_token(client, "/dashboard")
    # an override note, an acknowledgement note and a subscription, all written through the pages
    assert client.post("/monitor/calendar/B001/overrides", data={
        "date": "2026-03-02", "state": "closed", "note": f"공사{IMG}"[:200], "year": "2026",
        "csrf_token": token}).status_code in (302, 303)
    assert client.post(f"/monitor/alerts/{ids['acked']}/ack", data={
        "note": f"확인{PAYLOAD}{SVG}", "csrf_token": token}).status_code == 303
    assert client.post("/monitor/alerts/subscriptions", data={
        "org_unit": "B001", "metric": "", "immediate": "1", "digest": "1", "csrf_token": token}).status_code == 303
    pages = ["/monitor/?month=2026-03", "/monitor/region/R01?month=2026-03",
             "/monitor/branches/B001?month=2026-03",
             "/monitor/branches/B002?month=2026-03", "/monitor/compliance/?month=2026-03",
             "/monitor/calendar/", "/monitor/calendar/B001?year=2026", "/monitor/alerts/?state=all",
             "/monitor/alerts/?state=acknowledged", "/monitor/alerts/subscriptions", "/dashboard"]
    failures = []
    for url in pages:
        resp = client.get(url)
        html = resp.get_data(as_text=True)
        if resp.status_code != 200:
            failures.append((url, resp.status_code))
        elif _raw(html):
            failures.append((url, _raw(html)))
    assert not failures, failures
    # the names and notes are there, escaped (not dropped)
    scorecard = client.get("/monitor/branches/B001?month=2026-03").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in scorecard
    acked = client.get("/monitor/alerts/?state=acknowledged").get_data(as_text=True)
    assert "확인&lt;script&gt;" in acked


def test_svg_titles_escape_branch_names(app):
    """The funnel plot names each dot in a ``<title>``: the name is text there, never markup."""
    _world(app)
    html = client_of(app, "hq").get("/monitor/?month=2026-03&metric=at_risk_contact_rate").get_data(as_text=True)
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert svgs, "no chart on the monitor page"
    titles = [t for s in svgs for t in re.findall(r"<title>(.*?)</title>", s, flags=re.S)]
    assert any("강남" in t for t in titles), titles[:5]
    for t in titles:
        assert "<" not in t and ">" not in t.replace("&gt;", ""), t
    assert not _raw(html)


def test_the_api_returns_names_and_notes_as_data(app):
    ids = _world(app)
    hdrs = headers(app, "hq")
    client = app.test_client()
    ack = client.post(f"/api/v1/monitor/alerts/{ids['open']}/ack", json={"note": PAYLOAD}, headers=hdrs)
    assert ack.status_code == 200 and ack.get_json()["ack_note"] == PAYLOAD
    assert ack.mimetype == "application/json" and ack.headers.get("X-Content-Type-Options") == "nosniff"
    branch = client.get("/api/v1/monitor/branches/B001?month=2026-03", headers=hdrs)
    assert branch.mimetype == "application/json"
    assert branch.get_json()["name"].startswith("강남<script>")


def test_the_export_neutralises_a_formula_branch_name(app):
    from openpyxl import load_workbook

    _world(app)
    with app.app_context():
        _rename("B003", FORMULA)
        _rename("B004", "+SUM(1,2)")
        _rename("R01", "@HYPERLINK(\"http://evil\")")
    client = client_of(app, "hq")
    resp = client.get("/monitor/export?format=csv&month=2026-03")
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    cells = [c for row in rows for c in row]
    assert any(FORMULA in c for c in cells), "the formula branch is not in the export"
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")], [c for c in cells if c[:1] in "=+@"]
    resp = client.get("/monitor/export?format=xlsx&month=2026-03")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    found = False
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.value[:1] not in ("=", "+", "@"), (cell.coordinate, cell.value)
                    found = found or FORMULA in cell.value
    assert found


def test_markup_in_a_branch_name_is_text_in_notifications(app):
    """The evaluation tells a subscriber of B001 (named with markup) and the reminder job its
    staff: the inbox shows the names escaped; the notifications API returns them as data."""
    from datetime import timedelta

    from plugins.branch_monitor.alerts.service import evaluate
    from plugins.branch_monitor.compliance.reminders import run_reminders
    from tests.plugins.branch_monitor.alerts_fixtures import MONTH, set_kpi, subscribe, user
    from tests.plugins.branch_monitor.compliance_fixtures import kst
    from tests.plugins.branch_monitor.test_compliance_reminders import _only_b001_missing

    for code in [f"B{i:03d}" for i in range(1, 13)]:
        set_kpi(code, 200, 500)
    set_kpi("B001", 12, 50)
    _rename("B001", f"강남{PAYLOAD}"[:120])
    subscribe(user("hq@example.com"), None, None)
    assert evaluate(MONTH + timedelta(days=10))["notified"] >= 1
    _only_b001_missing()
    run_reminders(now=kst(2026, 3, 4, 10, 31))
    for who in ("hq", "store1"):
        client = client_of(app, who)
        inbox = client.get("/inbox")
        html = inbox.get_data(as_text=True)
        assert inbox.status_code == 200 and "강남" in html, who
        assert not _raw(html), (who, _raw(html))
        for nid in re.findall(r'href="/inbox/(\d+)"', html)[:5]:
            one = client.get(f"/inbox/{nid}")
            assert one.status_code in (200, 302, 303) and not _raw(one.get_data(as_text=True)), (who, nid)
