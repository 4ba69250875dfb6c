"""CSRF on every page POST of the add-on (from the app's URL map, so a form added later is covered
too): a valid, complete form without a token, with a forged token or with another session's token
answers 400 and writes nothing; the same form with the session's token does write (so the refusal
is the token's, not the form's). No page changes state on GET."""

from __future__ import annotations

import re

from tests.conftest import csrf_token
from tests.plugins.branch_monitor.attack_fixtures import bm_routes, client_of, headers
from tests.plugins.branch_monitor.test_attack_bodies import _alert, _sub, snapshot

#: A valid form for each kind of page POST (by the last word of the rule).
FORMS = {
    "ack": {"note": "지점장 통화 완료"},
    "subscriptions": {"org_unit": "B001", "metric": "", "immediate": "1", "digest": "1"},
    "delete": {},
    "pattern": {"day_mon": "1", "day_tue": "1", "holiday_policy": "open", "year": "2026"},
    "overrides": {"date": "2026-03-01", "state": "closed", "note": "공사", "year": "2026"},
}


def _page_posts(app) -> list[str]:
    return [rule for rule, methods, _e in bm_routes(app) if "POST" in methods and not rule.startswith("/api/")]


def _url(rule: str, ids: dict[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids.get(m.group(1), "B001"), rule)


def _form(rule: str) -> dict[str, str]:
    last = rule.rstrip("/").rsplit("/", 1)[-1]
    return dict(FORMS.get(last, {}))


def test_every_page_post_refuses_a_missing_or_forged_token_and_writes_nothing(app):
    rules = _page_posts(app)
    assert len(rules) >= 5, rules
    headers(app, "hq_r01")
    with app.app_context():
        ids = {"alert_id": str(_alert("B001")), "sub_id": str(_sub("hq.r01@example.com")), "code": "B001"}
    victim = client_of(app, "hq")
    other = client_of(app, "hq_r01")
    foreign = csrf_token(other, "/dashboard")  # a real token, of another session
    with app.app_context():
        before = snapshot()
    failures = []
    for rule in rules:
        url, form = _url(rule, ids), _form(rule)
        for token in (None, "", "forged-token", foreign, foreign[:-2] + "xx"):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            resp = victim.post(url, data=data)
            if resp.status_code != 400:
                failures.append((url, token and token[:12], resp.status_code))
        # a cross-site POST as JSON is no way around it either
        resp = victim.post(url, json=form)
        if resp.status_code != 400:
            failures.append((url, "json", resp.status_code))
    with app.app_context():
        after = snapshot()
    assert not failures, failures
    assert after == before, "a refused POST wrote something"


def test_the_same_forms_with_the_sessions_token_do_write(app):
    """The control: the forms above are valid, so only the token made the difference."""
    headers(app, "hq_r01")
    with app.app_context():
        ids = {"alert_id": str(_alert("B001")), "sub_id": str(_sub("hq.r01@example.com")), "code": "B001"}
    client = client_of(app, "hq_r01")
    token = csrf_token(client, "/dashboard")
    for rule in _page_posts(app):
        with app.app_context():
            before = snapshot()
        resp = client.post(_url(rule, ids), data={**_form(rule), "csrf_token": token})
        assert resp.status_code in (302, 303), (rule, resp.status_code, resp.get_data(as_text=True)[:300])
        with app.app_context():
            assert snapshot() != before, f"{rule} wrote nothing with a valid token"


def test_no_page_changes_state_on_get(app):
    """GET (and HEAD) on every page route, POST-only ones included, writes nothing."""
    headers(app, "hq_r01")
    with app.app_context():
        ids = {"alert_id": str(_alert("B001")), "sub_id": str(_sub("hq.r01@example.com")), "code": "B001"}
    client = client_of(app, "hq")
    with app.app_context():
        before = snapshot()
    for rule, _methods, _e in bm_routes(app):
        if rule.startswith("/api/"):
            continue
        url = _url(rule, ids)
        for query in ("", "?note=x&state=closed&date=2026-03-01&holiday_policy=open&org_unit=R01&immediate=1"):
            assert client.get(url + query).status_code < 500
            assert client.head(url + query).status_code < 500
    with app.app_context():
        assert snapshot() == before


def test_the_api_ignores_the_session_cookie(app):
    """The CSRF-exempt API answers bearer tokens only: a logged-in browser's cookie is no way in
    (a cross-site request cannot ride on it), and nothing is written."""
    with app.app_context():
        alert = _alert("B001")
    browser = client_of(app, "hq")
    with app.app_context():
        before = snapshot()
    for method, url, body in (("GET", "/api/v1/monitor/branches", None), ("GET", "/api/v1/monitor/alerts/", None),
                              ("PUT", "/api/v1/monitor/settings", {"deadline_hour": 9}),
                              ("PUT", "/api/v1/monitor/calendar/B001", {"open_weekdays": 1}),
                              ("POST", f"/api/v1/monitor/alerts/{alert}/ack", {"note": "x"}),
                              ("POST", "/api/v1/monitor/alerts/subscriptions", {"org_unit": "R01"})):
        resp = browser.open(url, method=method, json=body)
        assert resp.status_code == 401 and resp.is_json, (method, url, resp.status_code)
    with app.app_context():
        assert snapshot() == before
