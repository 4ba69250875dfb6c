"""Scope, attacked with data on both sides: every branch outside the viewer's scope is renamed to
a marker (``ZZLEAK…``) and given KPIs, states and open alerts, then every page, API answer, export
(CSV and XLSX), dashboard box, notification and digest the viewer can get is searched for the
marker and the codes.

* an HQ Staff member local on R01 never meets R02 — not in a list, a count, a total, a chart, an
  export, the compliance grid, the API's ``total``, a portlet, an alert notification or the digest;
* Branch Staff of B001 never meet another branch's name or code (BM-10), exports included;
* reviewer, leader1 and ibo1 get 403/404 (or the login page) and no data."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from tests.plugins.branch_monitor.attack_fixtures import bm_routes, client_of, fill, headers, text_of
from tests.plugins.branch_monitor.monitor_fixtures import MONTH, put_alert, put_state, seed_kpis

R02 = ("B005", "B006", "B007", "B008")
OTHERS_OF_B001 = tuple(f"B{i:03d}" for i in range(2, 13))
MARK = "ZZLEAK"
QUERIES = ("", "?month=2026-03", "?month=2026-03&state=all", "?month=2026-03&sort=-name&per_page=200",
           "?month=2026-03&q=B00", "?state=all&month=2031-05", "?from=2026-03-01&to=2026-03-31")


def _rename(codes: tuple[str, ...], regions: tuple[str, ...] = ()) -> None:
    from portal.toolkit import db

    for code in (*codes, *regions):
        db.session.execute(text("UPDATE org_unit SET name = :n WHERE code = :c"), {"n": f"{MARK}-{code}", "c": code})
    db.session.commit()


def _world(hidden: tuple[str, ...], regions: tuple[str, ...] = ()) -> dict[str, int]:
    """KPIs for all twelve branches, an alarm state and open alert on B001 and on every hidden
    branch, and the hidden branches (and regions) renamed to the marker."""
    seed_kpis()
    ids = {}
    for code in ("B001", *hidden):
        put_state(code, "at_risk_contact_rate", "alarm")
        ids[code] = put_alert(code, "at_risk_contact_rate", "alarm")
    _rename(hidden, regions)
    return ids


def _leaks(body: str, codes: tuple[str, ...]) -> list[str]:
    found = [MARK] if MARK in body else []
    found += [c for c in codes if re.search(rf"(?<![A-Za-z0-9]){c}(?![0-9])", body)]
    return found


def _get_everything(app, who: str, fills: dict[str, str]) -> list[tuple[str, int, str]]:
    """(url, status, text) of every GET route of the add-on with the queries above."""
    client = client_of(app, who)
    hdrs = headers(app, who)
    out = []
    for rule, methods, _e in bm_routes(app):
        if "GET" not in methods:
            continue
        url = rule
        for var, value in fills.items():
            url = url.replace(f"<{var}>", value)
        url = fill(url, fills.get("*", "B001"))
        for query in QUERIES:
            resp = client.get(url + query, headers=hdrs) if url.startswith("/api/") else client.get(url + query)
            body = text_of(resp) if (resp.is_json or resp.mimetype.startswith("text/")) else ""
            out.append((url + query, resp.status_code, body))
    for query in ("", "?format=xlsx", "?format=csv&month=2026-03", "?format=xlsx&month=2026-03&state=all"):
        resp = client.get("/monitor/export" + query)
        out.append(("/monitor/export" + query, resp.status_code, _export_text(resp)))
    resp = client.get("/dashboard")
    out.append(("/dashboard", resp.status_code, resp.get_data(as_text=True)))
    return out


def _export_text(resp) -> str:
    if resp.status_code != 200:
        return ""
    if resp.mimetype.endswith("sheet"):
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(resp.data), read_only=True)
        return "\n".join("\t".join("" if c is None else str(c) for c in row) for ws in wb for row in ws.iter_rows(
            values_only=True))
    return resp.get_data(as_text=True)


def test_r01_hq_never_meets_r02_anywhere(app):
    headers(app, "hq_r01")
    with app.app_context():
        _world(R02, ("R02",))
    seen = _get_everything(app, "hq_r01", {"code": "B001", "*": "B001"})
    seen += _get_everything(app, "hq_r01", {"code": "R01", "*": "R01"})
    leaks = [(url, code, _leaks(body, R02)) for url, code, body in seen if _leaks(body, R02)]
    assert sum(1 for _u, code, _b in seen if code == 200) >= 15, [(u, c) for u, c, _b in seen]
    assert not leaks, leaks[:10]
    # the exports were really made (CSV and XLSX) and hold R01's four branches only
    csv = next(body for url, code, body in seen if url == "/monitor/export?format=csv&month=2026-03")
    assert {"B001", "B002", "B003", "B004"} <= set(re.findall(r"B0\d\d", csv))


def test_r01_hq_counts_and_totals_are_r01s(app):
    headers(app, "hq_r01")
    with app.app_context():
        ids = _world(R02, ("R02",))
    hdrs = headers(app, "hq_r01")
    client = app.test_client()
    branches = client.get("/api/v1/monitor/branches?month=2026-03&per_page=200", headers=hdrs).get_json()
    assert branches["total"] == 4 and {i["code"] for i in branches["items"]} == {"B001", "B002", "B003", "B004"}
    alarm = client.get("/api/v1/monitor/branches?month=2026-03&state=alarm", headers=hdrs).get_json()
    assert alarm["total"] == 1, alarm
    comp = client.get("/api/v1/monitor/compliance?from=2026-03-01&to=2026-03-31&per_page=200", headers=hdrs).get_json()
    assert comp["total"] == 4 and {i["branch"] for i in comp["items"]} <= {"B001", "B002", "B003", "B004"}
    alerts = client.get("/api/v1/monitor/alerts/?state=all&per_page=200", headers=hdrs).get_json()
    assert alerts["total"] == 1 and [a["id"] for a in alerts["items"]] == [ids["B001"]]
    # asking for R02 by name is the same as asking for a region that does not exist
    for url in ("/api/v1/monitor/branches?region=R02", "/api/v1/monitor/compliance?from=2026-03-01&to=2026-03-02"
                "&region=R02", "/api/v1/monitor/alerts/?region=R02&state=all", "/api/v1/monitor/branches?q=B005",
                "/api/v1/monitor/alerts/?branch=B005&state=all", "/api/v1/monitor/compliance?from=2026-03-01"
                "&to=2026-03-02&q=ZZLEAK"):
        resp = client.get(url, headers=hdrs)
        assert resp.status_code in (200, 404, 422) and MARK not in text_of(resp), (url, resp.status_code)
        if resp.status_code == 200:
            assert resp.get_json()["total"] == 0 and resp.get_json()["items"] == [], url
    pages = client_of(app, "hq_r01")
    for url in ("/monitor/region/R02", "/monitor/?region=R02", "/monitor/export?region=R02&format=csv",
                "/monitor/export?region=R02&format=xlsx", "/monitor/branches/B005", "/monitor/calendar/B005"):
        resp = pages.get(url)
        assert resp.status_code in (404, 422) and MARK not in resp.get_data(as_text=True), (url, resp.status_code)


def test_r01_hq_is_never_notified_of_r02(app):
    """Subscribed to everything (no unit), to HQ and to R02 by id in the table: the evaluation's
    notification and the weekly digest name R01's branches only."""
    from plugins.branch_monitor.alerts.service import evaluate, send_digest
    from plugins.branch_monitor.models import MonSubscription
    from portal.toolkit import OrgUnit, User, db
    from tests.plugins.branch_monitor.alerts_fixtures import MONTH as AMONTH
    from tests.plugins.branch_monitor.alerts_fixtures import notifications, set_kpi

    headers(app, "hq_r01")
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "hq.r01@example.com"))
        r02 = db.session.scalar(db.select(OrgUnit.id).where(OrgUnit.code == "R02"))
        db.session.add_all([MonSubscription(user_id=user.id, org_unit_id=None, metric=None),
                            MonSubscription(user_id=user.id, org_unit_id=r02, metric=None)])  # as if granted once
        db.session.commit()
        # company 40 %; B001 and B005 12/50 below the limits
        for code in ("B001", "B002", "B003", "B004", "B005", "B006", "B007", "B008", "B009", "B010", "B011", "B012"):
            set_kpi(code, 200, 500)
        set_kpi("B001", 12, 50)
        set_kpi("B005", 12, 50)
        _rename(R02, ("R02",))
        day = AMONTH + timedelta(days=10)
        done = evaluate(day)
        assert done["changes"] >= 2, done
        user = db.session.get(User, user.id)
        told = notifications(user, "bm.alert")
        assert told and all(not _leaks(t, R02) for _k, t in told), told
        assert any("B001" in t for _k, t in told), told
        send_digest(datetime(day.year, day.month, day.day, 12) + timedelta(days=7))
        digest = notifications(user, "bm.digest")
        assert digest and all(not _leaks(t, R02) for _k, t in digest), digest
        rows = db.session.execute(text("SELECT text, url FROM notification WHERE user_id = :u"), {"u": user.id}).all()
        assert all(not _leaks(f"{t} {u}", R02) for t, u in rows), rows


def test_store1_never_meets_another_branch_anywhere(app):
    headers(app, "store1")
    with app.app_context():
        _world(OTHERS_OF_B001, ("R02", "R03"))
    seen = _get_everything(app, "store1", {"code": "B001", "*": "B001"})
    leaks = [(url, code, _leaks(body, OTHERS_OF_B001)) for url, code, body in seen
             if code == 200 and _leaks(body, OTHERS_OF_B001)]
    assert sum(1 for _u, code, _b in seen if code == 200) >= 3
    assert not leaks, leaks[:10]
    # a 403/404 page names nothing either
    assert not [(u, c) for u, c, b in seen if c != 200 and MARK in b]
    # the own scorecard shows its values with percentile bands (BM-10), not the peers'
    card = client_of(app, "store1").get("/monitor/branches/B001?month=2026-03").get_data(as_text=True)
    assert "B001" in card and MARK not in card


@pytest.mark.parametrize("who", ["reviewer", "leader1", "ibo1"])
def test_roles_without_monitoring_get_no_data(app, who):
    with app.app_context():
        _world(OTHERS_OF_B001)
    seen = _get_everything(app, who, {"code": "B001", "*": "B001"})
    opened = [(url, code) for url, code, _b in seen if code == 200 and url != "/dashboard"]
    assert not opened, opened
    for url, code, body in seen:
        assert code in (200, 302, 400, 403, 404, 422), (url, code)
        assert not _leaks(body, OTHERS_OF_B001), (url, _leaks(body, OTHERS_OF_B001))
    dashboard = next(b for u, _c, b in seen if u == "/dashboard")
    assert MARK not in dashboard and "bm-portlet" not in dashboard


def test_the_export_is_logged_per_viewer(app):
    """The monitor export writes one access-log row naming the exporter (``logged_export``)."""
    headers(app, "hq_r01")
    with app.app_context():
        _world(R02)
        before = db_count(EXPORTS)
    client = client_of(app, "hq_r01")
    for fmt in ("csv", "xlsx"):
        resp = client.get(f"/monitor/export?format={fmt}&month={MONTH:%Y-%m}")
        assert resp.status_code == 200, resp.status_code
    with app.app_context():
        rows = db_rows("SELECT a.user_id, u.email FROM access_log a JOIN user_account u ON u.id = a.user_id "
                       "WHERE a.action = 'export' ORDER BY a.id DESC LIMIT 2")
        assert db_count(EXPORTS) == before + 2
        assert {email for _u, email in rows} == {"hq.r01@example.com"}


EXPORTS = "SELECT count(*) FROM access_log WHERE action = 'export' AND object_type = 'branch_monitor'"


def db_count(sql: str) -> int:
    from portal.toolkit import db

    return int(db.session.execute(text(sql)).scalar() or 0)


def db_rows(sql: str) -> list:
    from portal.toolkit import db

    return list(db.session.execute(text(sql)).all())




def test_reminders_and_escalations_reach_only_those_who_see_the_branch(app):
    """B001, B002 and B005 miss the same day: each branch's staff are reminded of their own branch
    only; R01's local HQ is escalated B001 and B002, never B005 (R02 has no local HQ: global HQ)."""
    from plugins.branch_monitor.compliance.reminders import run_reminders
    from tests.plugins.branch_monitor.compliance_fixtures import clear_reports, kst
    from tests.plugins.branch_monitor.test_compliance_reminders import D, _only_b001_missing

    headers(app, "hq_r01")
    headers(app, "store5")
    _only_b001_missing()
    clear_reports("B002", D, D)
    clear_reports("B005", D, D)
    run_reminders(now=kst(2026, 3, 4, 10, 31))
    run_reminders(now=kst(2026, 3, 5, 10, 31))
    got = {}
    for email, key in db_rows("SELECT u.email, n.dedupe_key FROM notification n JOIN user_account u ON u.id = "
                              "n.user_id WHERE n.kind LIKE 'bm.%' AND n.dedupe_key LIKE 'bm.reminder:%'"):
        got.setdefault(email, set()).add(key.split(":")[1])
    assert got.get("store1@example.com") == {"B001"}, got
    assert got.get("store2@example.com") == {"B002"}, got
    assert got.get("store5@example.com") == {"B005"}, got
    assert got.get("hq.r01@example.com") == {"B001", "B002"}, got
    assert "B005" in got.get("hq@example.com", set()) and not got["hq@example.com"] & {"B001", "B002"}, got
    texts = db_rows("SELECT u.email, n.text FROM notification n JOIN user_account u ON u.id = n.user_id "
                    "WHERE n.kind LIKE 'bm.%'")
    for email, body in texts:
        if email.startswith("store1"):
            assert not _leaks(body, OTHERS_OF_B001), body
        if email.startswith("hq.r01"):
            assert not _leaks(body, R02), body


def test_a_subscription_left_behind_without_the_role_tells_nothing(app):
    """A subscription row of a user who cannot monitor (Branch Staff; or a revoked grant): the
    evaluation and the digest tell them nothing, not even about their own branch."""
    from plugins.branch_monitor.alerts.service import evaluate, send_digest
    from plugins.branch_monitor.models import MonSubscription
    from portal.toolkit import User, db
    from tests.plugins.branch_monitor.alerts_fixtures import MONTH as AMONTH
    from tests.plugins.branch_monitor.alerts_fixtures import set_kpi

    store = db.session.scalar(db.select(User).where(User.email == "store1@example.com"))
    db.session.add(MonSubscription(user_id=store.id, org_unit_id=None, metric=None))
    db.session.commit()
    for code in [f"B{i:03d}" for i in range(1, 13)]:
        set_kpi(code, 200, 500)
    set_kpi("B001", 12, 50)
    set_kpi("B002", 12, 50)
    day = AMONTH + timedelta(days=10)
    assert evaluate(day)["changes"] >= 2
    send_digest(datetime(day.year, day.month, day.day, 12) + timedelta(days=7))
    assert db_count(f"SELECT count(*) FROM notification WHERE user_id = {int(store.id)} "
                    "AND kind IN ('bm.alert', 'bm.digest')") == 0


def test_hqs_acknowledgement_note_and_name_never_reach_the_branch(app):
    """HQ acknowledges B001's alert with an internal note: HQ reads who and what on the scorecard;
    store1's own scorecard (page and API) shows the acknowledgement without the note or the name."""
    headers(app, "store1")
    with app.app_context():
        alert = _world(())["B001"]
    note = "ZZNOTE 본사 내부 메모"
    ok = app.test_client().post(f"/api/v1/monitor/alerts/{alert}/ack", json={"note": note}, headers=headers(app, "hq"))
    assert ok.status_code == 200
    hq_page = client_of(app, "hq").get("/monitor/branches/B001?month=2026-03").get_data(as_text=True)
    assert "ZZNOTE" in hq_page
    store_page = client_of(app, "store1").get("/monitor/branches/B001?month=2026-03")
    store_api = app.test_client().get("/api/v1/monitor/branches/B001?month=2026-03", headers=headers(app, "store1"))
    assert store_page.status_code == 200 and store_api.status_code == 200
    for body in (store_page.get_data(as_text=True), text_of(store_api)):
        assert "ZZNOTE" not in body and "본사 내부" not in body
    acked = store_api.get_json()["acknowledged_alerts"]
    assert [a["id"] for a in acked] == [alert] and "ack_note" not in acked[0] and "ack_by" not in acked[0]


def test_r01_hq_cannot_write_an_r02_calendar(app):
    """Pattern, override (pages) and the calendar PUT (API) on B005 by R01's local HQ: the same 404
    as an unknown branch, nothing written."""
    from tests.conftest import csrf_token
    from tests.plugins.branch_monitor.test_attack_bodies import snapshot

    client = client_of(app, "hq_r01")
    hdrs = headers(app, "hq_r01")
    token = csrf_token(client, "/dashboard")
    with app.app_context():
        before = snapshot()
    for code in ("B005", "B999"):
        assert client.post(f"/monitor/calendar/{code}/pattern", data={
            "day_mon": "1", "holiday_policy": "open", "csrf_token": token}).status_code == 404
        assert client.post(f"/monitor/calendar/{code}/overrides", data={
            "date": "2026-03-01", "state": "closed", "csrf_token": token}).status_code == 404
        resp = app.test_client().put(f"/api/v1/monitor/calendar/{code}", headers=hdrs,
                                     json={"open_weekdays": 1, "overrides": [{"date": "2026-03-01", "open": False}]})
        assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
    with app.app_context():
        assert snapshot() == before


def test_the_dashboard_box_counts_only_the_scope(app):
    """B001 and the four R02 branches in alarm: R01's local HQ is told of one, global HQ of five."""
    headers(app, "hq_r01")
    with app.app_context():
        _world(R02)
    counts = {}
    for who in ("hq_r01", "hq"):
        html = client_of(app, who).get("/dashboard").get_data(as_text=True)
        box = html[html.find('data-testid="bm-portlet-hq"'):]
        box = box[:box.find("</div>")]
        assert box, (who, "no monitor box on the dashboard")
        counts[who] = [int(n) for n in re.findall(r"\d+", box.split("</p>")[0])]
    assert counts["hq_r01"][0] == 1 and counts["hq"][0] == 5, counts


def test_an_out_of_scope_region_or_branch_answers_like_a_missing_one(app):
    """Every place R01's HQ can name a region or branch as a filter answers R02 / B005 exactly as
    the unknown R99 / B999 (status and body): nothing tells that R02 exists."""
    hdrs = headers(app, "hq_r01")
    with app.app_context():
        _world(R02, ("R02",))
    api = app.test_client()
    pages = client_of(app, "hq_r01")
    token = csrf_token_of(pages)
    pairs = [("GET", "/api/v1/monitor/branches?region={r}"), ("GET", "/api/v1/monitor/alerts/?state=all&region={r}"),
             ("GET", "/api/v1/monitor/alerts/?state=all&branch={b}"),
             ("GET", "/api/v1/monitor/compliance?from=2026-03-01&to=2026-03-02&region={r}"),
             ("GET", "/api/v1/monitor/compliance?from=2026-03-01&to=2026-03-02&branch={b}"),
             ("POST", "/api/v1/monitor/alerts/subscriptions#{r}"), ("POST", "/api/v1/monitor/alerts/subscriptions#{b}")]
    for method, pattern in pairs:
        answers = []
        for r, b in (("R02", "B005"), ("R99", "B999")):
            url = pattern.format(r=r, b=b)
            if method == "POST":
                url, code = url.split("#")
                resp = api.post(url, json={"org_unit": code}, headers=hdrs)
            else:
                resp = api.get(url, headers=hdrs)
            answers.append((resp.status_code, resp.get_json()))
        assert answers[0] == answers[1], (pattern, answers)
    for pattern in ("/monitor/region/{r}", "/monitor/?region={r}", "/monitor/branches/{b}", "/monitor/calendar/{b}",
                    "/monitor/compliance/?region={r}", "/monitor/calendar/?region={r}", "/monitor/alerts/?region={r}",
                    "/monitor/export?format=csv&region={r}"):
        got = [pages.get(pattern.format(r=r, b=b)) for r, b in (("R02", "B005"), ("R99", "B999"))]
        bodies = [re.sub(r"R02|R99|B005|B999|[0-9a-f]{32}|[\w.-]{40,}", "", g.get_data(as_text=True)) for g in got]
        assert got[0].status_code == got[1].status_code, (pattern, [g.status_code for g in got])
        assert MARK not in got[0].get_data(as_text=True), pattern
        assert bodies[0] == bodies[1], pattern
    assert token


def csrf_token_of(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, "/dashboard")
